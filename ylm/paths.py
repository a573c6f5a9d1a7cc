"""Where the kit keeps things, and the notebooks' smoke switch.

Three locations, each overridable by an environment variable, so an installed ``ylm`` (no checkout around it)
can be pointed at its data and at writable folders:

    YLM_DATA_DIR      the committed corpora (``data_samples/`` of a checkout)
    YLM_CACHE_DIR     fetched reference tokenizers, trained tokenizers, smoke figures (``.cache/``, else ~/.cache/ylm)
    YLM_FIGURES_DIR   full-size figures (``figures/`` of a checkout, else ./figures)

Set ``YLM_SMOKE=1`` to run every notebook at a size that finishes in about a minute on two cores
(``make test`` does). Figures drawn in smoke mode go to ``<cache>/figures-smoke/`` so a test run never
overwrites the full-size figures committed in ``figures/``.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV, CACHE_ENV, FIGURES_ENV, SMOKE_ENV = "YLM_DATA_DIR", "YLM_CACHE_DIR", "YLM_FIGURES_DIR", "YLM_SMOKE"


def _checkout_root() -> Path | None:
    """The repository around the package, when ``ylm`` runs from a checkout (editable install or source)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "data_samples").is_dir() else None


CHECKOUT_ROOT = _checkout_root()


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a sibling temporary file and a rename: a reader, or the next run after a
    killed one, sees the old file or the new one, never half of one. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _from_env(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def is_smoke() -> bool:
    """True when ``YLM_SMOKE`` is set to a truthy value ("1", "true", "yes", "on")."""
    return os.environ.get(SMOKE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def data_dir() -> Path:
    """The corpora folder; ``FileNotFoundError`` naming ``YLM_DATA_DIR`` when there is none to find."""
    path = _from_env(DATA_ENV) or (CHECKOUT_ROOT / "data_samples" if CHECKOUT_ROOT else None)
    if path is None or not path.is_dir():
        where = f"{path} does not exist" if path else "ylm is not running from a checkout"
        raise FileNotFoundError(f"no data_samples folder: {where}. Set {DATA_ENV} to a folder holding the kit's "
                                "corpora (a checkout's data_samples/).")
    return path


def cache_dir() -> Path:
    """Writable cache: ``YLM_CACHE_DIR``, else the checkout's ``.cache/``, else ``~/.cache/ylm``."""
    return _from_env(CACHE_ENV) or (CHECKOUT_ROOT / ".cache" if CHECKOUT_ROOT else Path.home() / ".cache" / "ylm")


def tokenizer_cache_dir() -> Path:
    """Where set-up puts the fetched reference tokenizers: ``<cache>/tokenizers/<name>/tokenizer.json``."""
    return cache_dir() / "tokenizers"


def figures_dir() -> Path:
    """Directory for figures (created): ``<cache>/figures-smoke/`` in smoke mode, else ``YLM_FIGURES_DIR``,
    the checkout's ``figures/``, or ``./figures``."""
    if is_smoke():
        path = cache_dir() / "figures-smoke"
    else:
        path = _from_env(FIGURES_ENV) or (CHECKOUT_ROOT / "figures" if CHECKOUT_ROOT else Path.cwd() / "figures")
    path.mkdir(parents=True, exist_ok=True)
    return path
