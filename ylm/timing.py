"""Small timing helpers for decode benchmarks: median wall time, copy bandwidth, memory-traffic floor.

A decode step at context T must at least read its weights and its cache once, so

    floor(T) = (weight bytes + cache bytes(T)) / copy bandwidth

is a lower bound on its time on a memory-bound machine; a good implementation lands within a small factor.
Copy bandwidth follows STREAM's "copy": (bytes read + bytes written) / seconds for dst.copy_(src).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def _sync(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def median_seconds(fn: Callable[[], object], repeats: int = 7, warmup: int = 2,
                   device: torch.device | str = "cpu", between: Callable[[], object] | None = None) -> float:
    """Median wall time of ``fn()``; ``between`` runs untimed after each call (e.g. to reset a cache)."""
    if repeats <= 0:
        raise ValueError(f"repeats={repeats}: must be positive")
    times = []
    for i in range(warmup + repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
        if between is not None:
            between()
    return statistics.median(times)


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


def _decode_step(model: torch.nn.Module, context: int, batch: int, seed: int) -> Callable[[], object]:
    """A closure running one next-token step of ``model`` over a cache holding ``context`` random tokens.

    The past is random numbers written straight into the cache (a step's cost does not depend on the values,
    and a real prefill of a long context would dominate the run). Each call writes the slot at ``context``
    and rewinds ``length`` first, so every call sees exactly the same context length.
    """
    device = next(model.parameters()).device
    cache = model.init_cache(batch, context + 1)
    g = torch.Generator(device="cpu").manual_seed(seed)
    for layer in cache.layers:
        for t in layer.tensors():
            t.copy_(torch.randn(t.shape, generator=g).to(t.dtype))
    token = torch.randint(0, model.config.vocab_size, (batch, 1), generator=g).to(device)

    def step() -> object:
        cache.length = context
        return model(token, cache=cache)

    return step


@torch.no_grad()
def decode_step_seconds(model: torch.nn.Module, context: int, repeats: int = 5, warmup: int = 2,
                        batch: int = 1, seed: int = 0) -> float:
    """Median time of one next-token forward of a ``ylm`` CausalLM whose cache holds ``context`` tokens."""
    device = next(model.parameters()).device
    return median_seconds(_decode_step(model, context, batch, seed), repeats, warmup, device)


@torch.no_grad()
def decode_step_seconds_interleaved(models: dict[str, torch.nn.Module], context: int, repeats: int = 5,
                                    warmup: int = 1, batch: int = 1, seed: int = 0) -> dict[str, float]:
    """Like ``decode_step_seconds`` for several models, timed in turn within each repeat.

    Interleaving spreads any background load over all models alike, so their ratios stay fair on a shared
    machine even when absolute times drift.
    """
    if repeats <= 0:
        raise ValueError(f"repeats={repeats}: must be positive")
    steps = {name: _decode_step(m, context, batch, seed) for name, m in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    for i in range(warmup + repeats):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}
