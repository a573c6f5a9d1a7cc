"""Pure functions of scripts/build_data_samples.py and its parsers in scripts/data_build/: untagging,
detokenising, splits, call parsing, HTML sections, file selection, writing."""

from __future__ import annotations

import json
from pathlib import Path

import build_data_samples
import pytest
from data_build import bfcl, brown, common, debian_reference, numpy_source, sympy_docs

from ylm.data import DOMAINS, EXTRA_CORPORA, corpus_splits

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_untag_keeps_slashes_inside_words():
    assert brown.untag("The/at") == "The"
    assert brown.untag("1/2/cd") == "1/2"
    with pytest.raises(ValueError, match="token"):
        brown.untag("notag")


def test_brown_text_reads_as_prose():
    raw = (
        "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, he/pps said/vbd ./.\n"
        "It/pps ran/vbd (/( fast/rb )/) ;/. ok/uh ?/.\n\n\n\tNew/jj paragraph/nn !/.\n"
    )
    text = brown.brown_text(raw)
    assert text == 'The jury said "no evidence", he said. It ran (fast); ok?\n\nNew paragraph!\n'
    assert "/" not in text
    # a bracket closing on the next sentence line still attaches to the previous word
    assert brown.brown_text("\tHe/pps left/vbd ./.\n)/) Then/rb\n") == "He left.) Then\n"


def test_split_heldout_is_deterministic_and_sized():
    ids = [f"src/doc{i}" for i in range(57)]
    held = common.split_heldout(ids)
    assert held == common.split_heldout(reversed(ids))  # independent of input order
    assert len(held) == round(0.1 * 57)
    assert len(common.split_heldout(ids[:5])) == 2  # at least two held out per source
    with pytest.raises(ValueError, match="ids"):
        common.split_heldout(ids[:2])


def test_take_budget_respects_budget_and_max_doc():
    items = {f"k{i}": "x" * (10 * (i + 1)) for i in range(20)}
    kept = common.take_budget(items, budget=300, max_doc=100)
    assert sum(len(v) for v in kept.values()) <= 300
    assert all(len(v) <= 100 for v in kept.values())
    assert kept == common.take_budget(dict(reversed(list(items.items()))), budget=300, max_doc=100)


def test_parse_call_keywords_positionals_and_literals():
    assert bfcl.parse_call("mv(source='a.txt', destination='b')") == {
        "name": "mv", "arguments": {"source": "a.txt", "destination": "b"}}
    parsed = bfcl.parse_call("sort('f.pdf', reverse=True)", {"sort": ["file_name", "reverse"]})
    assert parsed == {"name": "sort", "arguments": {"file_name": "f.pdf", "reverse": True}}
    assert bfcl.parse_call("f(x=[1, -2.5], y={'a': None})")["arguments"] == {"x": [1, -2.5], "y": {"a": None}}
    with pytest.raises(ValueError, match="call"):
        bfcl.parse_call("sort('f.pdf')")  # positional without a known signature
    with pytest.raises(ValueError):
        bfcl.parse_call("f(x=__import__('os'))")  # never evaluated
    with pytest.raises(ValueError, match="call"):
        bfcl.parse_call("a.b(1)")


def test_error_observations_detected():
    assert bfcl.is_error_observation("Error during execution: boom")
    assert bfcl.is_error_observation('{"error": "No such file"}')
    assert not bfcl.is_error_observation('{"result": "ok"}')
    assert not bfcl.is_error_observation("None")


def test_html_article_text_keeps_latex_and_drops_chrome():
    html = (
        "<html><body><nav>menu</nav><article role=\"main\"><h1>Title<a class=\"headerlink\" href=\"#t\">#</a></h1>"
        "<p>Let <img class=\"math\" src=\"m.png\" alt=\"x^2\"/> be.</p>"
        "<div class=\"math\"><p><img src=\"d.png\" alt=\"\\int f\"/></p></div>"
        "<pre>a  =  1\n</pre></article><footer>foot</footer></body></html>"
    )
    text = sympy_docs.html_article_text(html)
    assert "Title" in text and "#" not in text
    assert "Let $x^2$ be." in text
    assert "$$\\int f$$" in text
    assert "a  =  1" in text
    assert "menu" not in text and "foot" not in text


def test_debian_reference_sections_split_at_headings_and_drop_navigation():
    html = (
        "<html><body><div class=\"navheader\">上一页 nav</div><div class=\"chapter\">"
        "<h1 class=\"title\"><a id=\"_chap\"/>第 8 章 国际化</h1>"
        "<div class=\"toc\"><p>目录</p><dl><dt>8.1. 语言环境</dt></dl></div>"
        "<p> 一个应用软件的多语言化，通过 2 个\n步骤完成。</p>"
        "<div class=\"section\"><h2 class=\"title\"><a id=\"_locale\"/>8.1. 语言环境</h2>"
        "<div class=\"section\"><h3 class=\"title\"><a id=\"_utf8\"/>8.1.1. UTF-8</h3>"
        "<p>设置 <code class=\"literal\">LANG</code>\n变量。</p>"
        "<pre class=\"screen\"># dpkg-reconfigure  locales\n  $ echo $LANG</pre>"
        "<table><tr><th> 软件包 </th><th>大小</th></tr><tr><td><a href=\"x\"> ibus </a></td><td>1637</td></tr>"
        "</table></div></div>"
        "<div class=\"footnotes\"><p><sup>[1] </sup>脚注文字。</p></div>"
        "</div><div class=\"navfooter\">下一页 foot</div></body></html>"
    )
    sections = dict(debian_reference.chapter_sections(html))
    assert list(sections) == ["_chap", "_locale", "footnotes"]  # the heading-only 8.1 is folded into 8.1.1
    assert sections["_chap"] == "第 8 章 国际化\n\n一个应用软件的多语言化，通过 2 个步骤完成。\n"
    locale = sections["_locale"]
    assert locale.startswith("8.1. 语言环境\n\n8.1.1. UTF-8\n")
    assert "设置 LANG 变量。" in locale  # a line break between CJK characters is no space, else one space
    assert "# dpkg-reconfigure  locales\n  $ echo $LANG\n" in locale  # <pre> keeps its whitespace
    assert "软件包\t大小\nibus\t1637\n" in locale
    assert sections["footnotes"] == "[1] 脚注文字。\n"
    assert not any(word in "".join(sections.values()) for word in ("nav", "foot", "目录", "上一页", "下一页"))


@pytest.mark.parametrize("rel, keep", [
    ("lib/npyio.py", True), ("_core/numeric.py", True), ("f2py/crackfortran.py", True),
    ("matrixlib/defmatrix.py", True),
    ("lib/tests/test_io.py", False), ("_core/tests/examples/cython/setup.py", False), ("conftest.py", False),
    ("ma/core.py", False), ("random/_pickle.py", False), ("_utils/_pep440.py", False),
    ("__config__.py", False), ("distutils/ccompiler.py", False),
])
def test_numpy_keeps_only_its_own_non_test_files(rel: str, keep: bool):
    assert numpy_source.is_numpy_keeper(Path(rel)) is keep


def _docs() -> list[dict]:
    docs = []
    for key, spec in build_data_samples.SOURCES.items():
        for i in range(12):
            docs.append({"id": f"{key}/d{i}", "source": key, "text": f"{key} text {i}\n"})
        del spec
    return docs


def test_write_outputs_splits_by_document_and_is_reproducible(tmp_path: Path):
    packages = {k: f"pkg-{k}" for k in build_data_samples.SOURCES}
    m1 = build_data_samples.write_outputs(tmp_path / "a", _docs(), packages)
    m2 = build_data_samples.write_outputs(tmp_path / "b", list(reversed(_docs())), packages)
    for name in ["MANIFEST.json", "NOTICE"] + [f["path"] for f in m1["files"]]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert m1 == m2
    seen: set[str] = set()
    for f in m1["files"]:
        path = tmp_path / "a" / f["path"]
        assert common.sha256_hex(path.read_bytes()) == f["sha256"]
        assert path.stat().st_size == f["bytes"]
        ids = [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]
        assert ids == sorted(ids) and len(ids) == f["documents"]
        assert not seen & set(ids)  # a document lives in exactly one file
        seen |= set(ids)
    assert len(seen) == len(_docs())
    assert sum(s["documents"] for s in m1["sources"]) == len(_docs())
    notice = (tmp_path / "a" / "NOTICE").read_text(encoding="utf-8")
    assert all(f"pkg-{k}" in notice for k in build_data_samples.SOURCES)


def test_write_outputs_holds_out_every_document_of_a_heldout_only_corpus(tmp_path: Path):
    manifest = build_data_samples.write_outputs(tmp_path, _docs(), {k: "p" for k in build_data_samples.SOURCES})
    files = {f["path"]: f for f in manifest["files"]}
    assert "numpy/train.jsonl" not in files and not (tmp_path / "numpy" / "train.jsonl").exists()
    assert files["numpy/heldout.jsonl"]["documents"] == 12
    assert files["chinese/train.jsonl"]["documents"] == 10 and files["chinese/heldout.jsonl"]["documents"] == 2
    assert {f["domain"] for f in manifest["files"]} == set(DOMAINS + EXTRA_CORPORA)


def test_write_outputs_rejects_duplicate_ids(tmp_path: Path):
    docs = _docs()
    docs.append(dict(docs[0]))
    with pytest.raises(ValueError, match="duplicate"):
        build_data_samples.write_outputs(tmp_path, docs, {k: "p" for k in build_data_samples.SOURCES})


def test_committed_manifest_matches_files():
    data = REPO_ROOT / "data_samples"
    manifest = json.loads((data / "MANIFEST.json").read_text(encoding="utf-8"))
    assert {(f["domain"], f["split"]) for f in manifest["files"]} == {
        (d, s) for d in DOMAINS + EXTRA_CORPORA for s in corpus_splits(d)}
    for f in manifest["files"]:
        assert common.sha256_hex((data / f["path"]).read_bytes()) == f["sha256"], f["path"]
    assert sum(f["bytes"] for f in manifest["files"]) < 25 * 2**20


def test_input_differences_name_the_source_whose_version_changed() -> None:
    committed = {"sources": [{"key": "cpython-stdlib", "package": "python 3.11.7"}, {"key": "bfcl", "package": "x"}]}
    fresh = {"sources": [{"key": "cpython-stdlib", "package": "python 3.11.9"}, {"key": "bfcl", "package": "x"}]}
    differences = build_data_samples.input_differences(committed, fresh)
    assert len(differences) == 1 and "cpython-stdlib" in differences[0] and "3.11.9" in differences[0]
    assert build_data_samples.input_differences(committed, committed) == []
