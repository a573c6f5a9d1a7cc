"""Analytic parameter counts and KV bytes match what the built model and its caches really hold."""

from __future__ import annotations

import pytest
import torch

from ylm.model.accounting import (
    PEERS,
    attention_params,
    kv_bytes_per_token,
    param_count,
    param_matched,
    same_heads_mha,
)
from ylm.model.causal_lm import CausalLM
from ylm.model.config import small_mla, tiny_gqa, tiny_mla, youtu_2b


def test_youtu_2b_parameter_count_on_meta():
    cfg = youtu_2b()
    with torch.device("meta"):
        model = CausalLM(cfg)
    counted = sum(p.numel() for p in model.parameters())
    assert counted == param_count(cfg) == 1_961_560_064  # HF safetensors metadata of tencent/Youtu-LLM-2B


def test_youtu_2b_cache_bytes_per_token():
    cfg = youtu_2b()
    assert kv_bytes_per_token(cfg, torch.bfloat16, "absorbed") == 36_864
    assert kv_bytes_per_token(cfg, torch.bfloat16, "naive") == 327_680
    # the MHA it is usually compared with (16 heads x 128) is 7.1x the latent
    assert kv_bytes_per_token(same_heads_mha(cfg)) / kv_bytes_per_token(cfg) == pytest.approx(7.11, abs=0.01)


CONFIGS = {
    "mla": tiny_mla(),
    "mla_q_none_bias_untied": tiny_mla(q_lora_rank=None, attention_bias=True, tie_word_embeddings=False),
    "mha": tiny_gqa("mha"),
    "gqa": tiny_gqa("gqa", attention_bias=True),
    "mqa": tiny_gqa("mqa", tie_word_embeddings=False),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_param_count_matches_built_model(name):
    cfg = CONFIGS[name]
    assert CausalLM(cfg).num_parameters() == param_count(cfg)


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("impl", ["naive", "absorbed"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cache_nbytes_matches_analytic(name, impl, dtype):
    cfg = CONFIGS[name].replace(attn_impl=impl)
    model = CausalLM(cfg).to(dtype)
    cache = model.init_cache(batch_size=2, max_len=16)
    assert cache.nbytes() == 0
    model(torch.randint(0, cfg.vocab_size, (2, 5)), cache=cache)
    model(torch.randint(0, cfg.vocab_size, (2, 1)), cache=cache)
    assert cache.nbytes() == 2 * 6 * kv_bytes_per_token(cfg, dtype)
    assert cache.allocated_nbytes() == 2 * 16 * kv_bytes_per_token(cfg, dtype)


def test_peer_table_matches_independent_figures():
    by_name = {p.name: p for p in PEERS}
    # paper_facts §1.3 (computed independently from the configs): 112 KiB and 144 KiB per token in bf16
    assert by_name["Qwen3-1.7B"].kv_bytes_per_token() == 112 * 1024
    assert by_name["Qwen3-4B"].kv_bytes_per_token() == 144 * 1024
    assert by_name["Llama-3.2-1B"].kv_bytes_per_token() * 131072 == 4 * 2**30  # anchors §3.6: 4 GiB @128k
    assert {"Qwen3-1.7B", "Llama-3.2-1B", "Llama-3.2-3B", "SmolLM3-3B", "Qwen3-4B"} <= set(by_name)


def test_negative_sizes_raise():
    from ylm.model.accounting import kv_cache_bytes

    cfg = tiny_mla()
    with pytest.raises(ValueError, match="dtype"):
        kv_bytes_per_token(cfg, -2)
    with pytest.raises(ValueError, match="dtype"):
        kv_bytes_per_token(cfg, 0)
    with pytest.raises(ValueError, match="tokens"):
        kv_cache_bytes(cfg, -5)
    with pytest.raises(ValueError, match="batch"):
        kv_cache_bytes(cfg, 5, batch=-1)
    with pytest.raises(ValueError, match="batch"):
        kv_cache_bytes(cfg, 5, batch=0)
    with pytest.raises(ValueError, match="tokens"):
        kv_cache_bytes(cfg, 2.5)
    with pytest.raises(ValueError, match="PeerModel|dtype"):
        PEERS[0].kv_bytes_per_token(-1)
    assert kv_cache_bytes(cfg, 0) == 0
    assert kv_cache_bytes(cfg, 3, batch=2, dtype=2) == 6 * kv_bytes_per_token(cfg, 2)


def test_param_matched_by_hand():
    mla = small_mla()
    gqa = mla.replace(attn_kind="gqa", num_key_value_heads=2, head_dim=64)
    # per layer, MLA attention 967,168 vs GQA 655,360: 311,808 more, i.e. 203 MLP units of 3 * 512 parameters;
    # the nearest multiple of 64 is 192 units, so intermediate_size 1536 + 192
    assert attention_params(mla) - attention_params(gqa) == 311_808
    matched = param_matched(gqa, param_count(mla))
    assert matched.intermediate_size == 1728
    assert attention_params(matched) == attention_params(gqa)  # attention, and so the cache, untouched
    assert param_matched(gqa, param_count(mla), multiple=1).intermediate_size == 1536 + 203


@pytest.mark.parametrize("multiple", [1, 8, 64])
def test_param_matched_lands_on_the_nearest_multiple(multiple):
    target = param_count(tiny_mla())
    matched = param_matched(tiny_gqa("mha"), target, multiple)
    assert matched.intermediate_size % multiple == 0
    miss = abs(param_count(matched) - target)
    for step in (-multiple, multiple):
        if matched.intermediate_size + step > 0:
            neighbour = matched.replace(intermediate_size=matched.intermediate_size + step)
            assert abs(param_count(neighbour) - target) >= miss


@pytest.mark.parametrize("target, multiple, field", [(0, 64, "target"), (10**6, 0, "multiple"),
                                                     (True, 64, "target"), (10**6, 2.5, "multiple")])
def test_param_matched_rejects_bad_input(target, multiple, field):
    with pytest.raises(ValueError, match=field):
        param_matched(tiny_gqa(), target, multiple)
