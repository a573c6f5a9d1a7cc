"""What every notebook does first and last: seed, quiet a known warning, save a figure.

    SMOKE = start(seed=0)          # seeds random, numpy and torch; True under YLM_SMOKE=1
    save_figure(fig, "02_kv.png")  # figures/ at full size, <cache>/figures-smoke/ in smoke mode
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import TqdmWarning

from ylm.paths import figures_dir, is_smoke

FIGURE_DPI = 120


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def start(seed: int = 0) -> bool:
    """A notebook's parameters cell: seed everything and return the smoke switch.

    Also silences the one warning a notebook kernel shows on every run: transformers imports ``tqdm.auto``,
    which warns (``TqdmWarning``) when ipywidgets is absent. Nothing else is filtered."""
    seed_everything(seed)
    warnings.filterwarnings("ignore", category=TqdmWarning)
    return is_smoke()


def save_figure(fig: Any, name: str) -> Path:
    """Save a matplotlib figure as ``name`` under ``figures_dir()`` (tight box, 120 dpi); returns the path."""
    path = figures_dir() / name
    fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight")
    return path


def bars_vs_baseline(ax: Any, table: Any, lower: float, ylabel: str) -> None:
    """Grouped bars of a (rows: texts, columns: variants) table of % differences, the y axis cut at ``lower``:
    a bar cut there is drawn to the cut and labelled with its true value, so a clipped bar never passes for
    one that ends at the axis."""
    table.clip(lower=lower).plot.bar(ax=ax, width=0.8)
    ax.set_ylim(bottom=lower * 1.08)
    ax.axhline(0, color="black", lw=0.8)
    for container, column in zip(ax.containers, table.columns, strict=True):
        for bar, value in zip(container, table[column], strict=True):
            if value < lower:
                ax.annotate(f"{value:.0f}", (bar.get_x() + bar.get_width() / 2, lower), ha="center", va="top",
                            fontsize=7, rotation=90, xytext=(0, -2), textcoords="offset points")
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=30)
    for label in ax.get_xticklabels():
        label.set_ha("right")
