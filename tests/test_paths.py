"""The smoke switch and where figures go."""

from __future__ import annotations

import pytest

from ylm import paths


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_is_smoke_reads_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("YLM_SMOKE", value)
    assert paths.is_smoke() is expected


def test_smoke_figures_never_land_in_committed_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YLM_SMOKE", "1")
    assert paths.figures_dir() != paths.REPO_ROOT / "figures"
    monkeypatch.setenv("YLM_SMOKE", "0")
    assert paths.figures_dir() == paths.REPO_ROOT / "figures"
