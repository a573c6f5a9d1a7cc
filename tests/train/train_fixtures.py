"""Shared pieces of the trainer tests, and the training process some of them launch.

``tiny_trainer`` trains ``tiny_mla`` through a two-stage, 12-step curriculum: stage ``a`` (steps 1-6) warms up
and holds the LR; stage ``b`` (steps 7-12) decays it linearly, switches the mixture, sets ``rope_theta`` and
doubles the length after step 10. ``FakeSampler`` has ``PackedSampler``'s interface over counting sequences
(learnable) whose starts and masks come from the *global* torch RNG and whose stride depends on the sampler's
own batch count: a resume that skips restoring either gives other batches.

Run as a script, ``python train_fixtures.py SPEC_JSON`` (alone or under torchrun), it trains the tiny run with
the spec's settings and can SIGKILL itself mid-step (``kill_at_batch``) or mid-save (``kill_in_save_at``).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch

import ylm.train.checkpoint as checkpoint
from ylm.model.causal_lm import CausalLM
from ylm.model.config import tiny_mla
from ylm.train.curriculum import Curriculum, Stage
from ylm.train.distributed import init_from_env, resolve_device, shutdown
from ylm.train.schedule import LRSegment
from ylm.train.trainer import HeldOut, TrainConfig, Trainer

VOCAB = 97  # tiny_mla's
BATCH = 4
PEAK_LR, FINAL_LR, THETA_B = 1e-2, 1e-3, 20000.0
STEPS = 12  # 6 steps of 4 x 16 in stage a; 4 of 4 x 16 and 2 of 4 x 32 in stage b


def tiny_curriculum() -> Curriculum:
    return Curriculum((
        Stage("a", 384, {"general": 1.0}, (16,), LRSegment(PEAK_LR, PEAK_LR, "constant", warmup_tokens=128)),
        Stage("b", 512, {"general": 0.5, "code": 0.5}, (16, 32), LRSegment(PEAK_LR, FINAL_LR, "linear"),
              step_tokens=(256, 256), rope_theta=THETA_B),
    ))


class FakeSampler:
    """``PackedSampler``'s interface over counting sequences ``start + stride * t (mod VOCAB)`` (module
    docstring); ``calls`` records what the trainer set, in order."""

    def __init__(self, mixture: dict[str, float], seq_len: int, kill_at_batch: int | None = None) -> None:
        self.mixture, self.seq_len, self.batches = dict(mixture), seq_len, 0
        self.kill_at_batch = kill_at_batch
        self.calls: list[tuple[str, Any]] = []

    def set_mixture(self, mixture: dict[str, float]) -> None:
        self.mixture = dict(mixture)
        self.calls.append(("mixture", dict(mixture)))

    def set_seq_len(self, seq_len: int) -> None:
        self.seq_len = seq_len
        self.calls.append(("seq_len", seq_len))

    def next_batch(self, batch_size: int) -> dict[str, torch.Tensor]:
        if self.batches == self.kill_at_batch:
            os.kill(os.getpid(), signal.SIGKILL)
        stride = 1 + self.batches % 3 + round(2 * self.mixture.get("code", 0.0))
        start = torch.randint(0, VOCAB, (batch_size, 1))
        rows = (start + stride * torch.arange(self.seq_len + 1)) % VOCAB
        mask = (torch.rand(batch_size, self.seq_len) > 0.25).float()
        self.batches += 1
        return {"input_ids": rows[:, :-1], "labels": rows[:, 1:], "loss_mask": mask}

    def state_dict(self) -> dict[str, Any]:
        return {"mixture": self.mixture, "seq_len": self.seq_len, "batches": self.batches}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mixture, self.seq_len, self.batches = dict(state["mixture"]), state["seq_len"], state["batches"]


def tiny_trainer(out: Path, kill_at_batch: int | None = None, *, vocab_size: int = VOCAB,
                 heldout: HeldOut | None = None, **config: Any) -> Trainer:
    """A fresh trainer of the tiny run (same initial weights every time), writing under ``out``."""
    torch.manual_seed(0)
    model = CausalLM(tiny_mla(vocab_size=vocab_size))
    settings = {"batch_size": BATCH, "device": "cpu", "log_every": 1, **config}
    curriculum = tiny_curriculum()
    first = curriculum.stages[0]
    return Trainer(model, curriculum, FakeSampler(first.mixture, first.seq_lens[0], kill_at_batch),
                   TrainConfig(**settings), out, heldout=heldout)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def losses(out: Path) -> list[tuple[int, str]]:
    """(step, loss as written) of every metrics row: the text, so equal means bit for bit."""
    return [(int(row["step"]), row["loss"]) for row in read_csv(out / "metrics.csv")]


def child_command(spec: dict[str, Any]) -> list[str]:
    return [sys.executable, __file__, json.dumps(spec)]


def child_env() -> dict[str, str]:
    """One thread per process (as the in-process runs they are compared with), no progress bar."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}


def _kill_while_saving(step: int) -> None:
    """Make the save of ``step`` die after the trainer files, before the weights and config.json."""
    write = checkpoint.write_hf_files

    def write_or_die(model: CausalLM, out: Path) -> None:
        if f"step-{step:08d}" in out.name:
            os.kill(os.getpid(), signal.SIGKILL)
        write(model, out)

    checkpoint.write_hf_files = write_or_die


def main(spec: dict[str, Any]) -> None:
    torch.set_num_threads(1)
    init_from_env(resolve_device("cpu"))
    if spec.get("kill_in_save_at") is not None:
        _kill_while_saving(spec["kill_in_save_at"])
    trainer = tiny_trainer(Path(spec["out"]), spec.get("kill_at_batch"), **spec.get("config", {}))
    trainer.run(spec.get("steps"))
    shutdown()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
