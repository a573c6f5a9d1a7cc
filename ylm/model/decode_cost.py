"""What one decode step costs per cached token, and the measurements that check it (notebook 02).

One new token attends over T cached tokens. Per layer and cached token, with H query heads (matmul FLOPs, two
per multiply-add; the softmax's few FLOPs per score are left out):

    attention          elements moved                FLOPs
    MLA absorbed       r + d_r                       2H (r + d_r) + 2H r  (scores on [c; k^r], values on c)
    MLA naive          H (d_qk + d_v)                2H d_qk + 2H d_v
    MHA / GQA / MQA    2 H_kv d_h                    4H d_h
    MLA re-expanding   (r + d_r) + 2H (d_qk + d_v)   2 r H (d_n + d_v) + 2H (d_qk + d_v)

"Re-expanding" is how transformers 5.24 runs ``YoutuAttention``: it caches the latent, but every step pushes
all T cached rows back through ``kv_b_proj`` (the 2 r H (d_n + d_v) term), writes the expanded K/V and reads
them back (a lower bound on its traffic), then attends like naive MLA.

A step reads every cached byte once, so the time each cached token adds, divided into these columns, gives
the bandwidth and the FLOP rate an attention reached (``marginal_costs``); next to the machine's copy
bandwidth and GEMM rate they say which resource bounds it. Absorbed MLA moves the fewest bytes but does the
most FLOPs per byte, since all H heads reuse each latent row.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ylm.model import attention
from ylm.model.accounting import (
    dtype_bytes,
    kv_bytes_per_token,
    kv_cache_bytes,
    param_count,
    param_matched,
    same_heads_mha,
)
from ylm.model.cache import init_cache
from ylm.model.causal_lm import CausalLM
from ylm.model.config import ModelConfig
from ylm.timing import (
    decode_step,
    decode_step_samples,
    interleaved_seconds,
    quartiles,
    random_past,
    torch_threads,
)

COST_IMPLS: tuple[str, ...] = ("absorbed", "naive", "reexpand")
KERNELS: tuple[str, ...] = ("SDPA enable_gqa", "grouped matmul")


# ---- analytic cost per cached token -----------------------------------------------------------------------
@dataclass(frozen=True)
class StepCost:
    """Bytes moved and FLOPs that one cached token adds to one decode step, all layers together."""

    bytes: int
    flops: int

    @property
    def flops_per_byte(self) -> float:
        return self.flops / self.bytes


def kv_b_flops_per_token(c: ModelConfig) -> int:
    """FLOPs to push one cached latent row through ``kv_b_proj`` in one layer: 2 r H (d_n + d_v)."""
    return 2 * c.kv_lora_rank * c.num_attention_heads * (c.qk_nope_head_dim + c.v_head_dim)


def cost_per_cached_token(c: ModelConfig, impl: str | None = None,
                          dtype: torch.dtype | int = torch.float32) -> StepCost:
    """The module docstring's table for ``c``. For MLA, ``impl`` overrides ``c.attn_impl`` and may also be
    ``"reexpand"`` (transformers' way); baselines ignore it."""
    h, layers = c.num_attention_heads, c.num_hidden_layers
    if c.attn_kind != "mla":
        return StepCost(kv_bytes_per_token(c, dtype), 4 * h * c.baseline_head_dim * layers)
    impl = impl or c.attn_impl
    if impl not in COST_IMPLS:
        raise ValueError(f"impl={impl!r}: allowed values are {COST_IMPLS}")
    r, d_r = c.kv_lora_rank, c.qk_rope_head_dim
    expanded = c.num_attention_heads * (c.qk_head_dim + c.v_head_dim)  # naive's K and V elements per token
    if impl == "absorbed":
        return StepCost(kv_bytes_per_token(c, dtype, "absorbed"), 2 * h * (2 * r + d_r) * layers)
    if impl == "naive":
        return StepCost(kv_bytes_per_token(c, dtype, "naive"), 2 * expanded * layers)
    return StepCost((r + d_r + 2 * expanded) * layers * dtype_bytes(dtype),
                    (kv_b_flops_per_token(c) + 2 * expanded) * layers)


def cost_table(rows: dict[str, ModelConfig | tuple[ModelConfig, str]],
               dtype: torch.dtype | int = torch.bfloat16, reference: str | None = None) -> pd.DataFrame:
    """One row per attention: parameters, and cache bytes held, bytes moved and FLOPs per cached token per
    decode step; with ``reference`` (a row name) also parameters, bytes moved and FLOPs as multiples of that
    row's.

    ``rows[name]`` is a config, or (config, impl) to override how MLA runs (e.g. ``"reexpand"``).
    """
    out = []
    for name, row in rows.items():
        c, impl = row if isinstance(row, tuple) else (row, None)
        cost = cost_per_cached_token(c, impl, dtype)
        held = kv_bytes_per_token(c, dtype, "absorbed" if impl == "reexpand" else impl)  # caches the latent
        out.append((name, param_count(c), held, cost.bytes, cost.flops, round(cost.flops_per_byte, 2)))
    table = pd.DataFrame(out, columns=["attention", "params", "cache B/token", "B moved/token/step",
                                       "FLOPs/token/step", "FLOPs/B"])
    if reference is not None:
        if reference not in rows:
            raise ValueError(f"reference={reference!r}: allowed values are the row names {list(rows)}")
        ref = table.set_index("attention").loc[reference]
        table["params / ref"] = (table["params"] / ref["params"]).round(4)
        table["B moved / ref"] = (table["B moved/token/step"] / ref["B moved/token/step"]).round(2)
        table["FLOPs / ref"] = (table["FLOPs/token/step"] / ref["FLOPs/token/step"]).round(2)
    return table


def step_bytes(c: ModelConfig, context: int, dtype: torch.dtype | int = torch.float32) -> int:
    """Least bytes one decode step reads: every weight once plus the whole cache of ``context`` tokens."""
    return param_count(c) * dtype_bytes(dtype) + cost_per_cached_token(c, dtype=dtype).bytes * context


# ---- a fair line-up -------------------------------------------------------------------------------------
def baseline_lineup(mla: ModelConfig, gqa_groups: int = 4, multiple: int = 64) -> dict[str, ModelConfig]:
    """MLA (absorbed, naive) and the baselines it is compared with, parameters matched to the MLA model.

    GQA keeps H query heads of width d_v and H / ``gqa_groups`` K/V heads; MHA has all H. Both get the MLA
    model's parameter count by moving their MLP width in steps of ``multiple`` (``param_matched``), so their
    attention, and with it their cache and attention FLOPs, stays as named.
    """
    h = mla.num_attention_heads
    if isinstance(gqa_groups, bool) or not isinstance(gqa_groups, int) or gqa_groups < 2 or h % gqa_groups:
        raise ValueError(f"gqa_groups={gqa_groups!r}: must be an integer >= 2 that divides "
                         f"num_attention_heads={h}")
    target = param_count(mla)
    gqa = mla.replace(attn_kind="gqa", num_key_value_heads=h // gqa_groups, head_dim=mla.v_head_dim)
    return {
        "MLA absorbed": mla.replace(attn_impl="absorbed"),
        "MLA naive": mla.replace(attn_impl="naive"),
        f"GQA (kv heads = H/{gqa_groups})": param_matched(gqa, target, multiple),
        "MHA (same heads)": param_matched(same_heads_mha(mla), target, multiple),
    }


# ---- GQA under both decode kernels --------------------------------------------------------------------------
def with_grouped_matmul(model: CausalLM) -> CausalLM:
    """Switch every GQA/MHA layer of ``model`` to the grouped-matmul decode kernel (in place; same weights)."""
    for layer in model.model.layers:
        if not isinstance(layer.self_attn, attention.GQA):
            raise ValueError(f"attn_kind={model.config.attn_kind!r}: only GQA/MHA/MQA layers take it")
        layer.self_attn.decode_kernel = "grouped_matmul"
    return model


def decode_models(lineup: dict[str, ModelConfig], seed: int = 0) -> dict[str, CausalLM]:
    """Built, eval-mode models for ``lineup``; each GQA (fewer K/V heads than query heads) comes twice, once
    per decode kernel in ``KERNELS``, with the same weights."""
    models = {}
    for name, c in lineup.items():
        torch.manual_seed(seed)
        model = CausalLM(c).eval()
        if c.attn_kind == "mla" or c.num_key_value_heads == c.num_attention_heads:
            models[name] = model
        else:
            sdpa, grouped = KERNELS
            models[f"{name}, {sdpa}"] = model
            models[f"{name}, {grouped}"] = with_grouped_matmul(copy.deepcopy(model))
    return models


# ---- timing ---------------------------------------------------------------------------------------------
def _spread(samples: list[float]) -> dict[str, float]:
    q1, median, q3 = quartiles(samples)
    return {"ms": median * 1e3, "ms q25": q1 * 1e3, "ms q75": q3 * 1e3}


def _weight_dtype(model: torch.nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


@torch.no_grad()
def decode_timing(models: dict[str, CausalLM], contexts: Iterable[int], repeats: int = 7,
                  threads: int = 1) -> pd.DataFrame:
    """Median and interquartile range of one decode step's time per model and context (models interleaved
    within each repeat), next to the bytes the step must read (weights + cache) and the parameter count."""
    rows = []
    with torch_threads(threads):
        for ctx in contexts:
            for name, samples in decode_step_samples(models, ctx, repeats=repeats).items():
                c = models[name].config
                rows.append({"attention": name, "context": ctx, **_spread(samples),
                             "MiB read": step_bytes(c, ctx, _weight_dtype(models[name])) / 2**20,
                             "params (M)": param_count(c) / 1e6})
    return pd.DataFrame(rows)


def marginal_costs(timing: pd.DataFrame, models: dict[str, CausalLM], bandwidth: float | None = None,
                   flop_rate: float | None = None) -> pd.DataFrame:
    """What each cached token adds to a step: the least-squares slope of median time against context, and
    the bandwidth (bytes / slope) and FLOP rate (FLOPs / slope) that slope implies.

    Given the machine's copy ``bandwidth`` (B/s) and square-GEMM ``flop_rate`` (FLOP/s), also the share of
    each that was reached, which of the two limits the timings came nearer ("measured nearer"), and which one
    the roofline model predicts from FLOPs per byte alone ("roofline": arithmetic above the ridge point
    flop_rate / bandwidth, memory below). A slope that is not positive (noise swamping a short context
    range) leaves the derived columns empty.
    """
    rows = []
    for name, group in timing.groupby("attention", sort=False):
        if group["context"].nunique() < 2:
            raise ValueError(f"attention={name!r}: timed at one context; a slope needs two or more")
        slope = np.polyfit(group["context"], group["ms"] * 1e-3, 1)[0]
        cost = cost_per_cached_token(models[name].config, dtype=_weight_dtype(models[name]))
        rate = 1 / slope if slope > 0 else float("nan")                     # cached tokens per second
        row = {"attention": name, "ns/token": slope * 1e9, "B/token": cost.bytes, "FLOPs/token": cost.flops,
               "GB/s": cost.bytes * rate / 1e9, "GFLOP/s": cost.flops * rate / 1e9}
        if bandwidth and flop_rate:
            row.update(_limits(cost, rate, bandwidth, flop_rate))
        rows.append(row)
    return pd.DataFrame(rows)


def _limits(cost: StepCost, tokens_per_second: float, bandwidth: float, flop_rate: float) -> dict[str, Any]:
    memory = 100 * cost.bytes * tokens_per_second / bandwidth
    arithmetic = 100 * cost.flops * tokens_per_second / flop_rate
    measured = "" if np.isnan(memory) else "memory" if memory >= arithmetic else "arithmetic"
    return {"% of copy bandwidth": memory, "% of GEMM rate": arithmetic, "measured nearer": measured,
            "roofline": "arithmetic" if cost.flops_per_byte > flop_rate / bandwidth else "memory"}


def ratios_at(timing: pd.DataFrame, models: dict[str, CausalLM], context: int,
              reference: str = "MLA absorbed") -> pd.DataFrame:
    """Each attention's median step time at ``context`` and its bytes and FLOPs per cached token, as multiples
    of ``reference``'s: whether time follows bytes or FLOPs shows in which column it tracks."""
    at = timing[timing["context"] == context].set_index("attention")["ms"]
    if reference not in at.index:
        raise ValueError(f"context={context}, reference={reference!r}: not in the timing table "
                         f"(contexts {sorted(timing['context'].unique())}, attentions {list(models)})")
    ref = cost_per_cached_token(models[reference].config)
    rows = []
    for name, ms in at.items():
        cost = cost_per_cached_token(models[name].config)
        rows.append({"attention": name, "time / ref": ms / at[reference],
                     "cache bytes / ref": cost.bytes / ref.bytes, "FLOPs / ref": cost.flops / ref.flops})
    return pd.DataFrame(rows)


# ---- bytes the caches hold ------------------------------------------------------------------------------
def _shapes(tensors: Iterable[torch.Tensor]) -> str:
    return " ".join(str(tuple(t.shape)) for t in tensors)


def cache_bytes_check(config: ModelConfig, tiny: ModelConfig, tokens: Iterable[int] = (256, 1024),
                      run_tokens: int = 40, batch: int = 2, seed: int = 0) -> pd.DataFrame:
    """Cache bytes read off real tensors next to ``kv_cache_bytes``' analytic figure.

    Three kinds of row: the *allocated* buffers of empty bf16 caches for ``config`` in both MLA layouts (no
    model is built, so the real 2B shapes are cheap); the *filled* part of ``tiny``'s caches after a forward
    of ``run_tokens`` tokens into a longer buffer; and transformers' ``DynamicCache`` after the same forward
    of a ``YoutuForCausalLM`` built from ``tiny``.
    """
    from transformers import YoutuConfig, YoutuForCausalLM

    from ylm.model.hf import to_hf

    rows = []
    for impl in ("absorbed", "naive"):
        c = config.replace(attn_impl=impl)
        for n in tokens:
            cache = init_cache(c, 1, n, dtype=torch.bfloat16)
            rows.append((f"{impl}, 2B shapes", "allocated buffers (empty)", n, 1,
                         _shapes(cache.layers[0].tensors()), cache.allocated_nbytes(), kv_cache_bytes(c, n)))
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, tiny.vocab_size, (batch, run_tokens), generator=g)
    for impl in ("absorbed", "naive"):
        c = tiny.replace(attn_impl=impl)
        torch.manual_seed(seed)
        model = CausalLM(c).eval()
        cache = model.init_cache(batch, run_tokens + 24)  # room to spare: only the filled part may count
        with torch.no_grad():
            model(ids, cache=cache)
        rows.append((f"{impl}, tiny", "filled part after a forward", run_tokens, batch,
                     _shapes(cache.layers[0].filled(cache.length)), cache.nbytes(),
                     kv_cache_bytes(c, run_tokens, batch=batch, dtype=torch.float32)))
    torch.manual_seed(seed)
    hf = YoutuForCausalLM(YoutuConfig(**to_hf(tiny))).eval()
    with torch.no_grad():
        hf_layers = [(layer.keys, layer.values) for layer in hf(ids, use_cache=True).cache.layers]
    rows.append(("transformers YoutuForCausalLM, tiny", "DynamicCache after a forward", run_tokens, batch,
                 _shapes(hf_layers[0]), sum(t.numel() * t.element_size() for kv in hf_layers for t in kv),
                 kv_cache_bytes(tiny, run_tokens, batch=batch, dtype=torch.float32, impl="absorbed")))
    table = pd.DataFrame(rows, columns=["cache", "bytes of", "tokens", "batch", "layer-0 tensors",
                                        "bytes (tensors)", "bytes (analytic)"])
    table["equal"] = table["bytes (tensors)"] == table["bytes (analytic)"]
    return table


# ---- transformers' re-expansion, measured ---------------------------------------------------------------
def _hf_twin(config: ModelConfig, seed: int):
    """transformers' ``YoutuForCausalLM`` for ``config`` and a ylm absorbed ``CausalLM`` with its weights."""
    from transformers import YoutuConfig, YoutuForCausalLM

    from ylm.model.hf import to_hf

    torch.manual_seed(seed)
    hf = YoutuForCausalLM(YoutuConfig(**to_hf(config))).eval()
    ours = CausalLM(config.replace(attn_impl="absorbed")).eval()
    ours.load_state_dict(hf.state_dict())
    return hf, ours


def _hf_cache(hf, cache, context: int):
    """transformers' ``DynamicCache`` holding the same ``context`` latent rows as ylm's ``cache``."""
    from transformers import DynamicCache

    hf_cache = DynamicCache(config=hf.config)
    r = hf.config.kv_lora_rank
    for i, layer in enumerate(cache.layers):
        kv = layer.kv[:, None, :context]                                       # [B, 1, T, r + d_rope]
        hf_cache.update(kv[..., :r].clone(), kv[..., r:].clone(), i)
    return hf_cache


def _reexpansion_samples(hf, ours: CausalLM, context: int, repeats: int,
                         seed: int) -> tuple[dict[str, list[float]], float]:
    """Per-repeat seconds of the three steps ``reexpansion_timing`` names at one context, and the largest
    logit difference between transformers' step and ylm's."""
    cache, token = random_past(ours, context, seed=seed)
    hf_cache = _hf_cache(hf, cache, context)
    latents = [layer.kv[:, :context, : ours.config.kv_lora_rank] for layer in cache.layers]
    position = torch.tensor([[context]])
    ylm_step = decode_step(ours, cache, token, context)

    def hf_step() -> torch.Tensor:
        return hf(token, cache=hf_cache, position_ids=position).logits

    def reexpand() -> list[torch.Tensor]:
        return [layer.self_attn.kv_b_proj(lat) for layer, lat in zip(hf.model.layers, latents, strict=True)]

    diff = (hf_step() - ylm_step()).abs().max().item()
    hf_cache.crop(-1)  # each transformers step appends its token with torch.cat: drop it again, untimed
    steps = {"transformers step": hf_step, "ylm absorbed step": ylm_step, "re-expansion alone": reexpand}
    return interleaved_seconds(steps, repeats, between={"transformers step": lambda: hf_cache.crop(-1)}), diff


@torch.no_grad()
def reexpansion_timing(config: ModelConfig, contexts: Iterable[int], repeats: int = 5, threads: int = 1,
                       seed: int = 0) -> pd.DataFrame:
    """transformers' decode step against ylm absorbed over the same cached latent, and the re-expansion alone.

    Per context T, timed in turn within each repeat: one step of ``YoutuForCausalLM`` (it pushes all T
    cached rows of every layer through ``kv_b_proj``), one step of ylm absorbed MLA with the same weights and
    past, and just that re-expansion (every layer's ``kv_b_proj`` over its T cached rows). Also the analytic
    size of the re-expansion per step and the largest logit difference between the two steps.
    """
    hf, ours = _hf_twin(config, seed)
    c = ours.config
    expanded = cost_per_cached_token(c, "naive", _weight_dtype(ours)).bytes  # K/V it writes per cached token
    rows = []
    with torch_threads(threads):
        for t in contexts:
            samples, diff = _reexpansion_samples(hf, ours, t, repeats, seed)
            rows += [{"step": name, "context": t, **_spread(times),
                      "kv_b GFLOP/step": kv_b_flops_per_token(c) * t * c.num_hidden_layers / 1e9,
                      "expanded K/V MiB/step": expanded * t / 2**20, "max |logit diff|": diff}
                     for name, times in samples.items()]
    return pd.DataFrame(rows)
