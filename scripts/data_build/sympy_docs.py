"""SymPy 1.11.1 documentation: HTML pages of Debian ``python-sympy-doc`` as text with LaTeX math, stem domain.

Licence: BSD-3-Clause; Copyright (c) 2006-2014 SymPy Development Team. The main article of each page is
kept, math images become their LaTeX alt text; a sample of pages by sha256 of the path.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .common import take_budget

# Byte budget (of page text) of the sample, and the largest page taken.
SYMPY_BUDGET, SYMPY_MAX_DOC = 2_200_000, 100_000

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
