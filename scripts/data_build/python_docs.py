"""Python 3.11 documentation: page sources (``.rst.txt``) of Debian ``python3.11-doc``, general domain.

Licence: PSF-2.0 (Python Software Foundation License Version 2); Copyright (c) 2001 onwards Python
Software Foundation. Pages are taken unchanged, a sample by sha256 of the path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .common import read_tree, take_budget

# Byte budget (of page text) of the sample, and the largest page taken.
PYDOCS_BUDGET, PYDOCS_MAX_DOC = 1_200_000, 80_000


def doc_pages(root: Path, source: str, budget: int | None, max_doc: int | None) -> list[dict[str, Any]]:
    pages = read_tree(root, "*.txt", lambda rel: rel.name.endswith((".rst.txt", ".md.txt")))
    if budget is not None:
        pages = take_budget(pages, budget, max_doc)
    docs = []
    for rel in tqdm(sorted(pages), desc=source, unit="doc"):
        page = re.sub(r"\.(rst|md)\.txt$", r".\1", rel)
        docs.append({"id": f"{source}/{page}", "source": source, "text": pages[rel]})
    return docs
