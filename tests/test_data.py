"""The committed corpora: names, splits, manifest and licences."""

from __future__ import annotations

import json

import pytest

from ylm import data
from ylm.paths import data_dir

DATA_DIR = data_dir()

MAX_TOTAL_BYTES = 25 * 1024 * 1024


@pytest.mark.parametrize("domain, split", [("poetry", "train"), ("code", "test"), ("Code", "train")])
def test_unknown_names_raise_value_error_listing_the_valid_ones(domain: str, split: str) -> None:
    with pytest.raises(ValueError) as error:
        data.load_texts(domain, split)
    message = str(error.value)
    bad_field = "domain" if domain not in data.DOMAINS else "split"
    valid = data.DOMAINS if bad_field == "domain" else data.SPLITS
    assert f"unknown {bad_field}" in message
    assert all(name in message for name in valid)


def test_manifest_sha256_matches_every_committed_file() -> None:
    manifest = data.load_manifest()
    assert manifest["files"], "manifest lists no files"
    for entry in manifest["files"]:
        path = DATA_DIR / entry["path"]
        assert data.sha256_file(path) == entry["sha256"], entry["path"]
        assert path.stat().st_size == entry["bytes"], entry["path"]


def test_every_domain_has_both_splits_in_the_manifest() -> None:
    listed = {(entry["domain"], entry["split"]) for entry in data.load_manifest()["files"]}
    assert listed >= {(d, s) for d in data.DOMAINS for s in data.SPLITS}


@pytest.mark.parametrize("domain", data.DOMAINS)
def test_splits_are_by_document_and_disjoint(domain: str) -> None:
    train = data.load_documents(domain, "train")
    heldout = data.load_documents(domain, "heldout")
    assert train and heldout
    train_ids = {doc["id"] for doc in train}
    heldout_ids = {doc["id"] for doc in heldout}
    assert len(train_ids) == len(train) and len(heldout_ids) == len(heldout), "duplicate document ids"
    assert not train_ids & heldout_ids
    # No held-out document's text appears verbatim in train either.
    train_texts = {doc["text"] for doc in train}
    assert not any(doc["text"] in train_texts for doc in heldout)
    assert all(isinstance(doc["text"], str) and doc["text"].strip() for doc in train + heldout)


def test_document_counts_match_the_manifest() -> None:
    for entry in data.load_manifest()["files"]:
        if entry["domain"] in data.DOMAINS:
            documents = data.load_documents(entry["domain"], entry["split"])
            assert len(documents) == entry["documents"], entry["path"]


def test_every_source_has_a_licence_and_an_attribution_in_notice() -> None:
    manifest = data.load_manifest()
    notice = (DATA_DIR / "NOTICE").read_text(encoding="utf-8")
    assert manifest["sources"]
    for source in manifest["sources"]:
        assert source["licence"].strip(), source["key"]
        assert source["package"].strip(), source["key"]
        assert source["key"] in notice, f"{source['key']} has no attribution in NOTICE"


def test_data_samples_stay_small() -> None:
    total = sum(path.stat().st_size for path in DATA_DIR.rglob("*") if path.is_file())
    assert total <= MAX_TOTAL_BYTES


def test_every_data_file_is_in_a_manifest_and_every_folder_has_a_notice() -> None:
    listed = {entry["path"] for entry in data.load_manifest()["files"]}
    synthetic = json.loads((DATA_DIR / "synthetic" / "MANIFEST.json").read_text(encoding="utf-8"))
    listed |= {f"synthetic/{name}" for name in synthetic["files"]}
    for path in DATA_DIR.rglob("*.jsonl"):
        assert path.relative_to(DATA_DIR).as_posix() in listed, f"{path} is in no manifest"
    for folder in (DATA_DIR, DATA_DIR / "synthetic"):
        assert (folder / "NOTICE").is_file(), f"{folder} has no NOTICE"
    synthetic_notice = (DATA_DIR / "synthetic" / "NOTICE").read_text(encoding="utf-8")
    assert all(f"== {name} ==" in synthetic_notice for name in synthetic["files"])


def test_document_stats_agree_with_the_manifest() -> None:
    rows = data.document_stats()
    for entry in data.load_manifest()["files"]:
        mine = [r for r in rows if (r["domain"], r["split"]) == (entry["domain"], entry["split"])]
        assert len(mine) == entry["documents"], entry["path"]
        assert sum(r["characters"] for r in mine) == entry["characters"], entry["path"]
    assert all(r["bytes"] >= r["characters"] > 0 for r in rows)


def test_passes_over_train_divides_the_share_by_the_domain_size() -> None:
    stats = data.document_stats()
    agent_train = sum(r["bytes"] for r in stats if r["domain"] == "agent" and r["split"] == "train")
    passes = data.passes_over_train({"agent": 0.6, "code": 0.0}, budget_bytes=10 * agent_train)
    assert passes == {"agent": pytest.approx(6.0), "code": 0.0}
    with pytest.raises(ValueError, match="shares"):
        data.passes_over_train({"agent": 1.5}, 100)
    with pytest.raises(ValueError, match="domain"):
        data.passes_over_train({"poetry": 0.5}, 100)
