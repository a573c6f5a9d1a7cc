"""The paper's numbers shipped as ``ylm/paper_results.csv``: integrity against the reference sheet, the
loader's checks, the agentic means, and the plots with a user's own rows."""

from __future__ import annotations

import csv
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from ylm import paper_results as pr

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_CSV = REPO_ROOT.parent / "shared" / "reference" / "paper_results.csv"
PACKAGE_CSV = REPO_ROOT / "ylm" / "paper_results.csv"
KEY = ("table", "model", "variant", "benchmark")
Edit = Callable[[list[dict[str, str]]], object]  # changes the CSV's rows in place


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _user_rows(table: str, model: str, variant: str, scores: dict[str, float], group: str = "") -> pd.DataFrame:
    return pd.DataFrame([dict(table=table, model=model, variant=variant, params_b_nominal=0.05, params_b_exact=None,
                              benchmark=benchmark, group=group, score=score, source="my run")
                         for benchmark, score in scores.items()])


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    return pr.load_paper_results()


@pytest.fixture
def plt() -> Iterator[ModuleType]:
    matplotlib = pytest.importorskip("matplotlib", reason="plots need the notebooks extra (matplotlib)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    yield pyplot
    pyplot.close("all")


# --- the shipped CSV -------------------------------------------------------------------------------------

def test_every_reference_row_is_shipped_exactly_once_with_its_score_and_source() -> None:
    if not REFERENCE_CSV.exists():
        pytest.skip(f"reference sheet {REFERENCE_CSV} is absent in this checkout's surroundings")
    reference, shipped = _csv_rows(REFERENCE_CSV), _csv_rows(PACKAGE_CSV)
    counts = Counter(tuple(row[c] for c in KEY) for row in shipped)
    by_key = {tuple(row[c] for c in KEY): row for row in shipped}
    for row in reference:
        key = tuple(row[c] for c in KEY)
        assert counts[key] == 1, key
        assert float(by_key[key]["score"]) == float(row["score"]), key
        assert {c: by_key[key][c] for c in row} == row, key  # every field verbatim, source included
    assert len(shipped) == len(reference) == 268


def test_every_row_has_a_source_and_the_counts_are_the_papers(results: pd.DataFrame) -> None:
    assert (results["source"].str.strip() != "").all()
    assert len(results) == 268
    assert results["model"].nunique() == 12
    assert int(results["secondary"].sum()) == 12


def test_secondary_flags_follow_the_rule() -> None:
    for row in _csv_rows(PACKAGE_CSV):
        expected = row["source"].startswith("secondary:") or "[S]" in row["source"]
        assert row["secondary"] == ("true" if expected else "false"), row
    assert pr.is_secondary("notes [S: HL; WM]")
    assert not pr.is_secondary("computed: mean of the README scores in this table [C]")
    assert not pr.is_secondary("primary: TencentCloudADP/youtu-tip youtu-llm/README.md [P]")


def test_the_loader_types_its_columns(results: pd.DataFrame) -> None:
    assert results["score"].dtype == float and results["params_b_exact"].dtype == float
    assert results["secondary"].dtype == bool
    assert set(results.loc[results["secondary"], "table"]) == {"amt_ablation"}


def test_the_shipped_csv_is_inside_the_wheel(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path), str(REPO_ROOT)], capture_output=True, text=True)
    if out.returncode:
        pytest.skip(f"cannot build a wheel here: {out.stderr[-300:]}")
    with zipfile.ZipFile(next(tmp_path.glob("ylm-*.whl"))) as wheel:
        assert wheel.read("ylm/paper_results.csv") == PACKAGE_CSV.read_bytes()


# --- the loader refuses broken files ----------------------------------------------------------------------

def _write_broken(tmp_path: Path, edit: Edit) -> Path:
    rows = _csv_rows(PACKAGE_CSV)
    edit(rows)
    path = tmp_path / "broken.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_missing_column_is_named_with_the_file(tmp_path: Path) -> None:
    path = _write_broken(tmp_path, lambda rows: [row.pop("score") for row in rows])
    with pytest.raises(ValueError, match=r"broken\.csv: missing column\(s\) score"):
        pr.load_paper_results(path)


def test_a_non_numeric_score_is_named_with_the_file_and_row(tmp_path: Path) -> None:
    path = _write_broken(tmp_path, lambda rows: rows[4].update(score="n/a"))
    with pytest.raises(ValueError, match=r"broken\.csv row 5: score='n/a' is not a percentage"):
        pr.load_paper_results(path)


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[0].update(secondary="true"), "disagrees with source"),
    (lambda rows: rows[1].update(source=" "), "source is empty"),
    (lambda rows: rows.append(dict(rows[0])), "repeat one"),
    (lambda rows: rows[2].update(params_b_nominal="0"), "params_b_nominal='0' is not a number > 0"),
])
def test_other_broken_rows_are_refused(tmp_path: Path, edit: Edit, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pr.load_paper_results(_write_broken(tmp_path, edit))


# --- agentic means and deltas ----------------------------------------------------------------------------

def test_youtu_agent_mean_is_the_hand_computed_mean_of_six(results: pd.DataFrame) -> None:
    scores = pr.agent_scores(results).set_index("model")
    assert scores.loc["Youtu-LLM-2B", "agent_mean"] == pytest.approx((33.9 + 19.5 + 17.7 + 21.5 + 58.0 + 15.0) / 6)
    assert (scores["agent_benchmarks"] == 6).all()
    # the sheet's own computed "mean of 6" rows agree to their two decimals
    sheet = results[results["benchmark"] == "Agentic mean of 6"].set_index("model")["score"]
    assert scores.loc[sheet.index, "agent_mean"].round(2).tolist() == sheet.tolist()


def test_extra_rows_join_with_a_mean_over_what_they_have(results: pd.DataFrame) -> None:
    extra = _user_rows("instruct_agentic", "my-toy", "instruct", {"GAIA": 3.0, "xbench": 5.0, "BFCL V3": 20.0})
    mine = pr.agent_scores(results, extra).set_index("model").loc["my-toy"]
    assert mine["extra"] and mine["agent_benchmarks"] == 3
    assert mine["agent_mean"] == pytest.approx(28.0 / 3)
    assert pd.isna(mine["SWE-Bench-Verified"])


@pytest.mark.parametrize("extra, message", [
    (_user_rows("instruct_agentic", "my-toy", "instruct", {"SWE-bench Verified": 1.0}), "valid benchmarks are: GAIA"),
    (_user_rows("instruct_agentic", "my-toy", "instruct", {"GAIA": 1.0}).drop(columns="source"),
     r"extra: missing column\(s\) source"),
    (_user_rows("instruct_agentic", "my-toy", "instruct", {"GAIA": "high"}), "extra row 0: score='high'"),
    (_user_rows("instruct_general", "Qwen3-4B", "instruct", {"my bench": 1.0}), "more than one params_b"),
    (_user_rows("instruct_agentic", "Qwen3-4B", "instruct", {"GAIA": 1.0}).assign(params_b_nominal=4.0,
                                                                                  params_b_exact=4.0225),
     "extra row for Qwen3-4B / GAIA repeat one"),
])
def test_bad_extra_rows_are_refused(results: pd.DataFrame, extra: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pr.agent_scores(results, extra)


def test_amt_deltas_are_with_minus_without(results: pd.DataFrame) -> None:
    deltas = pr.amt_deltas(results).set_index("benchmark")
    assert deltas.loc["GAIA", "delta"] == pytest.approx(33.9 - 31.1)
    assert deltas.loc["BFCL V3", "delta"] == pytest.approx(58.0 - 59.3)  # the only regression
    assert deltas["secondary"].all() and len(deltas) == 6
    lonely = _user_rows("amt_ablation", "my-toy", "instruct_with_amt", {"GAIA": 3.0})
    with pytest.raises(ValueError, match="needs both variants"):
        pr.amt_deltas(results, lonely)


# --- figures ---------------------------------------------------------------------------------------------

def test_agent_scatter_draws_the_extra_point(results: pd.DataFrame, plt: ModuleType) -> None:
    extra = _user_rows("instruct_agentic", "my-toy", "instruct", {"GAIA": 3.0, "xbench": 5.0, "BFCL V3": 20.0})
    fig = pr.plot_agent_vs_params(results, extra)
    assert len(fig.axes) == 1 + len(pr.AGENT_BENCHMARKS)
    mine = [tuple(point) for ax in fig.axes for c in ax.collections if c.get_label() == "your rows"
            for point in c.get_offsets()]
    assert (0.05, pytest.approx(28.0 / 3)) in mine and (0.05, 3.0) in mine
    youtu = [c for ax in fig.axes for c in ax.collections if c.get_label() == "Youtu-LLM (paper)"]
    assert len(youtu) == 1 + len(pr.AGENT_BENCHMARKS)
    assert all(ax.get_xscale() == "log" for ax in fig.axes)


def _bars(fig: Any) -> dict[str, list[float]]:
    return {c.get_label(): [bar.get_height() for bar in c] for ax in fig.axes for c in ax.containers}


def test_aptbench_bars_include_the_extra_model(results: pd.DataFrame, plt: ModuleType) -> None:
    extra = _user_rows("base_agentic_aptbench", "my-base", "base", {"APTBench Code": 10.0, "APTBench Math": 20.0})
    bars = _bars(pr.plot_aptbench(results, extra))
    assert bars["Youtu-LLM-2B-Base"] == [37.9, 38.6, 68.0, 64.2]
    assert bars["my-base (yours)"][0] == 10.0 and bars["my-base (yours)"][2] == 20.0


def test_general_by_group_has_base_and_instruct_panels_with_extra(results: pd.DataFrame, plt: ModuleType) -> None:
    extra = _user_rows("instruct_general", "my-toy", "instruct", {"MMLU-Pro": 30.0})
    fig = pr.plot_general_by_group(results, extra)
    assert len([ax for ax in fig.axes if ax.containers]) == 2
    assert 30.0 in _bars(fig)["my-toy (yours)"]
    group_names = {text.get_text() for text in fig.axes[0].texts}
    assert group_names == {"Commonsense", "STEM", "Coding", "Long ctx"}


def test_amt_plot_marks_the_secondary_source_and_the_extra_pair(results: pd.DataFrame, plt: ModuleType) -> None:
    extra = pd.concat([_user_rows("amt_ablation", "my-toy", variant, {"GAIA": score})
                       for variant, score in (("instruct_without_amt", 2.0), ("instruct_with_amt", 3.0))],
                      ignore_index=True)
    fig = pr.plot_amt_deltas(results, extra)
    widths = {c.get_label(): [bar.get_width() for bar in c] for c in fig.axes[0].containers}
    assert widths["Youtu-LLM-2B [secondary source]"][0] == pytest.approx(2.8)
    assert widths["my-toy (yours)"][0] == pytest.approx(1.0)
