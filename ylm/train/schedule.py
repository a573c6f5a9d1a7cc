"""Learning-rate schedules as pure functions of the number of tokens seen (no optimizer state).

A pure function of the token count makes a resumed run pick up exactly the LR it left off at: the LR is
recomputed from the checkpoint's token count, never carried as scheduler state that a restart could reset.

Warmup-stable-decay (WSD, MiniCPM; OLMo-core's ``WSD`` and nanochat use the same linear shape), with
``t`` tokens seen, ``T`` the total, ``W`` the warmup and ``D = decay_fraction * T`` the decay length::

    lr(t) = peak * t / W                                    0 <= t < W          (warmup from 0)
          = peak                                            W <= t <= T - D     (stable)
          = peak + (final - peak) * (t - (T - D)) / D       T - D < t <= T      (linear decay)
          = final                                           t > T

With ``shape="cosine"`` the decay is ``final + (peak - final) * (1 + cos(pi * p)) / 2``, ``p`` the decay
fraction done. ``cosine`` is the classic schedule: the same warmup, then that half-cosine from the end of
warmup to ``total``. The Youtu paper does not publish its schedule (paper_facts §3.2, "Not found"); the kit
offers both and says so.

``LRSegment`` is one curriculum stage's piece of a schedule (``ylm.train.curriculum`` chains them and checks
that they meet at stage boundaries).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ylm.checks import check_int, check_number

SEGMENT_SHAPES: tuple[str, ...] = ("constant", "linear", "cosine")
DECAY_SHAPES: tuple[str, ...] = ("linear", "cosine")


def _interpolate(shape: str, start: float, end: float, progress: float) -> float:
    """From ``start`` (progress 0) to ``end`` (progress 1) along ``shape``."""
    if shape == "cosine":
        return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if shape == "linear":
        return start + (end - start) * progress
    return start  # constant


def _warmup_stable_decay(tokens: float, total: float, peak: float, warmup: float, decay_start: float,
                         final: float, shape: str) -> float:
    if tokens > total:
        return final
    if tokens < warmup:
        return peak * tokens / warmup
    if tokens <= decay_start:
        return peak
    return _interpolate(shape, peak, final, (tokens - decay_start) / (total - decay_start))


def _check_common(tokens: float, total: float, peak: float, warmup: float, final: float) -> None:
    check_number("tokens", tokens, 0)
    check_number("total", total, 0, strict=True)
    check_number("peak", peak, 0)
    check_number("final", final, 0)
    check_number("warmup", warmup, 0)
    if warmup > total:
        raise ValueError(f"warmup={warmup!r}: must be <= total={total!r}")


def wsd(tokens: float, *, total: float, peak: float, warmup: float, decay_fraction: float, final: float = 0.0,
        shape: str = "linear") -> float:
    """Warmup-stable-decay LR after ``tokens`` tokens (module docstring); ``tokens > total`` gives ``final``.

    ``decay_fraction`` of ``total`` is the decay tail; the warmup must end before it starts.
    """
    _check_common(tokens, total, peak, warmup, final)
    check_number("decay_fraction", decay_fraction, 0)
    if decay_fraction > 1:
        raise ValueError(f"decay_fraction={decay_fraction!r}: must be in [0, 1]")
    if shape not in DECAY_SHAPES:
        raise ValueError(f"shape={shape!r}: allowed values are {DECAY_SHAPES}")
    decay_start = total * (1.0 - decay_fraction)
    if warmup > decay_start:
        raise ValueError(f"warmup={warmup!r}: must end before the decay starts at token {decay_start!r} "
                         f"(total * (1 - decay_fraction))")
    return _warmup_stable_decay(tokens, total, peak, warmup, decay_start, final, shape)


def cosine(tokens: float, *, total: float, peak: float, warmup: float, final: float = 0.0) -> float:
    """Linear warmup to ``peak``, then a half-cosine to ``final`` at ``total``; ``tokens > total`` gives ``final``."""
    _check_common(tokens, total, peak, warmup, final)
    return _warmup_stable_decay(tokens, total, peak, warmup, warmup, final, "cosine")


@dataclass(frozen=True)
class LRSegment:
    """One stage's LR: ``start`` at its first token, ``end`` at its last, along ``shape``.

    With ``warmup_tokens > 0`` the LR first rises linearly from 0 to ``start`` over that many tokens and the
    shape runs over the rest of the stage (normally only the first stage warms up).
    """

    start: float
    end: float
    shape: str
    warmup_tokens: int = 0

    def __post_init__(self) -> None:
        check_number("start", self.start, 0)
        check_number("end", self.end, 0)
        if self.shape not in SEGMENT_SHAPES:
            raise ValueError(f"shape={self.shape!r}: allowed values are {SEGMENT_SHAPES}")
        if self.shape == "constant" and self.end != self.start:
            raise ValueError(f"end={self.end!r}: a constant segment must end at its start={self.start!r}")
        check_int("warmup_tokens", self.warmup_tokens, minimum=0)

    def value(self, t: float, length: float) -> float:
        """LR ``t`` tokens into a segment ``length`` tokens long, ``0 <= t <= length``."""
        check_number("length", length, 0, strict=True)
        if self.warmup_tokens >= length:
            raise ValueError(f"warmup_tokens={self.warmup_tokens!r}: must be < length={length!r}")
        check_number("t", t, 0)
        if t > length:
            raise ValueError(f"t={t!r}: must be in [0, length={length!r}]")
        if t < self.warmup_tokens:
            return self.start * t / self.warmup_tokens
        progress = (t - self.warmup_tokens) / (length - self.warmup_tokens)
        return _interpolate(self.shape, self.start, self.end, progress)
