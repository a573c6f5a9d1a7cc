"""Checkpoint directories: strict config keys, errors that name the bad file, saves that survive SIGKILL."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import shutil
import stat
import time

import pytest
import torch
from safetensors.torch import load_file, save_file

import ylm.model.hf as hf
from ylm.model.causal_lm import CausalLM
from ylm.model.config import tiny_mla
from ylm.model.hf import from_hf, load_hf, save_hf, to_hf

TINY_HF = to_hf(tiny_mla())


def _model(seed: int) -> CausalLM:
    """Seeds differ in depth too: a config that does not match its weights cannot pass for either."""
    torch.manual_seed(seed)
    return CausalLM(tiny_mla(num_hidden_layers=1 + seed % 3)).eval()


def _same(a: CausalLM, b: CausalLM) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---- from_hf: misspelled, known and unknown keys -----------------------------------------------------
@pytest.mark.parametrize(("key", "field"), [
    ("num_hidden_layer", "num_hidden_layers"),
    ("num_key_value_head", "num_key_value_heads"),
    ("vocabsize", "vocab_size"),
    ("tie_word_embedding", "tie_word_embeddings"),
    ("rms_norm_epsilon", "rms_norm_eps"),
    ("rope_parameter", "rope_parameters"),
])
def test_from_hf_rejects_a_misspelled_field(key, field):
    with pytest.raises(ValueError, match=f"'{key}'.*did you mean '{field}'"):
        from_hf({**{k: v for k, v in TINY_HF.items() if k != field}, key: TINY_HF[field]})


def test_from_hf_accepts_transformers_and_real_config_keys():
    transformers = pytest.importorskip("transformers")
    assert from_hf(transformers.YoutuConfig().to_dict()).num_hidden_layers == 32
    # the shape of Youtu-LLM-2B's config.json (remote-code era) with the keys transformers adds
    real = {**TINY_HF, "architectures": ["YoutuForCausalLM"], "auto_map": {"AutoConfig": "configuration.X"},
            "torch_dtype": "bfloat16", "transformers_version": "4.56.0", "use_cache": True, "qk_head_dim": 20,
            "head_dim": 8, "pretraining_tp": 1, "mlp_bias": False, "attention_dropout": 0.0,
            "sep_token_id": None, "my_note": "kept"}
    cfg = from_hf(real)
    assert cfg.num_hidden_layers == 2
    assert cfg.extra_hf == {"use_cache": True, "pretraining_tp": 1, "mlp_bias": False,
                            "attention_dropout": 0.0, "sep_token_id": None, "my_note": "kept"}


@pytest.mark.parametrize("bad", [None, [("vocab_size", 97)], json.dumps(TINY_HF), {1: "x"}])
def test_from_hf_wants_a_dict_with_str_keys(bad):
    with pytest.raises(ValueError, match="hf of type .*must be a dict"):
        from_hf(bad)


@pytest.mark.parametrize("key", ["rope_parameters", "rope_scaling"])
def test_from_hf_wants_rope_blocks_as_dicts(key):
    with pytest.raises(ValueError, match=key):
        from_hf({**TINY_HF, key: "yarn"})


# ---- load_hf: bad files name themselves ---------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    save_hf(_model(0), tmp_path / "ckpt")
    return tmp_path / "ckpt"


@pytest.mark.parametrize("cut", [0, 7, 100, -1])
def test_load_hf_names_a_truncated_safetensors_file(saved, cut):
    weights = saved / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:cut])
    with pytest.raises(ValueError, match=str(weights)):
        load_hf(saved)


def test_load_hf_names_a_corrupt_safetensors_header(saved):
    weights = saved / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[8:40] = b"#" * 32  # inside the JSON header
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=str(weights)):
        load_hf(saved)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "", "\xff\xfe"])
def test_load_hf_names_a_bad_config_json(saved, text):
    (saved / "config.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=str(saved / "config.json")):
        load_hf(saved)


def test_load_hf_names_a_bad_config_field_and_missing_files(saved):
    config = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps({**config, "num_hidden_layer": 2}))
    with pytest.raises(ValueError, match=f"{saved / 'config.json'}.*num_hidden_layer"):
        load_hf(saved)
    (saved / "config.json").unlink()
    with pytest.raises(ValueError, match=str(saved / "config.json")):
        load_hf(saved)


def test_load_hf_names_bad_index_and_shards(saved):
    index = saved / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": ["model.safetensors"]}))
    with pytest.raises(ValueError, match=f"{index}.*weight_map"):
        load_hf(saved)
    index.write_text(json.dumps({"weight_map": {"model.norm.weight": "model-00001-of-00001.safetensors"}}))
    with pytest.raises(ValueError, match=str(saved / "model-00001-of-00001.safetensors")):
        load_hf(saved)


def test_load_hf_names_weights_of_the_wrong_shape(saved):
    state = load_file(str(saved / "model.safetensors"))
    state["model.norm.weight"] = torch.ones(5)
    save_file(state, str(saved / "model.safetensors"))
    with pytest.raises(ValueError, match=f"{saved}.*wrong shape \\['model.norm.weight'\\]"):
        load_hf(saved)


def test_load_hf_names_a_missing_directory_or_a_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_hf(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="directory=.*file.*is a file"):
        load_hf(tmp_path / "file")


# ---- save_hf: arguments, what it replaces, what it keeps -------------------------------------------
@pytest.mark.parametrize("model", [torch.nn.Linear(2, 2), {"model.norm.weight": torch.ones(2)}, None])
def test_save_hf_wants_a_causal_lm(model, tmp_path):
    with pytest.raises(ValueError, match="model of type"):
        save_hf(model, tmp_path / "ckpt")
    assert list(tmp_path.iterdir()) == []


def test_save_hf_refuses_a_file_or_a_folder_with_folders(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="directory=.*is a file"):
        save_hf(_model(0), tmp_path / "file")
    with pytest.raises(ValueError, match="directory of type int"):
        save_hf(_model(0), 3)
    (tmp_path / "project" / "src").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds folders \\['src'\\]"):
        save_hf(_model(0), tmp_path / "project")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "project"]


def test_save_over_a_sharded_checkpoint_replaces_it_and_keeps_other_files(saved):
    # An old sharded checkpoint and a tokenizer: the old index must not outlive the save (it wins on load).
    state = load_file(str(saved / "model.safetensors"))
    names = sorted(state)
    for i, part in enumerate((names[:5], names[5:])):
        save_file({k: state[k] for k in part}, str(saved / f"model-0000{i + 1}-of-00002.safetensors"))
    weight_map = {k: f"model-0000{1 + (k not in names[:5])}-of-00002.safetensors" for k in names}
    (saved / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (saved / "model.safetensors").unlink()
    (saved / "tokenizer.json").write_text("{}")
    new = _model(1)
    save_hf(new, saved)
    assert sorted(p.name for p in saved.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert sorted(p.name for p in saved.parent.iterdir()) == ["ckpt"]
    assert _same(load_hf(saved), new)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_saved_modes_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        target = save_hf(_model(0), tmp_path / "ckpt")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~umask
    for name in ("config.json", "model.safetensors"):
        assert stat.S_IMODE((target / name).stat().st_mode) == 0o666 & ~umask


def test_a_failing_save_leaves_the_old_checkpoint_and_no_temporaries(saved, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(hf, "save_file", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_hf(_model(1), saved)
    assert sorted(p.name for p in saved.parent.iterdir()) == ["ckpt"]
    assert _same(load_hf(saved), _model(0))


def test_a_save_killed_between_its_renames_is_read_by_the_rule(saved):
    # What a kill between "rename out -> .out.old-X" and "rename .out.tmp-X -> out" leaves behind.
    backup, new = saved.with_name(".ckpt.old-1-0000abcd"), saved.with_name(".ckpt.tmp-1-0000abcd")
    save_hf(_model(1), new)
    saved.rename(backup)
    assert _same(load_hf(saved), _model(1))  # the complete new directory wins
    (new / "config.json").unlink()
    assert _same(load_hf(saved), _model(0))  # an incomplete one does not: the backup is read
    (saved.parent / ".ckpt.tmp-2-0000cdef").mkdir()  # and a third save killed while writing
    save_hf(_model(2), saved)  # restores, then replaces; every leftover goes
    assert sorted(p.name for p in saved.parent.iterdir()) == ["ckpt"]
    assert _same(load_hf(saved), _model(2))


# ---- save_hf under SIGKILL ---------------------------------------------------------------------------
# Seconds added to each file-system step of a killed save; the most to rename, to widen the window between
# the two renames of the swap.
PAUSES = {(os, "rename"): 0.05, (os, "fsync"): 0.02, (shutil, "rmtree"): 0.02, (shutil, "copy2"): 0.02,
          (hf, "save_file"): 0.02}


def _save_slowly(seed: int, target: str, started) -> None:
    """The process that gets killed: every file-system step of save_hf slowed, so kills land in each."""
    def slowed(fn, pause: float):
        def wrapper(*args, **kwargs):
            time.sleep(pause)
            return fn(*args, **kwargs)
        return wrapper

    for (module, name), pause in PAUSES.items():
        setattr(module, name, slowed(getattr(module, name), pause))
    model = _model(seed)
    started.set()
    save_hf(model, target)


def test_save_hf_killed_at_random_points_leaves_old_or_new(tmp_path):
    # A fork server imports torch once; each save then runs in a fresh child of it (sys.executable).
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["ylm.model.hf", __name__])
    target = tmp_path / "ckpt"
    current = _model(0)
    save_hf(current, target)
    (target / "tokenizer.json").write_text('{"kept": true}')

    def run(seed: int, delay: float | None) -> float:
        """Seconds from the child's start of save_hf to its end, or to its kill after ``delay``."""
        started = ctx.Event()
        child = ctx.Process(target=_save_slowly, args=(seed, str(target), started))
        child.start()
        assert started.wait(30)
        t0 = time.perf_counter()
        if delay is not None:
            time.sleep(delay)
            child.kill()
        child.join()
        assert child.exitcode == 0 or (delay is not None and child.exitcode == -9)
        return time.perf_counter() - t0

    duration, current = run(1, None), _model(1)  # one whole save, to time it
    rng, kills, landed = random.Random(0), 15, {"old": 0, "new": 0, "between renames": 0}
    for i in range(kills):
        seed = 100 + i
        run(seed, duration * (i + rng.random()) / kills)  # spread over the whole save
        landed["between renames"] += not target.exists()
        got = load_hf(target)
        if _same(got, current):
            landed["old"] += 1
        else:
            current = _model(seed)
            assert _same(got, current), f"kill {i}: neither the old nor the new checkpoint"
            landed["new"] += 1
        if i % 4 == 3 or i == kills - 1:  # the next successful save leaves nothing but the checkpoint
            current = _model(1000 + i)
            save_hf(current, target)
            assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
            assert (target / "tokenizer.json").read_text() == '{"kept": true}'
    print(f"save took {duration:.2f} s; {kills} kills landed: {landed}")
    assert landed["old"] and landed["new"]
