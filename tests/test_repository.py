"""Repository hygiene that the licences require: the Llama 3 tokenizer is fetched, never committed."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from ylm.paths import tokenizer_cache_dir

REPO_ROOT = Path(__file__).resolve().parents[1]


def _tracked_files() -> list[str]:
    try:
        result = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in result.stdout.decode().split("\0") if name]


def test_no_reference_tokenizer_file_is_committed() -> None:
    fetched = sorted(tokenizer_cache_dir().glob("*/tokenizer.json"))
    if not fetched:
        pytest.skip("reference tokenizers not fetched; run `make setup`")
    forbidden = {hashlib.sha256(path.read_bytes()).hexdigest() for path in fetched}
    sizes = {path.stat().st_size for path in fetched}
    for name in _tracked_files():
        path = REPO_ROOT / name
        if path.is_file() and path.stat().st_size in sizes:
            assert hashlib.sha256(path.read_bytes()).hexdigest() not in forbidden, f"{name} is a reference tokenizer"


def test_fetched_files_are_ignored_by_git() -> None:
    tracked = _tracked_files()
    assert not any(name.startswith((".cache/", ".venv/")) for name in tracked)
