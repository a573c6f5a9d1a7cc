"""Parity with transformers' YoutuForCausalLM (pinned transformers==5.24.0): same weights, same logits."""

from __future__ import annotations

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")
from transformers import YoutuConfig, YoutuForCausalLM  # noqa: E402

from ylm.model.causal_lm import CausalLM  # noqa: E402
from ylm.model.hf import from_hf, load_hf, save_hf, to_hf  # noqa: E402

TINY = dict(vocab_size=97, hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=4, q_lora_rank=24, kv_lora_rank=20, qk_nope_head_dim=12, qk_rope_head_dim=8,
            v_head_dim=10, max_position_embeddings=128, bos_token_id=1, eos_token_id=2, pad_token_id=2,
            rope_parameters={"rope_type": "default", "rope_theta": 1_600_000.0})
VARIANTS = {
    "default": {},
    "q_lora_none": {"q_lora_rank": None},
    "rope_half_split": {"rope_interleave": False},
    "rope_interleave": {"rope_interleave": True, "rope_parameters": {"rope_type": "default", "rope_theta": 500.0}},
    "yarn_mscale": {"rope_parameters": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "mscale": 1.0,
                                        "mscale_all_dim": 0.7, "original_max_position_embeddings": 32}},
    "untied_bias": {"tie_word_embeddings": False, "attention_bias": True},
}
ATOL = 2e-5  # fp32; measured max |diff|: 0 for naive, ~5e-6 for absorbed (logits of size ~10)


def _pair(name: str) -> tuple[YoutuForCausalLM, CausalLM]:
    torch.manual_seed(0)
    hf_cfg = YoutuConfig(**{**TINY, **VARIANTS[name]})
    hf = YoutuForCausalLM(hf_cfg).eval()
    with torch.no_grad():  # move biases off zero so they are exercised too
        for n, p in hf.named_parameters():
            if n.endswith("bias"):
                p.normal_(0, 0.1)
    ours = CausalLM(from_hf(hf_cfg.to_dict())).eval()
    ours.load_state_dict(hf.state_dict())  # strict: names and shapes must match exactly
    return hf, ours


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("impl", ["naive", "absorbed"])
def test_logits_match_transformers(name, impl):
    hf, ours = _pair(name)
    ours.set_attn_impl(impl)
    ids = torch.randint(0, TINY["vocab_size"], (2, 33))
    with torch.no_grad():
        ref, out = hf(ids).logits, ours(ids)
    assert out.shape == ref.shape
    assert (out - ref).abs().max().item() <= ATOL


def test_state_dict_names_and_shapes_are_transformers():
    hf, ours = _pair("default")
    ref = {k: tuple(v.shape) for k, v in hf.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert got == ref


@pytest.mark.parametrize("impl", ["naive", "absorbed"])
def test_greedy_generation_matches_transformers(impl):
    hf, ours = _pair("default")
    ours.set_attn_impl(impl)
    prompt = torch.randint(3, TINY["vocab_size"], (1, 6))
    with torch.no_grad():
        ref = hf.generate(prompt, max_new_tokens=10, do_sample=False, min_new_tokens=10)
    assert torch.equal(ours.generate(prompt, max_new_tokens=10), ref)


@pytest.mark.parametrize("name", ["default", "q_lora_none", "untied_bias"])
def test_save_hf_loads_in_transformers_and_back(name, tmp_path):
    _, ours = _pair(name)
    save_hf(ours, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"config.json", "model.safetensors"}
    hf = YoutuForCausalLM.from_pretrained(tmp_path).eval()
    back = load_hf(tmp_path, attn_impl="naive")
    ids = torch.randint(0, TINY["vocab_size"], (2, 17))
    with torch.no_grad():
        ref = ours(ids)
        assert (hf(ids).logits - ref).abs().max().item() <= ATOL
        assert torch.equal(back(ids), ours.set_attn_impl("naive")(ids))
    assert json.loads(json.dumps(to_hf(back.config))) == json.loads(json.dumps(to_hf(ours.config)))


def test_config_round_trips_through_youtu_config():
    hf_cfg = YoutuConfig(**{**TINY, **VARIANTS["yarn_mscale"], "q_lora_rank": None})
    d = hf_cfg.to_dict()
    again = YoutuConfig(**to_hf(from_hf(d))).to_dict()
    assert again == d
    assert to_hf(from_hf(YoutuConfig().to_dict()))["q_lora_rank"] == 1536


def test_legacy_config_json_is_read():
    legacy = {**{k: v for k, v in TINY.items() if k != "rope_parameters"}, "model_type": "youtu_llm",
              "rope_theta": 1_600_000, "rope_scaling": {"type": "yarn", "factor": 1.0, "mscale_all_dim": 0}}
    cfg = from_hf(legacy)
    assert cfg.rope_theta == 1_600_000 and cfg.rope_scaling["rope_type"] == "yarn"
    with pytest.raises(ValueError, match="model_type"):
        from_hf({**legacy, "model_type": "llama"})


def test_load_hf_reads_sharded_checkpoints_with_a_repeated_tied_head(tmp_path):
    # Youtu-LLM-2B-Base ships the tied embedding twice; big downloads come as shards plus an index.
    from safetensors.torch import load_file, save_file

    _, ours = _pair("default")
    save_hf(ours, tmp_path)
    state = load_file(str(tmp_path / "model.safetensors"))
    state["lm_head.weight"] = state["model.embed_tokens.weight"].clone()
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2],
              "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    for file, keys in shards.items():
        save_file({k: state[k] for k in keys}, str(tmp_path / file))
    (tmp_path / "model.safetensors").unlink()
    index = {"metadata": {}, "weight_map": {k: f for f, ks in shards.items() for k in ks}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    back = load_hf(tmp_path, dtype=torch.float64)
    assert back.model.embed_tokens.weight.dtype == torch.float64
    assert back.lm_head.weight is back.model.embed_tokens.weight
    ids = torch.randint(0, TINY["vocab_size"], (1, 9))
    with torch.no_grad():
        assert (back(ids).float() - ours(ids)).abs().max().item() <= ATOL
    (tmp_path / "model.safetensors.index.json").unlink()
    with pytest.raises(ValueError, match="model.safetensors"):
        load_hf(tmp_path)


@pytest.mark.parametrize("name", ["default", "yarn_mscale"])
def test_bf16_rope_tables_match_from_pretrained(name, tmp_path):
    # transformers builds its RoPE tables in fp32 under from_pretrained(dtype=bf16); ours stay fp32 through
    # .to(bf16), so both roads rotate by the same angles even at position 10^5.
    _, ours = _pair(name)
    save_hf(ours, tmp_path / "ckpt")
    hf = YoutuForCausalLM.from_pretrained(tmp_path / "ckpt", dtype=torch.bfloat16)
    ours = ours.to(torch.bfloat16)
    assert torch.equal(ours.model.rotary_emb.inv_freq, hf.model.rotary_emb.inv_freq)
    positions = torch.arange(0, 100_000, 997)
    cos, sin = ours.model.rotary_emb(positions)
    ref_cos, ref_sin = hf.model.rotary_emb(torch.zeros(1, dtype=torch.float32), positions[None])
    half = cos.shape[-1]
    assert torch.allclose(cos, ref_cos[0, :, :half], atol=1e-6)
    assert torch.allclose(sin, ref_sin[0, :, :half], atol=1e-6)
