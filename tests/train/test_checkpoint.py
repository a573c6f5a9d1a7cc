"""Training checkpoints: what they hold, atomic saves, keeping the newest K, and exact resumption.

The resume tests stop or SIGKILL the tiny run (``train_fixtures``) at a step inside its LR decay, resume it from
its newest checkpoint, and compare the metrics CSV's loss column, as text, with the uninterrupted run's: equal
means bit for bit. Resumes that skip one piece of state (RNG, sampler, optimizer) must give other losses.
"""

from __future__ import annotations

import json
import random
import subprocess

import numpy as np
import pytest
import torch
from train_fixtures import STEPS, child_command, child_env, losses, tiny_trainer

from ylm.model.causal_lm import CausalLM
from ylm.model.config import tiny_mla
from ylm.model.hf import load_hf
from ylm.timing import torch_threads
from ylm.train.checkpoint import (
    STATE_FILE,
    checkpoint_dir,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    restore_rng,
    save_checkpoint,
)
from ylm.train.curriculum import Curriculum, Stage
from ylm.train.schedule import LRSegment

RESUME_AT = 8  # stage b decays the LR over steps 7-12


@pytest.fixture(autouse=True)
def one_thread():
    """One thread, as the killed child processes use: their checkpoints continue bit for bit here."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> list[tuple[int, str]]:
    out = tmp_path_factory.mktemp("uninterrupted")
    with torch_threads(1):
        tiny_trainer(out, ckpt_every=2).run()
    assert [step for step, _ in losses(out)] == list(range(1, STEPS + 1))
    return losses(out)


def _names(root) -> list[str]:
    return [p.name for p in list_checkpoints(root)]


# ---- exact resumption -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("kill", "resumes_from", "last_row"), [
    ({"kill_at_batch": 11}, 10, 11),  # SIGKILL inside step 12: checkpoint 10 and a row for step 11 are on disk
    ({"kill_in_save_at": 10}, 8, 10),  # SIGKILL while writing checkpoint 10: only its trainer files are
])
def test_resume_after_sigkill_repeats_the_uninterrupted_run(tmp_path, uninterrupted, kill, resumes_from,
                                                            last_row):
    spec = {"out": str(tmp_path), "config": {"ckpt_every": 2, "keep_checkpoints": 2}, **kill}
    child = subprocess.run(child_command(spec), env=child_env(), capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr
    assert child.stderr == ""
    assert latest_checkpoint(tmp_path / "checkpoints").name == f"step-{resumes_from:08d}"
    assert [step for step, _ in losses(tmp_path)][-1] == last_row  # rows past the checkpoint: to be dropped
    if "kill_in_save_at" in kill:
        assert [p.name for p in (tmp_path / "checkpoints").glob(".step-00000010.tmp-*")]

    trainer = tiny_trainer(tmp_path, ckpt_every=2, keep_checkpoints=2)
    assert trainer.resume() == tmp_path / "checkpoints" / f"step-{resumes_from:08d}"
    assert (trainer.step, trainer.model.config.rope_theta) == (resumes_from, 20000.0)
    trainer.run()
    assert losses(tmp_path) == uninterrupted  # every step once, each loss bit for bit
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-00000010", "step-00000012"]


def _skip_rng(trainer, monkeypatch):
    monkeypatch.setattr("ylm.train.trainer.restore_rng", lambda rng, device: None)


def _skip_sampler(trainer, monkeypatch):
    monkeypatch.setattr(trainer.sampler, "load_state_dict", lambda state: None)


def _skip_optimizer(trainer, monkeypatch):
    monkeypatch.setattr(trainer.optimizer, "load_state_dict", lambda state: None)


@pytest.mark.parametrize("broken", [None, _skip_rng, _skip_sampler, _skip_optimizer],
                         ids=["complete", "without-rng", "without-sampler", "without-optimizer"])
def test_only_a_complete_resume_repeats_the_run(tmp_path, uninterrupted, monkeypatch, broken):
    tiny_trainer(tmp_path, ckpt_every=2).run(max_steps=RESUME_AT)
    trainer = tiny_trainer(tmp_path, ckpt_every=2)
    if broken is not None:
        broken(trainer, monkeypatch)
    trainer.resume()
    trainer.run()
    resumed = losses(tmp_path)
    assert resumed[:RESUME_AT] == uninterrupted[:RESUME_AT]
    if broken is None:
        assert resumed == uninterrupted
    else:  # other batches from step 9, or (optimizer) another update in step 9 and so other losses from 10
        assert resumed[RESUME_AT + 1] != uninterrupted[RESUME_AT + 1]


# ---- what a checkpoint holds ------------------------------------------------------------------------------
def test_a_checkpoint_holds_model_optimizer_rng_and_state(tmp_path):
    trainer = tiny_trainer(tmp_path / "run")
    trainer.run(max_steps=2)
    path = checkpoint_dir(tmp_path, 2)
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    save_checkpoint(path, trainer.model, trainer.optimizer, {"step": 2, "note": "mine"})
    draws = (random.random(), float(np.random.rand()), float(torch.rand(())))

    other = tiny_trainer(tmp_path / "other")  # fresh weights and an empty optimizer
    state = load_checkpoint(path, other.model, other.optimizer)
    assert (state["step"], state["note"]) == (2, "mine")
    assert set(state["rng"]) == {"python", "numpy", "torch"}
    weights = other.model.state_dict()
    assert all(torch.equal(value, weights[name]) for name, value in trainer.model.state_dict().items())
    mine, theirs = trainer.optimizer.state_dict(), other.optimizer.state_dict()
    assert theirs["param_groups"] == mine["param_groups"]
    assert mine["state"].keys() == theirs["state"].keys()
    for index, entry in mine["state"].items():
        assert entry.keys() == theirs["state"][index].keys()
        assert all(torch.equal(value, theirs["state"][index][name]) for name, value in entry.items())
    restore_rng(state["rng"], torch.device("cpu"))
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == draws
    assert torch.equal(load_hf(path).lm_head.weight, trainer.model.lm_head.weight)  # a plain model, too
    assert json.loads((path / STATE_FILE).read_text())["optimizer_param_groups"][0]["betas"] == [0.9, 0.95]


def test_loading_checks_model_and_curriculum(tmp_path):
    trainer = tiny_trainer(tmp_path)
    trainer.run(max_steps=1)
    path = checkpoint_dir(tmp_path / "checkpoints", 1)
    deeper = CausalLM(tiny_mla(num_hidden_layers=3))
    with pytest.raises(ValueError, match=r"written for another model: config fields \['num_hidden_layers'\]"):
        load_checkpoint(path, deeper, torch.optim.AdamW(deeper.parameters()))
    with pytest.raises(FileNotFoundError, match="step-00000099"):
        load_checkpoint(checkpoint_dir(tmp_path, 99), trainer.model, trainer.optimizer)
    other = tiny_trainer(tmp_path)
    longer = Stage("a", 4096, {"general": 1.0}, (16,), LRSegment(1e-2, 1e-2, "constant"))
    other.curriculum = Curriculum((longer,))
    with pytest.raises(ValueError, match="trained with another curriculum"):
        other.resume()
    assert tiny_trainer(tmp_path / "empty").resume() is None


def test_pruning_keeps_the_newest_and_clears_what_killed_saves_left(tmp_path):
    model = CausalLM(tiny_mla())
    optimizer = torch.optim.AdamW(model.parameters())
    for step in (1, 2, 3, 12):
        save_checkpoint(checkpoint_dir(tmp_path, step), model, optimizer, {"step": step})
    (tmp_path / ".step-00000013.tmp-1-0123abcd").mkdir()  # a save killed before its config.json
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    assert _names(tmp_path) == ["step-00000001", "step-00000002", "step-00000003", "step-00000012"]
    prune_checkpoints(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "step-00000003", "step-00000012"]
    with pytest.raises(ValueError, match="keep=0"):
        prune_checkpoints(tmp_path, keep=0)
