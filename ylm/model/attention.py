"""Attention layers with one interface: Multi-head Latent Attention (MLA) and MHA/GQA/MQA baselines.

MLA (DeepSeek-V2/V3, Youtu-LLM). Per token x, heads h = 1..H, latent rank r:

    q_h = [q_h^nope, q_h^rope]            from W_qb RMSNorm(W_qa x)   (or W_q x)
    c   = RMSNorm(W_kva x)[:r]            the latent, shared by all heads
    k^r = RoPE(W_kva x)[r:]               one roped key, shared by all heads
    k_h^nope = W_uk,h c,   v_h = W_uv,h c (W_uk, W_uv are the two halves of W_kvb)

    score_h(t, s) = (q_h^nope . k_h^nope(s) + q_h^rope . k^r(s)) * scale

Two ways to run it (``attn_impl``):
    naive     decompress c into k_h, v_h for every head and cache them: H (d_qk + d_v) numbers/token.
    absorbed  use q_h^nope . (W_uk,h c) = (W_uk,h^T q_h^nope) . c: fold W_uk into the query and W_uv into the
              output, so attention runs directly over the cache [c, k^r]: r + d_rope numbers/token.
              All H heads then share one 576-wide key (and the first 512 dims as value): MQA over the latent.

Both give the same function (up to float rounding); ``tests/model/test_mla.py`` checks it.
Head splits and merges are written with ``einops`` patterns (``"b t (h d) -> b h t d"``) so they read as the
shapes in the comments do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from ylm.model.cache import KVCache, LatentCache
from ylm.model.config import ModelConfig
from ylm.model.layers import RMSNorm
from ylm.model.rope import apply_rope, softmax_scale

# transformers builds q_a_layernorm / kv_a_layernorm with the RMSNorm default eps, not config.rms_norm_eps.
LATENT_NORM_EPS = 1e-6


def causal_mask(t: int, s: int, start: int, device: torch.device) -> torch.Tensor:
    """Bool [t, s]: query i (at position start + i) may see key j iff j <= start + i."""
    return torch.arange(s, device=device)[None, :] <= (start + torch.arange(t, device=device))[:, None]


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, start: int, scale: float,
          enable_gqa: bool = False) -> torch.Tensor:
    """Causal attention for new queries q [B, H, T, d] over keys [B, H_kv, S, d] whose last T are the new ones."""
    t, s = q.shape[-2], k.shape[-2]
    if v.shape[-1] != q.shape[-1]:
        # MLA naive has d_v != d_qk: torch's fused CPU kernels then fall back to a "math" path that rescales
        # the whole K every call, so do the two matmuls ourselves (query pre-scaled, softmax in >= fp32).
        scores = torch.matmul(q * scale, k.transpose(-1, -2))                  # [B, H, T, S]
        if t > 1:
            scores = scores.masked_fill(~causal_mask(t, s, start, q.device), float("-inf"))
        p = torch.softmax(scores.to(torch.promote_types(scores.dtype, torch.float32)), dim=-1).to(v.dtype)
        return torch.matmul(p, v)                                               # [B, H, T, d_v]
    if t == 1:  # one new token sees the whole past: no mask
        return F.scaled_dot_product_attention(q, k, v, scale=scale, enable_gqa=enable_gqa)
    if s == t:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale, enable_gqa=enable_gqa)
    mask = causal_mask(t, s, start, q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, enable_gqa=enable_gqa)


def latent_attention(qq: torch.Tensor, kv: torch.Tensor, r: int, mask: torch.Tensor | None,
                     fused: bool | None = None) -> torch.Tensor:
    """Absorbed-MLA core: pre-scaled query rows qq [B, R, r + d_rope] over the cache kv [B, S, r + d_rope].

    Scores use the whole row [c, k_r]; values are its first r dims (the latent). Returns [B, R, r].
    ``fused`` (default: on CPU) runs one SDPA kernel with the whole row as the value too, so K and V are one
    tensor with matching head dims (one pass over the cache, online softmax), and keeps the first r outputs;
    otherwise two matmuls with the softmax in >= fp32.
    """
    if fused is None:
        fused = kv.device.type == "cpu"
    if fused:
        out = F.scaled_dot_product_attention(qq[:, None], kv[:, None], kv[:, None], attn_mask=mask, scale=1.0)
        return out[:, 0, :, :r]
    scores = torch.matmul(qq, kv.transpose(1, 2))                               # [B, R, S]
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    p = torch.softmax(scores.to(torch.promote_types(scores.dtype, torch.float32)), dim=-1).to(kv.dtype)
    return torch.matmul(p, kv[..., :r])


def block_causal_latent_attention(qq: torch.Tensor, kv: torch.Tensor, r: int, start: int,
                                  block: int = 64) -> torch.Tensor:
    """Absorbed-MLA attention for many queries: pre-scaled qq [B, H, T, r + d_rope] at positions start..
    over the cache kv [B, S, r + d_rope] -> [B, H, T, r].

    Query block [i, j) can see only keys < start + j, so each block's H heads are stacked as rows of one
    batched matmul against just those keys (the shared key read once for all heads, the masked upper
    triangle beyond the block never computed), with values the first r dims. One fused SDPA call over all
    T*H rows with an explicit [T*H, S] mask computes every masked score, and its CPU backward at this head
    width is slow: this path trains about 1.2x faster than transformers' at notebook 04's size (bench_train).
    """
    b, h, t, d = qq.shape
    outs = []
    for i in range(0, t, block):
        j = min(i + block, t)
        seen = start + j                                                        # keys this block may see
        rows = rearrange(qq[:, :, i:j], "b h t d -> b (h t) d")                 # [B, H*(j-i), r + d_rope]
        allowed = causal_mask(j - i, seen, start + i, qq.device).repeat(h, 1)   # [H*(j-i), seen]
        bias = torch.zeros(allowed.shape, dtype=qq.dtype, device=qq.device).masked_fill(~allowed, float("-inf"))
        scores = torch.baddbmm(bias, rows, kv[:, :seen].transpose(1, 2))        # [B, H*(j-i), seen]
        p = torch.softmax(scores.to(torch.promote_types(scores.dtype, torch.float32)), dim=-1).to(kv.dtype)
        outs.append(rearrange(torch.bmm(p, kv[:, :seen, :r]), "b (h t) r -> b h t r", h=h))
    return torch.cat(outs, dim=2)                                               # [B, H, T, r]


class MLA(nn.Module):
    """Multi-head Latent Attention; parameter names are transformers' ``YoutuAttention``'s."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.num_heads = c.num_attention_heads
        self.q_lora_rank, self.kv_lora_rank = c.q_lora_rank, c.kv_lora_rank
        self.nope, self.rope, self.v_dim = c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim
        self.qk_dim = c.qk_head_dim
        self.rope_interleave = c.rope_interleave
        self.impl = c.attn_impl
        self.scale = softmax_scale(self.qk_dim, c.rope_scaling)
        h, d = self.num_heads, c.hidden_size
        if c.q_lora_rank is None:
            self.q_proj = nn.Linear(d, h * self.qk_dim, bias=False)
        else:
            self.q_a_proj = nn.Linear(d, c.q_lora_rank, bias=c.attention_bias)
            self.q_a_layernorm = RMSNorm(c.q_lora_rank, eps=LATENT_NORM_EPS)
            self.q_b_proj = nn.Linear(c.q_lora_rank, h * self.qk_dim, bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(d, c.kv_lora_rank + self.rope, bias=c.attention_bias)
        self.kv_a_layernorm = RMSNorm(c.kv_lora_rank, eps=LATENT_NORM_EPS)
        self.kv_b_proj = nn.Linear(c.kv_lora_rank, h * (self.nope + self.v_dim), bias=False)
        self.o_proj = nn.Linear(h * self.v_dim, d, bias=c.attention_bias)

    def _query(self, x: torch.Tensor) -> torch.Tensor:
        if self.q_lora_rank is None:
            return self.q_proj(x)
        return self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))

    def absorbed_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """W_uk [H, d_nope, r] and W_uv [H, d_v, r]: views of kv_b_proj.weight, so they never go stale."""
        w = rearrange(self.kv_b_proj.weight, "(h d) r -> h d r", h=self.num_heads)
        return w[:, : self.nope], w[:, self.nope:]

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                cache: LatentCache | KVCache | None = None, start: int = 0) -> torch.Tensor:
        """x [B, T, D] at positions start..start+T-1 -> [B, T, D]; appends to ``cache`` when given."""
        h = self.num_heads
        q = rearrange(self._query(x), "b t (h d) -> b h t d", h=h)              # [B, H, T, d_qk]
        q_nope, q_rope = q.split([self.nope, self.rope], dim=-1)
        c, k_rope = self.kv_a_proj_with_mqa(x).split([self.kv_lora_rank, self.rope], dim=-1)
        c = self.kv_a_layernorm(c)                                              # [B, T, r]
        q_rope = apply_rope(q_rope, cos, sin, self.rope_interleave)            # [B, H, T, d_rope]
        k_rope = apply_rope(k_rope, cos, sin, self.rope_interleave)            # [B, T, d_rope]
        if self.impl == "naive":
            out = self._naive(q_nope, q_rope, c, k_rope, cache, start)
        else:
            out = self._absorbed(q_nope, q_rope, c, k_rope, cache, start)
        return self.o_proj(rearrange(out, "b h t d -> b t (h d)"))            # [B, T, D]

    def _naive(self, q_nope, q_rope, c, k_rope, cache, start) -> torch.Tensor:
        h = self.num_heads
        if cache is not None and not isinstance(cache, KVCache):
            raise ValueError("attn_impl='naive' needs a KVCache; make the cache after switching attn_impl")
        kv = rearrange(self.kv_b_proj(c), "b t (h d) -> b h t d", h=h)
        k_nope, v = kv.split([self.nope, self.v_dim], dim=-1)                  # [B, H, T, d_nope], [B, H, T, d_v]
        k = torch.cat((k_nope, repeat(k_rope, "b t d -> b h t d", h=h)), dim=-1)  # [B, H, T, d_qk]
        q = torch.cat((q_nope, q_rope), dim=-1)
        if cache is not None:
            k, v = cache.update(k, v, start)                                    # [B, H, S, ...]
        return _sdpa(q, k, v, start, self.scale)                                # [B, H, T, d_v]

    def _absorbed(self, q_nope, q_rope, c, k_rope, cache, start) -> torch.Tensor:
        t = q_nope.shape[2]
        r = self.kv_lora_rank
        if cache is not None and not isinstance(cache, LatentCache):
            raise ValueError("attn_impl='absorbed' needs a LatentCache; make the cache after switching attn_impl")
        if cache is not None:
            kv = cache.update(c, k_rope, start)                                 # [B, S, r + d_rope]
        else:
            kv = torch.cat((c, k_rope), dim=-1)
        w_uk, w_uv = self.absorbed_weights()
        # Fold W_uk into the query: q_lat[h] = W_uk[h]^T q_nope[h]; fold the softmax scale in here too (cheap).
        q_lat = torch.matmul(q_nope, w_uk)                                      # [B, H, T, r]
        qq = torch.cat((q_lat, q_rope), dim=-1) * self.scale                    # [B, H, T, r + d_rope]
        if t == 1:  # decode: the H heads are H query rows over the one shared key
            o_lat = latent_attention(rearrange(qq, "b h 1 d -> b h d"), kv, r, None)  # [B, H, r]
            o_lat = rearrange(o_lat, "b h r -> b h 1 r")                          # [B, H, 1, r]
        else:  # prefill and training
            o_lat = block_causal_latent_attention(qq, kv, r, start)               # [B, H, T, r]
        return torch.matmul(o_lat, w_uv.transpose(1, 2))                        # [B, H, T, d_v]: unfold W_uv


def grouped_matmul_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    """One new token's GQA as two plain matmuls: q [B, H, 1, d] over k, v [B, H_kv, S, d] -> [B, H, 1, d].

    The G = H / H_kv query heads that share a K/V head become G query rows against it (as absorbed MLA's
    heads are rows over its one latent), so each K/V head is read once, never repeated per query head.
    """
    if q.shape[-2] != 1:
        raise ValueError(f"q has {q.shape[-2]} query positions: this decode kernel takes exactly 1")
    rows = rearrange(q * scale, "b (kv g) 1 d -> b kv g d", kv=k.shape[1])
    scores = torch.matmul(rows, k.transpose(-1, -2))                               # [B, H_kv, G, S]
    p = torch.softmax(scores.to(torch.promote_types(scores.dtype, torch.float32)), dim=-1).to(v.dtype)
    return rearrange(torch.matmul(p, v), "b kv g d -> b (kv g) 1 d")


GQA_DECODE_KERNELS: tuple[str, ...] = ("sdpa", "grouped_matmul")


class GQA(nn.Module):
    """Llama-style attention with H query heads and H_kv K/V heads: MHA (H_kv = H), GQA, MQA (H_kv = 1).

    ``decode_kernel`` picks how a one-token decode step attends: torch's SDPA (with ``enable_gqa``) or
    ``grouped_matmul_attention``; prefill always uses SDPA. Both give the same function; which is faster
    depends on the machine (notebook 02 measures both)."""

    def __init__(self, config: ModelConfig, decode_kernel: str = "sdpa") -> None:
        super().__init__()
        if decode_kernel not in GQA_DECODE_KERNELS:
            raise ValueError(f"decode_kernel={decode_kernel!r}: allowed values are {GQA_DECODE_KERNELS}")
        self.decode_kernel = decode_kernel
        c = config
        self.num_heads, self.kv_heads, self.head_dim = c.num_attention_heads, c.num_key_value_heads, c.baseline_head_dim
        self.rope_interleave = c.rope_interleave
        self.scale = softmax_scale(self.head_dim, c.rope_scaling)
        d, bias = c.hidden_size, c.attention_bias
        self.q_proj = nn.Linear(d, self.num_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(d, self.kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(d, self.kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, d, bias=bias)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                cache: KVCache | None = None, start: int = 0) -> torch.Tensor:
        hd = self.head_dim
        q = rearrange(self.q_proj(x), "b t (h d) -> b h t d", d=hd)            # [B, H, T, hd]
        k = rearrange(self.k_proj(x), "b t (h d) -> b h t d", d=hd)            # [B, H_kv, T, hd]
        v = rearrange(self.v_proj(x), "b t (h d) -> b h t d", d=hd)
        q = apply_rope(q, cos, sin, self.rope_interleave)
        k = apply_rope(k, cos, sin, self.rope_interleave)
        if cache is not None:
            if not isinstance(cache, KVCache):
                raise ValueError("baseline attention needs a KVCache")
            k, v = cache.update(k, v, start)
        if self.decode_kernel == "grouped_matmul" and q.shape[2] == 1:
            out = grouped_matmul_attention(q, k, v, self.scale)                 # [B, H, 1, hd]
        else:
            out = _sdpa(q, k, v, start, self.scale, enable_gqa=self.kv_heads != self.num_heads)  # [B, H, T, hd]
        return self.o_proj(rearrange(out, "b h t d -> b t (h d)"))


def make_attention(config: ModelConfig) -> MLA | GQA:
    return MLA(config) if config.attn_kind == "mla" else GQA(config)
