"""MLA: the naive and absorbed paths compute the same function; caches reproduce a full forward."""

from __future__ import annotations

import pytest
import torch

from ylm.model.attention import MLA
from ylm.model.causal_lm import CausalLM, naive_vs_absorbed_max_diff
from ylm.model.config import tiny_gqa, tiny_mla
from ylm.model.rope import RotaryEmbedding, apply_rope, rope_frequencies

YARN = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32,
        "mscale": 1.0, "mscale_all_dim": 0.8}
MLA_CONFIGS = {
    "q_lora": {},
    "q_lora_none": {"q_lora_rank": None},
    "half_split_rope": {"rope_interleave": False},
    "yarn": {"rope_scaling": YARN, "max_position_embeddings": 128},
    "wide_latent": {"kv_lora_rank": 64, "qk_rope_head_dim": 4, "num_attention_heads": 2, "num_key_value_heads": 2,
                    "attention_bias": True, "tie_word_embeddings": False},
}


def _model(overrides: dict, seed: int = 0, dtype=torch.float64) -> CausalLM:
    torch.manual_seed(seed)
    model = CausalLM(tiny_mla(**overrides)).to(dtype)
    # Larger than the init std so attention is far from uniform and differences would show.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("name", MLA_CONFIGS)
def test_naive_equals_absorbed_prefill(name):
    model = _model(MLA_CONFIGS[name])
    ids = torch.randint(0, model.config.vocab_size, (2, 19))
    with torch.no_grad():
        naive = model.set_attn_impl("naive")(ids)
        absorbed = model.set_attn_impl("absorbed")(ids)
    assert naive.shape == (2, 19, model.config.vocab_size)
    assert torch.allclose(naive, absorbed, rtol=0, atol=1e-10), (naive - absorbed).abs().max()


@pytest.mark.parametrize("name", MLA_CONFIGS)
@pytest.mark.parametrize("impl", ["naive", "absorbed"])
def test_cached_decode_equals_full_forward(name, impl):
    model = _model(MLA_CONFIGS[name]).set_attn_impl(impl)
    ids = torch.randint(0, model.config.vocab_size, (2, 15))
    with torch.no_grad():
        full = model(ids)
        cache = model.init_cache(2, 20)
        # a multi-token prefill, a multi-token chunk at an offset (masked), then one token at a time
        pieces = [model(ids[:, :6], cache=cache), model(ids[:, 6:10], cache=cache)]
        pieces += [model(ids[:, i:i + 1], cache=cache) for i in range(10, 15)]
    assert cache.length == 15
    assert torch.allclose(torch.cat(pieces, dim=1), full, rtol=0, atol=1e-10)


def test_naive_and_absorbed_decode_token_by_token_agree():
    model = _model({"q_lora_rank": None}, seed=3)
    ids = torch.randint(0, model.config.vocab_size, (1, 12))
    assert naive_vs_absorbed_max_diff(model, ids) < 1e-10
    assert model.config.attn_impl == "absorbed"  # restored


def test_naive_vs_absorbed_check_sees_a_wrong_path(monkeypatch):
    model = _model({}, seed=1)
    ids = torch.randint(0, model.config.vocab_size, (2, 6))
    absorbed = MLA._absorbed
    monkeypatch.setattr(MLA, "_absorbed", lambda self, *args: absorbed(self, *args) * 1.001)
    assert naive_vs_absorbed_max_diff(model, ids) > 1e-6
    with pytest.raises(ValueError, match="attn_kind"):
        naive_vs_absorbed_max_diff(CausalLM(tiny_gqa()), ids)


def test_absorbed_fp32_close_to_naive():
    model = _model({}, dtype=torch.float32)
    ids = torch.randint(0, model.config.vocab_size, (2, 24))
    with torch.no_grad():
        naive = model.set_attn_impl("naive")(ids)
        absorbed = model.set_attn_impl("absorbed")(ids)
    assert torch.allclose(naive, absorbed, rtol=1e-4, atol=1e-4)


def test_absorbed_cache_holds_normalised_latent_and_roped_key():
    model = _model({}).set_attn_impl("absorbed")
    attn: MLA = model.model.layers[0].self_attn
    x = torch.randn(1, 5, model.config.hidden_size, dtype=torch.float64)
    cos, sin = model.model.rotary_emb(torch.arange(5))
    cache = model.init_cache(1, 8).layers[0]
    with torch.no_grad():
        attn(x, cos, sin, cache, 0)
        c, k = attn.kv_a_proj_with_mqa(x).split([attn.kv_lora_rank, attn.rope], dim=-1)
        expect_c = attn.kv_a_layernorm(c)
        expect_k = apply_rope(k, cos, sin, interleave=True)
    assert cache.kv.shape == (1, 8, attn.kv_lora_rank + attn.rope)
    assert torch.allclose(cache.kv[:, :5, : attn.kv_lora_rank], expect_c)
    assert torch.allclose(cache.kv[:, :5, attn.kv_lora_rank:], expect_k)
    assert torch.count_nonzero(cache.kv[:, 5:]) == 0


@pytest.mark.parametrize("kind", ["mha", "gqa", "mqa"])
def test_baseline_cached_decode_equals_full_forward(kind):
    torch.manual_seed(1)
    model = CausalLM(tiny_gqa(kind)).double()
    ids = torch.randint(0, model.config.vocab_size, (2, 11))
    with torch.no_grad():
        full = model(ids)
        cache = model.init_cache(2, 11)
        pieces = [model(ids[:, :4], cache=cache)] + [model(ids[:, i:i + 1], cache=cache) for i in range(4, 11)]
    assert cache.layers[0].k.shape[1] == model.config.num_key_value_heads
    assert torch.allclose(torch.cat(pieces, dim=1), full, rtol=0, atol=1e-10)


def test_gqa_equals_mha_with_repeated_kv_heads():
    torch.manual_seed(2)
    gqa = CausalLM(tiny_gqa("gqa")).double()
    mha = CausalLM(tiny_gqa("mha")).double()
    sd = gqa.state_dict()
    hd, group = gqa.config.baseline_head_dim, 2
    for name in list(sd):
        if name.endswith(("k_proj.weight", "v_proj.weight")):  # [H_kv*hd, D] -> each kv head twice
            sd[name] = sd[name].view(-1, hd, sd[name].shape[-1]).repeat_interleave(group, 0).reshape(-1, sd[name].shape[-1])
    mha.load_state_dict(sd)
    ids = torch.randint(0, gqa.config.vocab_size, (1, 9))
    with torch.no_grad():
        assert torch.allclose(gqa(ids), mha(ids), atol=1e-10)


def test_rope_layouts_differ_only_by_a_permutation():
    torch.manual_seed(0)
    rope = RotaryEmbedding(8, 10000.0)
    cos, sin = rope(torch.arange(6))
    x = torch.randn(3, 6, 8, dtype=torch.float64)
    perm = torch.cat((torch.arange(0, 8, 2), torch.arange(1, 8, 2)))  # interleaved pairs -> half-split
    assert torch.allclose(apply_rope(x, cos, sin, True), apply_rope(x[..., perm], cos, sin, False))
    # a rotation keeps the norm, and q.k depends only on the position difference
    assert torch.allclose(apply_rope(x, cos, sin, True).norm(dim=-1), x.norm(dim=-1))
    q, k = torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    rq = apply_rope(q.expand(6, 8), cos, sin, True)
    rk = apply_rope(k.expand(6, 8), cos, sin, True)
    assert torch.allclose((rq[3] * rk[1]).sum(), (rq[5] * rk[3]).sum())


def test_yarn_identity_block_equals_plain_rope():
    plain, f_plain = rope_frequencies(16, 1.6e6)
    ident, f_ident = rope_frequencies(16, 1.6e6, {"rope_type": "yarn", "factor": 1.0, "mscale_all_dim": 0}, 4096)
    assert torch.allclose(plain, ident) and f_plain == f_ident == 1.0
    scaled, f_scaled = rope_frequencies(16, 1e4, YARN, 128)
    assert f_scaled > 0 and not torch.allclose(scaled, rope_frequencies(16, 1e4)[0])


@pytest.mark.parametrize("t", [1, 5])
def test_latent_attention_fused_and_matmul_paths_agree(t):
    from ylm.model.attention import causal_mask, latent_attention

    torch.manual_seed(0)
    h, r, dr, s = 3, 16, 4, 11
    qq = torch.randn(2, t * h, r + dr, dtype=torch.float64)
    kv = torch.randn(2, s, r + dr, dtype=torch.float64)
    mask = causal_mask(t, s, s - t, kv.device).repeat_interleave(h, dim=0) if t > 1 else None
    fused = latent_attention(qq, kv, r, mask, fused=True)
    plain = latent_attention(qq, kv, r, mask, fused=False)
    assert fused.shape == (2, t * h, r)
    assert torch.allclose(fused, plain, atol=1e-12)
    # against the textbook formula for the first query row
    p = torch.softmax(qq[0, 0] @ kv[0].T, dim=-1) if t == 1 else None
    if p is not None:
        assert torch.allclose(fused[0, 0], p @ kv[0, :, :r], atol=1e-12)


@pytest.mark.parametrize(
    ("other", "field"),
    [
        ({"num_hidden_layers": 3}, "num_hidden_layers"),      # was IndexError / silently unused layers
        ({"num_hidden_layers": 1}, "num_hidden_layers"),
        ({"kv_lora_rank": 16}, "kv_lora_rank"),               # was a torch expand RuntimeError
        ({"qk_rope_head_dim": 4}, "qk_rope_head_dim"),
        ({"attn_impl": "naive", "v_head_dim": 6}, "v_head_dim"),
        ({"attn_impl": "naive", "qk_nope_head_dim": 6}, "qk_head_dim"),
        ({"attn_kind": "gqa", "num_key_value_heads": 2, "head_dim": 12}, "KVCache"),
    ],
)
def test_cache_of_another_model_is_rejected_up_front(other, field):
    model = CausalLM(tiny_mla(attn_impl=other.get("attn_impl", "absorbed"))).eval()
    foreign = CausalLM(tiny_mla(**other)).init_cache(1, 8)
    with pytest.raises(ValueError, match=field):
        model(torch.zeros(1, 2, dtype=torch.long), cache=foreign)
    assert foreign.length == 0


def test_cache_widths_dtype_checked_for_naive_and_baselines():
    naive = CausalLM(tiny_mla(attn_impl="naive")).eval()
    other_heads = CausalLM(tiny_mla(attn_impl="naive", num_attention_heads=2, num_key_value_heads=2)).init_cache(1, 8)
    with pytest.raises(ValueError, match="num_attention_heads"):
        naive(torch.zeros(1, 2, dtype=torch.long), cache=other_heads)
    gqa = CausalLM(tiny_gqa("gqa")).eval()
    for foreign in (CausalLM(tiny_gqa("mqa")).init_cache(1, 8), CausalLM(tiny_gqa("gqa", head_dim=6)).init_cache(1, 8)):
        with pytest.raises(ValueError, match="num_key_value_heads|head_dim"):
            gqa(torch.zeros(1, 2, dtype=torch.long), cache=foreign)
    with pytest.raises(ValueError, match="dtype"):
        naive(torch.zeros(1, 2, dtype=torch.long), cache=naive.init_cache(1, 8, dtype=torch.bfloat16))
    same = CausalLM(tiny_mla(attn_impl="naive")).init_cache(1, 8)  # an equal config's cache is fine
    assert naive(torch.zeros(1, 2, dtype=torch.long), cache=same).shape == (1, 2, 97) and same.length == 2


@pytest.mark.parametrize("start, t", [(0, 150), (37, 70), (5, 3)])
def test_block_causal_latent_attention_equals_one_masked_call(start, t):
    # the blocked training/prefill path against the single masked call it replaced, across block edges
    from ylm.model.attention import block_causal_latent_attention, causal_mask, latent_attention

    g = torch.Generator().manual_seed(start + t)
    b, h, r, d_rope = 2, 3, 10, 4
    qq = torch.randn(b, h, t, r + d_rope, generator=g, dtype=torch.float64)
    kv = torch.randn(b, start + t, r + d_rope, generator=g, dtype=torch.float64)
    rows = qq.transpose(1, 2).reshape(b, t * h, r + d_rope)                          # rows ordered (t, h)
    mask = causal_mask(t, start + t, start, kv.device).repeat_interleave(h, dim=0)
    want = latent_attention(rows, kv, r, mask, fused=False).view(b, t, h, r).transpose(1, 2)
    got = block_causal_latent_attention(qq, kv, r, start, block=64)
    assert torch.allclose(got, want, atol=1e-12)
    assert torch.allclose(block_causal_latent_attention(qq, kv, r, start, block=7), want, atol=1e-12)
    future = kv.clone()
    future[:, -1] += 1.0  # the last key: only the last query may see it
    moved = block_causal_latent_attention(qq, future, r, start)
    assert torch.equal(moved[:, :, :-1], got[:, :, :-1]) and not torch.allclose(moved[:, :, -1], got[:, :, -1])
