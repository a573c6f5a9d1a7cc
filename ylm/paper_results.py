"""The Youtu-LLM paper's benchmark numbers as data, and plots that put a user's own rows next to them.

``ylm/paper_results.csv`` ships inside the package: every benchmark number of the fact sheet in long format,
one score per row (268 rows), columns ``table, model, variant, params_b_nominal, params_b_exact, benchmark,
group, score, source, secondary``. Scores are percentages. The tables:

    base_general            base models, few-shot; groups Commonsense, STEM, Coding, Long ctx
    base_agentic_aptbench   APTBench by category (Code, Deep Research, Math, Tool) for base models
    instruct_general        instruct models; the README gives these benchmarks no groups (group is "")
    instruct_agentic        GAIA, xbench, SWE-Bench-Verified, EnConda-Bench, BFCL V3, τ²-Bench
    amt_ablation            Youtu-LLM-2B instruct with vs without agentic mid-training (secondary source)

Rows whose group is ``mean`` are the sheet's own averages ([C], computed); the functions here recompute
averages from the scores instead. ``params_b_exact`` is filled only where a config gives the exact count;
plots use it where known and ``params_b_nominal`` (the size in the model's name) otherwise.

**Secondary rule.** A row is ``secondary`` when its source is a third-party paraphrase of the paper rather
than Tencent's release material: the source text starts with ``secondary:`` or carries the fact sheet's
``[S]`` tag (``[S]`` or ``[S: key]``). Primary ``[P]`` rows and computed ``[C]`` rows (arithmetic on primary
scores) are not secondary. The loader derives the flag from the source and refuses a file that disagrees.

Every function takes ``extra``: a DataFrame of the user's own rows in the same long format (``secondary``
may be left out), validated like the file and drawn distinctly::

    extra = pd.DataFrame([dict(table="instruct_agentic", model="my-2b", variant="instruct",
                               params_b_nominal=2.0, params_b_exact=None, benchmark="GAIA",
                               group="Deep Research", score=12.5, source="my run, 2026-02-01")])
    fig = plot_agent_vs_params(load_paper_results(), extra)

matplotlib is imported inside the plot functions: it comes with the ``notebooks`` extra, not the core install.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # annotations only: the optional matplotlib is imported where a figure is drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PAPER_RESULTS_PATH = Path(__file__).with_name("paper_results.csv")
COLUMNS = ("table", "model", "variant", "params_b_nominal", "params_b_exact", "benchmark", "group", "score",
           "source")
TEXT_COLUMNS = ("table", "model", "variant", "benchmark", "group", "source")
REQUIRED_TEXT = ("table", "model", "variant", "benchmark", "source")  # group may be empty
KEY = ["table", "model", "variant", "benchmark"]

AGENT_BENCHMARKS = ("GAIA", "xbench", "SWE-Bench-Verified", "EnConda-Bench", "BFCL V3", "τ²-Bench")
APTBENCH_CATEGORIES = ("Code", "Deep Research", "Math", "Tool")
AMT_VARIANTS = ("instruct_without_amt", "instruct_with_amt")
COMPUTED_GROUP = "mean"
YOUTU_PREFIX = "Youtu-LLM"

_SECONDARY_SOURCE = re.compile(r"^\s*secondary\s*:|\[S[\]:]")
_PEER_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
                "tab:cyan", "tab:gray")


def is_secondary(source: str) -> bool:
    """True when ``source`` names a secondary source: it starts with ``secondary:`` or carries an [S] tag."""
    return _SECONDARY_SOURCE.search(source) is not None


def _text(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()


def _float(value: Any) -> float:
    """``value`` as a float, NaN where it is not a finite number (a bool is not one)."""
    try:
        number = math.nan if isinstance(value, bool | np.bool_) else float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _score(value: Any, where: str) -> float:
    score = _float(value)
    if not 0 <= score <= 100:  # also False for NaN
        raise ValueError(f"{where}: score={value!r} is not a percentage in [0, 100]")
    return score


def _size(value: Any, field: str, where: str, *, required: bool) -> float:
    """A parameter count in billions (> 0: it goes on a log axis); blank is NaN where not ``required``."""
    if not required and _text(value) == "":
        return math.nan
    size = _float(value)
    if not size > 0:
        raise ValueError(f"{where}: {field}={value!r} is not a number > 0{'' if required else ' or blank'}")
    return size


def _flag(value: Any, where: str) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if _text(value).lower() in ("true", "false"):
        return _text(value).lower() == "true"
    raise ValueError(f"{where}: secondary={value!r} must be true or false")


def _validated_row(row: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {column: _text(row[column]) for column in TEXT_COLUMNS}
    for column in REQUIRED_TEXT:
        if not out[column]:
            raise ValueError(f"{where}: {column} is empty; every row needs a {column}")
    out["score"] = _score(row["score"], where)
    out["params_b_nominal"] = _size(row["params_b_nominal"], "params_b_nominal", where, required=True)
    out["params_b_exact"] = _size(row["params_b_exact"], "params_b_exact", where, required=False)
    out["secondary"] = is_secondary(out["source"])
    if "secondary" in row and _flag(row["secondary"], where) != out["secondary"]:
        raise ValueError(f"{where}: secondary={row['secondary']!r} disagrees with source {out['source']!r} "
                         "(secondary means the source starts with 'secondary:' or carries an [S] tag)")
    return out


def _validated(frame: Any, origin: str, name_row: Callable[[Any], str]) -> pd.DataFrame:
    """``frame`` checked row by row and typed: text as ``string``, numbers as float, ``secondary`` as bool.

    ``name_row`` turns an index label into the row's name in error messages."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{origin} must be a pandas DataFrame in the long format, got {type(frame).__name__}")
    row_names = [name_row(label) for label in frame.index]
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"{origin}: missing column(s) {', '.join(missing)}; the long format needs: "
                         f"{', '.join(COLUMNS)}")
    columns = list(COLUMNS) + (["secondary"] if "secondary" in frame.columns else [])
    records = [_validated_row(row, where) for row, where in zip(frame[columns].to_dict("records"), row_names,
                                                               strict=True)]
    typed = pd.DataFrame(records, columns=[*COLUMNS, "secondary"])
    typed = typed.astype({**dict.fromkeys(TEXT_COLUMNS, "string"), "score": float, "params_b_nominal": float,
                          "params_b_exact": float, "secondary": bool})
    _check_unique(typed, origin, row_names)
    _check_one_size_per_model(typed, origin)
    return typed


def _check_unique(frame: pd.DataFrame, origin: str, row_names: list[str]) -> None:
    repeated = np.flatnonzero(frame.duplicated(KEY, keep=False).to_numpy())
    if len(repeated):
        where = ", ".join(row_names[i] for i in repeated[:4])
        raise ValueError(f"{origin}: {where} repeat one (table, model, variant, benchmark); each score appears once")


def _check_one_size_per_model(frame: pd.DataFrame, origin: str) -> None:
    # A model drawn at two sizes would be two points on the parameter axis: refuse rather than pick one.
    sizes = frame[["model", "params_b_nominal", "params_b_exact"]].fillna(-1.0).drop_duplicates()
    repeated = sizes[sizes["model"].duplicated()]
    if len(repeated):
        model = repeated["model"].iloc[0]
        raise ValueError(f"{origin}: model {model!r} has more than one params_b_nominal/params_b_exact; "
                         "give every row of a model the same sizes")


def load_paper_results(path: str | Path | None = None) -> pd.DataFrame:
    """The paper's scores (the shipped CSV, or ``path``) as a typed long-format DataFrame.

    ``ValueError`` names the file and the data row (1 = first row after the header) for a missing column, a
    score that is not a percentage, a bad size, an empty source, a ``secondary`` flag that breaks the rule,
    or a repeated (table, model, variant, benchmark)."""
    source = Path(path) if path is not None else PAPER_RESULTS_PATH
    raw = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8")
    return _validated(raw, str(source), lambda label: f"{source} row {label + 1}")


def _combine(results: pd.DataFrame, extra: pd.DataFrame | None) -> pd.DataFrame:
    """``results`` and the user's ``extra`` rows, both validated, with a bool column ``extra``."""
    rows = [_validated(results, "results", lambda label: f"results row {label!r}").assign(extra=False)]
    if extra is not None:
        rows.append(_validated(extra, "extra", lambda label: f"extra row {label!r}").assign(extra=True))
    both = pd.concat(rows, ignore_index=True)
    origins = [f"{'extra' if is_extra else 'results'} row for {model} / {benchmark}"
               for is_extra, model, benchmark in both[["extra", "model", "benchmark"]].itertuples(index=False)]
    _check_unique(both, "results + extra", origins)
    _check_one_size_per_model(both, "results + extra")
    return both


def _rows_of(rows: pd.DataFrame, table: str, allowed_benchmarks: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The scored rows of ``table`` (the sheet's computed means left out)."""
    picked = rows[(rows["table"] == table) & (rows["group"] != COMPUTED_GROUP)]
    unknown = sorted(set(picked["benchmark"]) - set(allowed_benchmarks or picked["benchmark"]))
    if unknown:
        raise ValueError(f"{table} benchmark {unknown[0]!r} is unknown; valid benchmarks are: "
                         f"{', '.join(allowed_benchmarks or ())}")
    return picked


def _params_b(frame: pd.DataFrame) -> pd.Series:
    return frame["params_b_exact"].fillna(frame["params_b_nominal"])


def agent_scores(results: pd.DataFrame, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per instruct model: its six agentic scores, sizes, and their mean.

    Columns: ``model, variant, params_b_nominal, params_b_exact, params_b`` (exact where known, else nominal),
    one column per name in ``AGENT_BENCHMARKS``, ``agent_mean``, ``agent_benchmarks``, ``extra``.
    ``agent_mean`` is the mean over the benchmarks the model has; ``agent_benchmarks`` counts them, so a model
    missing one shows 5 there and NaN in that column. Every paper model has all six. A user row naming another
    benchmark raises ``ValueError`` listing the six names."""
    rows = _rows_of(_combine(results, extra), "instruct_agentic", AGENT_BENCHMARKS)
    models = rows.groupby(["model", "variant"], sort=False).agg(
        params_b_nominal=("params_b_nominal", "first"), params_b_exact=("params_b_exact", "first"),
        extra=("extra", "any"))
    scores = rows.pivot(index=["model", "variant"], columns="benchmark", values="score")
    scores = scores.reindex(index=models.index, columns=list(AGENT_BENCHMARKS))
    table = models.join(scores).reset_index()
    table.insert(4, "params_b", _params_b(table))
    table["agent_mean"] = table[list(AGENT_BENCHMARKS)].mean(axis=1, skipna=True)
    table["agent_benchmarks"] = table[list(AGENT_BENCHMARKS)].notna().sum(axis=1)
    table.columns.name = None
    return table[[c for c in table.columns if c != "extra"] + ["extra"]]


def amt_deltas(results: pd.DataFrame, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """With-minus-without agentic mid-training, per model and benchmark, from the ``amt_ablation`` table.

    The paper's rows are Youtu-LLM-2B instruct on the six agentic benchmarks, from a secondary source (the
    README has no such table); their with-AMT scores equal the README's Youtu-LLM-2B row. Columns: ``model,
    benchmark, without_amt, with_amt, delta, secondary`` (either side secondary), ``extra``. Variants must be
    ``instruct_without_amt`` or ``instruct_with_amt``, and every (model, benchmark) needs both: ``ValueError``
    otherwise."""
    rows = _combine(results, extra)
    rows = rows[rows["table"] == "amt_ablation"]
    unknown = sorted(set(rows["variant"]) - set(AMT_VARIANTS))
    if unknown:
        raise ValueError(f"amt_ablation variant {unknown[0]!r} is unknown; valid variants are: "
                         f"{', '.join(AMT_VARIANTS)}")
    pairs = rows.groupby(["model", "benchmark"], sort=False).agg(
        secondary=("secondary", "any"), extra=("extra", "any"), sides=("variant", "nunique"))
    unpaired = pairs[pairs["sides"] < len(AMT_VARIANTS)]
    if len(unpaired):
        model, benchmark = unpaired.index[0]
        raise ValueError(f"amt_ablation {model!r} / {benchmark!r} needs both variants: {', '.join(AMT_VARIANTS)}")
    scores = rows.pivot(index=["model", "benchmark"], columns="variant", values="score")
    scores = scores.reindex(index=pairs.index, columns=list(AMT_VARIANTS))
    table = pd.DataFrame({"without_amt": scores["instruct_without_amt"], "with_amt": scores["instruct_with_amt"]})
    table["delta"] = table["with_amt"] - table["without_amt"]
    return table.join(pairs[["secondary", "extra"]]).reset_index()


def _model_styles(models: list[str], extra_models: set[str]) -> dict[str, dict[str, Any]]:
    """Bar style per model: Youtu red, the user's models hatched and labelled '(yours)', peers a palette."""
    styles, peer = {}, 0
    for model in models:
        if model in extra_models:
            color = _PEER_COLORS[peer % len(_PEER_COLORS)]
            styles[model] = dict(color=color, hatch="//", edgecolor="black", label=f"{model} (yours)")
            peer += 1
        elif model.startswith(YOUTU_PREFIX):
            styles[model] = dict(color="tab:red", edgecolor="black", label=model)
        else:
            styles[model] = dict(color=_PEER_COLORS[peer % len(_PEER_COLORS)], alpha=0.8, label=model)
            peer += 1
    return styles


def _grouped_bars(ax: Axes, wide: pd.DataFrame, styles: dict[str, dict[str, Any]], horizontal: bool = False) -> None:
    """One cluster per row of ``wide`` (x positions 0..n-1), one bar per column (model)."""
    positions = np.arange(len(wide.index))
    width = 0.8 / max(len(wide.columns), 1)
    draw = ax.barh if horizontal else ax.bar
    for i, model in enumerate(wide.columns):
        offset = positions + (i - (len(wide.columns) - 1) / 2) * width
        draw(offset, wide[model].to_numpy(dtype=float), width, **styles[model])
    if horizontal:
        ax.set_yticks(positions, wide.index)
    else:
        ax.set_xticks(positions, wide.index)


def _wide(rows: pd.DataFrame, index: str) -> tuple[pd.DataFrame, set[str]]:
    """Scores with ``index`` down and models across (both in first-seen order), and the user's models."""
    wide = rows.pivot(index=index, columns="model", values="score")
    wide = wide.reindex(index=list(dict.fromkeys(rows[index])), columns=list(dict.fromkeys(rows["model"])))
    return wide, set(rows.loc[rows["extra"], "model"])


def _log_params_axis(ax: Axes, params: pd.Series) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    # Peers span less than a decade: decade-only ticks would leave the axis unlabelled.
    narrow = params.max() / params.min() < 10
    ax.xaxis.set_major_locator(LogLocator(subs=(1, 1.5, 2, 3, 4, 5, 6, 8) if narrow else (1, 2, 5)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("parameters (B, log scale)")


def _scatter_models(ax: Axes, scores: pd.DataFrame, column: str, title: str) -> None:
    """Peers grey, Youtu a red star, the user's rows blue diamonds labelled 'your rows'; names beside points."""
    shown = scores[scores[column].notna()]
    youtu = shown["model"].str.startswith(YOUTU_PREFIX) & ~shown["extra"]
    kinds = (("peers (paper)", ~youtu & ~shown["extra"], dict(marker="o", s=50, color="tab:gray")),
             ("Youtu-LLM (paper)", youtu, dict(marker="*", s=260, color="tab:red", edgecolor="black")),
             ("your rows", shown["extra"], dict(marker="D", s=60, color="tab:blue", edgecolor="black")))
    for label, mask, style in kinds:
        if mask.any():
            ax.scatter(shown.loc[mask, "params_b"], shown.loc[mask, column], label=label, zorder=3, **style)
    points = shown[["model", "params_b", column, "agent_benchmarks"]].itertuples(index=False, name=None)
    for model, params_b, score, count in points:
        # A mean over fewer than six benchmarks is not comparable: say so at the point itself.
        partial = f" ({count}/{len(AGENT_BENCHMARKS)})" if column == "agent_mean" and count < len(AGENT_BENCHMARKS) else ""
        ax.annotate(f"{model}{partial}", (params_b, score), fontsize=7, xytext=(4, 4), textcoords="offset points")
    _log_params_axis(ax, scores["params_b"])
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("score (%)")
    ax.grid(alpha=0.3)


def plot_agent_vs_params(results: pd.DataFrame, extra: pd.DataFrame | None = None) -> Figure:
    """Figure-1-style scatter: mean instruct agentic score vs parameters (log x), plus one panel per benchmark.

    The paper's Figure 1 model set and y axis were not found; this uses the README's four instruct models and
    the mean of ``agent_scores``. A model with fewer than six scores is labelled with its count."""
    import matplotlib.pyplot as plt

    scores = agent_scores(results, extra)
    top, bottom = list(AGENT_BENCHMARKS[:3]), list(AGENT_BENCHMARKS[3:])
    fig, axes = plt.subplot_mosaic([["mean", "mean", *top], ["mean", "mean", *bottom]], figsize=(17, 7),
                                   layout="constrained")
    _scatter_models(axes["mean"], scores, "agent_mean", "mean of the six instruct agentic benchmarks")
    axes["mean"].legend(loc="best")
    for benchmark in AGENT_BENCHMARKS:
        _scatter_models(axes[benchmark], scores, benchmark, benchmark)
    fig.suptitle("Agentic score vs parameters (instruct models)")
    return fig


def plot_aptbench(results: pd.DataFrame, extra: pd.DataFrame | None = None) -> Figure:
    """APTBench score by category (Code, Deep Research, Math, Tool) for the base models, as grouped bars.

    User rows go in table ``base_agentic_aptbench`` with benchmark ``APTBench <category>``."""
    import matplotlib.pyplot as plt

    names = tuple(f"APTBench {category}" for category in APTBENCH_CATEGORIES)
    rows = _rows_of(_combine(results, extra), "base_agentic_aptbench", names)
    wide, extra_models = _wide(rows, "benchmark")
    wide = wide.reindex([name for name in names if name in wide.index])
    wide.index = [name.removeprefix("APTBench ") for name in wide.index]
    fig, ax = plt.subplots(figsize=(11, 5), layout="constrained")
    _grouped_bars(ax, wide, _model_styles(list(wide.columns), extra_models))
    ax.set_ylabel("score (%)")
    ax.set_title("APTBench by category, base models")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_general_by_group(results: pd.DataFrame, extra: pd.DataFrame | None = None) -> Figure:
    """The general benchmarks as grouped bars, base models (top) and instruct models (bottom).

    Benchmarks sit side by side within their group (Commonsense, STEM, Coding, Long ctx for the base table),
    the group named above them. The README's instruct table has no groups, so that panel has none."""
    import matplotlib.pyplot as plt

    rows = _combine(results, extra)
    fig, axes = plt.subplots(2, 1, figsize=(18, 10), layout="constrained")
    for ax, (table, title) in zip(axes, (("base_general", "base models, few-shot"),
                                         ("instruct_general", "instruct models")), strict=True):
        picked = _rows_of(rows, table)
        # A user's new benchmark joins its group's run rather than trailing after the last group.
        group_of = dict(picked.drop_duplicates("benchmark")[["benchmark", "group"]].itertuples(index=False))
        group_rank = {group: rank for rank, group in enumerate(dict.fromkeys(group_of.values()))}
        order = sorted(group_of, key=lambda name: group_rank[group_of[name]])
        wide, extra_models = _wide(picked, "benchmark")
        wide = wide.reindex(order)
        _grouped_bars(ax, wide, _model_styles(list(wide.columns), extra_models))
        groups = [group_of[name] for name in order]
        _label_groups(ax, groups)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        plt.setp(ax.get_xticklabels(), ha="right")
        ax.set_ylabel("score (%)")
        ax.set_title(title if any(groups) else f"{title} (the README gives these benchmarks no groups)", pad=18)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    return fig


def _label_groups(ax: Axes, groups: list[str]) -> None:
    """A dashed line between consecutive groups and each group's name above its benchmarks."""
    start = 0
    for end in range(1, len(groups) + 1):
        if end == len(groups) or groups[end] != groups[start]:
            if groups[start]:
                ax.text((start + end - 1) / 2, 1.01, groups[start], transform=ax.get_xaxis_transform(),
                        ha="center", va="bottom", fontsize=9, fontweight="bold")
            if end < len(groups):
                ax.axvline(end - 0.5, color="black", linestyle="--", linewidth=0.8)
            start = end


def plot_amt_deltas(results: pd.DataFrame, extra: pd.DataFrame | None = None) -> Figure:
    """With-minus-without agentic mid-training per benchmark (``amt_deltas``), one bar per model.

    The paper's numbers are Youtu-LLM-2B's, from a secondary source (third-party notes paraphrasing the paper,
    table ``amt_ablation``); the legend says so. Each bar is annotated 'without -> with'."""
    import matplotlib.pyplot as plt

    deltas = amt_deltas(results, extra)
    wide, extra_models = _wide(deltas.rename(columns={"delta": "score"}), "benchmark")
    styles = _model_styles(list(wide.columns), extra_models)
    for model in wide.columns:
        if deltas.loc[deltas["model"] == model, "secondary"].any():
            styles[model]["label"] += " [secondary source]"
    fig, ax = plt.subplots(figsize=(10, 1 + 0.8 * len(wide.index) * max(len(wide.columns), 1) ** 0.5),
                           layout="constrained")
    _grouped_bars(ax, wide, styles, horizontal=True)
    for container, model in zip(ax.containers, wide.columns, strict=True):
        pairs = deltas[deltas["model"] == model].set_index("benchmark").reindex(wide.index)
        ax.bar_label(container, fontsize=7, padding=3, labels=[
            "" if math.isnan(row.delta) else f"{row.without_amt:.1f} -> {row.with_amt:.1f} ({row.delta:+.1f})"
            for row in pairs.itertuples()])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.invert_yaxis()  # first benchmark on top, as in the paper's table
    ax.margins(x=0.35)
    ax.set_xlabel("with - without agentic mid-training (points)")
    ax.set_title("Agentic mid-training ablation (instruct)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig
