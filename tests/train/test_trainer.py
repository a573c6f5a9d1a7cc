"""The trainer: its config's checks, the masked loss over the global batch, the curriculum driving LR, data
and RoPE, the metrics and held-out bits-per-byte CSVs, checkpoint cadence, and the command line."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.nn.functional as F
from train_fixtures import (
    BATCH,
    FINAL_LR,
    PEAK_LR,
    STEPS,
    THETA_B,
    losses,
    read_csv,
    tiny_curriculum,
    tiny_trainer,
)

from ylm.data import DOMAINS, load_texts
from ylm.model.rope import RotaryEmbedding
from ylm.timing import torch_threads
from ylm.tokenizer.compression import token_byte_lengths
from ylm.tokenizer.kit import kit_tokenizer
from ylm.tokenizer.train import encode_plain
from ylm.train.checkpoint import list_checkpoints
from ylm.train.trainer import METRICS_COLUMNS, HeldOut, TrainConfig, heldout_set, masked_loss_sum

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def one_thread():
    """One thread, as the child processes of the resume and DDP tests use: runs compare bit for bit."""
    with torch_threads(1):
        yield


@pytest.mark.parametrize(("field", "value"), [
    ("batch_size", 0), ("grad_accum", 3), ("weight_decay", -0.1), ("betas", (0.9, 1.0)), ("betas", (0.9,)),
    ("eps", 0.0), ("grad_clip", float("nan")), ("dtype", "fp16"), ("device", "tpu"), ("seed", -1),
    ("log_every", 0), ("eval_every", 1.5), ("eval_tokens", 100), ("ckpt_every", -1), ("keep_checkpoints", 0),
    ("metrics_csv", ""),
])
def test_config_rejects_a_bad_field(field, value):
    with pytest.raises(ValueError, match=f"^{field}="):
        TrainConfig(**{"batch_size": 4, field: value})


def test_trainer_rejects_what_cannot_run(tmp_path):
    with pytest.raises(ValueError, match="eval_every=2: evaluation needs heldout"):
        tiny_trainer(tmp_path, eval_every=2)
    with pytest.raises(ValueError, match="eval_seq_len=512: must be <= the model's max_position_embeddings=256"):
        tiny_trainer(tmp_path, heldout=HeldOut({}, torch.zeros(1)), eval_every=2, eval_seq_len=512, eval_tokens=512)


def test_masked_loss_sum_is_the_sum_over_supervised_targets():
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(3, 5, 11, generator=g), torch.randint(0, 11, (3, 5), generator=g)
    mask = torch.rand(3, 5, generator=g) > 0.5
    expected = F.cross_entropy(logits[mask], labels[mask], reduction="sum")
    torch.testing.assert_close(masked_loss_sum(logits, labels, mask), expected)


def test_grad_accum_trains_like_one_big_batch(tmp_path):
    """The micro-batches' masks hold different target counts: a per-micro-batch mean would differ at step 1."""
    runs = {}
    for accum in (1, 4):
        tiny_trainer(tmp_path / str(accum), grad_accum=accum).run()
        runs[accum] = [float(loss) for _, loss in losses(tmp_path / str(accum))]
    assert len(runs[1]) == STEPS
    assert runs[1] != runs[4]  # two ways of summing, not one computation run twice
    torch.testing.assert_close(runs[4], runs[1], rtol=1e-5, atol=0)
    assert min(runs[1][-3:]) < runs[1][0] - 0.4  # it learns (the counting pattern)


def test_the_curriculum_drives_lr_data_and_rope(tmp_path):
    trainer = tiny_trainer(tmp_path, ckpt_every=4, keep_checkpoints=2)
    curriculum = tiny_curriculum()
    trainer.run()
    rows = read_csv(tmp_path / "metrics.csv")
    assert tuple(rows[0]) == METRICS_COLUMNS
    assert [int(r["step"]) for r in rows] == list(range(1, STEPS + 1))
    tokens_before = 0
    for row in rows:
        stage, _, seq_len = curriculum.locate(tokens_before)
        assert float(row["lr"]) == curriculum.lr_at(tokens_before)  # from the tokens before the step
        assert (row["stage"], int(row["seq_len"])) == (curriculum.stages[stage].name, seq_len)
        tokens_before += BATCH * seq_len
        assert int(row["tokens"]) == tokens_before
        assert math.isfinite(float(row["grad_norm"])) and float(row["tokens_per_s"]) > 0
    assert [float(r["lr"]) for r in rows][:3] == [0.0, PEAK_LR / 2, PEAK_LR]  # warmup over 128 tokens
    assert FINAL_LR < float(rows[-1]["lr"]) < float(rows[6]["lr"]) == PEAK_LR  # decaying in stage b
    # each switch once, when its phase starts: stage a, stage b, b's second length step
    a, b = curriculum.stages
    assert trainer.sampler.calls == [("mixture", a.mixture), ("seq_len", 16), ("mixture", b.mixture),
                                     ("seq_len", 16), ("seq_len", 32)]
    assert trainer.model.config.rope_theta == THETA_B
    expected = RotaryEmbedding(8, THETA_B, None, 256).inv_freq
    torch.testing.assert_close(trainer.model.model.rotary_emb.inv_freq, expected, rtol=0, atol=0)
    # saved at 4, 6 (end of a), 8, 12 (end of b); the newest two kept
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == ["step-00000008", "step-00000012"]


def test_a_stopped_run_is_checkpointed_where_it_stops(tmp_path):
    trainer = tiny_trainer(tmp_path)
    trainer.run(max_steps=3)
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == ["step-00000003"]
    trainer.run(max_steps=3)  # nothing left to do below 3 steps: no step, no second save, no rows
    assert [step for step, _ in losses(tmp_path)] == [1, 2, 3]
    with pytest.raises(ValueError, match="checkpoints up to step-00000003, past this trainer's step 0"):
        tiny_trainer(tmp_path).run()  # a fresh run would overwrite them
    assert [step for step, _ in losses(tmp_path)] == [1, 2, 3]


def test_bf16_autocast_trains_close_to_fp32(tmp_path):
    tiny_trainer(tmp_path / "fp32").run(max_steps=4)
    tiny_trainer(tmp_path / "bf16", dtype="bf16").run(max_steps=4)
    fp32, bf16 = ([float(loss) for _, loss in losses(tmp_path / run)] for run in ("fp32", "bf16"))
    assert fp32 != bf16
    torch.testing.assert_close(bf16, fp32, rtol=2e-2, atol=0)


def test_heldout_set_is_a_fixed_slice_of_each_domain():
    tok = kit_tokenizer()
    held = heldout_set(tok, 40)
    assert list(held.ids) == list(DOMAINS) and all(ids.shape == (41,) for ids in held.ids.values())
    first = encode_plain(tok, load_texts("stem", "heldout")[0])
    assert held.ids["stem"].tolist() == (first + [tok.token_to_id("<|end_of_text|>")])[:41]
    assert torch.equal(heldout_set(tok, 40).ids["code"], held.ids["code"])
    with pytest.raises(ValueError, match="eval_tokens=100000000: domain 'general' has only"):
        heldout_set(tok, 10**8, domains=("general",))


def test_eval_writes_bits_per_byte_per_domain(tmp_path):
    """Each row's bits per byte, recomputed here from the model's logits: sum of the losses on targets that
    stand for text over ln 2 times their bytes."""
    tok = kit_tokenizer()
    trainer = tiny_trainer(tmp_path, vocab_size=tok.get_vocab_size(), heldout=heldout_set(tok, 64),
                           eval_every=1, eval_tokens=64, eval_seq_len=32)
    trainer.run(max_steps=2)
    rows = read_csv(tmp_path / "eval.csv")
    assert [(int(r["step"]), r["domain"]) for r in rows] == [(s, d) for s in (1, 2) for d in DOMAINS]
    lengths = torch.tensor(token_byte_lengths(tok))
    for row in rows[-len(DOMAINS):]:
        ids = trainer.heldout.ids[row["domain"]]
        with torch.no_grad():
            logits = trainer.model(ids[:-1].view(2, 32))
        nats = F.cross_entropy(logits.flatten(0, 1), ids[1:], reduction="none")
        text = lengths[ids[1:]] > 0
        bpb = float(nats[text].sum()) / (math.log(2) * int(lengths[ids[1:]].sum()))
        assert float(row["bits_per_byte"]) == pytest.approx(bpb, rel=1e-6)
        assert float(row["loss"]) == pytest.approx(float(nats[text].mean()), rel=1e-6)


def _cli() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_cli", REPO / "scripts" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_trains_stops_and_resumes_exactly_with_the_packed_sampler(tmp_path, capsys):
    """The kit tokenizer, the paper curriculum and the real sampler: a run stopped at step 5 and resumed to 8
    logs the losses of a run straight to 8 (the sampler's state, leftover document included, comes back)."""
    cli = _cli()
    args = ["--total-tokens", "4096", "--seq-len", "64", "--length-steps", "1", "2", "4", "--batch-size", "4",
            "--log-every", "1", "--device", "cpu", "--model", "num_hidden_layers=1"]
    straight = cli.main([*args, "--out", str(tmp_path / "straight"), "--steps", "8"])
    assert straight.model.config.vocab_size == kit_tokenizer().get_vocab_size()
    cli.main([*args, "--out", str(tmp_path / "split"), "--steps", "5"])
    with pytest.raises(ValueError, match="holds checkpoints up to step-00000005, past this trainer's step 0"):
        cli.main([*args, "--out", str(tmp_path / "split"), "--steps", "8"])
    cli.main([*args, "--out", str(tmp_path / "split"), "--steps", "8", "--resume"])
    assert "resuming from" in capsys.readouterr().out
    assert losses(tmp_path / "split") == losses(tmp_path / "straight")
    assert [step for step, _ in losses(tmp_path / "split")] == list(range(1, 9))
