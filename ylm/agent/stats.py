"""What a trajectory set holds, measured: tokens and loss per category, the category mix against the paper's,
and agreement with the ``transformers`` chat template.

The share of a category is its tokens over all tokens, ``share_c = T_c / sum_k T_k``, for the kit's rendered
tokens as for the paper's agentic mid-training budget (paper_facts §4, from secondary sources)::

    Agentic-CoT 25B, math 20B, code 70B, deep research 60B, tool use 25B   (200B)

The kit has no Agentic-CoT category of its own (the five phases structure the thinking of every category), so
that row of ``mix_table`` is 0 on the kit's side; the committed set is far too small for its shares to
mean more than "which category dominates the kit's tokens".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ylm.agent.chat_template import GENERATION_SETTINGS, template_mismatches
from ylm.agent.render import THINKING_MODES, render, render_text
from ylm.agent.synth import CATEGORIES, load_synthetic, stats, synthetic_dir
from ylm.agent.trajectory import Trajectory

# Billions of tokens per category of the paper's ~200B agentic trajectory data (paper_facts §4).
PAPER_MIX_B: dict[str, int] = {"agentic_cot": 25, "math": 20, "code": 70, "research": 60, "tool_use": 25}


def token_stats(
    trajs: list[Trajectory], tokenizer: Any, branch_mode: str = "supervised", thinking: str = "template"
) -> dict[str, int]:
    """Tokens of the rendered trajectories and how many of them carry loss (mask = 1)."""
    total = supervised = 0
    for t in trajs:
        r = render(t, tokenizer, branch_mode=branch_mode, check=False, thinking=thinking)
        total += len(r.ids)
        supervised += sum(r.mask)
    return {"tokens": total, "supervised_tokens": supervised}


def _category_row(trajs: list[Trajectory], tokenizer: Any, path: Path) -> dict[str, Any]:
    counts = stats(trajs)
    sup = token_stats(trajs, tokenizer, "supervised")
    ctx = token_stats(trajs, tokenizer, "context")
    cut = sum(render_text(t)[0] != render_text(t, thinking="all")[0] for t in trajs)
    return {
        "trajectories": counts["trajectories"],
        "turns": counts["turns"],
        "branches": counts["failed_then_fixed"],
        "with_branch": counts["with_branch"],
        "tokens": sup["tokens"],
        "supervised": sup["supervised_tokens"],
        "supervised_context": ctx["supervised_tokens"],
        "thinking_cut": cut,
        "kib": path.stat().st_size / 1024,
    }


def category_table(
    tokenizer: Any, categories: tuple[str, ...] = CATEGORIES, folder: Path | None = None
) -> dict[str, dict[str, Any]]:
    """Per category of the committed synthetic set, and ``"all"``: trajectories, turns, failed branches and
    trajectories with one, tokens (default rendering), supervised tokens with failed attempts supervised and
    with them as context only, trajectories whose thinking the template cuts, KiB on disk; plus the derived
    ``share_with_branch``, ``tokens_per_traj`` and ``supervised_share`` (of the tokens)."""
    folder = Path(folder) if folder is not None else synthetic_dir()
    rows = {
        c: _category_row(load_synthetic(c, folder), tokenizer, folder / f"{c}.jsonl") for c in categories
    }
    rows["all"] = {key: sum(row[key] for row in rows.values()) for key in next(iter(rows.values()))}
    for row in rows.values():
        row["share_with_branch"] = row["with_branch"] / row["trajectories"]
        row["tokens_per_traj"] = row["tokens"] / row["trajectories"]
        row["supervised_share"] = row["supervised"] / row["tokens"]
    return rows


def mix_table(kit_tokens: dict[str, int]) -> dict[str, dict[str, float]]:
    """The paper's category mix next to the kit's, by tokens: per ``PAPER_MIX_B`` category and ``"all"``,
    the paper's billions and share, the kit's tokens (0 where it has no such category) and share."""
    unknown = set(kit_tokens) - set(PAPER_MIX_B)
    if unknown:
        raise ValueError(f"kit_tokens has unknown categories {sorted(unknown)}; allowed: {', '.join(PAPER_MIX_B)}")
    paper_total, kit_total = sum(PAPER_MIX_B.values()), sum(kit_tokens.values())
    rows = {
        c: {
            "paper_B": b,
            "paper_share": b / paper_total,
            "kit_tokens": kit_tokens.get(c, 0),
            "kit_share": kit_tokens.get(c, 0) / kit_total if kit_total else 0.0,
        }
        for c, b in PAPER_MIX_B.items()
    }
    rows["all"] = {"paper_B": paper_total, "paper_share": 1.0, "kit_tokens": kit_total, "kit_share": 1.0}
    return rows


def template_agreement(by_category: dict[str, list[Trajectory]], hf: Any) -> dict[str, dict[str, Any]]:
    """``ylm.agent.chat_template.template_mismatches`` over sets of trajectories: per category the
    trajectories checked, the renderings compared (each thinking mode: the conversation and one prompt per
    generation setting) and the ids of the trajectories with any mismatch."""
    per_traj = len(THINKING_MODES) * (1 + len(GENERATION_SETTINGS))
    return {
        category: {
            "trajectories": len(trajs),
            "renderings": per_traj * len(trajs),
            "mismatched": [t.id for t in trajs if template_mismatches(t, hf)],
        }
        for category, trajs in by_category.items()
    }
