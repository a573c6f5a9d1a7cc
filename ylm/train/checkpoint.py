"""Training checkpoints: one directory per saved step, written whole or not at all, enough to resume exactly.

    <root>/step-00000040/
        config.json, model.safetensors   the model as ``ylm.model.hf.save_hf`` writes it, so ``load_hf`` and
                                         transformers read a training checkpoint as a plain model
        trainer.safetensors              the optimizer state's tensors (AdamW: step, exp_avg, exp_avg_sq per
                                         parameter) and the torch RNG states (CPU, and the CUDA device trained on)
        trainer.json                     what the trainer passes (step, tokens, sampler state, curriculum,
                                         config), the optimizer's param groups, the Python and NumPy RNG states

A resumed run repeats the uninterrupted one bit for bit (CPU, fp32) because everything the next step reads is
restored: weights, optimizer moments and step counts, the sampler's position and every RNG stream; the LR is
not state at all but a function of the token count. Each directory is written through
``ylm.model.hf.atomic_directory`` (into a hidden sibling, ``config.json`` last, then renamed into place), so a
run killed mid-save leaves the earlier checkpoints as they were and nothing that reads as complete.
``prune_checkpoints`` keeps the newest K and deletes the rest, with whatever killed saves left.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ylm.checks import check_int
from ylm.model.causal_lm import CausalLM
from ylm.model.hf import atomic_directory, load_hf, remove_directory, resolve_directory, write_hf_files

TENSORS_FILE, STATE_FILE = "trainer.safetensors", "trainer.json"
# a checkpoint folder, or the hidden sibling a killed save of one left (hf's ".step-N.tmp-{pid}-{hex}")
_STEP_NAME = re.compile(r"\.?(step-(\d+))(?:\.(?:tmp|old)-[\w-]+)?")


def checkpoint_dir(root: str | Path, step: int) -> Path:
    """``root/step-00000040``: zero-padded, so names sort by step."""
    return Path(root) / f"step-{step:08d}"


def checkpoint_step(path: str | Path) -> int:
    """The step a checkpoint folder's name says (``step-00000040`` -> 40)."""
    return int(Path(path).name.removeprefix("step-"))


# ---- saving ------------------------------------------------------------------------------------------
def save_checkpoint(directory: str | Path, model: CausalLM, optimizer: torch.optim.Optimizer,
                    state: dict[str, Any]) -> Path:
    """Write ``model``, ``optimizer``, the RNG states and the JSON-able trainer ``state`` into ``directory``
    (atomically, module docstring); returns the directory."""
    device = model.model.embed_tokens.weight.device
    optimizer_tensors, groups = _optimizer_tensors(optimizer)
    rng_tensors, rng_lists = _capture_rng(device)
    record = {**state, "optimizer_param_groups": groups, "rng": rng_lists}
    with atomic_directory(directory) as new:
        save_file({**optimizer_tensors, **rng_tensors}, str(new / TENSORS_FILE))
        (new / STATE_FILE).write_text(json.dumps(record, indent=1) + "\n")
        write_hf_files(model, new)  # last: it fsyncs the folder and writes config.json, the completeness mark
    return Path(directory)


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """``optimizer.{param index}.{name}`` -> tensor (AdamW's state is all tensors), and the param groups."""
    saved = optimizer.state_dict()
    tensors = {f"optimizer.{index}.{name}": value.detach().cpu().contiguous()
               for index, entry in saved["state"].items() for name, value in entry.items()}
    return tensors, saved["param_groups"]


def _capture_rng(device: torch.device) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    tensors = {"rng.torch": torch.get_rng_state()}
    if device.type == "cuda":  # only the device trained on: reading all would start a context on every GPU
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    lists = {"python": [version, list(internal), gauss],
             "numpy": [kind, keys.tolist(), int(position), int(has_gauss), float(cached)]}
    return tensors, lists


# ---- loading -----------------------------------------------------------------------------------------
def load_checkpoint(directory: str | Path, model: CausalLM, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Load a checkpoint's weights into ``model`` and its state into ``optimizer`` (both as built for
    training, on their device); return the trainer state, its RNG states under ``"rng"`` (``restore_rng``).

    The model takes the checkpoint's config, which may differ from its own only in ``rope_theta`` (a stage
    can change it); any other difference is a ValueError naming the fields. No checkpoint: FileNotFoundError."""
    found = resolve_directory(directory)
    if found is None:
        raise FileNotFoundError(f"directory={str(directory)!r}: no such checkpoint")
    _load_model(found, model)
    state = json.loads((found / STATE_FILE).read_text())
    tensors = load_file(str(found / TENSORS_FILE))
    optimizer.load_state_dict(_optimizer_state(tensors, state.pop("optimizer_param_groups")))
    state["rng"].update({name.removeprefix("rng."): t for name, t in tensors.items() if name.startswith("rng.")})
    return state


def _load_model(found: Path, model: CausalLM) -> None:
    loaded = load_hf(found, attn_impl=model.config.attn_impl)
    differ = [f.name for f in dataclasses.fields(model.config) if f.name != "rope_theta"
              and getattr(loaded.config, f.name) != getattr(model.config, f.name)]
    if differ:
        raise ValueError(f"{found}: written for another model: config fields {differ} differ from the model's")
    model.load_state_dict(loaded.state_dict())
    model.config = loaded.config
    model.model.rotary_emb = loaded.model.rotary_emb.to(model.model.embed_tokens.weight.device)


def _optimizer_state(tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]]) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    # JSON turned tuples (AdamW's betas) into lists; "params" is a list of indices by right
    groups = [{k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in g.items()} for g in groups]
    return {"state": state, "param_groups": groups}


def restore_rng(rng: dict[str, Any], device: torch.device) -> None:
    """Set the Python, NumPy, torch CPU (and, on CUDA, the device's) RNG states to a checkpoint's."""
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
    torch.set_rng_state(rng["torch"])
    if device.type == "cuda" and "cuda" in rng:
        torch.cuda.set_rng_state(rng["cuda"], device)


# ---- the folder of checkpoints ---------------------------------------------------------------------------
def _step_names(root: Path) -> set[tuple[int, str]]:
    """(step, name) of every checkpoint folder under ``root`` and of every one a killed save left traces of."""
    if not root.is_dir():
        return set()
    return {(int(m[2]), m[1]) for m in map(_STEP_NAME.fullmatch, (p.name for p in root.iterdir())) if m}


def list_checkpoints(root: str | Path) -> list[Path]:
    """The complete checkpoints under ``root``, oldest first."""
    root = Path(root)
    return [root / name for _, name in sorted(_step_names(root)) if resolve_directory(root / name) is not None]


def latest_checkpoint(root: str | Path) -> Path | None:
    found = list_checkpoints(root)
    return found[-1] if found else None


def prune_checkpoints(root: str | Path, keep: int) -> None:
    """Keep the ``keep`` newest complete checkpoints under ``root``; delete every other one and whatever
    killed saves left behind."""
    check_int("keep", keep)
    root = Path(root)
    kept = set(list_checkpoints(root)[-keep:])
    for _, name in _step_names(root):
        if root / name not in kept:
            remove_directory(root / name)
