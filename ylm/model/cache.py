"""Preallocated KV caches: what each attention kind must keep per past token.

Per layer and token (elements):
    MLA absorbed   r + d_rope                     latent c (after RMSNorm) + the one roped key k_r
    MLA naive      H (d_nope + d_rope) + H d_v    decompressed per-head K and V
    MHA/GQA/MQA    2 H_kv d_head                  K and V of the KV heads

Buffers are allocated once for ``max_len`` tokens and written in place, so a decode step never copies or
reallocates the past (``torch.cat`` per step would move the whole cache every token).
``Cache.nbytes()`` counts the tokens held so far; ``Cache.allocated_nbytes()`` the reserved storage.
"""

from __future__ import annotations

import torch

from ylm.checks import check_int
from ylm.model.config import ModelConfig


class LatentCache:
    """MLA absorbed: one buffer kv [B, L, r + d_rope]; kv[..., :r] is c, kv[..., r:] the roped key."""

    def __init__(self, batch: int, max_len: int, rank: int, rope_dim: int,
                 dtype: torch.dtype, device: torch.device | str) -> None:
        self.rank = rank
        self.kv = torch.zeros(batch, max_len, rank + rope_dim, dtype=dtype, device=device)

    def update(self, c: torch.Tensor, k_rope: torch.Tensor, start: int) -> torch.Tensor:
        """Write c [B, T, r] and k_rope [B, T, d_rope] at ``start``; return kv [B, start+T, r+d_rope] (a view)."""
        end = start + c.shape[1]
        self.kv[:, start:end, : self.rank] = c
        self.kv[:, start:end, self.rank:] = k_rope
        return self.kv[:, :end]

    def widths(self) -> tuple[int, ...]:
        """(r, d_rope): the per-token widths this buffer was made for."""
        return (self.rank, self.kv.shape[-1] - self.rank)

    def tensors(self) -> list[torch.Tensor]:
        return [self.kv]

    def filled(self, length: int) -> list[torch.Tensor]:
        return [self.kv[:, :length]]


class KVCache:
    """Expanded K [B, H_kv, L, d_k] and V [B, H_kv, L, d_v] (MLA naive and the MHA/GQA/MQA baselines)."""

    def __init__(self, batch: int, max_len: int, kv_heads: int, k_dim: int, v_dim: int,
                 dtype: torch.dtype, device: torch.device | str) -> None:
        self.k = torch.zeros(batch, kv_heads, max_len, k_dim, dtype=dtype, device=device)
        self.v = torch.zeros(batch, kv_heads, max_len, v_dim, dtype=dtype, device=device)

    def update(self, k: torch.Tensor, v: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Write k/v [B, H_kv, T, d] at ``start``; return the views [B, H_kv, start+T, d]."""
        end = start + k.shape[2]
        self.k[:, :, start:end] = k
        self.v[:, :, start:end] = v
        return self.k[:, :, :end], self.v[:, :, :end]

    def widths(self) -> tuple[int, ...]:
        """(H_kv, d_k, d_v): the head count and widths these buffers were made for."""
        return (self.k.shape[1], self.k.shape[-1], self.v.shape[-1])

    def tensors(self) -> list[torch.Tensor]:
        return [self.k, self.v]

    def filled(self, length: int) -> list[torch.Tensor]:
        return [self.k[:, :, :length], self.v[:, :, :length]]


class Cache:
    """All layers' caches plus how many tokens they hold (``length``); the model advances ``length``."""

    def __init__(self, layers: list[LatentCache | KVCache], batch_size: int, max_len: int) -> None:
        self.layers = layers
        self.batch_size = batch_size
        self.max_len = max_len
        self.length = 0

    def check_room(self, batch: int, new_tokens: int) -> None:
        if batch != self.batch_size:
            raise ValueError(f"batch size {batch}: this cache was made for batch_size={self.batch_size}")
        if self.length + new_tokens > self.max_len:
            raise ValueError(f"cache holds {self.length} tokens; {new_tokens} more exceed max_len={self.max_len}")

    def check_matches(self, config: ModelConfig, dtype: torch.dtype, device: torch.device) -> None:
        """Raise ValueError unless every layer has the layout, widths, dtype and device ``config`` needs.

        Checked up front because a foreign cache otherwise fails deep in torch (IndexError, expand errors).
        """
        if len(self.layers) != config.num_hidden_layers:
            raise ValueError(f"cache has {len(self.layers)} layers: this model has "
                             f"num_hidden_layers={config.num_hidden_layers}; make the cache with model.init_cache")
        kind, names, want = layer_layout(config)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, kind):
                raise ValueError(f"cache layer {i} is a {type(layer).__name__}: attn_kind={config.attn_kind!r}, "
                                 f"attn_impl={config.attn_impl!r} needs a {kind.__name__}; make the cache after "
                                 "switching attn_impl")
            got = layer.widths()
            if got != want:
                raise ValueError(f"cache layer {i} has {dict(zip(names, got, strict=True))}: this model needs "
                                 f"{dict(zip(names, want, strict=True))}")
            for t in layer.tensors():
                if t.dtype != dtype or t.device != device:
                    raise ValueError(f"cache layer {i} has dtype={t.dtype}, device={t.device}: this model needs "
                                     f"dtype={dtype}, device={device}; make the cache with model.init_cache")

    def nbytes(self) -> int:
        """Bytes of the ``length`` tokens held (all layers, whole batch), read off the filled buffer views."""
        return sum(t.numel() * t.element_size() for layer in self.layers for t in layer.filled(self.length))

    def allocated_nbytes(self) -> int:
        """Bytes of storage reserved for ``max_len`` tokens."""
        return sum(t.numel() * t.element_size() for layer in self.layers for t in layer.tensors())


def layer_layout(config: ModelConfig) -> tuple[type[LatentCache] | type[KVCache], tuple[str, ...], tuple[int, ...]]:
    """Which cache class one layer of ``config`` needs, and its ``widths()`` (names, values) for messages."""
    if config.attn_kind == "mla":
        if config.attn_impl == "absorbed":
            return LatentCache, ("kv_lora_rank", "qk_rope_head_dim"), (config.kv_lora_rank, config.qk_rope_head_dim)
        return (KVCache, ("num_attention_heads", "qk_head_dim", "v_head_dim"),
                (config.num_attention_heads, config.qk_head_dim, config.v_head_dim))
    hd = config.baseline_head_dim
    return KVCache, ("num_key_value_heads", "head_dim (K)", "head_dim (V)"), (config.num_key_value_heads, hd, hd)


def layer_cache(config: ModelConfig, batch: int, max_len: int, dtype: torch.dtype,
                device: torch.device | str) -> LatentCache | KVCache:
    """The cache one attention layer of ``config`` needs (its layout depends on attn_kind/attn_impl)."""
    kind, _, widths = layer_layout(config)
    return kind(batch, max_len, *widths, dtype, device)


def init_cache(config: ModelConfig, batch_size: int, max_len: int, dtype: torch.dtype = torch.float32,
               device: torch.device | str = "cpu") -> Cache:
    """An empty cache for ``batch_size`` sequences of up to ``max_len`` tokens (no model needed)."""
    check_int("batch_size", batch_size)
    check_int("max_len", max_len)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype={dtype!r}: must be a floating torch.dtype (e.g. torch.float32, torch.bfloat16)")
    layers = [layer_cache(config, batch_size, max_len, dtype, device) for _ in range(config.num_hidden_layers)]
    return Cache(layers, batch_size, max_len)
