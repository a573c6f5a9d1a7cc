"""NumPy's own Python source: non-test ``.py`` files of the installed ``numpy`` package, the ``numpy`` corpus
(outside the curriculum domains, ``heldout`` only: code from a project the kit never trains on).

Licence: BSD-3-Clause; Copyright (c) 2005-2025, NumPy Developers (``LICENSE.txt`` of the dist-info). Only
files under NumPy's own licence are read: the folders and files that the wheel's licence list or their
own header put under another licence or copyright holder are excluded (``EXCLUDED``). So are the files
that differ between the wheels of one version (``WHEEL_SPECIFIC``), so that the sample depends on the numpy
version alone. Files are taken unchanged (CRLF -> LF), a sample by sha256 of the path.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .common import read_tree, take_budget

SOURCE = "numpy"
# Byte budget (of file text) of the sample, and the largest file taken.
NUMPY_BUDGET, NUMPY_MAX_DOC = 460_000, 60_000
# Paths (relative to the package) not under NumPy's own BSD-3-Clause licence text and copyright holder.
EXCLUDED: dict[str, str] = {
    "ma/": "numpy/ma/LICENSE: BSD-3-Clause, Copyright (c) 2006 University of Georgia and Pierre G.F. "
    "Gerard-Marchant",
    "random/": "numpy/random/LICENSE.md: NCSA or BSD-3-Clause, Copyright (c) 2019 Kevin Sheppard",
    "_utils/_pep440.py": "vendored from packaging: BSD-2-Clause header, Copyright (c) Donald Stufft and "
    "individual contributors",
}
# Paths whose contents depend on the wheel, not only on the numpy version.
WHEEL_SPECIFIC: dict[str, str] = {
    "__config__.py": "generated at build time, records the build machine and compilers",
    "distutils/": "deprecated, shipped only in the wheels for Python < 3.12",
}
_SKIP_DIRS = {"tests", "__pycache__"}


def numpy_package() -> tuple[Path, str]:
    """The installed numpy package folder and its exact version (importing numpy is not needed)."""
    spec = importlib.util.find_spec("numpy")
    if spec is None or spec.origin is None:
        raise RuntimeError("numpy is not installed in this environment")
    return Path(spec.origin).parent, importlib.metadata.version("numpy")


def is_numpy_keeper(rel: Path) -> bool:
    """Non-test files under NumPy's own licence."""
    posix = rel.as_posix()
    if any(posix.startswith(prefix) for prefix in (*EXCLUDED, *WHEEL_SPECIFIC)):
        return False
    if any(p in _SKIP_DIRS for p in rel.parts[:-1]):
        return False
    return not (rel.name.startswith("test_") or rel.name == "conftest.py")


def numpy_documents(root: Path) -> list[dict[str, Any]]:
    files = take_budget(read_tree(root, "*.py", is_numpy_keeper), NUMPY_BUDGET, NUMPY_MAX_DOC)
    return [{"id": f"{SOURCE}/{rel}", "source": SOURCE, "text": files[rel]}
            for rel in tqdm(sorted(files), desc=SOURCE, unit="doc")]
