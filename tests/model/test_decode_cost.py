"""Decode cost per cached token: by-hand and counted FLOPs, the GQA kernel twin, the measurement tables."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ylm.model import attention
from ylm.model.accounting import param_count
from ylm.model.attention import latent_attention
from ylm.model.causal_lm import CausalLM
from ylm.model.config import small_mla, tiny_gqa, tiny_mla, youtu_2b
from ylm.model.decode_cost import (
    baseline_lineup,
    cache_bytes_check,
    cost_per_cached_token,
    cost_table,
    decode_models,
    decode_timing,
    marginal_costs,
    ratios_at,
    reexpansion_timing,
    step_bytes,
    with_grouped_matmul,
)
from ylm.timing import decode_step, random_past

# tiny_mla: H=4, r=20, d_r=8, d_n=12, d_v=10 (d_qk=20), 2 layers; tiny_gqa: 4 query heads of 12, 4|2|1 K/V.
BY_HAND = {  # (fp32 bytes, FLOPs) per cached token per step, both layers
    # 2 layers * 4 B * (20 + 8); 2 * [2*4*(20 + 8) scores + 2*4*20 values]
    "absorbed": (tiny_mla(), None, 2 * 4 * 28, 2 * (224 + 160)),
    # 2 * 4 * 4*(20 + 10); 2 * [2*4*20 + 2*4*10]
    "naive": (tiny_mla(attn_impl="naive"), None, 2 * 4 * 120, 2 * (160 + 80)),
    # kv_b 2*20*4*(12 + 10) = 3520 on top of naive's 240; latent 28 + expanded 120 written and read back
    "reexpand": (tiny_mla(), "reexpand", 2 * 4 * (28 + 240), 2 * (3520 + 240)),
    # 2 K/V heads: 2 * 4 * 2*2*12; 2 * [4 heads * (2*12 scores + 2*12 values)]
    "gqa": (tiny_gqa("gqa"), None, 2 * 4 * 48, 2 * 192),
    "mha": (tiny_gqa("mha"), None, 2 * 4 * 96, 2 * 192),
    "mqa": (tiny_gqa("mqa"), None, 2 * 4 * 24, 2 * 192),
}


@pytest.mark.parametrize("name", BY_HAND)
def test_cost_per_cached_token_matches_a_count_by_hand(name):
    config, impl, nbytes, flops = BY_HAND[name]
    cost = cost_per_cached_token(config, impl)
    assert (cost.bytes, cost.flops) == (nbytes, flops)
    assert cost_per_cached_token(config, impl, torch.bfloat16).flops == flops  # FLOPs do not depend on width


def test_youtu_2b_costs():
    cfg = youtu_2b()
    absorbed, naive = cost_per_cached_token(cfg, dtype=torch.bfloat16), cost_per_cached_token(cfg, "naive", 2)
    assert (absorbed.bytes, absorbed.flops) == (36_864, 32 * 2 * 16 * (2 * 512 + 64))
    assert (naive.bytes, naive.flops) == (327_680, 32 * 2 * 16 * 320)
    assert absorbed.flops_per_byte == pytest.approx(30.22, abs=0.01)
    with pytest.raises(ValueError, match="impl"):
        cost_per_cached_token(cfg, "fused")


def _flops_per_cached_token(step_at) -> float:
    """FLOPs torch counts in ``step_at(T)`` for two contexts, per extra cached token."""
    counts = []
    for t in (16, 48):
        step = step_at(t)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            step()
        counts.append(counter.get_total_flops())
    return (counts[1] - counts[0]) / 32


def _ylm_step(model):
    return lambda t: decode_step(model, *random_past(model, t), t)


def test_counted_flops_match_for_the_matmul_kernels():
    # torch's FLOP counter sees matmuls, not the fused CPU SDPA kernel: check each path made of plain matmuls.
    naive = CausalLM(tiny_mla(attn_impl="naive")).eval()
    assert _flops_per_cached_token(_ylm_step(naive)) == cost_per_cached_token(naive.config).flops
    for kind in ("gqa", "mha", "mqa"):
        grouped = with_grouped_matmul(CausalLM(tiny_gqa(kind)).eval())
        assert _flops_per_cached_token(_ylm_step(grouped)) == cost_per_cached_token(grouped.config).flops
    # absorbed: the library's unfused latent kernel over S cached rows, H query rows, once per layer
    c = tiny_mla()
    width = c.kv_lora_rank + c.qk_rope_head_dim

    def core_at(s):
        qq, kv = torch.randn(1, c.num_attention_heads, width), torch.randn(1, s, width)
        return lambda: [latent_attention(qq, kv, c.kv_lora_rank, None, fused=False)
                        for _ in range(c.num_hidden_layers)]

    assert _flops_per_cached_token(core_at) == cost_per_cached_token(c).flops


def test_counted_flops_of_transformers_decode_step_match_reexpand():
    transformers = pytest.importorskip("transformers")
    from ylm.model.hf import to_hf

    c = tiny_mla()
    torch.manual_seed(0)
    hf = transformers.YoutuForCausalLM(transformers.YoutuConfig(**to_hf(c))).eval()
    hf.config._attn_implementation = "eager"  # matmuls the FLOP counter sees

    def step_at(t):
        ids = torch.randint(0, c.vocab_size, (1, t + 1))
        with torch.no_grad():
            past = hf(ids[:, :t], use_cache=True).cache
        return lambda: hf(ids[:, t:], cache=past)

    assert _flops_per_cached_token(step_at) == cost_per_cached_token(c, "reexpand").flops


@pytest.mark.parametrize("config", [tiny_mla(), tiny_mla(attn_impl="naive"), tiny_gqa("gqa")])
def test_bytes_moved_are_what_the_cache_holds(config):
    model = CausalLM(config).eval()
    cache = model.init_cache(1, 16)
    with torch.no_grad():
        model(torch.randint(0, config.vocab_size, (1, 9)), cache=cache)
    assert cost_per_cached_token(config).bytes * 9 == cache.nbytes()
    assert step_bytes(config, 9) == 4 * param_count(config) + cache.nbytes()


def test_cost_table_rows_and_reexpand_holds_the_latent():
    c = tiny_mla()
    rows = {"absorbed": c, "naive": c.replace(attn_impl="naive"), "re-expanding": (c, "reexpand")}
    table = cost_table(rows, dtype=torch.float32).set_index("attention")
    assert table.loc["re-expanding", "cache B/token"] == table.loc["absorbed", "cache B/token"] == 224
    assert table.loc["re-expanding", "B moved/token/step"] == BY_HAND["reexpand"][2]
    assert table.loc["naive", "FLOPs/token/step"] == 480
    assert table.loc["absorbed", "FLOPs/B"] == round(768 / 224, 2)
    assert table.loc["naive", "params"] == param_count(c)
    relative = cost_table(rows, dtype=torch.float32, reference="absorbed").set_index("attention")
    assert relative.loc["naive", "B moved / ref"] == round(960 / 224, 2)
    assert relative.loc["re-expanding", "FLOPs / ref"] == round(7520 / 768, 2)
    assert relative.loc["absorbed", ["params / ref", "B moved / ref", "FLOPs / ref"]].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="reference"):
        cost_table(rows, reference="MHA")


@pytest.mark.parametrize("mla, multiple", [(tiny_mla(), 1), (small_mla(), 64), (youtu_2b(), 64)])
def test_baseline_lineup_is_parameter_matched(mla, multiple):
    lineup = baseline_lineup(mla, multiple=multiple)
    assert set(lineup) == {"MLA absorbed", "MLA naive", "GQA (kv heads = H/4)", "MHA (same heads)"}
    target = param_count(mla)
    for c in lineup.values():
        assert abs(param_count(c) - target) <= 0.02 * target
    gqa = lineup["GQA (kv heads = H/4)"]
    assert (gqa.num_key_value_heads, gqa.baseline_head_dim) == (mla.num_attention_heads // 4, mla.v_head_dim)
    assert lineup["MLA naive"].attn_impl == "naive" and lineup["MLA absorbed"].attn_impl == "absorbed"


@pytest.mark.parametrize("groups", [1, 3, 2.0, True])
def test_baseline_lineup_rejects_bad_groups(groups):
    with pytest.raises(ValueError, match="gqa_groups"):
        baseline_lineup(tiny_mla(), gqa_groups=groups)


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_grouped_matmul_equals_sdpa_enable_gqa(kv_heads):
    g = torch.Generator().manual_seed(kv_heads)
    q, k, v = (torch.randn(2, h, t, 12, generator=g) for h, t in ((4, 1), (kv_heads, 30), (kv_heads, 30)))
    ref = F.scaled_dot_product_attention(q, k, v, scale=0.3, enable_gqa=True)
    assert torch.allclose(attention.grouped_matmul_attention(q, k, v, 0.3), ref, atol=1e-6)
    with pytest.raises(ValueError, match="exactly 1"):
        attention.grouped_matmul_attention(torch.randn(2, 4, 3, 12), k, v, 0.3)


def test_grouped_matmul_model_runs_the_kernel_and_matches(monkeypatch):
    torch.manual_seed(0)
    sdpa = CausalLM(tiny_gqa("gqa")).eval()
    grouped = CausalLM(tiny_gqa("gqa")).eval()
    grouped.load_state_dict(sdpa.state_dict())
    with_grouped_matmul(grouped)
    assert all(layer.self_attn.decode_kernel == "grouped_matmul" for layer in grouped.model.layers)
    calls = []
    kernel = attention.grouped_matmul_attention
    monkeypatch.setattr(attention, "grouped_matmul_attention", lambda *a: (calls.append(1), kernel(*a))[1])
    ids = torch.randint(0, 97, (2, 12))
    caches = [m.init_cache(2, 12) for m in (sdpa, grouped)]
    with torch.no_grad():
        outs = [m(ids[:, :11], cache=cache) for m, cache in zip((sdpa, grouped), caches, strict=True)]
        assert not calls  # a prefill keeps SDPA
        outs += [m(ids[:, 11:], cache=cache) for m, cache in zip((sdpa, grouped), caches, strict=True)]
    assert len(calls) == grouped.config.num_hidden_layers  # one decode step, every layer on the grouped kernel
    assert torch.allclose(outs[0], outs[1], atol=1e-5) and torch.allclose(outs[2], outs[3], atol=1e-5)
    with pytest.raises(ValueError, match="attn_kind"):
        with_grouped_matmul(CausalLM(tiny_mla()))
    with pytest.raises(ValueError, match="decode_kernel"):
        attention.GQA(tiny_gqa("gqa"), decode_kernel="flash")


def test_decode_models_gives_gqa_both_kernels_with_the_same_weights():
    mla = tiny_mla(num_attention_heads=8, num_key_value_heads=8)
    models = decode_models(baseline_lineup(mla, multiple=8))
    gqa = [name for name in models if name.startswith("GQA")]
    assert gqa == ["GQA (kv heads = H/4), SDPA enable_gqa", "GQA (kv heads = H/4), grouped matmul"]
    a, b = (models[name].state_dict() for name in gqa)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert models[gqa[1]].model.layers[0].self_attn.decode_kernel == "grouped_matmul"
    assert models[gqa[0]].model.layers[0].self_attn.decode_kernel == "sdpa"
    assert {"MLA absorbed", "MLA naive", "MHA (same heads)"} <= set(models) and len(models) == 5


def test_decode_timing_table():
    models = decode_models({"a": tiny_mla(), "b": tiny_gqa("mha")})
    threads = torch.get_num_threads()
    table = decode_timing(models, [8, 16], repeats=3, threads=1)
    assert torch.get_num_threads() == threads  # put back afterwards
    assert list(table["attention"]) == ["a", "b", "a", "b"] and list(table["context"]) == [8, 8, 16, 16]
    assert (table["ms q25"] <= table["ms"]).all() and (table["ms"] <= table["ms q75"]).all()
    assert table["MiB read"][2] == step_bytes(tiny_mla(), 16) / 2**20


def test_marginal_costs_recover_a_known_slope():
    models = {"mla": CausalLM(tiny_mla()), "gqa": CausalLM(tiny_gqa("gqa"))}
    contexts = [100, 200, 400]
    rows = [{"attention": n, "context": t, "ms": 2.0 + slope * t}  # slope in ms per token
            for n, slope in (("mla", 1e-3), ("gqa", 4e-3)) for t in contexts]
    # ridge point 1e10 / 1e9 = 10 FLOPs per byte: both (3.4 and 1 FLOPs per fp32 byte) are on the memory side
    table = marginal_costs(pd.DataFrame(rows), models, bandwidth=1e9, flop_rate=1e10).set_index("attention")
    assert table.loc["mla", "ns/token"] == pytest.approx(1000)
    assert table.loc["gqa", "ns/token"] == pytest.approx(4000)
    assert table.loc["mla", "GB/s"] == pytest.approx(224 / 1e-6 / 1e9)
    assert table.loc["gqa", "GFLOP/s"] == pytest.approx(384 / 4e-6 / 1e9)
    assert table.loc["mla", "% of copy bandwidth"] == pytest.approx(100 * 224e6 / 1e9)  # 22.4%
    assert table.loc["mla", "% of GEMM rate"] == pytest.approx(100 * 768e6 / 1e10)  # 7.68%
    assert table.loc["mla", "measured nearer"] == "memory" and table.loc["mla", "roofline"] == "memory"
    ridge_2 = marginal_costs(pd.DataFrame(rows), models, bandwidth=1e9, flop_rate=2e9).set_index("attention")
    assert ridge_2.loc["mla", "roofline"] == "arithmetic" and ridge_2.loc["gqa", "roofline"] == "memory"
    assert ridge_2.loc["mla", "measured nearer"] == "arithmetic"  # 38.4% of 2 GFLOP/s beats 22.4% of 1 GB/s
    with pytest.raises(ValueError, match="slope"):
        marginal_costs(pd.DataFrame(rows[:1]), models)


def test_marginal_costs_leave_a_falling_time_unexplained():
    models = {"mla": CausalLM(tiny_mla())}
    rows = pd.DataFrame([{"attention": "mla", "context": t, "ms": ms} for t, ms in ((100, 3.0), (200, 2.0))])
    row = marginal_costs(rows, models, bandwidth=1e9, flop_rate=1e10).iloc[0]
    assert row["ns/token"] < 0 and pd.isna(row["GB/s"]) and pd.isna(row["% of GEMM rate"])
    assert row["measured nearer"] == ""


def test_cache_bytes_check_labels_and_agrees():
    table = cache_bytes_check(tiny_mla(num_hidden_layers=3), tiny_mla(), tokens=(5, 7), run_tokens=9)
    assert table["equal"].all()
    assert list(table["bytes of"].str.split().str[0]) == ["allocated"] * 4 + ["filled"] * 2 + ["DynamicCache"]
    # transformers keeps the single-head latent and roped key, not expanded K/V
    assert table["layer-0 tensors"].iloc[-1] == "(2, 1, 9, 20) (2, 1, 9, 8)"


def test_reexpansion_timing_rows_agree_with_transformers():
    pytest.importorskip("transformers")
    c = tiny_mla()
    table = reexpansion_timing(c, [8, 24], repeats=2)
    assert list(table["step"]) == ["transformers step", "ylm absorbed step", "re-expansion alone"] * 2
    assert (table["max |logit diff|"] < 1e-4).all()
    row = table.iloc[3]
    assert row["kv_b GFLOP/step"] == pytest.approx(2 * 20 * 4 * 22 * 24 * 2 / 1e9)
    assert row["expanded K/V MiB/step"] == pytest.approx(24 * 2 * 4 * 120 / 2**20)
    assert (table["ms q25"] <= table["ms q75"]).all()


def test_ratios_at_divide_by_the_reference():
    models = {"mla": CausalLM(tiny_mla()), "gqa": CausalLM(tiny_gqa("gqa"))}
    timing = pd.DataFrame([{"attention": "mla", "context": 64, "ms": 2.0},
                           {"attention": "gqa", "context": 64, "ms": 3.0},
                           {"attention": "mla", "context": 8, "ms": 1.0}])
    table = ratios_at(timing, models, 64, reference="mla").set_index("attention")
    assert table.loc["gqa"].tolist() == pytest.approx([1.5, 384 / 224, 384 / 768])
    assert table.loc["mla"].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="context=16"):
        ratios_at(timing, models, 16, reference="mla")
