"""The notebooks' shared first and last steps: seeding, the one silenced warning, saving figures."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # tests draw off-screen; notebooks keep their own backend
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from tqdm import TqdmWarning  # noqa: E402

from ylm import notebook, paths  # noqa: E402


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_start_seeds_every_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YLM_SMOKE", "1")
    with warnings.catch_warnings():
        assert notebook.start(seed=3) is True
        first = _draws()
    with warnings.catch_warnings():
        notebook.start(seed=3)
        assert _draws() == first
        notebook.start(seed=4)
        assert _draws() != first


def test_start_silences_only_tqdm_warnings() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        notebook.start()
        warnings.warn("widgets missing", TqdmWarning, stacklevel=1)
        warnings.warn("something real", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something real"]


def test_save_figure_writes_under_figures_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv("YLM_SMOKE", "1")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = notebook.save_figure(fig, "probe.png")
    plt.close(fig)
    assert path == tmp_path / "figures-smoke" / "probe.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
