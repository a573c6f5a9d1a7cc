"""Debian Reference, Simplified-Chinese translation: HTML chapters of Debian ``debian-reference-zh-cn``,
the ``chinese`` corpus (outside the curriculum domains; used by the tokenizer experiments).

Licence: GPL-2+; Copyright 2007-2013 Osamu Aoki (the package's copyright file, which says that all
contributors, translators included, were asked to license their work under the same terms). The ``.deb``
is fetched with ``apt-get download`` and unpacked with ``dpkg-deb -x``, never installed. One document per
section: each ``<h1>``/``<h2>``/``<h3>`` heading of a chapter starts a document, a section whose text is
only its heading is folded into the next one, and the chapter's footnotes are one more document.
Navigation and the tables of contents are dropped, code blocks (``<pre>``) keep their whitespace, table
cells are joined by tabs. Every section is kept: the whole book is about 0.5 MB of text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .common import Attrs, TagStackParser, tidy_lines

DEBREF_PKG, DEBREF_VERSION = "debian-reference-zh-cn", "2.100"
DEBREF_HTML = Path("usr/share/debian-reference")  # inside the unpacked .deb
SOURCE = "debian-reference-zh-cn"

_TOP_CLASSES = {"chapter", "preface", "appendix"}
_SKIP_CLASSES = {"toc", "navheader", "navfooter"}
_SECTION_HEADINGS = {"h1", "h2", "h3"}
_CELL_TAGS = {"td", "th"}
_CELL = "\x00"  # table-cell separator while parsing; tabs in the output
# A line break between two CJK characters is no space (the source wraps lines mid-sentence).
_CJK = r"\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_BREAK = re.compile(rf"(?<=[{_CJK}])[ \t]*\n\s*(?=[{_CJK}])")


class SectionText(TagStackParser):
    """Text of a DocBook XSL chapter page, cut into sections at its ``h1``-``h3`` headings.

    ``sections`` is a list of ``[anchor, parts]``; the anchor is the ``id`` of the ``<a>`` opening the
    heading (``footnotes`` for the chapter's footnotes block).
    """

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[list[Any]] = []
        self.want_anchor = False  # a section heading just opened; its <a id> names the section

    def opens_root(self, tag: str, attrs: Attrs) -> bool:
        return tag == "div" and bool(self.classes(attrs) & _TOP_CLASSES)

    def emit(self, text: str) -> None:
        if self.sections:  # text before the first heading is part of no section
            self.sections[-1][1].append(text)

    def role(self, tag: str, attrs: Attrs) -> str:
        return "skip" if tag == "div" and self.classes(attrs) & _SKIP_CLASSES else ""  # navigation, tables of contents

    def start(self, tag: str, role: str, attrs: Attrs) -> None:
        if tag in _SECTION_HEADINGS:
            self.sections.append(["", []])
            self.want_anchor = True
        elif tag == "div" and "footnotes" in self.classes(attrs):
            self.sections.append(["footnotes", []])
        elif tag == "a" and self.want_anchor and attrs.get("id"):
            self.sections[-1][0] = attrs["id"]
            self.want_anchor = False
        if tag == "tr":  # a table row is one line: "\n" before it, none after
            self.emit("\n")
        elif tag in _CELL_TAGS:
            self.emit(_CELL)

    def end(self, tag: str, role: str) -> None:
        if tag in _SECTION_HEADINGS:
            self.want_anchor = False  # no <a id> inside the heading: the section stays unnamed
        elif tag in _CELL_TAGS:
            self.emit(_CELL)

    def flow_text(self, data: str) -> str:
        data = super().flow_text(_CJK_BREAK.sub("", data))
        return data.lstrip() if self._at_line_start() else data

    def _at_line_start(self) -> bool:
        parts = self.sections[-1][1] if self.sections else []
        return not parts or parts[-1].endswith(("\n", _CELL))


def section_text(parts: list[str]) -> str:
    """Joined parts with cells as tabs, lines right-stripped and at most one blank line in a row."""
    lines = []
    for line in "".join(parts).split("\n"):
        if _CELL in line:  # a table row: cells between separators, empty cells dropped
            line = "\t".join(c.strip() for c in line.split(_CELL) if c.strip())
        lines.append(line)
    return tidy_lines(lines)


def chapter_sections(html: str) -> list[tuple[str, str]]:
    """(anchor, text) per section of one chapter page; a heading-only section is folded into the next."""
    parser = SectionText()
    parser.feed(html)
    parser.close()
    out: list[tuple[str, str]] = []
    pending: tuple[str, str] | None = None  # a section that so far is just its heading
    for anchor, parts in parser.sections:
        text = section_text(parts)
        if pending is not None:
            anchor, text = pending[0], pending[1] + "\n" + text
            pending = None
        if not text.strip():
            continue
        if "\n" not in text.strip():
            pending = (anchor, text)
            continue
        out.append((anchor, text))
    if pending is not None:
        out.append(pending)
    return out


def debian_reference_documents(root: Path) -> list[dict[str, Any]]:
    """One document per section of every chapter page under root (``ch*``, the preface, the appendix)."""
    sections = {}
    for path in tqdm(sorted(root.glob("*.zh-cn.html")), desc=SOURCE, unit="page"):
        page = path.name.removesuffix(".zh-cn.html")
        if page == "index":  # the whole book's table of contents
            continue
        for anchor, text in chapter_sections(path.read_text(encoding="utf-8")):
            if not anchor:
                raise ValueError(f"{path}: a section heading without an <a id> anchor")
            key = f"{SOURCE}/{page}/{anchor}"
            if key in sections:
                raise ValueError(f"{path}: duplicate section anchor {anchor!r}")
            sections[key] = text
    return [{"id": key, "source": SOURCE, "text": sections[key]} for key in sorted(sections)]
