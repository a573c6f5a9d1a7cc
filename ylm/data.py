"""The kit's small real corpora, by curriculum domain and split.

``data_samples/`` holds four domains, the ones the paper's curriculum mixes (general prose,
STEM/math, code, agent/tool use), each split *by document* into ``train`` and ``heldout``::

    data_samples/<domain>/<split>.jsonl      one JSON document per line: {"id", "source", "text", ...}
    data_samples/MANIFEST.json               per file: documents, bytes, characters, sha256; per source: licence
    data_samples/NOTICE                      attributions

Two more corpora lie outside the curriculum (``EXTRA_CORPORA``; nothing mixes them into training) for the
tokenizer experiments: ``chinese`` (Simplified-Chinese prose, ``train`` and ``heldout``) and ``numpy``
(Python source of a project the kit never trains on, ``heldout`` only). The loaders take their names in
place of a domain; ``DOMAINS`` stays the four curriculum domains.

Agent documents also carry ``"trajectory"``: the structured record (tools, user turns, tool calls and the
real observations from executing them) that ``text`` is a plain transcript of.
``scripts/build_data_samples.py`` regenerates every file from registry packages. ``ylm.paths.data_dir()``
(``YLM_DATA_DIR``) says where the folder is; every loader also takes a ``data_dir`` argument.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ylm.checks import check_int, check_rate
from ylm.paths import data_dir as default_data_dir

DOMAINS: tuple[str, ...] = ("general", "stem", "code", "agent")
# Corpora outside the curriculum, used by the tokenizer experiments (never mixed into training).
EXTRA_CORPORA: tuple[str, ...] = ("chinese", "numpy")
SPLITS: tuple[str, ...] = ("train", "heldout")
HELDOUT_ONLY: tuple[str, ...] = ("numpy",)  # corpora without a train split: nothing trains on them
MANIFEST_NAME = "MANIFEST.json"


def _check_name(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {field} {value!r}; valid {field}s are: {', '.join(allowed)}")


def corpus_splits(domain: str) -> tuple[str, ...]:
    """The splits of one domain or extra corpus: ``("heldout",)`` for those in HELDOUT_ONLY, else SPLITS."""
    _check_name("domain", domain, DOMAINS + EXTRA_CORPORA)
    return ("heldout",) if domain in HELDOUT_ONLY else SPLITS


def domain_path(domain: str, split: str, data_dir: Path | None = None) -> Path:
    """Path of one domain/split file, for a name of DOMAINS or EXTRA_CORPORA; ``ValueError`` listing the
    valid names for unknown ones, and the valid splits for a split the corpus does not have."""
    splits = corpus_splits(domain)
    _check_name("split", split, SPLITS)
    if split not in splits:
        raise ValueError(f"split {split!r} does not exist for domain {domain!r}; "
                         f"valid splits of {domain!r} are: {', '.join(splits)}")
    return (data_dir or default_data_dir()) / domain / f"{split}.jsonl"


def iter_documents(domain: str, split: str = "train", data_dir: Path | None = None) -> Iterator[dict[str, Any]]:
    """Yield the documents of one domain (or extra corpus) and split, in file order."""
    path = domain_path(domain, split, data_dir)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; regenerate data_samples/ with `make data`")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield _document(line, path, number)


def _document(line: str, path: Path, number: int) -> dict[str, Any]:
    """One JSONL line as a document; a ValueError naming the file and line when it is not one."""
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{number}: not valid JSON ({error.msg})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
        raise ValueError(f"{path}:{number}: a document must be a JSON object with a string 'text'")
    return doc


def load_documents(domain: str, split: str = "train", data_dir: Path | None = None) -> list[dict[str, Any]]:
    """All documents of one domain and split as a list of dicts."""
    return list(iter_documents(domain, split, data_dir))


def load_texts(domain: str, split: str = "train", data_dir: Path | None = None) -> list[str]:
    """Just the ``text`` of each document of one domain and split."""
    return [doc["text"] for doc in iter_documents(domain, split, data_dir)]


def document_stats(data_dir: Path | None = None) -> list[dict[str, Any]]:
    """One row per document of every domain and split (in DOMAINS, SPLITS, file order): domain, split,
    source, id, UTF-8 bytes and characters of its ``text``."""
    return [{"domain": domain, "split": split, "source": doc["source"], "id": doc["id"],
             "bytes": len(doc["text"].encode("utf-8")), "characters": len(doc["text"])}
            for domain in DOMAINS for split in SPLITS for doc in iter_documents(domain, split, data_dir)]


def passes_over_train(shares: dict[str, float], budget_bytes: int, data_dir: Path | None = None) -> dict[str, float]:
    """How many times a stage of ``budget_bytes`` reads each domain's ``train`` split when domain d takes the
    share ``shares[d]`` of it: ``shares[d] * budget_bytes / train_bytes(d)``. Above 1 the domain repeats."""
    for domain, share in shares.items():
        _check_name("domain", domain, DOMAINS)
        check_rate(f"shares[{domain!r}]", share)
    check_int("budget_bytes", budget_bytes)
    train_bytes = {d: sum(len(t.encode("utf-8")) for t in load_texts(d, "train", data_dir)) for d in shares}
    return {d: shares[d] * budget_bytes / train_bytes[d] for d in shares}


def load_manifest(data_dir: Path | None = None) -> dict[str, Any]:
    """The parsed ``MANIFEST.json``."""
    return json.loads(((data_dir or default_data_dir()) / MANIFEST_NAME).read_text(encoding="utf-8"))


def sha256_text(text: str) -> str:
    """Hex sha256 of a text's UTF-8 bytes: the content hash held-out checks compare."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
