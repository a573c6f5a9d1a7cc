"""Rotary position embedding (RoPE), both pair layouts, and YaRN context extension.

RoPE rotates each pair (x_a, x_b) of a head by the angle p * w_i at position p, w_i = theta^(-2i/d):

    x_a' = x_a cos(p w_i) - x_b sin(p w_i),     x_b' = x_b cos(p w_i) + x_a sin(p w_i)

Two conventions for which coordinates form pair i:
    half-split  (Llama):            (x_i, x_{i + d/2})
    interleaved (DeepSeek/Youtu):   (x_{2i}, x_{2i+1})   -- ``rope_interleave=True``
Like transformers, the interleaved variant writes its output de-interleaved ([all a', all b']). Queries and
keys get the same permutation, so q.k is unchanged; the cached roped key lives in that layout.

YaRN (``rope_scaling={"rope_type": "yarn", ...}``) blends interpolated and original frequencies across
dimensions and multiplies cos/sin by an ``attention_factor``; DeepSeek-style configs with ``mscale_all_dim``
also multiply the softmax scale by mscale(factor, mscale_all_dim)^2 (see ``softmax_scale``).

Precision: the angles p * w_i reach 10^5 rad, so the frequencies and angles stay fp32 whatever the model's
dtype (a bf16 w_i is off by up to 2^-9 relative: ~1 rad at position 10,000). ``RotaryEmbedding`` keeps its
frequencies fp32 through ``model.to(bf16)``/``.half()``, as transformers' ``from_pretrained(dtype=...)``
leaves them; cos/sin are cast to the activation dtype only in ``apply_rope``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def yarn_mscale(scale: float, mscale: float = 1.0) -> float:
    """YaRN's magnitude correction 0.1 * mscale * ln(scale) + 1 (1 when not extending)."""
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def rope_frequencies(dim: int, theta: float, scaling: dict[str, Any] | None = None,
                     max_position_embeddings: int | None = None) -> tuple[torch.Tensor, float]:
    """Inverse frequencies [dim/2] (fp32) and the cos/sin multiplier (1.0 unless YaRN)."""
    if dim % 2:
        raise ValueError(f"dim={dim}: RoPE needs an even width")
    exponents = torch.arange(0, dim, 2, dtype=torch.float32) / dim
    inv_freq = 1.0 / (theta ** exponents)
    rope_type = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if rope_type == "default":
        return inv_freq, 1.0
    if rope_type != "yarn":
        raise ValueError(f"rope_type={rope_type!r}: allowed values are ('default', 'yarn')")
    return _yarn(dim, theta, scaling, max_position_embeddings)


def _yarn(dim: int, theta: float, s: dict[str, Any], max_pos: int | None) -> tuple[torch.Tensor, float]:
    """YaRN (Peng et al. 2023) as transformers computes it, so checkpoints behave identically."""
    original = s.get("original_max_position_embeddings") or max_pos
    factor = s.get("factor") or (max_pos / original)
    mscale, mscale_all = s.get("mscale"), s.get("mscale_all_dim")
    attention_factor = s.get("attention_factor")
    if attention_factor is None:
        if mscale and mscale_all:
            attention_factor = yarn_mscale(factor, mscale) / yarn_mscale(factor, mscale_all)
        else:
            attention_factor = yarn_mscale(factor)
    beta_fast, beta_slow = s.get("beta_fast") or 32, s.get("beta_slow") or 1

    def correction_dim(rotations: float) -> float:  # the dimension that turns `rotations` times in `original`
        return dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(theta))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if s.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001  # avoid a zero-width ramp
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    base = theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    extrapolate = 1.0 - ramp  # 1 for fast (high-frequency) dims: keep; 0 for slow dims: interpolate
    inv_freq = (1.0 / (factor * base)) * (1 - extrapolate) + (1.0 / base) * extrapolate
    return inv_freq, float(attention_factor)


def softmax_scale(qk_head_dim: int, scaling: dict[str, Any] | None) -> float:
    """1/sqrt(d_qk), times mscale(factor, mscale_all_dim)^2 for DeepSeek-style YaRN configs."""
    scale = qk_head_dim ** -0.5
    s = scaling or {}
    if s.get("rope_type", s.get("type", "default")) != "default" and s.get("mscale_all_dim"):
        m = yarn_mscale(s["factor"], s["mscale_all_dim"])
        scale *= m * m
    return scale


class RotaryEmbedding(nn.Module):
    """Holds the fp32 frequencies; ``forward(positions)`` gives (cos, sin), each [T, dim/2] in fp32."""

    def __init__(self, dim: int, theta: float, scaling: dict[str, Any] | None = None,
                 max_position_embeddings: int | None = None) -> None:
        super().__init__()
        inv_freq, self.attention_factor = rope_frequencies(dim, theta, scaling, max_position_embeddings)
        self.register_buffer("inv_freq", inv_freq, persistent=False)  # not in the checkpoint, like HF

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> RotaryEmbedding:
        # Module.to(dtype)/.half()/.bfloat16() cast every floating buffer; rounding the frequencies would move
        # the angle at position 10,000 by ~1 rad. Keep the fp32 values and take only the device of the result.
        inv_freq = self.inv_freq
        super()._apply(fn, recurse)
        if self.inv_freq.dtype != inv_freq.dtype:
            self.inv_freq = inv_freq.to(self.inv_freq.device)
        return self

    def forward(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        angles = positions.to(torch.float32)[:, None] * self.inv_freq[None, :]  # [T, dim/2]
        return angles.cos() * self.attention_factor, angles.sin() * self.attention_factor


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, interleave: bool) -> torch.Tensor:
    """Rotate the last dim of x [..., T, d] by cos/sin [T, d/2]; output in half-split layout."""
    if interleave:
        a, b = x[..., 0::2], x[..., 1::2]
    else:
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat((a * cos - b * sin, b * cos + a * sin), dim=-1)
