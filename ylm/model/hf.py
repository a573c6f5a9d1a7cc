"""transformers interop: config renames and checkpoint directories in ``YoutuForCausalLM``'s format.

    from_hf(dict) -> ModelConfig      a ``YoutuConfig.to_dict()`` or a Youtu ``config.json`` (legacy RoPE keys too)
    to_hf(ModelConfig) -> dict        what ``transformers.YoutuConfig(**d)`` accepts (MLA models only)
    save_hf(model, dir)               ``config.json`` + ``model.safetensors``; ``YoutuForCausalLM.from_pretrained`` loads it
    load_hf(dir) -> CausalLM          ours, or a real Youtu-LLM-2B download (sharded, repeated tied head)

``CausalLM``'s parameter names are transformers' own, so the state dict needs no renaming, only the config.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from ylm.model.causal_lm import CausalLM
from ylm.model.config import ModelConfig
from ylm.model.rope import RotaryEmbedding

HF_MODEL_TYPES: tuple[str, ...] = ("youtu", "youtu_llm")


def from_hf(hf: dict[str, Any], attn_impl: str = "absorbed") -> ModelConfig:
    """Build from a transformers ``YoutuConfig.to_dict()`` or a Youtu ``config.json`` (legacy keys too)."""
    model_type = hf.get("model_type", "youtu")
    if model_type not in HF_MODEL_TYPES:
        raise ValueError(f"model_type={model_type!r}: allowed values are {HF_MODEL_TYPES}")
    names = {f.name for f in dataclasses.fields(ModelConfig)} - {"attn_kind", "attn_impl", "head_dim",
                                                          "rope_theta", "rope_scaling", "extra_hf"}
    kwargs: dict[str, Any] = {k: hf[k] for k in names if k in hf}
    # RoPE: transformers 5 nests it in rope_parameters; older configs use rope_theta + rope_scaling.
    rope = dict(hf.get("rope_parameters") or {})
    legacy = hf.get("rope_scaling") or {}
    theta = rope.pop("rope_theta", hf.get("rope_theta", 10000.0))
    rope_type = rope.get("rope_type", rope.get("type", legacy.get("rope_type", legacy.get("type", "default"))))
    scaling = {k: v for k, v in {**legacy, **rope}.items() if k not in ("type", "rope_type", "rope_theta")}
    kwargs["rope_theta"] = float(theta)
    kwargs["rope_scaling"] = None if rope_type == "default" else {"rope_type": rope_type, **scaling}
    derived = {"qk_head_dim", "head_dim", "rope_parameters", "rope_scaling", "rope_theta", "model_type",
               "transformers_version", "architectures", "dtype", "torch_dtype", "auto_map"}
    extra = {k: v for k, v in hf.items() if k not in names and k not in derived}
    return ModelConfig(attn_kind="mla", attn_impl=attn_impl, extra_hf=extra, **kwargs)

def to_hf(config: ModelConfig) -> dict[str, Any]:
    """A dict ``transformers.YoutuConfig(**d)`` accepts (only MLA models are Youtu models)."""
    if config.attn_kind != "mla":
        raise ValueError(f"attn_kind={config.attn_kind!r}: only 'mla' models export to YoutuConfig")
    names = [f.name for f in dataclasses.fields(config)
             if f.name not in ("attn_kind", "attn_impl", "head_dim", "rope_theta", "rope_scaling", "extra_hf")]
    out: dict[str, Any] = {k: getattr(config, k) for k in names}
    rope: dict[str, Any] = {"rope_theta": float(config.rope_theta), "rope_type": "default"}
    if config.rope_scaling is not None:
        rs = dict(config.rope_scaling)
        rope["rope_type"] = rs.pop("rope_type", rs.pop("type", "default"))
        rope.update(rs)
    out["rope_parameters"] = rope
    out["num_key_value_heads"] = config.num_attention_heads
    out["model_type"] = "youtu"
    for k, v in config.extra_hf.items():
        out.setdefault(k, v)
    return out


def save_hf(model: CausalLM, directory: str | Path) -> Path:
    """Write ``config.json`` + ``model.safetensors`` that ``YoutuForCausalLM.from_pretrained`` loads."""
    from safetensors.torch import save_file

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    hf = to_hf(model.config)
    dtype = model.model.embed_tokens.weight.dtype
    hf.update(architectures=["YoutuForCausalLM"], dtype=str(dtype).removeprefix("torch."))
    (out / "config.json").write_text(json.dumps(hf, indent=2, sort_keys=True) + "\n")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight")  # safetensors refuses shared storage; HF re-ties it on load
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def _read_safetensors(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    index = directory / "model.safetensors.index.json"
    if index.exists():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    elif (directory / "model.safetensors").exists():
        files = ["model.safetensors"]
    else:
        raise ValueError(f"directory={str(directory)!r}: no model.safetensors or model.safetensors.index.json")
    state: dict[str, torch.Tensor] = {}
    for name in files:
        state.update(load_file(str(directory / name)))
    return state


def load_hf(directory: str | Path, attn_impl: str = "absorbed", dtype: torch.dtype | None = None,
            device: torch.device | str = "cpu") -> CausalLM:
    """Load a transformers-format Youtu directory (ours, or a real Youtu-LLM-2B download)."""
    directory = Path(directory)
    config = from_hf(json.loads((directory / "config.json").read_text()), attn_impl=attn_impl)
    state = _read_safetensors(directory)
    if config.tie_word_embeddings:
        state.pop("lm_head.weight", None)  # some checkpoints repeat the tied matrix; the embedding wins
    # older remote-code checkpoints may carry RoPE tables; they are recomputed from the config
    state = {k: v for k, v in state.items() if not k.endswith("rotary_emb.inv_freq")}
    with torch.device("meta"):
        model = CausalLM(config)
    expected = set(model.state_dict()) - ({"lm_head.weight"} if config.tie_word_embeddings else set())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(f"checkpoint keys do not match the config: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    state = {k: v.to(device=device, dtype=dtype or v.dtype) for k, v in state.items()}
    model.load_state_dict(state, strict=False, assign=True)
    if config.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    # Non-persistent RoPE tables were built on meta: rebuild them on the real device.
    model.model.rotary_emb = RotaryEmbedding(config.rope_dim, config.rope_theta, config.rope_scaling,
                                             config.max_position_embeddings).to(device)
    return model.eval()
