"""Notebook 04's experiment pieces: the control arm, branching at a stage end, and the two measurements."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from train_fixtures import BATCH, FakeSampler, tiny_curriculum, tiny_trainer

from ylm.agent.render import render
from ylm.model.causal_lm import CausalLM
from ylm.model.config import tiny_mla
from ylm.model.hf import load_hf
from ylm.tokenizer.kit import kit_tokenizer
from ylm.train.curriculum import Curriculum, paper_curriculum
from ylm.train.experiment import (
    control_curriculum,
    heldout_trajectories,
    loss_by_position,
    stage_end_checkpoints,
    trajectory_loss,
)
from ylm.train.trainer import HeldOut, TrainConfig, Trainer


def test_control_arm_gives_the_agent_share_to_the_other_domains_in_proportion() -> None:
    curriculum = paper_curriculum(1_000_000)
    control = control_curriculum(curriculum)
    assert control.stages[:-1] == curriculum.stages[:-1]
    before, after = curriculum.stages[-1], control.stages[-1]
    assert "agent" not in after.mixture and sum(after.mixture.values()) == pytest.approx(1.0)
    assert after.mixture["general"] / after.mixture["stem"] == pytest.approx(
        before.mixture["general"] / before.mixture["stem"])
    assert (after.tokens, after.seq_lens, after.lr) == (before.tokens, before.seq_lens, before.lr)
    only_agent = Curriculum(curriculum.stages[:-1] + (dataclasses.replace(before, mixture={"agent": 1.0}),))
    with pytest.raises(ValueError, match="no non-agent domain"):
        control_curriculum(only_agent)


def test_run_stops_at_a_stage_end_and_an_arm_branches_from_it(tmp_path: Path) -> None:
    curriculum = tiny_curriculum()
    first_end = curriculum.boundaries()[1]
    main = tiny_trainer(tmp_path / "main")
    main.run(max_tokens=first_end)
    assert main.tokens == first_end and main.phase[0] == 0
    ends = stage_end_checkpoints(tmp_path / "main", curriculum)
    assert list(ends) == ["a"]
    # a branch whose later stage differs trains on from there; one whose trained stage differs is refused
    later = dataclasses.replace(curriculum.stages[1], mixture={"general": 1.0})
    branched = Curriculum((curriculum.stages[0], later))
    arm = Trainer(CausalLM(tiny_mla()), branched, FakeSampler({"general": 1.0}, 16),
                  TrainConfig(batch_size=BATCH, device="cpu", log_every=1), tmp_path / "arm")
    arm.resume(ends["a"], branch=True)
    assert torch.equal(arm.model.model.embed_tokens.weight, main.model.model.embed_tokens.weight)
    arm.run()
    assert arm.tokens >= branched.total_tokens and arm.sampler.mixture == later.mixture
    assert set(stage_end_checkpoints(tmp_path / "arm", branched)) == {"b"}
    with pytest.raises(ValueError, match="trained with another curriculum"):
        Trainer(CausalLM(tiny_mla()), branched, FakeSampler({"general": 1.0}, 16),
                TrainConfig(batch_size=BATCH, device="cpu"), tmp_path / "other").resume(ends["a"])
    changed_first = Curriculum((dataclasses.replace(curriculum.stages[0], mixture={"code": 1.0}), later))
    with pytest.raises(ValueError, match="first 1 stages differ"):
        Trainer(CausalLM(tiny_mla()), changed_first, FakeSampler({"code": 1.0}, 16),
                TrainConfig(batch_size=BATCH, device="cpu"), tmp_path / "other").resume(ends["a"], branch=True)
    assert torch.equal(load_hf(ends["a"]).model.norm.weight, main.model.model.norm.weight)


def test_trajectory_loss_scores_only_the_assistant_tokens() -> None:
    tok = kit_tokenizer()
    torch.manual_seed(0)
    model = CausalLM(tiny_mla(vocab_size=tok.get_vocab_size(), max_position_embeddings=1024)).eval()
    traj = heldout_trajectories(1)
    rendered = render(traj[0], tok)
    ids = torch.tensor(rendered.ids)
    with torch.no_grad():
        per_token = torch.nn.functional.cross_entropy(model(ids[None, :-1])[0], ids[1:], reduction="none")
    mask = torch.tensor(rendered.mask[1:], dtype=torch.bool)
    assert 0 < mask.sum() < len(mask)
    assert trajectory_loss(model, tok, traj) == pytest.approx(float(per_token[mask].mean()), rel=1e-5)
    assert abs(trajectory_loss(model, tok, traj) - float(per_token.mean())) > 1e-4  # the mask matters
    with pytest.raises(ValueError, match="max_position_embeddings"):
        trajectory_loss(CausalLM(tiny_mla(vocab_size=tok.get_vocab_size())), tok, traj)


def test_loss_by_position_averages_each_position_over_rows() -> None:
    torch.manual_seed(0)
    model = CausalLM(tiny_mla()).eval()
    ids = {"general": torch.randint(0, 97, (33,)), "code": torch.randint(0, 97, (17,))}
    curve = loss_by_position(model, HeldOut(ids, torch.ones(97, dtype=torch.int64)), 8)
    rows = [(ids["general"], r) for r in range(4)] + [(ids["code"], r) for r in range(2)]
    with torch.no_grad():
        manual = torch.stack([torch.nn.functional.cross_entropy(
            model(x[8 * r : 8 * r + 8][None])[0], x[8 * r + 1 : 8 * r + 9], reduction="none") for x, r in rows])
    assert curve.shape == (8,)
    assert torch.allclose(torch.from_numpy(curve), manual.mean(0), atol=1e-6)


def test_stage_end_bits_per_byte_takes_each_runs_last_eval_per_stage() -> None:
    import pandas as pd

    from ylm.train.experiment import stage_end_bits_per_byte

    rows = [("main", 0, "a", "code", 9.0), ("main", 0, "a", "code", 5.0), ("main", 0, "b", "code", 4.0),
            ("x", 0, "b", "code", 3.0), ("x", 1, "b", "code", 3.5), ("x", 1, "b", "code", 2.0)]
    evals = pd.DataFrame(rows, columns=["arm", "seed", "stage", "domain", "bits_per_byte"])
    table = stage_end_bits_per_byte(evals, ["a", "b"])
    assert table.loc[("a", "main"), ("mean", "code")] == 5.0  # the stage's last evaluation, not its first
    assert table.loc[("b", "x"), ("mean", "code")] == pytest.approx(2.5)  # seeds 3.0 and 2.0
    assert table.loc[("b", "x"), ("std", "code")] == pytest.approx(pd.Series([3.0, 2.0]).std())
    assert [i[0] for i in table.index] == ["a", "b", "b"]
