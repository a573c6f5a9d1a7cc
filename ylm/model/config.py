"""Model configuration: one dataclass for Youtu-style MLA models and the MHA/GQA/MQA baselines.

Field names follow transformers' ``YoutuConfig`` so that ``ylm.model.hf``'s ``from_hf``/``to_hf`` are plain renames.
The MLA shapes, per layer (H heads, d_nope + d_rope = d_qk, latent rank r):

    q   = W_qb · RMSNorm(W_qa · x)           [H, d_nope + d_rope]    (or W_q · x when q_lora_rank is None)
    c   = RMSNorm((W_kva · x)[:r])           [r]          shared latent, the only thing MLA must cache
    k_r = RoPE((W_kva · x)[r:])              [d_rope]     one roped key shared by all heads
    [k_nope, v] = W_kvb · c                  [H, d_nope + d_v]

``attn_kind`` picks MLA or a baseline (``mha``/``gqa``/``mqa``, Llama-style q/k/v/o projections);
``attn_impl`` picks how MLA runs (``naive`` caches expanded K/V, ``absorbed`` caches [c, k_r]).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ylm.checks import check_int, check_number

ATTN_KINDS: tuple[str, ...] = ("mla", "mha", "gqa", "mqa")
ATTN_IMPLS: tuple[str, ...] = ("naive", "absorbed")
ROPE_TYPES: tuple[str, ...] = ("default", "yarn")
# Keys a YaRN block may carry (transformers' rope_parameters / DeepSeek's rope_scaling).
YARN_KEYS: tuple[str, ...] = (
    "factor", "original_max_position_embeddings", "beta_fast", "beta_slow",
    "mscale", "mscale_all_dim", "attention_factor", "truncate",
)
# Keys a rope_scaling block may carry, per rope_type: transformers' validators ("type" is the legacy name).
ROPE_SCALING_KEYS: dict[str, tuple[str, ...]] = {
    "default": ("rope_type", "type", "rope_theta"),
    "yarn": ("rope_type", "type", "rope_theta", *YARN_KEYS),
}
BOOL_FIELDS: tuple[str, ...] = ("rope_interleave", "attention_bias", "tie_word_embeddings")
# Derived when left None (as YoutuConfig does); ``replace`` recomputes them unless given explicitly.
DERIVED_INIT_FIELDS: tuple[str, ...] = ("initializer_range", "embedding_initializer_range")


@dataclass
class ModelConfig:
    vocab_size: int = 128256
    hidden_size: int = 2048
    intermediate_size: int = 6144
    num_hidden_layers: int = 32
    num_attention_heads: int = 16
    num_key_value_heads: int = 16
    # which attention: "mla" (Youtu/DeepSeek) or a baseline "mha" | "gqa" | "mqa"
    attn_kind: str = "mla"
    # how MLA runs: "naive" (expanded K/V cache) | "absorbed" (latent cache); ignored by baselines
    attn_impl: str = "absorbed"
    # MLA shapes
    q_lora_rank: int | None = 1536
    kv_lora_rank: int = 512
    qk_nope_head_dim: int = 128
    qk_rope_head_dim: int = 64
    v_head_dim: int = 128
    # baselines: per-head dim of q/k/v (None -> hidden_size // num_attention_heads)
    head_dim: int | None = None
    # RoPE: theta, layout and optional YaRN block (None = plain RoPE)
    rope_theta: float = 1_600_000.0
    rope_interleave: bool = True
    rope_scaling: dict[str, Any] | None = None
    max_position_embeddings: int = 131072
    rms_norm_eps: float = 1e-6
    hidden_act: str = "silu"
    attention_bias: bool = False
    tie_word_embeddings: bool = True
    initializer_range: float | None = None  # None -> 2/sqrt(5*hidden), as YoutuConfig
    embedding_initializer_range: float | None = None  # None -> 2 * initializer_range
    bos_token_id: int | None = 128000
    eos_token_id: int | list[int] | None = 128001
    pad_token_id: int | None = None
    extra_hf: dict[str, Any] = field(default_factory=dict, repr=False)  # unknown HF keys, kept for hf.to_hf

    def __post_init__(self) -> None:
        self.validate()
        derived = [name for name in DERIVED_INIT_FIELDS if getattr(self, name) is None]
        if self.initializer_range is None:
            self.initializer_range = 2.0 / (5.0 * self.hidden_size) ** 0.5
        if self.embedding_initializer_range is None:
            self.embedding_initializer_range = 2.0 * self.initializer_range
        # Which init stds were derived (and their values), so ``replace`` can derive them again. A plain
        # attribute, not a field: it stays out of fields()/to_hf/eq/repr.
        self._derived: dict[str, float] = {name: getattr(self, name) for name in derived}

    # ---- derived sizes -------------------------------------------------------------------------
    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    @property
    def baseline_head_dim(self) -> int:
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.num_attention_heads

    @property
    def rope_dim(self) -> int:
        """Width RoPE rotates: the shared rope key for MLA, the whole head for the baselines."""
        return self.qk_rope_head_dim if self.attn_kind == "mla" else self.baseline_head_dim

    # ---- validation ------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ValueError naming the offending field and what is allowed."""
        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                     "num_attention_heads", "num_key_value_heads", "max_position_embeddings"):
            check_int(name, getattr(self, name))
        if self.attn_kind not in ATTN_KINDS:
            raise ValueError(f"attn_kind={self.attn_kind!r}: allowed values are {ATTN_KINDS}")
        if self.attn_impl not in ATTN_IMPLS:
            raise ValueError(f"attn_impl={self.attn_impl!r}: allowed values are {ATTN_IMPLS}")
        if self.hidden_act != "silu":
            raise ValueError(f"hidden_act={self.hidden_act!r}: allowed values are ('silu',)")
        for name in BOOL_FIELDS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}={getattr(self, name)!r}: allowed values are True or False")
        # inf or NaN in a theta, eps or init std gives NaN logits with no error
        for name in ("rope_theta", "rms_norm_eps"):
            check_number(name, getattr(self, name), 0, strict=True)
        for name in DERIVED_INIT_FIELDS:
            if getattr(self, name) is not None:  # None: derived from hidden_size
                check_number(name, getattr(self, name), 0)
        self._validate_token_ids()
        if not isinstance(self.extra_hf, dict):
            raise ValueError(f"extra_hf={self.extra_hf!r}: must be a dict")
        if self.attn_kind == "mla":
            self._validate_mla()
        else:
            self._validate_baseline()
        self._validate_rope_scaling()

    def _validate_token_ids(self) -> None:
        for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
            value = getattr(self, name)
            ids = value if name == "eos_token_id" and isinstance(value, list) else [value]
            if not all(i is None or (isinstance(i, int) and not isinstance(i, bool)) for i in ids):
                allowed = "None, an integer or a list of integers" if name == "eos_token_id" else "None or an integer"
                raise ValueError(f"{name}={value!r}: must be {allowed}")

    def _validate_mla(self) -> None:
        if self.q_lora_rank is not None:
            check_int("q_lora_rank", self.q_lora_rank, extra=" or None (direct query projection)")
        for name in ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
            check_int(name, getattr(self, name))
        if self.qk_rope_head_dim % 2:
            raise ValueError(f"qk_rope_head_dim={self.qk_rope_head_dim}: must be even (RoPE rotates pairs)")
        if self.num_key_value_heads != self.num_attention_heads:
            # W_kvb decompresses one K/V head per query head; YoutuAttention assumes the same.
            raise ValueError(
                f"num_key_value_heads={self.num_key_value_heads}: for attn_kind='mla' it must equal "
                f"num_attention_heads={self.num_attention_heads}"
            )

    def _validate_baseline(self) -> None:
        h, kv = self.num_attention_heads, self.num_key_value_heads
        if self.head_dim is None and self.hidden_size % h:
            raise ValueError(f"num_attention_heads={h}: must divide hidden_size={self.hidden_size} "
                             "when head_dim is None")
        if self.head_dim is not None:
            check_int("head_dim", self.head_dim)
        if self.baseline_head_dim % 2:
            raise ValueError(f"head_dim={self.baseline_head_dim}: must be even (RoPE rotates pairs)")
        if h % kv:
            raise ValueError(f"num_key_value_heads={kv}: must divide num_attention_heads={h}")
        if self.attn_kind == "mha" and kv != h:
            raise ValueError(f"num_key_value_heads={kv}: attn_kind='mha' needs num_key_value_heads == {h}")
        if self.attn_kind == "mqa" and kv != 1:
            raise ValueError(f"num_key_value_heads={kv}: attn_kind='mqa' needs num_key_value_heads == 1")

    def _validate_rope_scaling(self) -> None:
        rs = self.rope_scaling
        if rs is None:
            return
        if not isinstance(rs, dict):
            raise ValueError(f"rope_scaling={rs!r}: must be None or a dict")
        rope_type = rs.get("rope_type", rs.get("type", "default"))
        if "type" in rs and rs["type"] != rope_type:
            raise ValueError(f"rope_scaling['type']={rs['type']!r}: must equal rope_scaling['rope_type']={rope_type!r}")
        if rope_type not in ROPE_TYPES:
            raise ValueError(f"rope_scaling['rope_type']={rope_type!r}: allowed values are {ROPE_TYPES}")
        allowed = ROPE_SCALING_KEYS[rope_type]
        unknown = set(rs) - set(allowed)
        if unknown:
            raise ValueError(f"rope_scaling keys {sorted(unknown)}: allowed keys for rope_type={rope_type!r} "
                             f"are {allowed}")
        # RoPE runs with the rope_theta field; a different copy here would be silently ignored (and to_hf
        # would export it instead).
        if "rope_theta" in rs and rs["rope_theta"] != self.rope_theta:
            raise ValueError(f"rope_scaling['rope_theta']={rs['rope_theta']!r}: must equal "
                             f"rope_theta={self.rope_theta!r} or be left out")
        if rope_type == "yarn":
            self._validate_yarn(rs)

    @staticmethod
    def _validate_yarn(rs: dict[str, Any]) -> None:
        check_number("rope_scaling['factor']", rs.get("factor"), 1)  # YaRN only extends
        original = rs.get("original_max_position_embeddings")
        if original is not None:
            check_int("rope_scaling['original_max_position_embeddings']", original, extra=" or None")
        for key in ("beta_fast", "beta_slow", "mscale", "mscale_all_dim", "attention_factor"):
            if rs.get(key) is not None:
                check_number(f"rope_scaling[{key!r}]", rs[key])
        if rs.get("truncate") is not None and not isinstance(rs["truncate"], bool):
            raise ValueError(f"rope_scaling['truncate']={rs['truncate']!r}: allowed values are True, False or None")

    # ---- conveniences ----------------------------------------------------------------------------
    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed (validated again).

        Init stds that were derived (left None) are derived again from the new sizes unless ``changes`` sets
        them; a derived value overwritten by hand since counts as explicit and is kept.
        """
        for name, value in getattr(self, "_derived", {}).items():
            if getattr(self, name) == value:
                changes.setdefault(name, None)
        return dataclasses.replace(self, **changes)


# ---- presets ---------------------------------------------------------------------------------------
def youtu_2b(**overrides: Any) -> ModelConfig:
    """tencent/Youtu-LLM-2B (paper_facts §1.1): 32 layers, d=2048, MLA q 1536 / kv 512 / nope 128 / rope 64 / v 128."""
    return ModelConfig(**overrides)


def tiny_mla(**overrides: Any) -> ModelConfig:
    """A toy MLA model for tests: every shape different so transposition bugs cannot hide."""
    base = dict(vocab_size=97, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=4, q_lora_rank=24, kv_lora_rank=20,
                qk_nope_head_dim=12, qk_rope_head_dim=8, v_head_dim=10, rope_theta=10000.0,
                max_position_embeddings=256, bos_token_id=1, eos_token_id=2)
    return ModelConfig(**{**base, **overrides})


def small_mla(**overrides: Any) -> ModelConfig:
    """A CPU-sized MLA model (Youtu ratios scaled down 4x in width) for notebooks and decode timing."""
    base = dict(vocab_size=4096, hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                num_attention_heads=8, num_key_value_heads=8, q_lora_rank=384, kv_lora_rank=128,
                qk_nope_head_dim=64, qk_rope_head_dim=32, v_head_dim=64, rope_theta=10000.0,
                max_position_embeddings=65536, bos_token_id=1, eos_token_id=2)
    return ModelConfig(**{**base, **overrides})


def toy_mla(**overrides: Any) -> ModelConfig:
    """A Youtu-shaped MLA model of about 3.3M parameters (1.6M of them the tied 8,192-entry embedding) that
    trains at a few thousand tokens per second on two CPU cores: notebooks 04 and 05 train it."""
    base = dict(vocab_size=8192, hidden_size=192, intermediate_size=576, num_hidden_layers=4,
                num_attention_heads=4, num_key_value_heads=4, q_lora_rank=144, kv_lora_rank=64,
                qk_nope_head_dim=32, qk_rope_head_dim=16, v_head_dim=32, rope_theta=10000.0,
                max_position_embeddings=1024,  # trains at <= 512; whole held-out trajectories reach ~600
                bos_token_id=8176, eos_token_id=8177)  # the kit tokenizer's: 8,176 BPE entries, then the specials
    return ModelConfig(**{**base, **overrides})


def tiny_gqa(kind: str = "gqa", **overrides: Any) -> ModelConfig:
    """A toy baseline model: ``kind`` in mha | gqa | mqa (kv heads 4 | 2 | 1 of 4 query heads)."""
    kv = {"mha": 4, "gqa": 2, "mqa": 1}.get(kind)
    if kv is None:
        raise ValueError(f"kind={kind!r}: allowed values are ('mha', 'gqa', 'mqa')")
    return tiny_mla(**{"attn_kind": kind, "num_key_value_heads": kv, "head_dim": 12, **overrides})

