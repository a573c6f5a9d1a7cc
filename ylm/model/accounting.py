"""Analytic parameter counts and KV-cache bytes, from a config alone (no weights needed).

Parameters per layer: attention + 3 d d_ff (SwiGLU) + 2 d (norms); ``param_matched`` moves d_ff so that a
baseline has as many parameters as the model it is compared with.

KV-cache elements per token per layer:
    MLA absorbed   r + d_rope                    (Youtu-2B: 512 + 64 = 576)
    MLA naive      H (d_nope + d_rope + d_v)     (Youtu-2B: 16 * (192 + 128) = 5120)
    MHA/GQA/MQA    2 H_kv d_head
Bytes per token = elements * layers * bytes per element; a cache of T tokens holds T times that.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch

from ylm.checks import check_int
from ylm.model.config import ModelConfig

DTYPE_BYTES = {torch.float32: 4, torch.float64: 8, torch.bfloat16: 2, torch.float16: 2}


def dtype_bytes(dtype: torch.dtype | int) -> int:
    """Bytes per element of ``dtype`` (a torch dtype, or a positive byte count passed through)."""
    if isinstance(dtype, numbers.Integral) and not isinstance(dtype, bool):
        if dtype <= 0:
            raise ValueError(f"dtype={dtype}: a byte count per element must be a positive integer")
        return int(dtype)
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype={dtype}: allowed values are {list(DTYPE_BYTES)} or a byte count")
    return DTYPE_BYTES[dtype]


# ---- parameters ------------------------------------------------------------------------------------
def attention_params(c: ModelConfig) -> int:
    """Parameters of one attention block (projections, latent norms, biases)."""
    d, h = c.hidden_size, c.num_attention_heads
    bias = c.attention_bias
    if c.attn_kind == "mla":
        if c.q_lora_rank is None:
            q = d * h * c.qk_head_dim
        else:
            q = d * c.q_lora_rank + bias * c.q_lora_rank + c.q_lora_rank + c.q_lora_rank * h * c.qk_head_dim
        kv_a = d * (c.kv_lora_rank + c.qk_rope_head_dim) + bias * (c.kv_lora_rank + c.qk_rope_head_dim)
        kv_norm = c.kv_lora_rank
        kv_b = c.kv_lora_rank * h * (c.qk_nope_head_dim + c.v_head_dim)
        o = h * c.v_head_dim * d + bias * d
        return q + kv_a + kv_norm + kv_b + o
    hd, kv = c.baseline_head_dim, c.num_key_value_heads
    return d * hd * (h + 2 * kv) + h * hd * d + bias * (hd * (h + 2 * kv) + d)


def param_count(c: ModelConfig) -> int:
    """All unique parameters of ``CausalLM(c)`` (a tied LM head counted once)."""
    d = c.hidden_size
    per_layer = attention_params(c) + 3 * d * c.intermediate_size + 2 * d  # attention + SwiGLU + 2 norms
    embed = c.vocab_size * d
    head = 0 if c.tie_word_embeddings else c.vocab_size * d
    return embed + head + c.num_hidden_layers * per_layer + d


def param_matched(c: ModelConfig, target: int, multiple: int = 64) -> ModelConfig:
    """``c`` with its MLP width moved, in steps of ``multiple``, so ``param_count`` lands nearest ``target``.

    The MLP width is the knob because it leaves attention alone: a baseline matched this way keeps the KV
    cache and attention FLOPs it is named for. Each unit of width costs 3 d L parameters (SwiGLU's gate, up,
    down in every layer), so the count is linear in it and the nearest multiple is found directly.
    """
    check_int("target", target)
    check_int("multiple", multiple)
    per_unit = 3 * c.hidden_size * c.num_hidden_layers
    width = c.intermediate_size + (target - param_count(c)) / per_unit
    return c.replace(intermediate_size=max(multiple, multiple * round(width / multiple)))


# ---- KV cache --------------------------------------------------------------------------------------
def kv_elements_per_token_per_layer(c: ModelConfig, impl: str | None = None) -> int:
    """Numbers one layer caches per token; ``impl`` overrides ``c.attn_impl`` for MLA."""
    if c.attn_kind == "mla":
        impl = impl or c.attn_impl
        if impl == "absorbed":
            return c.kv_lora_rank + c.qk_rope_head_dim
        if impl == "naive":
            return c.num_attention_heads * (c.qk_head_dim + c.v_head_dim)
        raise ValueError(f"impl={impl!r}: allowed values are ('naive', 'absorbed')")
    return 2 * c.num_key_value_heads * c.baseline_head_dim


def kv_bytes_per_token(c: ModelConfig, dtype: torch.dtype | int = torch.bfloat16, impl: str | None = None) -> int:
    """Cache bytes one token costs across all layers."""
    return kv_elements_per_token_per_layer(c, impl) * c.num_hidden_layers * dtype_bytes(dtype)


def kv_cache_bytes(c: ModelConfig, tokens: int, batch: int = 1, dtype: torch.dtype | int = torch.bfloat16,
                   impl: str | None = None) -> int:
    """Cache bytes of ``batch`` sequences of ``tokens`` tokens each."""
    for name, value, low in (("tokens", tokens, 0), ("batch", batch, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{name}={value!r}: must be an integer >= {low}")
    return kv_bytes_per_token(c, dtype, impl) * tokens * batch


def same_heads_mha(c: ModelConfig) -> ModelConfig:
    """The MHA a Youtu-style MLA config is usually compared with: H heads of width v_head_dim."""
    return c.replace(attn_kind="mha", num_key_value_heads=c.num_attention_heads, head_dim=c.v_head_dim)


# ---- peers -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeerModel:
    """A public GQA model's cache-relevant numbers (from its Hugging Face config.json)."""

    name: str
    params_b: float      # headline size, billions
    layers: int          # num_hidden_layers
    kv_heads: int        # num_key_value_heads
    head_dim: int        # head_dim (or hidden_size / num_attention_heads)
    source: str

    def kv_bytes_per_token(self, dtype: torch.dtype | int = torch.bfloat16) -> int:
        return 2 * self.kv_heads * self.head_dim * self.layers * dtype_bytes(dtype)


# Each row is copied from the model's config.json on the Hugging Face Hub (checked against two independent
# copies where possible). SmolLM3 skips RoPE on every 4th layer (NoPE) but still caches K/V in all 36.
PEERS: tuple[PeerModel, ...] = (
    PeerModel("Llama-3.2-1B", 1.24, 16, 8, 64,
              "huggingface.co/meta-llama/Llama-3.2-1B/config.json: 16 layers, 32 heads, 8 kv heads, head_dim 64"),
    PeerModel("Qwen3-1.7B", 1.7, 28, 8, 128,
              "huggingface.co/Qwen/Qwen3-1.7B/config.json: 28 layers, 16 heads, 8 kv heads, head_dim 128"),
    PeerModel("Llama-3.2-3B", 3.21, 28, 8, 128,
              "huggingface.co/meta-llama/Llama-3.2-3B/config.json: 28 layers, 24 heads, 8 kv heads, hidden 3072"),
    PeerModel("SmolLM3-3B", 3.08, 36, 4, 128,
              "huggingface.co/HuggingFaceTB/SmolLM3-3B/config.json: 36 layers, 16 heads, 4 kv heads, hidden 2048"),
    PeerModel("Qwen3-4B", 4.02, 36, 8, 128,
              "huggingface.co/Qwen/Qwen3-4B/config.json: 36 layers, 32 heads, 8 kv heads, head_dim 128"),
)
