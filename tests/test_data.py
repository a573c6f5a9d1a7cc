"""The committed corpora: names, splits, manifest and licences."""

from __future__ import annotations

import ast
import hashlib
import json
import re

import pytest

from ylm import data
from ylm.paths import data_dir

DATA_DIR = data_dir()

MAX_TOTAL_BYTES = 25 * 1024 * 1024
# CJK ideographs (with extension A and compatibility ideographs), CJK punctuation and full-width forms.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


@pytest.mark.parametrize("domain, split", [("poetry", "train"), ("code", "test"), ("Code", "train"),
                                           ("Chinese", "train"), ("numpy", "test")])
def test_unknown_names_raise_value_error_listing_the_valid_ones(domain: str, split: str) -> None:
    with pytest.raises(ValueError) as error:
        data.load_texts(domain, split)
    message = str(error.value)
    bad_field = "domain" if domain not in data.DOMAINS + data.EXTRA_CORPORA else "split"
    valid = data.DOMAINS + data.EXTRA_CORPORA if bad_field == "domain" else data.SPLITS
    assert f"unknown {bad_field}" in message
    assert all(name in message for name in valid)


def test_domains_stay_the_curriculum_and_the_extra_corpora_are_apart() -> None:
    assert data.DOMAINS == ("general", "stem", "code", "agent")
    assert data.EXTRA_CORPORA == ("chinese", "numpy")
    assert set(data.HELDOUT_ONLY) <= set(data.EXTRA_CORPORA)
    assert data.corpus_splits("chinese") == data.SPLITS and data.corpus_splits("numpy") == ("heldout",)


@pytest.mark.parametrize("load", [data.load_texts, data.load_documents, data.domain_path])
def test_numpy_has_no_train_split(load) -> None:
    with pytest.raises(ValueError) as error:
        load("numpy", "train")
    message = str(error.value)
    assert "split 'train'" in message and "'numpy'" in message and "valid splits" in message
    assert "heldout" in message
    assert data.load_texts("numpy", "heldout")


def test_manifest_sha256_matches_every_committed_file() -> None:
    manifest = data.load_manifest()
    assert manifest["files"], "manifest lists no files"
    for entry in manifest["files"]:
        path = DATA_DIR / entry["path"]
        assert data.sha256_file(path) == entry["sha256"], entry["path"]
        assert path.stat().st_size == entry["bytes"], entry["path"]


def test_every_domain_has_both_splits_in_the_manifest() -> None:
    listed = {(entry["domain"], entry["split"]) for entry in data.load_manifest()["files"]}
    assert listed == {(d, s) for d in data.DOMAINS + data.EXTRA_CORPORA for s in data.corpus_splits(d)}


@pytest.mark.parametrize("domain", data.DOMAINS + ("chinese",))
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


def test_chinese_train_and_heldout_share_no_text() -> None:
    def digests(split: str) -> set[str]:
        return {hashlib.sha256(text.encode("utf-8")).hexdigest() for text in data.load_texts("chinese", split)}
    train, heldout = digests("train"), digests("heldout")
    assert len(train) >= 50 and len(heldout) >= 5
    assert not train & heldout


def test_chinese_documents_are_mostly_cjk() -> None:
    texts = data.load_texts("chinese", "train") + data.load_texts("chinese", "heldout")
    assert len(texts) >= 80
    assert sum(len(CJK.findall(t)) for t in texts) >= 0.3 * sum(len(t) for t in texts)
    # Every section is Chinese prose, even the ones that are mostly commands or package tables.
    assert all(len(CJK.findall(t)) >= 0.03 * len(t) for t in texts)
    assert {doc["source"] for doc in data.load_documents("chinese", "train")} == {"debian-reference-zh-cn"}


def test_numpy_documents_parse_as_python_and_are_numpy_s_own() -> None:
    documents = data.load_documents("numpy", "heldout")
    assert len(documents) >= 20
    for doc in documents:
        assert doc["source"] == "numpy" and doc["id"].startswith("numpy/") and doc["id"].endswith(".py")
        ast.parse(doc["text"], filename=doc["id"])
        parts = doc["id"].split("/")
        assert "tests" not in parts and not parts[-1].startswith("test_"), doc["id"]
        assert parts[1] not in {"ma", "random", "distutils"}, f"{doc['id']}: another licence or wheel-specific"
    assert 400_000 <= sum(len(doc["text"].encode("utf-8")) for doc in documents) <= 600_000


def test_document_counts_match_the_manifest() -> None:
    for entry in data.load_manifest()["files"]:
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


@pytest.mark.parametrize("key, domain, licence, package", [
    ("debian-reference-zh-cn", "chinese", "GPL-2+", "debian debian-reference-zh-cn 2.100"),
    ("numpy", "numpy", "BSD-3-Clause", "pypi numpy==2.4.6"),
])
def test_extra_corpora_have_their_licence_in_the_manifest_and_notice(key: str, domain: str, licence: str,
                                                                     package: str) -> None:
    sources = {source["key"]: source for source in data.load_manifest()["sources"]}
    assert sources[key]["domain"] == domain
    assert sources[key]["licence"].startswith(licence)
    assert sources[key]["package"].startswith(package)
    notice = (DATA_DIR / "NOTICE").read_text(encoding="utf-8")
    entry = notice.split(f"== {key} ({domain}) ==\n", 1)[1].split("\n\n", 1)[0]
    fields = [line.split(":", 1)[0] for line in entry.splitlines()]
    assert fields == ["Work", "Authors", "Licence", "Obtained from", "Homepage", "Changes"]
    assert f"Licence: {sources[key]['licence']}" in entry


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
    assert {r["domain"] for r in rows} == set(data.DOMAINS)  # the curriculum only, not the extra corpora
    for entry in (e for e in data.load_manifest()["files"] if e["domain"] in data.DOMAINS):
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
