"""Notebook 04's experiment: the four-stage run, a control arm for stage 4, and what each stage bought.

    main arm     stages 1-4 of the curriculum (stage 4 ~60% agent trajectories: agentic mid-training)
    control arm  branches from the main arm's end-of-stage-3 checkpoint; stage 4 has the same token budget,
                 LR and lengths, and the non-agent domains in their stage-4 proportions, with no trajectories

Both stage-4 arms run with several sampler seeds (the data order and the freshly synthesized trajectories
change; the starting weights do not), so a difference between the arms comes with its spread. Measurements:
held-out bits per byte per domain at every stage end (``Trainer.evaluate``), the teacher-forced loss on the
assistant tokens of trajectories no arm trained on (``trajectory_loss``), and the mean loss at each token
position of held-out text (``loss_by_position``), which shows what the longer sequences of stage 3 bought.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tokenizers import Tokenizer

from ylm.agent.render import render
from ylm.agent.synth import SynthConfig, synthesize
from ylm.model.causal_lm import CausalLM
from ylm.model.config import ModelConfig
from ylm.train.checkpoint import list_checkpoints
from ylm.train.curriculum import Curriculum
from ylm.train.sampler import PackedSampler
from ylm.train.trainer import HeldOut, TrainConfig, Trainer, masked_loss_sum

AGENT = "agent"
# Far from the seeds the sampler derives for its fresh trajectories: a held-out draw of the same generator.
HELDOUT_TRAJECTORY_SEED = 987_654_321


def control_curriculum(curriculum: Curriculum) -> Curriculum:
    """``curriculum`` with the last stage's agent share given to the other domains in their proportions."""
    last = curriculum.stages[-1]
    rest = {d: w for d, w in last.mixture.items() if d != AGENT and w > 0}
    if not rest:
        raise ValueError(f"stage {last.name!r}: mixture has no non-agent domain to give the agent share to")
    total = sum(rest.values())
    control = dataclasses.replace(last, mixture={d: w / total for d, w in rest.items()},
                                  note=last.note + " | control arm: no trajectories")
    return Curriculum(curriculum.stages[:-1] + (control,))


def train_arm(config: ModelConfig, curriculum: Curriculum, tokenizer: Tokenizer, train: TrainConfig,
              out_dir: Path, heldout: HeldOut, sampler_seed: int, branch_from: Path | None = None,
              max_tokens: int | None = None) -> Trainer:
    """Train one arm into ``out_dir`` (resuming what a previous call left there) up to ``max_tokens`` (default:
    the whole curriculum); from scratch, or from ``branch_from`` (another arm's checkpoint) with this arm's
    sampler seed deciding its data."""
    torch.manual_seed(train.seed)
    model = CausalLM(config)
    first = curriculum.stages[0]
    sampler = PackedSampler(tokenizer, first.mixture, first.seq_lens[0], seed=sampler_seed)
    trainer = Trainer(model, curriculum, sampler, train, out_dir, heldout=heldout)
    if trainer.resume() is None and branch_from is not None:
        trainer.resume(branch_from, branch=True)
    trainer.run(max_tokens=max_tokens)
    return trainer


def stage_end_checkpoints(out_dir: Path, curriculum: Curriculum) -> dict[str, Path]:
    """Stage name -> the checkpoint written when that stage ended. Steps are whole batches, so a stage ends at
    the first step that reaches its boundary (its checkpoint holds a few tokens past it); a checkpoint
    written inside a stage (``ckpt_every``) is not an end."""
    boundaries = curriculum.boundaries()
    found = {}
    for path in list_checkpoints(out_dir / "checkpoints"):
        state = json.loads((path / "trainer.json").read_text())
        stage = state["phase"][0]
        if state["tokens"] >= boundaries[stage + 1]:
            found[curriculum.stages[stage].name] = path
    return found


def heldout_trajectories(n: int = 40) -> list:
    """``n`` math trajectories synthesized with a seed no training sampler uses: unseen by both arms."""
    return synthesize("math", SynthConfig(seed=HELDOUT_TRAJECTORY_SEED, n_math=n))[0]


@torch.no_grad()
def trajectory_loss(model: CausalLM, tokenizer: Tokenizer, trajectories: Sequence) -> float:
    """Teacher-forced loss (nats) per supervised token: the assistant spans ``render`` marks, nothing else."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for traj in trajectories:
        rendered = render(traj, tokenizer)
        ids = torch.tensor(rendered.ids, device=device)[None]
        mask = torch.tensor(rendered.mask, dtype=torch.float32, device=device)[None, 1:]
        if ids.shape[1] > model.config.max_position_embeddings:
            raise ValueError(f"trajectory {traj.id}: {ids.shape[1]} tokens exceed max_position_embeddings="
                             f"{model.config.max_position_embeddings}")
        total += float(masked_loss_sum(model(ids[:, :-1]), ids[:, 1:], mask))
        count += int(mask.sum())
    return total / count


@torch.no_grad()
def loss_by_position(model: CausalLM, heldout: HeldOut, seq_len: int) -> np.ndarray:
    """Mean next-token loss at each position 0..seq_len-1 over rows of ``seq_len`` held-out tokens (every
    domain): how much the model gains from the context before a position."""
    device = next(model.parameters()).device
    losses = []
    for ids in heldout.ids.values():
        rows = (len(ids) - 1) // seq_len
        inputs = ids[: rows * seq_len].view(rows, seq_len).to(device)
        targets = ids[1 : rows * seq_len + 1].view(rows, seq_len).to(device)
        logits = model(inputs)
        losses.append(torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none"))
    return torch.cat(losses).mean(0).cpu().numpy()


def eval_table(out_dirs: dict[tuple[str, int], Path]) -> pd.DataFrame:
    """Every run's ``eval.csv`` rows, with columns ``arm`` and ``seed`` from the keys of ``out_dirs``."""
    return pd.concat([pd.read_csv(d / "eval.csv").assign(arm=arm, seed=seed) for (arm, seed), d in out_dirs.items()],
                     ignore_index=True)


def stage_end_bits_per_byte(evals: pd.DataFrame, stages: Sequence[str]) -> pd.DataFrame:
    """Held-out bits per byte at each stage end: each run's last evaluation in each stage, then the mean and
    standard deviation over seeds per (stage, arm, domain); rows in curriculum order, domains as columns."""
    last = evals.groupby(["arm", "seed", "stage", "domain"], sort=False).tail(1)
    table = last.groupby(["stage", "arm", "domain"], sort=False)["bits_per_byte"].agg(["mean", "std"])
    table = table.unstack("domain")
    order = {name: k for k, name in enumerate(stages)}
    return table.iloc[sorted(range(len(table)), key=lambda i: order[table.index[i][0]])]


def arm_summary(values: pd.DataFrame, value: str) -> pd.DataFrame:
    """Mean, standard deviation and count of ``value`` per arm (rows: seeds)."""
    return values.groupby("arm")[value].agg(["mean", "std", "count"])
