"""A decoder-only LM laid out exactly like transformers' ``YoutuForCausalLM`` (Youtu-LLM-2B).

    h_0 = E[ids];   h_{l+1} = h_l' + MLP(RMSNorm(h_l')),  h_l' = h_l + Attn(RMSNorm(h_l));   logits = W_lm RMSNorm(h_L)

Parameter names match ``YoutuForCausalLM.state_dict()`` (``model.layers.{i}.self_attn.kv_b_proj.weight`` ...),
so a real Youtu-LLM-2B safetensors checkpoint loads with ``load_state_dict`` unchanged (``ylm.model.hf`` reads
and writes such directories). ``model.init_cache`` + ``model(ids, cache=cache)``
decode incrementally; ``model.set_attn_impl`` switches MLA between the naive and absorbed paths.
"""

from __future__ import annotations

import torch
from torch import nn

from ylm.checks import check_int
from ylm.model.attention import make_attention
from ylm.model.cache import Cache, init_cache
from ylm.model.config import ATTN_IMPLS, ModelConfig
from ylm.model.layers import RMSNorm, SwiGLU
from ylm.model.rope import RotaryEmbedding


class DecoderLayer(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.self_attn = make_attention(config)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.mlp = SwiGLU(config.hidden_size, config.intermediate_size)

    def forward(self, x, cos, sin, cache=None, start: int = 0) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache, start)
        return x + self.mlp(self.post_attention_layernorm(x))


class Backbone(nn.Module):
    """``model.`` in the checkpoint: embeddings, layers, final norm (and the RoPE tables, not saved)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding(config.rope_dim, config.rope_theta, config.rope_scaling,
                                          config.max_position_embeddings)


class CausalLM(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.model = Backbone(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        # As YoutuPreTrainedModel: N(0, initializer_range) for linears, 2x that for embeddings, norms = 1.
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=self.config.initializer_range)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=self.config.embedding_initializer_range)

    # ---- running ------------------------------------------------------------------------------
    def forward(self, input_ids: torch.Tensor, cache: Cache | None = None) -> torch.Tensor:
        """input_ids [B, T] -> logits [B, T, vocab]. With ``cache``, the tokens are appended after it."""
        self._check_input_ids(input_ids)
        b, t = input_ids.shape
        start = 0
        if cache is not None:
            p = self.model.embed_tokens.weight
            cache.check_matches(self.config, p.dtype, p.device)
            cache.check_room(b, t)
            start = cache.length
        positions = torch.arange(start, start + t, device=input_ids.device)
        cos, sin = self.model.rotary_emb(positions)                             # [T, d_rope/2] each
        x = self.model.embed_tokens(input_ids)
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, cache.layers[i] if cache is not None else None, start)
        if cache is not None:
            cache.length += t
        return self.lm_head(self.model.norm(x))

    def _check_input_ids(self, input_ids: torch.Tensor) -> None:
        """One ValueError for ids torch would otherwise reject deep inside.

        Type and shape are checked everywhere (free: no data is read). The value range is checked only for CPU
        tensors: reading it back from a GPU would stall every training step on a device-to-host sync, and there
        the embedding lookup itself stops on an out-of-range id with a device-side assert."""
        vocab = self.config.vocab_size
        rule = f"must be a torch.int64 or torch.int32 tensor of shape [B, T] with values in [0, vocab_size={vocab})"
        if not isinstance(input_ids, torch.Tensor):
            raise ValueError(f"input_ids of type {type(input_ids).__name__}: {rule}")
        # the embedding lookup takes only int64/int32 indices; uint8/int16 would fail deep inside torch
        if input_ids.dim() != 2 or input_ids.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"input_ids of shape {tuple(input_ids.shape)} and dtype {input_ids.dtype}: {rule}")
        if input_ids.numel() and input_ids.device.type == "cpu":
            lo, hi = (int(v) for v in torch.aminmax(input_ids))  # one pass over B*T ids: cheap next to the model
            if lo < 0 or hi >= vocab:
                raise ValueError(f"input_ids range [{lo}, {hi}]: {rule}")

    def init_cache(self, batch_size: int, max_len: int, dtype: torch.dtype | None = None) -> Cache:
        """Empty preallocated cache matching this model's attention kind/impl, dtype and device.

        ``forward`` accepts only a cache in the model's own dtype; another ``dtype`` is for sizing only."""
        p = self.model.embed_tokens.weight
        return init_cache(self.config, batch_size, max_len, dtype or p.dtype, p.device)

    def set_attn_impl(self, impl: str) -> CausalLM:
        """Switch MLA between "naive" and "absorbed" on the built model (weights are shared; caches are not)."""
        if impl not in ATTN_IMPLS:
            raise ValueError(f"attn_impl={impl!r}: allowed values are {ATTN_IMPLS}")
        self.config = self.config.replace(attn_impl=impl)
        for layer in self.model.layers:
            if hasattr(layer.self_attn, "impl"):
                layer.self_attn.impl = impl
        return self

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, max_new_tokens: int, use_cache: bool = True,
                 eos_token_id: int | None = None) -> torch.Tensor:
        """Greedy decoding: [B, T] -> [B, T + n]; stops early once every row has produced ``eos_token_id``."""
        self._check_input_ids(input_ids)
        if input_ids.shape[1] == 0:
            raise ValueError("input_ids of shape [B, 0]: generate needs a prompt of at least one token per row")
        check_int("max_new_tokens", max_new_tokens, minimum=0)
        if eos_token_id is not None:
            check_int("eos_token_id", eos_token_id, minimum=0, extra=" or None")
        ids = input_ids
        cache = self.init_cache(ids.shape[0], ids.shape[1] + max_new_tokens) if use_cache else None
        step_input = ids
        done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
        for _ in range(max_new_tokens):
            logits = self(step_input if use_cache else ids, cache=cache)
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat((ids, nxt), dim=1)
            step_input = nxt
            if eos_token_id is not None:
                done |= nxt[:, 0] == eos_token_id
                if bool(done.all()):
                    break
        return ids

    def num_parameters(self) -> int:
        """Unique parameters (a tied embedding counted once)."""
        return sum(p.numel() for p in self.parameters())


@torch.no_grad()
def naive_vs_absorbed_max_diff(model: CausalLM, input_ids: torch.Tensor) -> float:
    """Largest |logit| difference between MLA's naive and absorbed paths on the same weights, over a full
    forward and a token-by-token cached decode of ``input_ids``; the model's own ``attn_impl`` is restored."""
    if model.config.attn_kind != "mla":
        raise ValueError(f"attn_kind={model.config.attn_kind!r}: only 'mla' has naive and absorbed paths")
    own_impl = model.config.attn_impl
    batch, steps = input_ids.shape
    outputs = {}
    for impl in ("naive", "absorbed"):
        model.set_attn_impl(impl)
        cache = model.init_cache(batch, steps)
        decoded = torch.cat([model(input_ids[:, i:i + 1], cache=cache) for i in range(steps)], dim=1)
        outputs[impl] = (model(input_ids), decoded)
    model.set_attn_impl(own_impl)
    return max((outputs["naive"][k] - outputs["absorbed"][k]).abs().max().item() for k in (0, 1))
