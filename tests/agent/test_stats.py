"""Set statistics: token counts, the per-category table, the mix against the paper's, template agreement."""

from __future__ import annotations

import pytest
from agent_fixtures import FIXED, chat_then_tools, needs_qwen3, parallel_tools

from ylm.agent.chat_template import YOUTU_CHAT_TEMPLATE, hf_chat_tokenizer
from ylm.agent.render import render
from ylm.agent.stats import PAPER_MIX_B, category_table, mix_table, template_agreement, token_stats
from ylm.agent.synth import SynthConfig, load_synthetic, write_synthetic_set
from ylm.agent.trajectory import Branch
from ylm.tokenizer.train import to_transformers


@needs_qwen3
def test_token_stats_count_ids_and_mask(tok):
    trajs = [make() for make in FIXED.values()]
    got = token_stats(trajs, tok)
    assert got["tokens"] == sum(len(render(t, tok).ids) for t in trajs)
    assert got["supervised_tokens"] == sum(sum(render(t, tok).mask) for t in trajs)
    assert token_stats(trajs, tok, "context")["supervised_tokens"] < got["supervised_tokens"]
    # the template cuts chat_then_tools' first thinking, so the default has fewer tokens than "all"
    cut, full = (token_stats([chat_then_tools()], tok, thinking=m)["tokens"] for m in ("template", "all"))
    assert cut < full


@needs_qwen3
def test_category_table_on_a_small_set(tok, tmp_path):
    write_synthetic_set(tmp_path, SynthConfig(n_math=12, math_branch_rate=0.5), categories=("math",))
    trajs = load_synthetic("math", tmp_path)
    table = category_table(tok, ("math",), tmp_path)
    row = table["math"]
    assert row["trajectories"] == len(trajs) == 12 and table["all"]["tokens"] == row["tokens"]
    assert row["tokens"] == sum(len(render(t, tok).ids) for t in trajs)
    assert row["with_branch"] == sum(any(isinstance(x, Branch) for x in t.turns) for t in trajs)
    assert row["share_with_branch"] == row["with_branch"] / 12
    assert row["supervised_context"] < row["supervised"] < row["tokens"]
    assert row["supervised_share"] == row["supervised"] / row["tokens"]
    assert row["kib"] == (tmp_path / "math.jsonl").stat().st_size / 1024


def test_mix_table_shares():
    rows = mix_table({"math": 30, "code": 10, "research": 40, "tool_use": 20})
    assert [round(rows[c]["paper_share"], 3) for c in PAPER_MIX_B] == [0.125, 0.1, 0.35, 0.3, 0.125]
    assert rows["all"]["paper_B"] == 200 and rows["all"]["kit_tokens"] == 100
    assert rows["agentic_cot"]["kit_tokens"] == 0 and rows["code"]["kit_share"] == 0.1
    assert sum(rows[c]["kit_share"] for c in PAPER_MIX_B) == pytest.approx(1)
    with pytest.raises(ValueError, match="unknown categories \\['poetry'\\]"):
        mix_table({"poetry": 1})


@needs_qwen3
def test_template_agreement_counts_and_catches_a_difference(tok):
    by_name = {name: [make()] for name, make in FIXED.items()}
    agreement = template_agreement(by_name, hf_chat_tokenizer(tok))
    assert all(row == {"trajectories": 1, "renderings": 10, "mismatched": []} for row in agreement.values())
    # a template that writes parallel calls back to back (ylm's old spelling) is caught
    old = to_transformers(tok, chat_template=YOUTU_CHAT_TEMPLATE.replace("('' if loop.first else '\\n')", "''"))
    traj = parallel_tools()
    traj.id = "parallel"
    assert template_agreement({"x": [traj, chat_then_tools()]}, old)["x"]["mismatched"] == ["parallel"]
