"""SymPy 1.11.1 documentation: HTML pages of Debian ``python-sympy-doc`` as text with LaTeX math, stem domain.

Licence: BSD-3-Clause; Copyright (c) 2006-2014 SymPy Development Team. The main article of each page is
kept, math images become their LaTeX alt text; a sample of pages by sha256 of the path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm import tqdm

from .common import Attrs, TagStackParser, take_budget, tidy_lines

# Byte budget (of page text) of the sample, and the largest page taken.
SYMPY_BUDGET, SYMPY_MAX_DOC = 2_200_000, 100_000


class ArticleText(TagStackParser):
    """Text of a Sphinx page's ``<article role="main">``; math images become ``$alt$`` / ``$$alt$$``.

    SymPy's Sphinx build renders math as PNG images whose ``alt`` is the LaTeX source, so the math
    survives as LaTeX. Permalink anchors are dropped; ``<pre>`` keeps its whitespace.
    """

    BLOCK_TAGS = TagStackParser.BLOCK_TAGS | {"section", "tr"}  # Sphinx wraps sections; a table row is a line

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.display_math = 0  # open <div class="math">: the images in it are display math

    def opens_root(self, tag: str, attrs: Attrs) -> bool:
        return tag == "article" and attrs.get("role") == "main"

    def emit(self, text: str) -> None:
        self.parts.append(text)

    def role(self, tag: str, attrs: Attrs) -> str:
        classes = self.classes(attrs)
        if classes & {"headerlink", "viewcode-link"}:  # permalink and [source] anchors
            return "skip"
        return "math" if tag == "div" and "math" in classes else ""

    def start(self, tag: str, role: str, attrs: Attrs) -> None:
        self.display_math += role == "math"

    def end(self, tag: str, role: str) -> None:
        self.display_math -= role == "math"

    def void(self, tag: str, attrs: Attrs) -> None:
        alt = attrs.get("alt")
        if tag == "img" and alt and ("math" in self.classes(attrs) or self.display_math):
            self.emit(f"\n$${alt.strip()}$$\n" if self.display_math else f"${alt.strip()}$")
        else:
            super().void(tag, attrs)

    def text(self) -> str:
        return tidy_lines("".join(self.parts).split("\n"))


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
