"""Small timing helpers for decode benchmarks: median wall time, copy bandwidth, memory-traffic floor.

A decode step at context T must at least read its weights and its cache once, so

    floor(T) = (weight bytes + cache bytes(T)) / copy bandwidth

is a lower bound on its time on a memory-bound machine; a good implementation lands within a small factor.
Copy bandwidth follows STREAM's "copy": (bytes read + bytes written) / seconds for dst.copy_(src).
Timers return every repeat's sample (``interleaved_seconds``, ``decode_step_samples``) so that a table can
show the spread (``quartiles``: median and interquartile range), not only a median.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch


def _sync(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def interleaved_seconds(steps: dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 1,
                        device: torch.device | str = "cpu",
                        between: dict[str, Callable[[], object]] | None = None) -> dict[str, list[float]]:
    """Wall time of each ``steps[name]()`` in every repeat (``repeats`` samples each), the steps taking turns.

    Interleaving spreads background load over all steps alike, so their ratios stay fair on a shared machine
    even when absolute times drift. ``between[name]`` runs untimed after each call (e.g. to reset a cache).
    """
    if repeats <= 0:
        raise ValueError(f"repeats={repeats}: must be positive")
    between = between or {}
    times: dict[str, list[float]] = {name: [] for name in steps}
    for i in range(warmup + repeats):
        for name, fn in steps.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
            if name in between:
                between[name]()
    return times


def interleaved_median_seconds(steps: dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 1,
                               device: torch.device | str = "cpu",
                               between: dict[str, Callable[[], object]] | None = None) -> dict[str, float]:
    """Median of ``interleaved_seconds``' samples for each step."""
    samples = interleaved_seconds(steps, repeats, warmup, device, between)
    return {name: statistics.median(ts) for name, ts in samples.items()}


def quartiles(samples: Sequence[float]) -> tuple[float, float, float]:
    """(25th percentile, median, 75th percentile): a median with its interquartile range as the spread."""
    if not samples:
        raise ValueError("samples=[]: need at least one timing")
    q1, q2, q3 = np.percentile(samples, [25, 50, 75])
    return float(q1), float(q2), float(q3)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads, then restore the previous count.

    One thread is the repeatable choice on a shared few-core machine: a second OpenMP thread is often
    descheduled there and the timings become erratic.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def median_seconds(fn: Callable[[], object], repeats: int = 7, warmup: int = 2,
                   device: torch.device | str = "cpu") -> float:
    """Median wall time of ``fn()``."""
    return interleaved_median_seconds({"fn": fn}, repeats, warmup, device)["fn"]


def copy_bandwidth(nbytes: int = 512 * 2**20, device: torch.device | str = "cpu", repeats: int = 7) -> float:
    """Bytes per second moved by a large tensor copy (read + write counted), median of ``repeats``."""
    n = nbytes // 4
    src = torch.rand(n, device=device)
    dst = torch.empty_like(src)
    seconds = median_seconds(lambda: dst.copy_(src), repeats=repeats, warmup=2, device=device)
    return 2 * n * 4 / seconds


def gemm_flops_per_second(n: int = 1024, device: torch.device | str = "cpu",
                          dtype: torch.dtype = torch.float32, repeats: int = 5) -> float:
    """FLOP/s of one square n x n matmul: the arithmetic a decode kernel can hope for on this machine."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / median_seconds(lambda: a @ b, repeats=repeats, warmup=1, device=device)


def random_past(model: torch.nn.Module, context: int, batch: int = 1,
                seed: int = 0) -> tuple[Any, torch.Tensor]:
    """A cache of ``model`` holding ``context`` tokens of random numbers (room for one more) and a next token.

    The past is written straight into the cache: a step's cost does not depend on the values, and a real
    prefill of a long context would dominate the run.
    """
    device = next(model.parameters()).device
    cache = model.init_cache(batch, context + 1)
    g = torch.Generator(device="cpu").manual_seed(seed)
    for layer in cache.layers:
        for t in layer.tensors():
            t.copy_(torch.randn(t.shape, generator=g).to(t.dtype))
    cache.length = context
    token = torch.randint(0, model.config.vocab_size, (batch, 1), generator=g).to(device)
    return cache, token


def decode_step(model: torch.nn.Module, cache: Any, token: torch.Tensor,
                context: int) -> Callable[[], object]:
    """A closure running one next-token step of ``model`` over ``cache``; each call rewinds ``cache.length``
    to ``context`` first, so every call sees exactly the same past."""

    def step() -> object:
        cache.length = context
        return model(token, cache=cache)

    return step


@torch.no_grad()
def decode_step_seconds(model: torch.nn.Module, context: int, repeats: int = 5, warmup: int = 2,
                        batch: int = 1, seed: int = 0) -> float:
    """Median time of one next-token forward of a ``ylm`` CausalLM whose cache holds ``context`` tokens."""
    samples = decode_step_samples({"model": model}, context, repeats, warmup, batch, seed)
    return statistics.median(samples["model"])


@torch.no_grad()
def decode_step_samples(models: dict[str, torch.nn.Module], context: int, repeats: int = 5,
                        warmup: int = 1, batch: int = 1, seed: int = 0) -> dict[str, list[float]]:
    """Per-repeat times of one next-token forward of each model over ``context`` cached tokens, the models
    taking turns within each repeat (see ``interleaved_seconds``)."""
    steps = {name: decode_step(m, *random_past(m, context, batch, seed), context)
             for name, m in models.items()}
    device = next(next(iter(models.values())).parameters()).device
    return interleaved_seconds(steps, repeats, warmup, device)
