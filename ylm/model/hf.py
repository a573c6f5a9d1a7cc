"""transformers interop: config renames and checkpoint directories in ``YoutuForCausalLM``'s format.

    from_hf(dict) -> ModelConfig      a ``YoutuConfig.to_dict()`` or a Youtu ``config.json`` (legacy RoPE keys too)
    to_hf(ModelConfig) -> dict        what ``transformers.YoutuConfig(**d)`` accepts (MLA models only)
    save_hf(model, dir)               ``config.json`` + ``model.safetensors``; ``YoutuForCausalLM.from_pretrained`` loads it
    load_hf(dir) -> CausalLM          ours, or a real Youtu-LLM-2B download (sharded, repeated tied head)
    atomic_directory(dir)             the same whole-directory swap for any writer that puts ``config.json`` last

``CausalLM``'s parameter names are transformers' own, so the state dict needs no renaming, only the config.

Config keys. A misspelled field would silently keep its default (``num_hidden_layer`` builds 32 layers), so a
key within a typo of a field (``difflib`` ratio >= 0.8) is an error, unless it is one of ``HF_KNOWN_KEYS``,
transformers' bookkeeping. Every other unknown key rides along in ``extra_hf`` and goes back out in ``to_hf``.

Saving is atomic: ``save_hf(model, "out")`` never writes into ``out``. It writes a whole new directory
``.out.tmp-{id}`` next to it (id = pid-random; weights, then ``config.json`` last, each fsynced), then swaps:

    rename out -> .out.old-{id};    rename .out.tmp-{id} -> out;    delete .out.old-{id}

so ``out`` is always one whole checkpoint and no shard or index of an earlier one survives. Top-level files of
the old ``out`` that are not weights or config (a tokenizer) are copied into the new one; an ``out`` holding
folders is refused, since all of it is replaced. Modes follow the umask. A save killed between the two renames
leaves no ``out``; the rule ``load_hf`` reads it by, and the next ``save_hf`` restores it by: the new
``.out.tmp-{id}`` if complete (it has ``config.json``: written last, deleted first), else the backup
``.out.old-{id}``. Each save first deletes what earlier killed saves left. One writer per directory at a time.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ylm.model.causal_lm import CausalLM
from ylm.model.config import ModelConfig
from ylm.model.rope import RotaryEmbedding

HF_MODEL_TYPES: tuple[str, ...] = ("youtu", "youtu_llm")
# Derived from other fields (or describing the file): dropped on read, recomputed by to_hf/save_hf.
HF_DERIVED_KEYS: frozenset[str] = frozenset({
    "qk_head_dim", "head_dim", "rope_parameters", "rope_scaling", "rope_theta", "model_type",
    "transformers_version", "architectures", "dtype", "torch_dtype", "auto_map",
})
# transformers' PretrainedConfig bookkeeping and the Llama-family extras a Youtu config.json carries; kept in
# extra_hf. Listed so they never read as misspellings (sep_token_id is a typo away from pad_token_id).
HF_KNOWN_KEYS: frozenset[str] = HF_DERIVED_KEYS | {
    "_name_or_path", "use_cache", "output_attentions", "output_hidden_states", "return_dict", "id2label",
    "label2id", "problem_type", "chunk_size_feed_forward", "is_encoder_decoder", "sep_token_id",
    "decoder_start_token_id", "tokenizer_class", "pretraining_tp", "attention_dropout", "mlp_bias",
}
# ModelConfig fields that are not plain transformers keys: ours alone, or (RoPE) read from rope_parameters.
_OWN_FIELDS: tuple[str, ...] = ("attn_kind", "attn_impl", "head_dim", "rope_theta", "rope_scaling",
                                 "extra_hf")
# What a save replaces in an existing directory; every other top-level file is carried over.
CHECKPOINT_FILES: tuple[str, ...] = ("config.json", "model*.safetensors", "model.safetensors.index.json",
                                     "pytorch_model*.bin", "pytorch_model.bin.index.json")


def from_hf(hf: dict[str, Any], attn_impl: str = "absorbed") -> ModelConfig:
    """Build from a transformers ``YoutuConfig.to_dict()`` or a Youtu ``config.json`` (legacy keys too)."""
    if not isinstance(hf, dict) or not all(isinstance(k, str) for k in hf):
        raise ValueError(f"hf of type {type(hf).__name__}: must be a dict with str keys "
                         "(a YoutuConfig.to_dict() or a parsed config.json)")
    model_type = hf.get("model_type", "youtu")
    if model_type not in HF_MODEL_TYPES:
        raise ValueError(f"model_type={model_type!r}: allowed values are {HF_MODEL_TYPES}")
    names = {f.name for f in dataclasses.fields(ModelConfig)} - set(_OWN_FIELDS)
    _check_misspellings(hf, names | {"rope_parameters", "rope_scaling", "rope_theta"})
    kwargs: dict[str, Any] = {k: hf[k] for k in names if k in hf}
    # RoPE: transformers 5 nests it in rope_parameters; older configs use rope_theta + rope_scaling.
    for key in ("rope_parameters", "rope_scaling"):
        if not isinstance(hf.get(key) or {}, dict):
            raise ValueError(f"{key}={hf[key]!r}: must be a dict or null")
    rope = dict(hf.get("rope_parameters") or {})
    legacy = hf.get("rope_scaling") or {}
    theta = rope.pop("rope_theta", hf.get("rope_theta", 10000.0))
    rope_type = rope.get("rope_type", rope.get("type", legacy.get("rope_type", legacy.get("type", "default"))))
    scaling = {k: v for k, v in {**legacy, **rope}.items() if k not in ("type", "rope_type", "rope_theta")}
    kwargs["rope_theta"] = float(theta)
    kwargs["rope_scaling"] = None if rope_type == "default" else {"rope_type": rope_type, **scaling}
    extra = {k: v for k, v in hf.items() if k not in names and k not in HF_DERIVED_KEYS}
    return ModelConfig(attn_kind="mla", attn_impl=attn_impl, extra_hf=extra, **kwargs)


def _check_misspellings(hf: dict[str, Any], fields: set[str]) -> None:
    for key in sorted(hf.keys() - fields - HF_KNOWN_KEYS):
        close = difflib.get_close_matches(key, fields, n=1, cutoff=0.8)
        if close:
            raise ValueError(f"config key {key!r} is not a field: did you mean {close[0]!r}? (as it is, "
                             f"{close[0]} would silently keep its default)")


def to_hf(config: ModelConfig) -> dict[str, Any]:
    """A dict ``transformers.YoutuConfig(**d)`` accepts (only MLA models are Youtu models)."""
    if config.attn_kind != "mla":
        raise ValueError(f"attn_kind={config.attn_kind!r}: only 'mla' models export to YoutuConfig")
    names = [f.name for f in dataclasses.fields(config) if f.name not in _OWN_FIELDS]
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


# ---- saving ------------------------------------------------------------------------------------------
def save_hf(model: CausalLM, directory: str | Path) -> Path:
    """Write ``config.json`` + ``model.safetensors`` that ``YoutuForCausalLM.from_pretrained`` loads.

    Atomic (module docstring): ``directory`` ends up holding either its old checkpoint or this one, whole."""
    if not isinstance(model, CausalLM):
        raise ValueError(f"model of type {type(model).__name__}: must be a ylm.model.causal_lm.CausalLM")
    target = _checkpoint_dir(directory)
    hf = _hf_config(model)
    with atomic_directory(target) as new:
        _write_checkpoint(model, hf, new, _carried_files(target))
    return target


@contextmanager
def atomic_directory(directory: str | Path) -> Iterator[Path]:
    """Replace ``directory`` whole, by the swap of the module docstring: yields a new empty sibling to fill,
    ``config.json`` last (its presence marks the folder complete); leaving the block swaps it in, an exception
    deletes it and leaves ``directory`` as it was. Tidies what killed saves of ``directory`` left first."""
    target = _checkpoint_dir(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    _tidy(target)
    token = f"{os.getpid()}-{secrets.token_hex(4)}"  # the pid says whose it was; 8 hex digits keep it unique
    new = _sibling(target, "tmp", token)
    try:
        new.mkdir()  # not tempfile.mkdtemp: its mode 0700 would outlive the rename; mkdir follows the umask
        yield new
        _swap(target, new, _sibling(target, "old", token))
    finally:
        if new.exists():  # the save failed before its swap: the old checkpoint stays as it was
            _remove_dir(new)


def write_hf_files(model: CausalLM, out: Path) -> None:
    """``model.safetensors`` then ``config.json`` into the folder ``out`` that ``atomic_directory`` yielded.
    Every file already in ``out`` is fsynced before ``config.json`` is written, so write other files first."""
    _write_checkpoint(model, _hf_config(model), out, [])


def resolve_directory(directory: str | Path) -> Path | None:
    """Where the directory ``atomic_directory`` wrote is now: itself or, after a save killed between its two
    renames, the sibling the module docstring's rule picks; None when there is none."""
    return _resolve(_checkpoint_dir(directory))


def remove_directory(directory: str | Path) -> None:
    """Delete ``directory`` and whatever killed saves of it left (``config.json`` first: a half-deleted folder
    never reads as complete)."""
    target = _checkpoint_dir(directory)
    _tidy(target)
    if target.exists():
        _remove_dir(target)


def _hf_config(model: CausalLM) -> dict[str, Any]:
    hf = to_hf(model.config)
    hf.update(architectures=["YoutuForCausalLM"],
              dtype=str(model.model.embed_tokens.weight.dtype).removeprefix("torch."))
    return hf


def _checkpoint_dir(directory: str | Path) -> Path:
    if not isinstance(directory, str | os.PathLike):
        raise ValueError(f"directory of type {type(directory).__name__}: must be a str or a Path")
    path = Path(directory).resolve()  # through symlinks: the swap happens next to the real directory
    if path.exists() and not path.is_dir():
        raise ValueError(f"directory={str(directory)!r}: is a file, not a checkpoint directory")
    return path


def _sibling(target: Path, kind: str, token: str) -> Path:
    return target.with_name(f".{target.name}.{kind}-{token}")


def _siblings(target: Path, kind: str) -> list[Path]:
    """The ``kind`` siblings of ``target`` earlier saves left: exactly the names ``_sibling`` makes."""
    if not target.parent.is_dir():
        return []
    name = re.compile(rf"\.{re.escape(target.name)}\.{kind}-\d+-[0-9a-f]{{8}}")
    return sorted(p for p in target.parent.iterdir() if name.fullmatch(p.name))


def _resolve(target: Path) -> Path | None:
    """Where the checkpoint named ``target`` is: ``target`` itself or, when a save was killed between its two
    renames, its new directory if complete, else the backup of the old one; None when there is none."""
    if target.exists():
        return target
    backups = _siblings(target, "old")
    if not backups:
        return None
    if len(backups) > 1:  # each save restores a missing target before it makes its own backup
        raise ValueError(f"directory={str(target)!r} is missing and has {len(backups)} backups "
                         f"{[p.name for p in backups]}: were two saves running at once?")
    new = _sibling(target, "tmp", backups[0].name.removeprefix(f".{target.name}.old-"))
    return new if (new / "config.json").exists() else backups[0]


def _tidy(target: Path) -> None:
    """Finish what killed saves of ``target`` left: restore a missing target by the rule, delete the rest."""
    found = _resolve(target)
    if found is not None and found != target:
        os.rename(found, target)
    for leftover in _siblings(target, "tmp") + _siblings(target, "old"):
        _remove_dir(leftover)


def _carried_files(target: Path) -> list[Path]:
    """Top-level files of the old checkpoint that are not weights or config (a tokenizer, a README)."""
    if not target.exists():
        return []
    entries = sorted(target.iterdir())
    folders = [p.name for p in entries if p.is_dir()]
    if folders:  # the whole directory is replaced: refuse to copy a tree the caller may not expect us to own
        raise ValueError(f"directory={str(target)!r} holds folders {folders[:5]}: save_hf replaces the whole "
                         "directory, so it only saves over a checkpoint directory (files only)")
    return [p for p in entries if not any(fnmatch.fnmatch(p.name, pat) for pat in CHECKPOINT_FILES)]


def _write_checkpoint(model: CausalLM, hf: dict[str, Any], out: Path, carried: list[Path]) -> None:
    for src in carried:
        shutil.copy2(src, out / src.name)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight")  # safetensors refuses shared storage; HF re-ties it on load
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    # safetensors creates its file 0600; give it the mode the umask gives (the new directory's, less x bits)
    os.chmod(out / "model.safetensors", stat.S_IMODE(out.stat().st_mode) & 0o666)
    for path in out.iterdir():
        _fsync(path)
    # Last, and only once the weights are on disk: a directory with config.json is complete.
    (out / "config.json").write_text(json.dumps(hf, indent=2, sort_keys=True) + "\n")
    _fsync(out / "config.json")
    _fsync(out)


def _swap(target: Path, new: Path, backup: Path) -> None:
    if target.exists():
        os.rename(target, backup)
    os.rename(new, target)
    _fsync(target.parent)  # both renames on disk before the backup, the only other copy, goes
    if backup.exists():
        _remove_dir(backup)


def _remove_dir(path: Path) -> None:
    # config.json first: a half-deleted new directory must never look complete to _resolve.
    (path / "config.json").unlink(missing_ok=True)
    shutil.rmtree(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- loading -----------------------------------------------------------------------------------------
def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:  # ValueError: bad JSON or bad UTF-8
        raise ValueError(f"{path}: not a readable JSON file ({e})") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must hold a JSON object, not {type(data).__name__}")
    return data


def _read_safetensors(directory: Path) -> dict[str, torch.Tensor]:
    index = directory / "model.safetensors.index.json"
    if index.exists():
        weight_map = _read_json(index).get("weight_map")
        if not isinstance(weight_map, dict) or not all(isinstance(f, str) for f in weight_map.values()):
            raise ValueError(f"{index}: 'weight_map' must map tensor names to file names")
        files = sorted(set(weight_map.values()))
    elif (directory / "model.safetensors").exists():
        files = ["model.safetensors"]
    else:
        raise ValueError(f"directory={str(directory)!r}: no model.safetensors or model.safetensors.index.json")
    state: dict[str, torch.Tensor] = {}
    for name in files:
        try:
            state.update(load_file(str(directory / name)))
        except (SafetensorError, OSError) as e:
            raise ValueError(f"{directory / name}: not a readable safetensors file ({e})") from e
    return state


def load_hf(directory: str | Path, attn_impl: str = "absorbed", dtype: torch.dtype | None = None,
            device: torch.device | str = "cpu") -> CausalLM:
    """Load a transformers-format Youtu directory (ours, or a real Youtu-LLM-2B download).

    A ``directory`` that a killed ``save_hf`` left missing is read from its sibling (module docstring). No such
    directory: FileNotFoundError; a file that is not valid JSON/safetensors or does not fit: ValueError naming it."""
    found = resolve_directory(directory)
    if found is None:
        raise FileNotFoundError(f"directory={str(directory)!r}: no such checkpoint directory")
    config_path = found / "config.json"
    hf = _read_json(config_path)
    try:
        config = from_hf(hf, attn_impl=attn_impl)
    except ValueError as e:
        raise ValueError(f"{config_path}: {e}") from e
    state = _read_safetensors(found)
    if config.tie_word_embeddings:
        state.pop("lm_head.weight", None)  # some checkpoints repeat the tied matrix; the embedding wins
    # older remote-code checkpoints may carry RoPE tables; they are recomputed from the config
    state = {k: v for k, v in state.items() if not k.endswith("rotary_emb.inv_freq")}
    with torch.device("meta"):
        model = CausalLM(config)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    if config.tie_word_embeddings:
        expected.pop("lm_head.weight")
    missing, unexpected = sorted(expected.keys() - state.keys()), sorted(state.keys() - expected.keys())
    misshapen = sorted(k for k in expected.keys() & state.keys() if state[k].shape != expected[k])
    if missing or unexpected or misshapen:
        raise ValueError(f"{found}: weights do not match config.json: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}, wrong shape {misshapen[:5]}")
    state = {k: v.to(device=device, dtype=dtype or v.dtype) for k, v in state.items()}
    model.load_state_dict(state, strict=False, assign=True)
    if config.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    # Non-persistent RoPE tables were built on meta: rebuild them on the real device.
    model.model.rotary_emb = RotaryEmbedding(config.rope_dim, config.rope_theta, config.rope_scaling,
                                             config.max_position_embeddings).to(device)
    return model.eval()
