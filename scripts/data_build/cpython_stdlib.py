"""CPython standard library: the running interpreter's non-test ``.py`` files, code domain.

Licence: PSF-2.0 (Python Software Foundation License Version 2); Copyright (c) 2001-2023 Python Software
Foundation (LICENSE.txt of the interpreter's standard library). Files are taken unchanged (CRLF -> LF),
a sample by sha256 of the path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm import tqdm

from .common import read_tree, take_budget

# Byte budget (of file text) of the sample, and the largest file taken.
STDLIB_BUDGET, STDLIB_MAX_DOC = 2_500_000, 60_000


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
