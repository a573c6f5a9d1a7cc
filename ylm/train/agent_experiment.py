"""Notebook 05's training side: does agentic mid-training (AMT) buy what agent fine-tuning alone does not?

The paper says stage 4 with ~60% agent trajectories lifts agent scores beyond post-training, and that the
gain grows about with log(agentic tokens). Two toy tests, built from notebook 04's runs:

    (a) equal-budget agent fine-tuning  every arm gets the same fine-tune (agent-only mixture, constant small LR,
        loss on the assistant spans the sampler marks), evaluated at several step counts, 0 included:
            agentic arm     stage 4 with trajectories
            control arm     stage 4 without them
            control + T     the control arm fine-tuned first on as many agent tokens T as the agentic arm saw
                            in stage 4 (``agent_tokens_in_stage4``), then the same budget: the trajectories as
                            post-training instead of mid-training
    (b) agentic-token budgets           stage 4 re-run from the end of stage 3 with the agent share
                                        ``a / tokens_4``, so that it holds ``a`` agentic tokens; the stage's
                                        tokens, LR and lengths stay, the other domains keep their proportions

A planned budget is a share; what a run trains on is the sampler's draw of whole documents (text documents
reach ~25k tokens, a stage-4 run ~100k), so a run's agentic tokens can land thousands away from the plan
(notebook 04's 60% arms drew 56.7k, 42.5k and 59.2k of 60k planned): ``agent_tokens_in_stage4(run_dir)``
reads what it got, the number to put on a plot's axis.

``finetune`` is resumable: its checkpoints and its evaluations (``finetune.csv``, rewritten atomically) live
in one folder, so a rerun continues the training and re-evaluates nothing. ``run_jobs`` spreads independent
runs over single-thread worker processes, one per core. Measured on toy_mla at 512 tokens: ~2,400-2,500
tokens per CPU second on one thread, alone or beside another worker (notebook 04's one two-thread process:
4,300 tokens/s); a two-thread process falls to a few hundred tokens/s when another process takes a core, its
threads waiting on each other.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tokenizers import Tokenizer
from tqdm.auto import tqdm

from ylm.agent.runtime import ModelPolicy, Sampling
from ylm.agent.toybench import Task
from ylm.agent.toybench_scoring import call_given_thinking, run_benchmark
from ylm.checks import check_int, check_number
from ylm.model.causal_lm import CausalLM
from ylm.model.config import ModelConfig
from ylm.model.hf import load_hf
from ylm.paths import write_text_atomic
from ylm.train.checkpoint import STATE_FILE, latest_checkpoint
from ylm.train.curriculum import Curriculum, Stage
from ylm.train.experiment import (
    AGENT,
    arm_summary,
    control_curriculum,
    stage_end_checkpoints,
    train_arm,
    trajectory_loss,
)
from ylm.train.sampler import PackedSampler, check_mixture
from ylm.train.schedule import LRSegment
from ylm.train.trainer import HeldOut, TrainConfig, Trainer

FINETUNE_STAGE = "finetune"
RESULTS_CSV = "finetune.csv"  # one row per evaluation, next to the fine-tune's checkpoints
ORIGIN_JSON = "finetune.json"  # what the folder was fine-tuned from: a rerun must continue the same run
ROW_KEYS: tuple[str, ...] = ("step", "tokens", "supervised")  # what finetune adds before the callback's values
AGENT_ONLY: Mapping[str, float] = {AGENT: 1.0}

Evaluate = Callable[[CausalLM], Mapping[str, float]]


# ---- the runs' curricula -----------------------------------------------------------------------------
def finetune_curriculum(tokens: int, seq_len: int, lr: float, mixture: Mapping[str, float] = AGENT_ONLY) -> Curriculum:
    """One stage, ``"finetune"``: ``tokens`` tokens of ``mixture`` at ``seq_len``, constant ``lr`` (no warmup:
    the fine-tuned checkpoints are trained models, and every arm gets the same start)."""
    check_number("lr", lr, 0, strict=True)
    return Curriculum((Stage(FINETUNE_STAGE, tokens, check_mixture(dict(mixture)), (check_int("seq_len", seq_len),),
                             LRSegment(lr, lr, "constant"), note="agent fine-tuning: constant LR"),))


def agent_budget_curriculum(curriculum: Curriculum, agent_tokens: int) -> Curriculum:
    """``curriculum`` whose last stage holds ``agent_tokens`` agentic tokens: agent share ``agent_tokens /
    tokens``, the rest to the other domains in their proportions there; tokens, LR and lengths unchanged.
    ``agent_tokens=0`` is the control arm's mixture. ValueError when the budget exceeds the stage."""
    last = curriculum.stages[-1]
    check_int("agent_tokens", agent_tokens, minimum=0)
    if agent_tokens > last.tokens:
        raise ValueError(f"agent_tokens={agent_tokens}: must be <= the last stage's tokens={last.tokens} "
                         f"(stage {last.name!r})")
    share = agent_tokens / last.tokens
    rest = control_curriculum(curriculum).stages[-1].mixture  # the other domains' proportions, summing to 1
    mixture = {**{d: w * (1 - share) for d, w in rest.items()}, AGENT: share}
    budget = dataclasses.replace(last, mixture={d: w for d, w in mixture.items() if w > 0},
                                 note=last.note + f" | agent budget: {agent_tokens} tokens")
    return Curriculum(curriculum.stages[:-1] + (budget,))


def run_state(run_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    """The newest checkpoint of a ``train_arm`` run folder and its trainer state (step, tokens, curriculum...);
    a ValueError naming the folder when it has none (for notebook 04's runs: run notebook 04 first)."""
    checkpoint = latest_checkpoint(Path(run_dir) / "checkpoints")
    if checkpoint is None:
        raise ValueError(f"run_dir={str(run_dir)!r}: no checkpoints under it (a run folder of train_arm; "
                         "notebook 04 writes them)")
    return checkpoint, json.loads((checkpoint / STATE_FILE).read_text())


def run_curriculum(run_dir: str | Path) -> Curriculum:
    """The curriculum a run trained with, as its newest checkpoint recorded it."""
    return Curriculum.from_dict(run_state(run_dir)[1]["curriculum"])


def agent_tokens_in_stage4(source: Curriculum | str | Path) -> int:
    """Agentic tokens in the last stage: planned (a ``Curriculum``: share times tokens) or trained (a run
    folder: the labels its sampler placed from the agent domain, read from the newest checkpoint, which must
    be past the end of the last stage).

    The sampler counts from when the run started or branched, so a run whose earlier stages hold agent data
    too cannot be split by stage: ValueError then."""
    if isinstance(source, Curriculum):
        last = source.stages[-1]
        return round(last.tokens * last.mixture.get(AGENT, 0.0))
    checkpoint, state = run_state(source)
    curriculum = Curriculum.from_dict(state["curriculum"])
    if state["tokens"] < curriculum.total_tokens:
        raise ValueError(f"{checkpoint}: at {state['tokens']} tokens, short of the last stage's end at "
                         f"{curriculum.total_tokens}")
    earlier = [s.name for s in curriculum.stages[:-1] if s.mixture.get(AGENT, 0.0) > 0]
    if earlier:
        raise ValueError(f"{checkpoint}: stages {earlier} hold agent data too; its sampler's count cannot "
                         "tell them from the last stage")
    return int(state["sampler"]["tokens_drawn"][AGENT]["tokens"])


def train_agent_budget_arm(config: ModelConfig, curriculum: Curriculum, agent_tokens: int, tokenizer: Tokenizer,
                           train: TrainConfig, out_dir: str | Path, heldout: HeldOut | None, sampler_seed: int,
                           branch_from: str | Path) -> Path:
    """(b): the last stage re-run from ``branch_from`` (the end of the stage before it) with ``agent_tokens``
    agentic tokens (``agent_budget_curriculum``), resuming what a previous call left in ``out_dir``; returns
    the checkpoint at the stage's end. A module-level function returning a path, so ``run_jobs`` can run it."""
    budget = agent_budget_curriculum(curriculum, agent_tokens)
    train_arm(config, budget, tokenizer, train, Path(out_dir), heldout, sampler_seed, branch_from=Path(branch_from))
    return stage_end_checkpoints(Path(out_dir), budget)[budget.stages[-1].name]


# ---- equal-budget fine-tuning ------------------------------------------------------------------------
@dataclass(frozen=True)
class FinetuneConfig:
    """What one fine-tune trains and when it is evaluated. ``eval_steps`` are optimizer steps in [0, steps]
    (0: the checkpoint as given; ``steps=0`` evaluates only that)."""

    steps: int
    eval_steps: tuple[int, ...]
    lr: float = 3e-4  # notebook 04's stage-4 end LR: fine-tuning goes on at the pace mid-training ended with
    seq_len: int = 512
    mixture: Mapping[str, float] = field(default_factory=lambda: dict(AGENT_ONLY))

    def __post_init__(self) -> None:
        check_int("steps", self.steps, minimum=0)
        if not isinstance(self.eval_steps, tuple | list) or not self.eval_steps:
            raise ValueError(f"eval_steps={self.eval_steps!r}: must be a non-empty tuple of steps in [0, steps]")
        for step in self.eval_steps:
            check_int("eval_steps", step, minimum=0)
            if step > self.steps:
                raise ValueError(f"eval_steps={self.eval_steps!r}: {step} is past steps={self.steps}")
        object.__setattr__(self, "eval_steps", tuple(sorted(set(self.eval_steps))))
        check_number("lr", self.lr, 0, strict=True)
        check_int("seq_len", self.seq_len, minimum=2)
        object.__setattr__(self, "mixture", check_mixture(dict(self.mixture)))

    def after(self, extra_steps: int) -> FinetuneConfig:
        """This fine-tune preceded by ``extra_steps`` more (the control + T arm): the evaluations keep their
        place in the equal budget, so step ``extra_steps + s`` here matches step ``s`` of the others."""
        check_int("extra_steps", extra_steps, minimum=0)
        return dataclasses.replace(self, steps=self.steps + extra_steps,
                                   eval_steps=tuple(extra_steps + s for s in self.eval_steps))


def steps_for_tokens(tokens: int, batch_size: int, seq_len: int) -> int:
    """The whole number of steps of ``batch_size`` x ``seq_len`` closest to ``tokens`` (within half a batch)."""
    check_int("tokens", tokens, minimum=0)
    return round(tokens / (check_int("batch_size", batch_size) * check_int("seq_len", seq_len)))


def finetune(checkpoint: str | Path, out_dir: str | Path, tokenizer: Tokenizer, model_config: ModelConfig,
             plan: FinetuneConfig, train: TrainConfig, evaluate: Evaluate, sampler_seed: int) -> pd.DataFrame:
    """Fine-tune the model in ``checkpoint`` by ``plan`` into ``out_dir`` and evaluate it at ``plan.eval_steps``:
    one row per evaluation, ``step``, ``tokens`` (trained so far), ``supervised`` (tokens that carried loss),
    then ``evaluate(model)``'s values. Fresh AdamW, the sampler's data seeded by ``sampler_seed``.

    Resumable: a rerun with the same arguments continues from the newest checkpoint in ``out_dir`` and skips
    the evaluations ``finetune.csv`` already holds. ``model_config`` gives the model's settings that a model
    folder does not store (``attn_impl``) and must match the checkpoint's otherwise (``rope_theta`` aside).
    ``train.eval_every`` must be 0 (``evaluate`` is the measurement); ``train.keep_checkpoints=1`` saves disk.
    Under ``run_jobs``, ``evaluate`` must be picklable: a module-level function or a ``functools.partial``."""
    if train.eval_every:
        raise ValueError(f"eval_every={train.eval_every}: must be 0; finetune evaluates through evaluate() at "
                         "plan.eval_steps")
    out_dir = Path(out_dir)
    _check_origin(out_dir, checkpoint, sampler_seed)
    # a curriculum needs >= 1 token: with steps=0 it is never trained on
    curriculum = finetune_curriculum(max(plan.steps, 1) * train.batch_size * plan.seq_len, plan.seq_len, plan.lr,
                                     plan.mixture)
    sampler = PackedSampler(tokenizer, dict(plan.mixture), plan.seq_len, seed=sampler_seed)
    trainer = Trainer(_load_model(checkpoint, model_config), curriculum, sampler, train, out_dir)
    trainer.resume()
    results = out_dir / RESULTS_CSV
    rows = pd.read_csv(results).to_dict("records") if results.exists() else []
    done = {int(row["step"]) for row in rows}
    for step in plan.eval_steps:
        if step in done:
            continue
        if trainer.step > step:
            raise ValueError(f"eval_steps: step {step} was never evaluated and {out_dir} is past it (step "
                             f"{trainer.step}); fine-tune into a new out_dir")
        trainer.run(max_steps=step)  # saves a checkpoint where it stops: a crash in evaluate loses no training
        supervised = sum(c["supervised"] for c in sampler.tokens_drawn().values())
        rows.append({"step": step, "tokens": trainer.tokens, "supervised": supervised,
                     **_scores(evaluate, trainer.model)})
        write_text_atomic(results, pd.DataFrame(rows).sort_values("step").to_csv(index=False))
    trainer.run(max_steps=plan.steps)
    table = pd.DataFrame(rows)
    return table[table["step"].isin(plan.eval_steps)].sort_values("step", ignore_index=True)


def _load_model(checkpoint: str | Path, model_config: ModelConfig) -> CausalLM:
    model = load_hf(checkpoint, attn_impl=model_config.attn_impl)
    # a stage may change rope_theta (the folder then says the new one); nothing else may differ
    if model.config.replace(rope_theta=model_config.rope_theta) != model_config:
        differ = [f.name for f in dataclasses.fields(model_config) if f.name != "rope_theta"
                  and getattr(model.config, f.name) != getattr(model_config, f.name)]
        raise ValueError(f"checkpoint={str(checkpoint)!r}: written for another model: config fields {differ} "
                         "differ from model_config's")
    return model.train()


def _check_origin(out_dir: Path, checkpoint: str | Path, sampler_seed: int) -> None:
    """Record what ``out_dir`` is fine-tuned from, or check that a rerun continues the same fine-tune: its
    sampler seed would otherwise be replaced silently by the saved one, its results kept under another name."""
    origin = {"checkpoint": str(Path(checkpoint).resolve()), "sampler_seed": sampler_seed}
    path = out_dir / ORIGIN_JSON
    if path.exists():
        saved = json.loads(path.read_text())
        if saved != origin:
            raise ValueError(f"{out_dir}: fine-tuned from {saved}, not {origin}; use another out_dir")
        return
    write_text_atomic(path, json.dumps(origin) + "\n")


@torch.no_grad()
def _scores(evaluate: Evaluate, model: CausalLM) -> dict[str, float]:
    model.eval()
    try:
        scores = evaluate(model)
    finally:
        model.train()
    if not isinstance(scores, Mapping) or not all(isinstance(k, str) and k not in ROW_KEYS for k in scores) \
            or not all(isinstance(v, Real) and not isinstance(v, bool) for v in scores.values()):
        raise ValueError(f"evaluate returned {scores!r}: must be a dict of str names (not {ROW_KEYS}) to numbers")
    return {name: float(value) for name, value in scores.items()}


# ---- parallel runs ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """``fn(**kwargs)`` under a name for messages; ``fn`` module-level and ``kwargs`` picklable, since a worker
    process imports the one and unpickles the other."""

    name: str
    fn: Callable[..., Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)


class JobError(RuntimeError):
    """A job raised; the message names it, the original exception is the cause."""


def run_jobs(jobs: Sequence[Job], processes: int = 2) -> list[Any]:
    """Every job's result, in job order. ``processes=1`` runs them here, one after the other; more run them in
    that many spawned worker processes of one torch thread each. The first failure raises ``JobError``
    naming its job and stops the others at once (killed: their runs resume from their last checkpoints)."""
    check_int("processes", processes)
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        raise ValueError(f"jobs: names must be unique, got {names}")
    results: list[Any] = [None] * len(jobs)
    with tqdm(total=len(jobs), unit="job", desc="jobs", dynamic_ncols=True) as bar:  # off with TQDM_DISABLE=1
        if processes == 1 or not jobs:
            for index, job in enumerate(jobs):
                results[index] = _run_indexed((index, job))[1]
                bar.update()
            return results
        # spawn, not fork: a forked child inherits torch's thread pools and locks in whatever state they were
        context = multiprocessing.get_context("spawn")
        # leaving the block terminates the pool: on an error, the running jobs stop instead of being waited for
        with context.Pool(min(processes, len(jobs)), initializer=torch.set_num_threads, initargs=(1,)) \
                as pool:
            for index, result in pool.imap_unordered(_run_indexed, enumerate(jobs)):
                results[index] = result
                bar.update()
            pool.close()  # all done: let the workers exit on their own, running their clean-up (tqdm's locks)
            pool.join()
    return results


def _run_indexed(item: tuple[int, Job]) -> tuple[int, Any]:
    """``(index, job's result)``; a job's exception becomes a ``JobError`` naming it (in the worker, so the
    message survives the trip back; the worker's traceback comes along as the cause)."""
    index, job = item
    try:
        return index, job.fn(**job.kwargs)
    except Exception as error:
        raise JobError(f"job {job.name!r} failed: {type(error).__name__}: {error}") from error


# ---- the measurements ------------------------------------------------------------------------------------
CALL_TOKENS = 96  # what the call given the thinking may write: every reference call, closed, fits (tested)


def agent_measures(model: CausalLM, tokenizer: Tokenizer, tasks: Sequence[Task], episode_tasks: Sequence[Task],
                   max_steps: int = 3, max_new_tokens: int = 192) -> dict[str, float]:
    """The toy benchmark's measures of one model, as ``finetune``'s ``evaluate`` wants them (bind the other
    arguments with ``functools.partial``):

    * ``loss``: teacher-forced loss per assistant token on the reference trajectories of ``tasks``;
    * ``thinking_valid`` / ``thinking_right``: the call written after each reference thinking (``tasks``), in at
      most ``CALL_TOKENS`` tokens;
    * ``valid`` / ``right`` / ``success`` and ``success_<category>``: greedy episodes on ``episode_tasks``
      (valid calls over calls attempted; right and success over tasks), ``recovery`` (recovered over episodes
      that saw an error; NaN when none did) and mean ``steps``; left out when ``episode_tasks`` is empty.

    The first two are the low-noise measures: they score every task on every assistant token or call, where an
    episode scores 0 or 1 on one greedy path."""
    room = model.config.max_position_embeddings
    given = call_given_thinking(ModelPolicy(model, tokenizer, Sampling(max_new_tokens=CALL_TOKENS), room),
                                tokenizer, tasks)
    policy = ModelPolicy(model, tokenizer, Sampling(max_new_tokens=max_new_tokens), max_context=room)
    scores = {"loss": trajectory_loss(model, tokenizer, [task.trajectory for task in tasks]),
              "thinking_valid": float(given["valid"].mean()), "thinking_right": float(given["right"].mean())}
    if episode_tasks:
        rows = run_benchmark(policy, tokenizer, episode_tasks, max_steps=max_steps)
        scores |= {"valid": float(rows["valid_calls"].sum() / max(1, rows["calls"].sum())),
                   "right": float(rows["right"].mean()), "success": float(rows["success"].mean()),
                   "recovery": float(rows["recovered"].sum() / rows["error_seen"].sum()) if rows["error_seen"].any()
                   else float("nan"), "steps": float(rows["steps"].mean())}
        for category, part in rows.groupby("category"):
            scores[f"success_{category}"] = float(part["success"].mean())
    return scores


def measure_checkpoint(checkpoint: str | Path, model_config: ModelConfig, evaluate: Evaluate) -> dict[str, float]:
    """``evaluate`` (e.g. a ``functools.partial`` of ``agent_measures``) on the model saved in ``checkpoint``."""
    return _scores(evaluate, _load_model(checkpoint, model_config))


def agent_budget_point(evaluate: Evaluate, out_dir: str | Path, config: ModelConfig, **arm: Any) -> dict[str, float]:
    """One point of test (b): ``train_agent_budget_arm(config=config, out_dir=out_dir, **arm)``, then the agentic
    tokens that run really drew (``agent_tokens``) and ``evaluate`` on its end-of-stage-4 model."""
    checkpoint = train_agent_budget_arm(config=config, out_dir=out_dir, **arm)
    return {"agent_tokens": float(agent_tokens_in_stage4(out_dir)), **measure_checkpoint(checkpoint, config, evaluate)}


# ---- verdicts ------------------------------------------------------------------------------------------
SEPARATION = 3.0  # a gap counts when it exceeds this many times the larger of the two arms' seed std


def compare_arms(values: pd.DataFrame, measure: str, first: str, second: str,
                 lower_is_better: bool) -> dict[str, Any]:
    """``first`` against ``second`` on ``measure`` (rows: one per arm and seed, columns ``arm`` and the measure):
    both means and seed stds, the gap in ``first``'s favour, and a verdict that calls it a difference only when
    the gap exceeds ``SEPARATION`` times the larger std (with equal values and no spread: "no difference")."""
    summary = arm_summary(values, measure).reindex([first, second])
    for arm, count in summary["count"].fillna(0).items():
        if count < 2:
            raise ValueError(f"arm {arm!r}: {int(count)} seed(s) of {measure!r}; a spread needs at least 2")
    stats = {arm: (float(row["mean"]), float(row["std"])) for arm, row in summary.iterrows()}
    gap = stats[second][0] - stats[first][0] if lower_is_better else stats[first][0] - stats[second][0]
    spread = max(stats[first][1], stats[second][1])
    if abs(gap) > SEPARATION * spread and gap != 0:
        verdict = f"{first} {'better' if gap > 0 else 'worse'} by more than {SEPARATION:g}x the seed spread"
    else:
        verdict = f"no difference beyond {SEPARATION:g}x the seed spread"
    return {"measure": measure, first: stats[first][0], f"{first}_std": stats[first][1], second: stats[second][0],
            f"{second}_std": stats[second][1], "gap": gap, "spread": spread, "verdict": verdict}


def log_scaling(points: pd.DataFrame, measure: str, tokens: str = "agent_tokens") -> dict[str, float]:
    """How ``measure`` moves with log2 of the agentic tokens over the points with tokens > 0 (one row per run):
    least-squares slope per doubling, its r^2, and Spearman's rank correlation (monotone at all?)."""
    used = points[points[tokens] > 0]
    if used[tokens].nunique() < 2:
        raise ValueError(f"{tokens}: {used[tokens].nunique()} distinct positive budgets; a slope needs at least 2")
    x, y = np.log2(used[tokens].to_numpy(float)), used[measure].to_numpy(float)
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    total = ((y - y.mean()) ** 2).sum()
    r2 = 1 - (residual**2).sum() / total if total > 0 else float("nan")
    rho = pd.Series(x).rank().corr(pd.Series(y).rank()) if y.std() > 0 else float("nan")
    return {"measure": measure, "slope_per_doubling": float(slope), "r2": float(r2), "spearman": float(rho),
            "points": len(used)}
