"""The smoke switch, and where data, cache and figures live (environment variables win over the checkout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ylm import data, paths


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_is_smoke_reads_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("YLM_SMOKE", value)
    assert paths.is_smoke() is expected


def test_smoke_figures_never_land_in_committed_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.FIGURES_ENV, raising=False)
    monkeypatch.setenv("YLM_SMOKE", "1")
    assert paths.figures_dir() != paths.CHECKOUT_ROOT / "figures"
    monkeypatch.setenv("YLM_SMOKE", "0")
    assert paths.figures_dir() == paths.CHECKOUT_ROOT / "figures"


def test_environment_variables_move_every_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("YLM_SMOKE", "0")
    for name, sub in ((paths.CACHE_ENV, "cache"), (paths.FIGURES_ENV, "figs")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    assert paths.cache_dir() == tmp_path / "cache"
    assert paths.tokenizer_cache_dir() == tmp_path / "cache" / "tokenizers"
    assert paths.figures_dir() == tmp_path / "figs" and (tmp_path / "figs").is_dir()
    monkeypatch.setenv("YLM_SMOKE", "1")
    assert paths.figures_dir() == tmp_path / "cache" / "figures-smoke"


def test_missing_data_names_the_variable_to_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="YLM_DATA_DIR"):
        data.load_texts("stem", "heldout")
    # pointed at a copy, the loaders read from there
    copy = tmp_path / "corpora" / "stem"
    copy.mkdir(parents=True)
    (copy / "heldout.jsonl").write_text('{"id": "a", "source": "s", "text": "moved"}\n', encoding="utf-8")
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path / "corpora"))
    assert data.load_texts("stem", "heldout") == ["moved"]
