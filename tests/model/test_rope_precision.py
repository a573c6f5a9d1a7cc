"""RoPE frequencies and angles stay fp32 under any dtype cast of the model; device moves still apply."""

from __future__ import annotations

import math

import pytest
import torch

from ylm.model.causal_lm import CausalLM
from ylm.model.config import tiny_mla
from ylm.model.hf import load_hf, save_hf
from ylm.model.rope import RotaryEmbedding, rope_frequencies

THETA = 1_600_000.0  # Youtu-LLM-2B's: the slowest frequencies are the ones bf16 rounds worst
YARN = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64, "mscale_all_dim": 0.7}
CASTS = {
    "to_bf16": lambda m: m.to(torch.bfloat16),
    "bfloat16": lambda m: m.bfloat16(),
    "half": lambda m: m.half(),
    "to_fp16_kwarg": lambda m: m.to(dtype=torch.float16),
    "double": lambda m: m.double(),
}


def _model(**overrides) -> CausalLM:
    torch.manual_seed(0)
    return CausalLM(tiny_mla(rope_theta=THETA, qk_rope_head_dim=32, **overrides)).eval()


@pytest.mark.parametrize("cast", CASTS)
@pytest.mark.parametrize("scaling", [None, YARN], ids=["default", "yarn"])
def test_frequencies_stay_fp32_through_casts(cast, scaling):
    model = CASTS[cast](_model(rope_scaling=scaling, max_position_embeddings=256))
    inv_freq = model.model.rotary_emb.inv_freq
    assert inv_freq.dtype == torch.float32
    assert torch.equal(inv_freq, rope_frequencies(32, THETA, scaling, 256)[0])
    assert model.model.embed_tokens.weight.dtype != torch.float32  # the cast did reach the weights
    cos, sin = model.model.rotary_emb(torch.arange(4))
    assert cos.dtype == sin.dtype == torch.float32


def test_device_moves_still_apply():
    rope = RotaryEmbedding(8, THETA).to("meta", torch.bfloat16)
    assert rope.inv_freq.device.type == "meta" and rope.inv_freq.dtype == torch.float32
    if torch.cuda.is_available():
        rope = RotaryEmbedding(8, THETA).cuda().half()
        assert rope.inv_freq.is_cuda and torch.equal(rope.inv_freq.cpu(), RotaryEmbedding(8, THETA).inv_freq)


def test_angle_at_position_10000_matches_fp64():
    model = _model().to(torch.bfloat16)
    p, d = 10_000, 32
    cos, sin = (t[0].double() for t in model.model.rotary_emb(torch.tensor([p])))
    exact = torch.tensor([p * THETA ** (-2 * i / d) for i in range(d // 2)], dtype=torch.float64)
    # the angle between (cos, sin) and the exact rotation, wrapped to (-pi, pi]
    error = torch.atan2(sin * exact.cos() - cos * exact.sin(), cos * exact.cos() + sin * exact.sin())
    assert error.abs().max().item() <= 1e-3
    assert math.isclose((cos ** 2 + sin ** 2).min().item(), 1.0, rel_tol=1e-6)


def test_bf16_cast_and_bf16_load_give_identical_logits(tmp_path):
    # The same weights by two roads: cast the fp32 model, or save it and load the checkpoint as bf16.
    model = _model()
    save_hf(model, tmp_path / "ckpt")
    loaded = load_hf(tmp_path / "ckpt", dtype=torch.bfloat16)
    cast = model.to(torch.bfloat16)
    ids = torch.randint(0, 97, (2, 200))
    with torch.no_grad():
        assert torch.equal(cast(ids), loaded(ids))
