"""The four-stage "commonsense -> STEM -> agent" curriculum as data: stages with token budgets, mixtures,
length steps and LR segments, laid end to end on one token axis.

Stage ``i`` covers tokens ``[b_i, b_{i+1})`` with ``b_0 = 0`` and ``b_{i+1} = b_i + tokens_i``; inside it the
LR is the stage's ``LRSegment`` at ``t = tokens - b_i`` and the length step is the one whose share of the
stage holds ``t``. At every boundary the LR is continuous::

    lr_{i+1}.start == lr_i.end      (relative 1e-12; a stage that starts with a warmup may restart)

so the whole curriculum is one schedule ``lr(tokens)``, a pure function of the token count, like
``ylm.train.schedule.wsd``. ``paper_curriculum`` scales the paper's four stages (paper_facts §3.2) to any
budget and says, per field, which numbers are the paper's and which are ours.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import pandas as pd

from ylm.checks import check_int, check_number
from ylm.data import DOMAINS
from ylm.train.schedule import LRSegment

MIN_SEQ_LEN = 16  # shorter sequences hold too little context to learn from
MIXTURE_TOLERANCE = 1e-9
LR_TOLERANCE = 1e-12  # relative, at stage boundaries

# ---- the paper's numbers (paper_facts §3.1, §3.2, §4) ------------------------------------------------
PAPER_TOTAL_TOKENS = 10.84e12  # 10.64T pre-training pool + 0.2T agentic trajectories
PAPER_STAGE1_TOKENS = 8.16e12
PAPER_AGENT_TOKENS = 0.2e12
PAPER_STAGE1_GENERAL = 0.75  # web pages + encyclopedia
PAPER_STAGE2_STEM_CODE = 0.60
PAPER_STAGE4_AGENT = 0.60
PAPER_LENGTH_STEPS = (1, 4, 16)  # stage 3: 8k -> 32k -> 128k

# ---- our choices where the paper publishes nothing -----------------------------------------------------
# Stage 4 holds all 200B agentic tokens at 60%: 200B / 0.6 of 10.84T (an inference from two paper figures).
OUR_STAGE4_SHARE = PAPER_AGENT_TOKENS / PAPER_STAGE4_AGENT / PAPER_TOTAL_TOKENS
# Stages 2 and 3 split what stages 1 and 4 leave equally.
OUR_STAGE23_SHARE = (1.0 - PAPER_STAGE1_TOKENS / PAPER_TOTAL_TOKENS - OUR_STAGE4_SHARE) / 2
PAPER_STAGE_SHARES = (PAPER_STAGE1_TOKENS / PAPER_TOTAL_TOKENS, OUR_STAGE23_SHARE, OUR_STAGE23_SHARE,
                      OUR_STAGE4_SHARE)
OUR_WARMUP_SHARE = 0.01  # of all tokens, at the start of stage 1


@dataclass(frozen=True)
class Stage:
    """One curriculum stage. ``seq_lens`` are its length steps, trained in order; its ``tokens`` are split
    equally across them (the remainder on the last) unless ``step_tokens`` gives one budget per step.
    ``rope_theta`` changes the RoPE base when the stage starts (None keeps it); ``note`` says where each
    number comes from."""

    name: str
    tokens: int
    mixture: dict[str, float]
    seq_lens: tuple[int, ...]
    lr: LRSegment
    step_tokens: tuple[int, ...] | None = None
    rope_theta: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name={self.name!r}: a stage needs a non-empty string name")
        where = f"stage {self.name!r}: "
        check_int(f"{where}tokens", self.tokens)
        if not isinstance(self.mixture, Mapping):
            raise ValueError(f"{where}mixture={self.mixture!r}: must be a dict domain -> weight")
        # A private copy: a frozen stage must not change when the caller's dict does.
        object.__setattr__(self, "mixture", dict(self.mixture))
        self._check_mixture(where)
        self._check_lengths(where)
        if not isinstance(self.lr, LRSegment):
            raise ValueError(f"{where}lr={self.lr!r}: must be an LRSegment")
        if self.lr.warmup_tokens >= self.tokens:
            raise ValueError(f"{where}lr.warmup_tokens={self.lr.warmup_tokens}: must be < tokens={self.tokens}")
        if self.rope_theta is not None:
            check_number(f"{where}rope_theta", self.rope_theta, 0, strict=True)
        if not isinstance(self.note, str):
            raise ValueError(f"{where}note={self.note!r}: must be a string")

    def _check_mixture(self, where: str) -> None:
        unknown = sorted(set(self.mixture) - set(DOMAINS))
        if unknown:
            raise ValueError(f"{where}mixture has unknown domains {unknown}; known domains are {DOMAINS}")
        for domain, weight in self.mixture.items():
            check_number(f"{where}mixture[{domain!r}]", weight, 0)
        total = math.fsum(self.mixture.values())
        if abs(total - 1.0) > MIXTURE_TOLERANCE:
            raise ValueError(f"{where}mixture weights sum to {total!r}: must sum to 1 (within {MIXTURE_TOLERANCE})")

    def _check_lengths(self, where: str) -> None:
        if not isinstance(self.seq_lens, tuple) or not self.seq_lens:
            raise ValueError(f"{where}seq_lens={self.seq_lens!r}: must be a non-empty tuple of ints")
        for length in self.seq_lens:
            check_int(f"{where}seq_lens", length, minimum=MIN_SEQ_LEN)
        if any(b <= a for a, b in zip(self.seq_lens, self.seq_lens[1:], strict=False)):
            raise ValueError(f"{where}seq_lens={self.seq_lens}: must be strictly increasing")
        steps = len(self.seq_lens)
        if self.step_tokens is None:
            if self.tokens < steps:
                raise ValueError(f"{where}tokens={self.tokens}: fewer than one per length step ({steps})")
            return
        if not isinstance(self.step_tokens, tuple) or len(self.step_tokens) != steps:
            raise ValueError(f"{where}step_tokens={self.step_tokens!r}: must be a tuple of {steps} budgets, "
                             f"one per seq_lens entry")
        for budget in self.step_tokens:
            check_int(f"{where}step_tokens", budget)
        if sum(self.step_tokens) != self.tokens:
            raise ValueError(f"{where}step_tokens={self.step_tokens} sum to {sum(self.step_tokens)}: "
                             f"must sum to tokens={self.tokens}")

    def step_budgets(self) -> tuple[int, ...]:
        """Tokens per length step: ``step_tokens``, or ``tokens`` split equally with the remainder on the last."""
        if self.step_tokens is not None:
            return self.step_tokens
        base = self.tokens // len(self.seq_lens)
        return (base,) * (len(self.seq_lens) - 1) + (self.tokens - base * (len(self.seq_lens) - 1),)


def _offsets(budgets: Iterable[int]) -> tuple[int, ...]:
    """(0, b0, b0 + b1, ..., sum): piece ``i`` covers ``[offsets[i], offsets[i + 1])``."""
    return (0, *accumulate(budgets))


def _piece(offsets: tuple[int, ...], position: int) -> int:
    """Index of the piece holding ``position``; the end of the last piece belongs to the last piece."""
    return min(bisect.bisect_right(offsets, position) - 1, len(offsets) - 2)


@dataclass(frozen=True)
class Curriculum:
    """Stages laid end to end on one token axis (module docstring); validated when built."""

    stages: tuple[Stage, ...]

    def __post_init__(self) -> None:
        self.validate()

    @property
    def total_tokens(self) -> int:
        return sum(stage.tokens for stage in self.stages)

    def boundaries(self) -> tuple[int, ...]:
        """Cumulative token offsets ``(0, end of stage 0, ..., total_tokens)``: stage ``i`` covers
        ``[b[i], b[i + 1])``."""
        return _offsets(stage.tokens for stage in self.stages)

    def _stage_at(self, tokens: int) -> tuple[int, int]:
        """(stage index, tokens into that stage) for ``0 <= tokens <= total_tokens``."""
        check_int("tokens", tokens, minimum=0)
        if tokens > self.total_tokens:
            raise ValueError(f"tokens={tokens}: must be <= total_tokens={self.total_tokens}")
        bounds = self.boundaries()
        index = _piece(bounds, tokens)
        return index, tokens - bounds[index]

    def locate(self, tokens: int) -> tuple[int, int, int]:
        """(stage index, length-step index, seq_len) at token position ``tokens``; a position on a boundary
        belongs to the stage that starts there, ``tokens == total_tokens`` to the last stage's last step."""
        index, offset = self._stage_at(tokens)
        stage = self.stages[index]
        step = _piece(_offsets(stage.step_budgets()), offset)
        return index, step, stage.seq_lens[step]

    def lr_at(self, tokens: int) -> float:
        """LR after ``tokens`` tokens. Past ``total_tokens`` it stays at the last stage's ``lr.end``, as
        ``schedule.wsd`` gives ``final``, so a last batch that overshoots the budget still has an LR."""
        check_int("tokens", tokens, minimum=0)
        if tokens > self.total_tokens:
            return self.stages[-1].lr.end
        index, offset = self._stage_at(tokens)
        return self.stages[index].lr.value(offset, self.stages[index].tokens)

    def validate(self, max_position_embeddings: int | None = None) -> None:
        """ValueError naming the stage and field: an empty curriculum, duplicate names, an LR jump at a
        boundary, or (given the model's ``max_position_embeddings``) a length the model cannot hold.
        Each stage's own fields are checked when the ``Stage`` is built."""
        if not isinstance(self.stages, tuple) or not self.stages:
            raise ValueError(f"stages={self.stages!r}: must be a non-empty tuple of Stage: an empty curriculum trains nothing")
        for i, stage in enumerate(self.stages):
            if not isinstance(stage, Stage):
                raise ValueError(f"stages[{i}]={stage!r}: must be a Stage")
        names = [stage.name for stage in self.stages]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ValueError(f"stage {name!r}: name is used by stages {names.index(name)} and {i}")
        for prev, stage in zip(self.stages, self.stages[1:], strict=False):
            jumps = not math.isclose(prev.lr.end, stage.lr.start, rel_tol=LR_TOLERANCE, abs_tol=0.0)
            if jumps and stage.lr.warmup_tokens == 0:
                raise ValueError(f"stage {stage.name!r}: lr.start={stage.lr.start!r} does not continue stage "
                                 f"{prev.name!r}'s lr.end={prev.lr.end!r} (relative {LR_TOLERANCE}); "
                                 f"give it lr.warmup_tokens to restart on purpose")
        if max_position_embeddings is not None:
            check_int("max_position_embeddings", max_position_embeddings)
            for stage in self.stages:
                if stage.seq_lens[-1] > max_position_embeddings:
                    raise ValueError(f"stage {stage.name!r}: seq_lens={stage.seq_lens} go above "
                                     f"max_position_embeddings={max_position_embeddings}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (tuples as lists), for checkpoints and CSV metadata; ``from_dict`` reads it back."""
        return {"stages": [{**dataclasses.asdict(stage), "seq_lens": list(stage.seq_lens),
                            "step_tokens": None if stage.step_tokens is None else list(stage.step_tokens)}
                           for stage in self.stages]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Curriculum:
        """The curriculum ``to_dict`` wrote (or the same after a JSON round trip)."""
        return cls(tuple(Stage(**{**raw, "seq_lens": tuple(raw["seq_lens"]), "lr": LRSegment(**raw["lr"]),
                                  "step_tokens": None if raw.get("step_tokens") is None
                                  else tuple(raw["step_tokens"])})
                         for raw in data["stages"]))


def describe(curriculum: Curriculum) -> pd.DataFrame:
    """One row per stage and length step: stage index, name, step, tokens, start_token/end_token (end
    exclusive), seq_len, one weight column per domain, lr_start/lr_end (the LR at the step's first and
    last token), rope_theta, note."""
    rows = []
    for index, (stage, stage_start) in enumerate(zip(curriculum.stages, curriculum.boundaries(), strict=False)):
        steps = _offsets(stage.step_budgets())
        for step, (seq_len, start, end) in enumerate(zip(stage.seq_lens, steps, steps[1:], strict=False)):
            rows.append({"stage": index, "name": stage.name, "step": step, "tokens": end - start,
                         "start_token": stage_start + start, "end_token": stage_start + end, "seq_len": seq_len,
                         **{domain: stage.mixture.get(domain, 0.0) for domain in DOMAINS},
                         "lr_start": stage.lr.value(start, stage.tokens), "lr_end": stage.lr.value(end, stage.tokens),
                         "rope_theta": stage.rope_theta, "note": stage.note})
    return pd.DataFrame(rows)


def _check_shares(shares: Any) -> tuple[float, ...]:
    if not isinstance(shares, tuple) or len(shares) != 4:
        raise ValueError(f"stage_shares={shares!r}: must be a tuple of 4 shares, one per stage")
    for share in shares:
        check_number("stage_shares", share, 0, strict=True)
    if abs(math.fsum(shares) - 1.0) > MIXTURE_TOLERANCE:
        raise ValueError(f"stage_shares={shares!r} sum to {math.fsum(shares)!r}: must sum to 1")
    return shares


def _length_steps(seq_len: int, length_steps: Any) -> tuple[int, ...]:
    """The paper's long-context ratio mapped onto the kit: the longest step is ``seq_len``."""
    check_int("seq_len", seq_len)
    if not isinstance(length_steps, tuple) or not length_steps:
        raise ValueError(f"length_steps={length_steps!r}: must be a non-empty tuple of ints")
    for ratio in length_steps:
        check_int("length_steps", ratio)
    if any(b <= a for a, b in zip(length_steps, length_steps[1:], strict=False)):
        raise ValueError(f"length_steps={length_steps}: must be strictly increasing")
    longest = length_steps[-1]
    if any(seq_len * ratio % longest for ratio in length_steps):
        raise ValueError(f"seq_len={seq_len}: length_steps={length_steps} must map to whole lengths "
                         f"seq_len * r / {longest}")
    lengths = tuple(seq_len * ratio // longest for ratio in length_steps)
    if lengths[0] < MIN_SEQ_LEN:
        raise ValueError(f"seq_len={seq_len}: length_steps={length_steps} give a shortest length of "
                         f"{lengths[0]}, below {MIN_SEQ_LEN}")
    return lengths


def paper_curriculum(total_tokens: int, *, seq_len: int = 512, peak_lr: float = 3e-3, final_lr_ratio: float = 0.1,
                     stage_shares: tuple[float, float, float, float] | None = None,
                     rope_theta_extension: float | None = None,
                     length_steps: tuple[int, ...] = PAPER_LENGTH_STEPS) -> Curriculum:
    """The paper's four stages scaled to ``total_tokens``. Paper = paper_facts §3.2/§4; ours = not published.

    - tokens: stage 1 gets 8.16T/10.84T = 75.3% (paper). Stage 4 gets 200B/0.60 of 10.84T = 3.1% (ours,
      inferred: all 200B agentic tokens at the paper's 60%); stages 2 and 3 split the remaining 21.6%
      equally (ours). ``stage_shares`` replaces all four. Stages 1-3 are rounded, stage 4 takes the rest.
    - mixture: stage 1 general 0.75 (paper), stem/code 0.125 each (ours: the rest split equally); stage 2
      stem + code 0.60 (paper) as 0.30 + 0.30, general 0.40 (ours); stage 3 keeps stage 2's (ours: the
      paper says only that it stabilizes STEM, code and long context); stage 4 agent 0.60 (paper), the rest
      in stage 3's proportions (ours). No agent data before stage 4 (ours).
    - seq_lens: stage 3 steps through the paper's 8k -> 32k -> 128k ratio ``length_steps`` (default 1:4:16),
      scaled so that its last step is ``seq_len``; equal tokens per step (ours). Stage 1 trains at the
      first step's length (paper: 8k, the same scaling), stage 2 too (ours: not published), stage 4 at
      ``seq_len`` (ours: not published; agent trajectories need the full length). At ``seq_len=512`` the paper's
      ratio gives 32/128/512; a larger ``seq_len`` or a flatter ratio such as (1, 2, 4) trains stages 1-2
      on longer text.
    - lr (all ours, WSD-like; the paper says only that stage 3 decays and stage 4 decays further): linear
      warmup from 0 over 1% of all tokens, then ``peak_lr`` through stages 1-2; stage 3 decays linearly to
      ``peak_lr * sqrt(final_lr_ratio)``, stage 4 linearly on to ``peak_lr * final_lr_ratio`` (the two
      decays divide the LR by the same factor).
    - rope_theta: ``rope_theta_extension`` is set at stage 3, where the context grows; None keeps the
      model's (ours: the paper does not say whether the base changed per stage).
    """
    check_int("total_tokens", total_tokens)
    check_number("peak_lr", peak_lr, 0, strict=True)
    check_number("final_lr_ratio", final_lr_ratio, 0, strict=True)
    if final_lr_ratio > 1:
        raise ValueError(f"final_lr_ratio={final_lr_ratio!r}: must be in (0, 1]")
    shares = PAPER_STAGE_SHARES if stage_shares is None else _check_shares(stage_shares)
    long_context = _length_steps(seq_len, length_steps)

    budgets = [round(total_tokens * share) for share in shares[:3]]
    budgets.append(total_tokens - sum(budgets))
    mid_lr, final_lr = peak_lr * math.sqrt(final_lr_ratio), peak_lr * final_lr_ratio
    stage2_mixture = {"general": 0.40, "stem": 0.30, "code": 0.30, "agent": 0.0}
    rest = 1.0 - PAPER_STAGE4_AGENT
    stage4_mixture = {**{domain: rest * w for domain, w in stage2_mixture.items()}, "agent": PAPER_STAGE4_AGENT}
    source = (["caller's stage_shares"] * 4 if stage_shares is not None else
              ["paper (8.16T of 10.84T)", "ours (half of what stages 1 and 4 leave)", "ours (the other half)",
               "ours, inferred (200B agentic / 0.60 of 10.84T)"])
    stage1_mixture = {"general": PAPER_STAGE1_GENERAL, "stem": 0.125, "code": 0.125, "agent": 0.0}
    warmup = round(OUR_WARMUP_SHARE * total_tokens)

    stages = (
        Stage("commonsense", budgets[0], stage1_mixture, (long_context[0],),
              LRSegment(peak_lr, peak_lr, "constant", warmup_tokens=warmup),
              note=f"tokens: {source[0]} | mixture: general 0.75 paper, stem/code 0.125 each and agent 0 ours | "
                   "seq_len: paper (8k, stage 3's first step) scaled like stage 3 | lr: ours (warmup over 1% "
                   "of all tokens, then constant peak)"),
        Stage("stem_code", budgets[1], stage2_mixture, (long_context[0],), LRSegment(peak_lr, peak_lr, "constant"),
              note=f"tokens: {source[1]} | mixture: stem + code 0.60 paper, split equally, general 0.40 and "
                   "agent 0 ours | seq_len: ours (kept from stage 1; paper: not published) | lr: ours (constant "
                   "peak, the stable phase)"),
        Stage("annealing", budgets[2], stage2_mixture, long_context, LRSegment(peak_lr, mid_lr, "linear"),
              rope_theta=rope_theta_extension,
              note=f"tokens: {source[2]} | mixture: ours (stage 2's kept) | seq_len: paper ratio 8k:32k:128k "
                   f"as {length_steps}, scaled to end at seq_len, equal tokens per step ours | lr: decay paper, "
                   "linear to peak * sqrt(final_lr_ratio) ours | rope_theta: ours"),
        Stage("agentic", budgets[3], stage4_mixture, (seq_len,), LRSegment(mid_lr, final_lr, "linear"),
              note=f"tokens: {source[3]} | mixture: agent 0.60 paper, the rest in stage 3's proportions ours | "
                   "seq_len: ours (full length; paper: not published) | lr: further decay paper, linear to "
                   "peak * final_lr_ratio ours"),
    )
    return Curriculum(stages)
