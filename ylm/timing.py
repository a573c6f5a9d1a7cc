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


def interleaved_median_seconds(steps: dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 1,
                               device: torch.device | str = "cpu",
                               between: dict[str, Callable[[], object]] | None = None) -> dict[str, float]:
    """Median wall time of each ``steps[name]()``, the steps taking turns within every repeat.

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
    return {name: statistics.median(ts) for name, ts in times.items()}


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
    return decode_step_seconds_interleaved({"model": model}, context, repeats, warmup, batch, seed)["model"]


@torch.no_grad()
def decode_step_seconds_interleaved(models: dict[str, torch.nn.Module], context: int, repeats: int = 5,
                                    warmup: int = 1, batch: int = 1, seed: int = 0) -> dict[str, float]:
    """Like ``decode_step_seconds`` for several models, timed in turn within each repeat (see
    ``interleaved_median_seconds``)."""
    steps = {name: _decode_step(m, context, batch, seed) for name, m in models.items()}
    device = next(next(iter(models.values())).parameters()).device
    return interleaved_median_seconds(steps, repeats, warmup, device)
