"""Where the kit keeps things, and the notebooks' smoke switch.

Set ``YLM_SMOKE=1`` to run every notebook at a size that finishes in about a minute on two cores
(``make test`` does). Figures drawn in smoke mode go to ``.cache/figures-smoke/`` so a test run never
overwrites the full-size figures committed in ``figures/``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data_samples"
CACHE_DIR = REPO_ROOT / ".cache"
TOKENIZER_CACHE_DIR = CACHE_DIR / "tokenizers"
_FIGURES_DIR = REPO_ROOT / "figures"
_SMOKE_FIGURES_DIR = CACHE_DIR / "figures-smoke"


def is_smoke() -> bool:
    """True when ``YLM_SMOKE`` is set to a truthy value ("1", "true", "yes")."""
    return os.environ.get("YLM_SMOKE", "").strip().lower() in {"1", "true", "yes", "on"}


def figures_dir() -> Path:
    """Directory for figures: ``figures/`` at full size, ``.cache/figures-smoke/`` in smoke mode."""
    path = _SMOKE_FIGURES_DIR if is_smoke() else _FIGURES_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path
