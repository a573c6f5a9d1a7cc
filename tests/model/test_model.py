"""The CausalLM contract: shapes, caches, switching attn_impl, greedy generation, config validation."""

from __future__ import annotations

import time

import pytest
import torch

from ylm.model.causal_lm import CausalLM
from ylm.model.config import ModelConfig, tiny_gqa, tiny_mla
from ylm.model.hf import from_hf, to_hf


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


def test_decode_timing_helpers_leave_context_fixed(monkeypatch: pytest.MonkeyPatch):
    from ylm.timing import decode_step_samples, decode_step_seconds

    model = _model()
    seen = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda ids, cache=None: (seen.append(cache.length), forward(ids, cache))[1])
    assert decode_step_seconds(model, 16, repeats=3, warmup=1) > 0
    assert seen == [16] * 4  # every timed step sees exactly 16 cached tokens, never a growing cache
    samples = decode_step_samples({"a": model, "b": _model(attn_impl="naive")}, 16, repeats=2)
    assert set(samples) == {"a", "b"} and all(len(s) == 2 and min(s) > 0 for s in samples.values())
    with pytest.raises(ValueError, match="repeats"):
        decode_step_seconds(model, 4, repeats=0)


def test_random_past_fills_the_cache_and_leaves_one_slot():
    from ylm.timing import random_past

    model = _model()
    cache, token = random_past(model, 10, batch=2, seed=3)
    assert (cache.length, cache.max_len, tuple(token.shape)) == (10, 11, (2, 1))
    assert all(t.std() > 0.5 for layer in cache.layers for t in layer.filled(10))  # random, not the zeros
    again, _ = random_past(model, 10, batch=2, seed=3)
    assert torch.equal(cache.layers[1].kv, again.layers[1].kv)  # seeded


def test_interleaved_timing_takes_turns_and_runs_between_untimed():
    from ylm.timing import interleaved_median_seconds, interleaved_seconds

    calls = []
    steps = {"slow": lambda: (calls.append("slow"), time.sleep(0.02)), "fast": lambda: calls.append("fast")}
    between = {"fast": lambda: (calls.append("reset"), time.sleep(0.05))}
    secs = interleaved_median_seconds(steps, repeats=3, warmup=1, between=between)
    assert calls == ["slow", "fast", "reset"] * 4
    assert secs["slow"] >= 0.02 > secs["fast"]  # the 50 ms reset after "fast" is not timed
    samples = interleaved_seconds(steps, repeats=4, warmup=0)
    assert [len(s) for s in samples.values()] == [4, 4] and min(samples["slow"]) >= 0.02


def test_quartiles_and_thread_count():
    from ylm.timing import quartiles, torch_threads

    assert quartiles([4.0, 1.0, 3.0, 2.0, 5.0]) == (2.0, 3.0, 4.0)
    assert quartiles([7.0]) == (7.0, 7.0, 7.0)
    with pytest.raises(ValueError, match="samples"):
        quartiles([])
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    "ids",
    [
        torch.tensor([[0, 97]]),                   # == vocab_size
        torch.tensor([[3, -1]]),                   # negative
        torch.tensor([1, 2, 3]),                   # 1-D
        torch.zeros(1, 2, 3, dtype=torch.long),    # 3-D
        torch.tensor([[1.0, 2.0]]),                # float
        torch.tensor([[True, False]]),             # bool
    ],
)
def test_bad_input_ids_raise_naming_input_ids(ids):
    model = _model()
    with pytest.raises(ValueError, match=r"input_ids.*\[0, vocab_size=97\)"):
        model(ids)
    cache = model.init_cache(1, 8)
    with pytest.raises(ValueError, match="input_ids"):
        model(ids, cache=cache)
    assert cache.length == 0
    assert model(torch.tensor([[0, 96]], dtype=torch.int32)).shape == (1, 2, 97)  # edges and int32 are fine


def test_replace_rederives_init_std_unless_given():
    from ylm.model.config import small_mla

    wide = small_mla().replace(hidden_size=2048)
    fresh = small_mla(hidden_size=2048)
    assert wide.initializer_range == pytest.approx(2 / (5 * 2048) ** 0.5)
    assert wide.initializer_range == fresh.initializer_range
    assert wide.embedding_initializer_range == fresh.embedding_initializer_range == 2 * fresh.initializer_range
    assert wide == fresh
    pinned = small_mla(initializer_range=0.01)
    assert pinned.replace(hidden_size=2048).initializer_range == 0.01  # explicit values survive
    assert pinned.replace(hidden_size=2048).embedding_initializer_range == 0.02  # still derived from it
    both = small_mla(initializer_range=0.01, embedding_initializer_range=0.5).replace(hidden_size=1024)
    assert (both.initializer_range, both.embedding_initializer_range) == (0.01, 0.5)
    changed = small_mla().replace(hidden_size=1024, initializer_range=0.03)
    assert (changed.initializer_range, changed.embedding_initializer_range) == (0.03, 0.06)
    assert small_mla().replace(attn_impl="naive").initializer_range == small_mla().initializer_range


YARN_OK = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rope_interleave": "false"}, "rope_interleave"),
        ({"rope_interleave": 0}, "rope_interleave"),
        ({"tie_word_embeddings": "no"}, "tie_word_embeddings"),
        ({"attention_bias": None}, "attention_bias"),
        ({"rope_theta": True}, "rope_theta"),
        ({"rope_theta": "10000"}, "rope_theta"),
        ({"rms_norm_eps": False}, "rms_norm_eps"),
        ({"initializer_range": "0.02"}, "initializer_range"),
        ({"embedding_initializer_range": -0.1}, "embedding_initializer_range"),
        ({"bos_token_id": 1.0}, "bos_token_id"),
        ({"eos_token_id": [2, "3"]}, "eos_token_id"),
        ({"rope_scaling": {"rope_type": "default", "foo": 1}}, "foo"),
        ({"rope_scaling": {"rope_type": "default", "factor": 2.0}}, "factor"),
        ({"rope_scaling": {**YARN_OK, "mscale": "1.0"}}, "mscale"),
        ({"rope_scaling": {**YARN_OK, "beta_fast": True}}, "beta_fast"),
        ({"rope_scaling": {**YARN_OK, "factor": True}}, "factor"),
        ({"rope_scaling": {**YARN_OK, "truncate": "yes"}}, "truncate"),
        ({"rope_scaling": {**YARN_OK, "original_max_position_embeddings": 64.5}}, "original_max_position_embeddings"),
        ({"rope_scaling": {**YARN_OK, "low_freq_factor": 1.0}}, "low_freq_factor"),
        ({"rope_scaling": {**YARN_OK, "rope_theta": 5.0}}, "rope_theta"),
        ({"rope_scaling": {**YARN_OK, "type": "default"}}, "type"),
    ],
)
def test_config_field_types_are_checked(overrides, field):
    with pytest.raises(ValueError, match=field):
        tiny_mla(**overrides)
    with pytest.raises(ValueError, match=field):
        tiny_mla().replace(**overrides)


def test_real_config_shapes_still_load():
    # Every key transformers' YaRN validator knows, plus the real Youtu-LLM-2B legacy block (paper_facts §1.1).
    full = {**YARN_OK, "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 0.8,
            "attention_factor": 1.2, "truncate": False, "rope_theta": 10000.0}
    assert tiny_mla(rope_scaling=full).rope_scaling == full
    assert tiny_mla(rope_scaling={"rope_type": "default", "rope_theta": 10000.0}).rope_interleave is True
    youtu_json = {"model_type": "youtu_llm", "vocab_size": 128256, "hidden_size": 2048, "intermediate_size": 6144,
                  "num_hidden_layers": 32, "num_attention_heads": 16, "num_key_value_heads": 16,
                  "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
                  "v_head_dim": 128, "max_position_embeddings": 131072, "tie_word_embeddings": True,
                  "rope_theta": 1600000, "rope_scaling": {"type": "yarn", "factor": 1.0, "mscale_all_dim": 0},
                  "rope_interleave": True, "hidden_act": "silu", "rms_norm_eps": 1e-6, "attention_bias": False,
                  "bos_token_id": 128000, "eos_token_id": 128001, "torch_dtype": "bfloat16", "use_cache": True}
    cfg = from_hf(youtu_json)
    assert cfg.rope_theta == 1_600_000 and cfg.rope_scaling == {"rope_type": "yarn", "factor": 1.0,
                                                                 "mscale_all_dim": 0}
    assert cfg.initializer_range == pytest.approx(0.01976, abs=1e-5)
    assert from_hf(to_hf(cfg)) == cfg
