"""The CausalLM contract: shapes, caches, switching attn_impl, greedy generation, config validation."""

from __future__ import annotations

import pytest
import torch

from ylm.config import ModelConfig, tiny_gqa, tiny_mla
from ylm.model import CausalLM


def _model(**overrides) -> CausalLM:
    torch.manual_seed(0)
    return CausalLM(tiny_mla(**overrides)).eval()


def test_logits_shape_and_tied_head():
    model = _model()
    ids = torch.randint(0, 97, (3, 7))
    assert model(ids).shape == (3, 7, 97)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    untied = _model(tie_word_embeddings=False)
    assert untied.lm_head.weight is not untied.model.embed_tokens.weight


@pytest.mark.parametrize("impl", ["naive", "absorbed"])
def test_greedy_generation_same_with_and_without_cache(impl):
    model = _model().set_attn_impl(impl)
    prompt = torch.randint(0, 97, (2, 5))
    with_cache = model.generate(prompt, max_new_tokens=12, use_cache=True)
    without = model.generate(prompt, max_new_tokens=12, use_cache=False)
    assert with_cache.shape == (2, 17)
    assert torch.equal(with_cache[:, :5], prompt)
    assert torch.equal(with_cache, without)


def test_generation_stops_at_eos():
    model = _model()
    prompt = torch.randint(0, 97, (1, 4))
    first = int(model.generate(prompt, 1)[0, -1])
    out = model.generate(prompt, 10, eos_token_id=first)
    assert out.shape == (1, 5)


def test_switching_impl_on_built_model_keeps_weights_and_checks_cache():
    model = _model()
    assert model.config.attn_impl == "absorbed"
    cache = model.init_cache(1, 8)
    assert type(cache.layers[0]).__name__ == "LatentCache"
    model.set_attn_impl("naive")
    assert model.config.attn_impl == "naive"
    assert all(layer.self_attn.impl == "naive" for layer in model.model.layers)
    with pytest.raises(ValueError, match="LatentCache|KVCache"):
        model(torch.zeros(1, 2, dtype=torch.long), cache=cache)  # old cache has the other layout
    assert type(model.init_cache(1, 8).layers[0]).__name__ == "KVCache"
    with pytest.raises(ValueError, match="attn_impl"):
        model.set_attn_impl("flash")


def test_cache_overflow_and_batch_mismatch_raise():
    model = _model()
    cache = model.init_cache(2, 4)
    model(torch.zeros(2, 3, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.zeros(2, 2, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="batch_size"):
        model(torch.zeros(1, 1, dtype=torch.long), cache=cache)


def test_baselines_share_the_interface():
    for kind in ("mha", "gqa", "mqa"):
        torch.manual_seed(0)
        model = CausalLM(tiny_gqa(kind))
        prompt = torch.randint(0, 97, (1, 3))
        assert torch.equal(model.generate(prompt, 6), model.generate(prompt, 6, use_cache=False))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"qk_rope_head_dim": 7}, "qk_rope_head_dim"),
        ({"kv_lora_rank": 0}, "kv_lora_rank"),
        ({"q_lora_rank": -3}, "q_lora_rank"),
        ({"v_head_dim": 0}, "v_head_dim"),
        ({"attn_impl": "flash"}, "attn_impl"),
        ({"attn_kind": "linear"}, "attn_kind"),
        ({"num_key_value_heads": 2}, "num_key_value_heads"),  # MLA needs one K/V head per query head
        ({"attn_kind": "gqa", "num_key_value_heads": 3}, "num_key_value_heads"),  # 3 does not divide 4
        ({"attn_kind": "mha", "num_key_value_heads": 2}, "num_key_value_heads"),
        ({"attn_kind": "mqa", "num_key_value_heads": 2}, "num_key_value_heads"),
        ({"attn_kind": "gqa", "num_attention_heads": 5, "num_key_value_heads": 5}, "num_attention_heads"),
        ({"attn_kind": "gqa", "head_dim": 9, "num_key_value_heads": 2}, "head_dim"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"rope_scaling": {"rope_type": "ntk"}}, "rope_type"),
        ({"rope_scaling": {"rope_type": "yarn", "factor": 0.5}}, "factor"),
        ({"hidden_act": "gelu"}, "hidden_act"),
    ],
)
def test_invalid_configs_raise_naming_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        tiny_mla(**overrides)


def test_replace_revalidates():
    cfg = tiny_mla()
    with pytest.raises(ValueError, match="attn_impl"):
        cfg.replace(attn_impl="fast")
    assert cfg.replace(q_lora_rank=None).q_lora_rank is None
    assert isinstance(ModelConfig(), ModelConfig)


def test_decode_timing_helpers_leave_context_fixed():
    from ylm.timing import decode_step_seconds, decode_step_seconds_interleaved

    model = _model()
    assert decode_step_seconds(model, 16, repeats=2, warmup=0) > 0
    secs = decode_step_seconds_interleaved({"a": model, "b": _model(attn_impl="naive")}, 16, repeats=2)
    assert set(secs) == {"a", "b"} and all(s > 0 for s in secs.values())
    with pytest.raises(ValueError, match="repeats"):
        decode_step_seconds(model, 4, repeats=0)
