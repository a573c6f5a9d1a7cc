"""Notebook 05's training side: equal-budget fine-tuning, agentic-token budgets, parallel jobs.

A tiny MLA model over the kit tokenizer's vocabulary fine-tunes on real rendered trajectories for a few steps.
Broken paths are fed on purpose: an evaluation callback that crashes after the training it measures (the rerun
must finish without training or evaluating anything twice), one that returns no numbers, a budget larger than
its stage, and a job that raises in a worker process (its error must name it).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import torch
from tokenizers import Tokenizer
from train_fixtures import read_csv

from ylm.model.causal_lm import CausalLM
from ylm.model.config import ModelConfig, tiny_mla
from ylm.model.hf import load_hf, save_hf
from ylm.timing import torch_threads
from ylm.tokenizer.kit import kit_tokenizer
from ylm.train.agent_experiment import (
    CALL_TOKENS,
    RESULTS_CSV,
    FinetuneConfig,
    Job,
    JobError,
    agent_budget_curriculum,
    agent_measures,
    agent_tokens_in_stage4,
    compare_arms,
    finetune,
    finetune_curriculum,
    log_scaling,
    measure_checkpoint,
    run_curriculum,
    run_jobs,
    steps_for_tokens,
    train_agent_budget_arm,
)
from ylm.train.curriculum import Curriculum, Stage, paper_curriculum
from ylm.train.experiment import control_curriculum, heldout_trajectories, train_arm, trajectory_loss
from ylm.train.sampler import PackedSampler
from ylm.train.schedule import LRSegment
from ylm.train.trainer import TrainConfig

SEQ_LEN, BATCH = 64, 2
PLAN = FinetuneConfig(steps=4, eval_steps=(4, 0, 2), lr=1e-3, seq_len=SEQ_LEN)  # unsorted on purpose
TRAIN = TrainConfig(batch_size=BATCH, device="cpu", log_every=1, keep_checkpoints=1)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread, as run_jobs' workers: on a loaded two-core machine a second thread is often
    descheduled, and every parallel op waits for it (tenfold slower here)."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return kit_tokenizer()


@pytest.fixture(scope="module")
def config(tok: Tokenizer) -> ModelConfig:
    # whole held-out trajectories reach ~600 tokens
    return tiny_mla(vocab_size=tok.get_vocab_size(), max_position_embeddings=1024)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, config: ModelConfig) -> Path:
    """A model folder to fine-tune from, as a stage-4 checkpoint is one."""
    torch.manual_seed(0)
    return save_hf(CausalLM(config), tmp_path_factory.mktemp("source") / "model")


class CountingEvaluation:
    """The assistant-token loss on two held-out trajectories; counts its calls, and crashes on call
    ``crash_on`` (1-based) after the training it was to measure."""

    def __init__(self, tok: Tokenizer, crash_on: int | None = None) -> None:
        self.tok, self.crash_on, self.calls = tok, crash_on, 0
        self.trajectories = heldout_trajectories(2)

    def __call__(self, model: CausalLM) -> dict[str, float]:
        self.calls += 1
        if self.calls == self.crash_on:
            raise RuntimeError("evaluation crashed")
        return {"trajectory_loss": trajectory_loss(model, self.tok, self.trajectories)}


def test_finetune_evaluates_at_the_requested_steps(tmp_path: Path, tok: Tokenizer, config: ModelConfig,
                                                   source: Path) -> None:
    evaluate = CountingEvaluation(tok)
    rows = finetune(source, tmp_path / "ft", tok, config, PLAN, TRAIN, evaluate, sampler_seed=0)
    assert list(rows["step"]) == [0, 2, 4] and evaluate.calls == 3
    assert list(rows["tokens"]) == [0, 2 * BATCH * SEQ_LEN, 4 * BATCH * SEQ_LEN]
    # agent-only data: the loss falls on the assistant spans alone, a part of the tokens trained on
    assert 0 < rows["supervised"].iloc[-1] < rows["tokens"].iloc[-1]
    assert rows["trajectory_loss"].iloc[-1] < rows["trajectory_loss"].iloc[0]  # it learned from trajectories
    unseen = CountingEvaluation(tok)
    assert rows["trajectory_loss"].iloc[0] == pytest.approx(unseen(load_hf(source))["trajectory_loss"])
    assert list(pd.read_csv(tmp_path / "ft" / RESULTS_CSV)["step"]) == [0, 2, 4]
    direct = finetune(source, tmp_path / "direct", tok, config, FinetuneConfig(steps=0, eval_steps=(0,)), TRAIN,
                      CountingEvaluation(tok), sampler_seed=0)  # evaluation only, as a budget arm's own
    assert direct.equals(rows.iloc[:1])


def test_a_crash_in_evaluation_resumes_without_training_or_evaluating_twice(
        tmp_path: Path, tok: Tokenizer, config: ModelConfig, source: Path) -> None:
    out = tmp_path / "ft"
    with pytest.raises(RuntimeError, match="evaluation crashed"):
        finetune(source, out, tok, config, PLAN, TRAIN, CountingEvaluation(tok, crash_on=3), sampler_seed=0)
    assert list(pd.read_csv(out / RESULTS_CSV)["step"]) == [0, 2]  # step 4 was trained and saved, not measured
    again = CountingEvaluation(tok)
    rows = finetune(source, out, tok, config, PLAN, TRAIN, again, sampler_seed=0)
    assert again.calls == 1 and list(rows["step"]) == [0, 2, 4]
    assert [int(r["step"]) for r in read_csv(out / "metrics.csv")] == [1, 2, 3, 4]  # no step trained twice
    done = CountingEvaluation(tok)
    assert finetune(source, out, tok, config, PLAN, TRAIN, done, sampler_seed=0).equals(rows) and done.calls == 0
    # the interrupted run measured what an uninterrupted one does
    whole = finetune(source, tmp_path / "whole", tok, config, PLAN, TRAIN, CountingEvaluation(tok), sampler_seed=0)
    assert whole.equals(rows)


def test_finetune_refuses_bad_input(tmp_path: Path, tok: Tokenizer, config: ModelConfig, source: Path) -> None:
    out = tmp_path / "ft"
    with pytest.raises(ValueError, match="evaluate returned"):
        finetune(source, out, tok, config, PLAN, TRAIN, lambda model: {"loss": "low"}, sampler_seed=0)
    with pytest.raises(ValueError, match="fine-tuned from"):  # the same folder, another data seed
        finetune(source, out, tok, config, PLAN, TRAIN, CountingEvaluation(tok), sampler_seed=1)
    with pytest.raises(ValueError, match="eval_every"):
        finetune(source, tmp_path / "b", tok, config, PLAN, dataclasses.replace(TRAIN, eval_every=5),
                 CountingEvaluation(tok), sampler_seed=0)
    with pytest.raises(ValueError, match="hidden_size"):
        finetune(source, tmp_path / "c", tok, config.replace(hidden_size=64), PLAN, TRAIN, CountingEvaluation(tok),
                 sampler_seed=0)
    with pytest.raises(ValueError, match="eval_steps"):
        FinetuneConfig(steps=4, eval_steps=(0, 5))
    with pytest.raises(ValueError, match="mixture"):
        FinetuneConfig(steps=4, eval_steps=(0,), mixture={"agent": 0.5})
    with pytest.raises(ValueError, match="lr"):
        finetune_curriculum(1024, SEQ_LEN, 0.0)


def test_the_control_plus_trajectories_arm_shifts_its_evaluations() -> None:
    extra = steps_for_tokens(10_000, BATCH, SEQ_LEN)
    assert extra == 78 and abs(extra * BATCH * SEQ_LEN - 10_000) <= BATCH * SEQ_LEN / 2
    shifted = PLAN.after(extra)
    assert shifted.steps == PLAN.steps + extra and shifted.eval_steps == (extra, extra + 2, extra + 4)


def test_budget_curriculum_holds_the_agent_tokens_and_keeps_the_rest() -> None:
    curriculum = paper_curriculum(1_000_000, stage_shares=(0.55, 0.2, 0.15, 0.10))
    last = curriculum.stages[-1]
    for agent_tokens in (0, 3_750, 30_000, last.tokens):
        budget = agent_budget_curriculum(curriculum, agent_tokens)
        stage = budget.stages[-1]
        assert budget.stages[:-1] == curriculum.stages[:-1]
        assert (stage.name, stage.tokens, stage.seq_lens, stage.lr) == (last.name, last.tokens, last.seq_lens, last.lr)
        assert agent_tokens_in_stage4(budget) == agent_tokens
        rest = {d: w for d, w in stage.mixture.items() if d != "agent"}
        for domain, weight in rest.items():
            assert weight / sum(rest.values()) == pytest.approx(control_curriculum(curriculum).stages[-1].mixture[domain])
    assert agent_budget_curriculum(curriculum, 0).stages[-1].mixture == control_curriculum(curriculum).stages[-1].mixture
    with pytest.raises(ValueError, match="agent_tokens=100001"):
        agent_budget_curriculum(curriculum, last.tokens + 1)
    with pytest.raises(ValueError, match="agent_tokens"):
        agent_budget_curriculum(curriculum, -1)


def test_a_budget_arm_branches_and_draws_its_agent_tokens(tmp_path: Path, tok: Tokenizer, config: ModelConfig) -> None:
    curriculum = Curriculum((
        Stage("text", 256, {"general": 1.0}, (32,), LRSegment(1e-3, 1e-3, "constant", warmup_tokens=64)),
        Stage("agentic", 2_048, {"general": 0.2, "stem": 0.2, "agent": 0.6}, (SEQ_LEN,),
              LRSegment(1e-3, 1e-4, "linear")),
    ))
    train = TrainConfig(batch_size=4, device="cpu", log_every=1)
    main = train_arm(config, curriculum, tok, train, tmp_path / "main", None, sampler_seed=0,
                     max_tokens=curriculum.boundaries()[1])
    branch = main.checkpoints / f"step-{main.step:08d}"
    agent_tokens = 1_024  # the largest share: the first document drawn is a trajectory
    end = train_agent_budget_arm(config, curriculum, agent_tokens, tok, train, tmp_path / "arm", None,
                                 sampler_seed=3, branch_from=branch)
    state = json.loads((end / "trainer.json").read_text())
    trained = state["tokens"] - main.tokens
    share = agent_budget_curriculum(curriculum, agent_tokens).stages[-1].mixture["agent"]
    assert abs(share * trained - agent_tokens) <= 4 * SEQ_LEN  # planned: within the last batch's overshoot
    # trained: what the budget mixture's sampler draws with the arm's seed (documents, not tokens, are drawn,
    # so the count is the sampler's, near the plan)
    replay = PackedSampler(tok, agent_budget_curriculum(curriculum, agent_tokens).stages[-1].mixture, SEQ_LEN, 3)
    for _ in range(trained // (4 * SEQ_LEN)):
        replay.next_batch(4)
    assert agent_tokens_in_stage4(tmp_path / "arm") == replay.tokens_drawn()["agent"]["tokens"] > 0
    with pytest.raises(ValueError, match="short of the last stage"):
        agent_tokens_in_stage4(tmp_path / "main")


def test_run_jobs_in_workers_returns_what_in_process_does_and_names_a_failed_job() -> None:
    curriculum = paper_curriculum(1_000_000)
    jobs = [Job(f"budget-{a}", agent_budget_curriculum, {"curriculum": curriculum, "agent_tokens": a})
            for a in (0, 1_000, 2_000)]
    *in_workers, threads = run_jobs([*jobs, Job("threads", torch.get_num_threads)], processes=2)
    assert in_workers == run_jobs(jobs, processes=1)
    assert threads == 1  # a spawned worker would start with one thread per core
    broken = [*jobs, Job("too-big", agent_budget_curriculum, {"curriculum": curriculum, "agent_tokens": 10**9})]
    for processes in (1, 2):
        with pytest.raises(JobError, match="job 'too-big' failed: ValueError: agent_tokens=1000000000"):
            run_jobs(broken, processes=processes)
    with pytest.raises(ValueError, match="unique"):
        run_jobs([jobs[0], jobs[0]])
    assert run_jobs([], processes=2) == []


def test_agent_measures_score_a_model_and_its_checkpoint_alike(tok: Tokenizer, config: ModelConfig,
                                                              source: Path) -> None:
    from ylm.agent.toybench import make_tasks

    tasks = [t for t in make_tasks(seed=0, n_per_level=1) if t.level == 1][:2]
    evaluate = functools.partial(agent_measures, tokenizer=tok, tasks=tasks, episode_tasks=tasks[:1],
                                 max_steps=1, max_new_tokens=8)
    scores = measure_checkpoint(source, config, evaluate)
    # a random model: a loss near log(vocab), no valid call, the episode scored and its category named
    assert 5 < scores["loss"] < 12 and scores["thinking_valid"] == 0 and scores["success"] == 0
    assert f"success_{tasks[0].category}" in scores and scores["steps"] == 1
    assert scores["loss"] == pytest.approx(trajectory_loss(load_hf(source), tok, [t.trajectory for t in tasks]))
    without = agent_measures(load_hf(source), tok, tasks, [], max_new_tokens=8)
    assert set(without) == {"loss", "thinking_valid", "thinking_right"}  # no episodes asked, none scored


def test_run_state_names_a_folder_without_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no checkpoints under it"):
        run_curriculum(tmp_path / "never-trained")


def _arms(agentic: list[float], control: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"arm": ["agentic"] * len(agentic) + ["control"] * len(control), "loss": agentic + control})


def test_compare_arms_calls_a_gap_only_beyond_three_seed_spreads() -> None:
    clear = compare_arms(_arms([1.0, 1.1, 0.9], [2.0, 2.1, 1.9]), "loss", "agentic", "control", lower_is_better=True)
    assert clear["gap"] == pytest.approx(1.0) and clear["verdict"].startswith("agentic better")
    noisy = compare_arms(_arms([1.0, 1.5, 0.5], [1.3, 1.8, 0.8]), "loss", "agentic", "control", lower_is_better=True)
    assert noisy["verdict"].startswith("no difference")
    worse = compare_arms(_arms([1.0, 1.1, 0.9], [2.0, 2.1, 1.9]), "loss", "agentic", "control", lower_is_better=False)
    assert worse["verdict"].startswith("agentic worse")  # the same numbers, read the other way
    flat = compare_arms(_arms([0.0, 0.0], [0.0, 0.0]), "loss", "agentic", "control", lower_is_better=False)
    assert flat["verdict"].startswith("no difference")
    with pytest.raises(ValueError, match="needs at least 2"):
        compare_arms(_arms([1.0], [2.0, 2.1]), "loss", "agentic", "control", lower_is_better=True)


def test_log_scaling_recovers_a_planted_slope() -> None:
    tokens = [0, 1000, 2000, 4000, 8000] * 2
    points = pd.DataFrame({"agent_tokens": tokens,
                           "loss": [9.0 if t == 0 else 6.0 - 0.5 * math.log2(t / 1000) for t in tokens]})
    fit = log_scaling(points, "loss")  # the 0-token runs stay out of the log fit
    assert fit["slope_per_doubling"] == pytest.approx(-0.5) and fit["r2"] == pytest.approx(1.0)
    assert fit["spearman"] == pytest.approx(-1.0) and fit["points"] == 8
    with pytest.raises(ValueError, match="distinct positive budgets"):
        log_scaling(points[points.agent_tokens <= 1000], "loss")


def test_every_reference_call_fits_the_call_budget(tok: Tokenizer) -> None:
    from ylm.agent.render import render_segments
    from ylm.agent.toybench import make_tasks
    from ylm.tokenizer.special_tokens import CALL_OPEN

    for task in make_tasks(seed=0, n_per_level=4):
        text, segments = render_segments(task.trajectory)
        start, end = next((a, b) for a, b, kind in segments if kind in ("assistant", "failed_attempt"))
        call = text[text.index(CALL_OPEN, start, end):end]  # what call_given_thinking asks the model to write
        assert len(tok.encode(call).ids) <= CALL_TOKENS, task.id
