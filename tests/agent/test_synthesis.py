"""Synthetic trajectories: real tools, determinism per seed, and the committed data_samples/synthetic set."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from agent_fixtures import strip_meta

from ylm.agent.chat_template import hf_chat_tokenizer, template_mismatches
from ylm.agent.parse import parse_rendered
from ylm.agent.render import THINKING_MODES, as_rendered, render
from ylm.agent.synth import (
    CATEGORIES,
    SynthConfig,
    load_synthetic,
    source_hashes,
    synthesize,
    synthetic_dir,
    to_jsonl,
)
from ylm.agent.synth.code_tasks import TASKS, make_code_trajectory
from ylm.agent.synth.math_tasks import synthesize_math
from ylm.agent.synth.research import synthesize_research
from ylm.agent.synth.tool_use import convert_bfcl, synthesize_tool_use
from ylm.agent.tools import SearchIndex, calculator_tool, run_tests
from ylm.agent.trajectory import AssistantTurn, Branch, ToolTurn, Trajectory, TrajectoryError
from ylm.agent.validate import validate
from ylm.tokenizer.reference import load_reference, reference_path

# ---------------------------------------------------------------- generators


def test_every_code_task_bug_really_fails_and_fix_really_passes():
    for task in TASKS:
        bad = run_tests(task.bug, task.function, task.cases)
        good = run_tests(task.solution, task.function, task.cases)
        assert not bad.passed, task.function
        assert good.passed, (task.function, good.output)


def _branches(trajs: list[Trajectory]) -> list[Branch]:
    return [x for t in trajs for x in t.turns if isinstance(x, Branch)]


def test_math_is_deterministic_valid_and_uses_real_calculator_outputs():
    a, b = synthesize_math(3, 24), synthesize_math(3, 24)
    assert to_jsonl(a) == to_jsonl(b)
    assert to_jsonl(a) != to_jsonl(synthesize_math(4, 24))
    assert _branches(a), "some math problems should keep a failed attempt"
    for t in a:
        validate(t)
        calls = [c for _, x, _ in t.flat_turns() if isinstance(x, AssistantTurn) for c in x.tool_calls]
        outputs = [r.content for _, x, _ in t.flat_turns() if isinstance(x, ToolTurn) for r in x.responses]
        assert {c.name for c in calls} == {"calculator"}
        assert outputs == [
            calculator_tool(c.arguments["expression"]) for c in calls
        ]  # re-run: same observation
        assert outputs[-1] in t.turns[-1].content and t.meta["synthetic"]["thinking"] == "templated"
    for br in _branches(a):
        assert br.observation.responses[0].content.startswith("error:")


def test_code_trajectory_keeps_the_observed_failure_and_the_fix():
    task = next(t for t in TASKS if t.function == "fizzbuzz")
    traj = validate(make_code_trajectory(task, True, "x"))
    branch = traj.turns[1]
    assert isinstance(branch, Branch)
    code = branch.attempt.tool_calls[0].arguments["code"]
    assert code == task.bug
    assert branch.observation.responses[0].content == run_tests(task.bug, task.function, task.cases).output
    assert "FAIL" in branch.observation.responses[0].content
    assert traj.turns[2].phases[0].phase == "reflection"
    assert traj.turns[2].tool_calls[0].arguments["code"] == task.solution
    assert traj.turns[3].responses[0].content.endswith(f"{len(task.cases)}/{len(task.cases)} tests passed")


@pytest.fixture(scope="module")
def research_docs():
    from ylm.agent.synth.research import research_corpus

    try:
        return research_corpus()
    except FileNotFoundError:
        pytest.skip("data_samples/ not built")


def test_research_is_deterministic_and_grounded(research_docs):
    a = synthesize_research(1, 8, 4, research_docs)
    assert to_jsonl(a) == to_jsonl(synthesize_research(1, 8, 4, research_docs))
    assert {t.meta["construction"] for t in a} == {"forward", "reverse"}
    index = SearchIndex(research_docs)
    for t in a:
        validate(t)
        for _, turn, _ in t.flat_turns():
            if isinstance(turn, AssistantTurn):
                for call in turn.tool_calls:
                    assert call.name in ("search", "read")
        # every observation is what the tool returns when called again
        calls = [c for _, x, _ in t.flat_turns() if isinstance(x, AssistantTurn) for c in x.tool_calls]
        outputs = [r.content for _, x, _ in t.flat_turns() if isinstance(x, ToolTurn) for r in x.responses]
        rerun = [
            index.search(c.arguments["query"])
            if c.name == "search"
            else index.read(c.arguments["doc_id"], c.arguments.get("focus", ""))
            for c in calls
        ]
        assert outputs == rerun
        assert json.loads(outputs[-1])["id"] == t.meta["target"]
    for t in a:  # a failed search really missed the target (forward: not listed; reverse: not on top)
        for br in _branches([t]):
            ids = [h["id"] for h in json.loads(br.observation.responses[0].content)]
            assert br.attempt.tool_calls[0].name == "search"
            assert t.meta["target"] not in (ids if t.meta["construction"] == "forward" else ids[:1])


def _bfcl_doc() -> dict:
    return {
        "id": "bfcl/x",
        "category": "multi_turn_base",
        "trajectory": {
            "tools": [
                {
                    "name": "cd",
                    "description": "Change dir.",
                    "response": {},
                    "parameters": {
                        "type": "dict",
                        "properties": {"folder": {"type": "string"}},
                        "required": ["folder"],
                    },
                }
            ],
            "turns": [
                {"role": "user", "content": "Go to docs."},
                {"role": "assistant", "tool_calls": [{"name": "cd", "arguments": {"folder": "docs"}}]},
                {"role": "tool", "name": "cd", "content": '{"current_working_directory": "docs"}'},
                {"role": "user", "content": "And back."},
                {"role": "assistant", "tool_calls": [{"name": "cd", "arguments": {"folder": ".."}}]},
                {"role": "tool", "name": "cd", "content": "{}"},
            ],
        },
    }


def test_bfcl_conversion_keeps_calls_and_observations():
    doc = _bfcl_doc()
    traj = convert_bfcl(doc)
    assert [t.role for t in traj.turns] == ["user", "assistant", "tool", "assistant"] * 2
    assert traj.turns[2].responses[0].content == '{"current_working_directory": "docs"}'
    assert "response" not in traj.tools[0]
    assert traj.turns[3].content.startswith("Done:") and traj.meta["synthetic"]["answer"].startswith(
        "templated"
    )
    doc["trajectory"]["turns"][4]["tool_calls"][0]["arguments"] = {"folder": 3}
    with pytest.raises(TrajectoryError, match="expected string"):
        convert_bfcl(doc)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (
            lambda d: d["trajectory"]["turns"][2].update(content="<tool_response>x</tool_response>"),
            "responses[0].content",
        ),
        (
            lambda d: d["trajectory"]["turns"][1]["tool_calls"][0]["arguments"].update(
                folder="a</tool_call>b"
            ),
            "tool_calls[0].arguments",
        ),
        (lambda d: d["trajectory"]["tools"][0].update(description="Change dir.<|User|>"), "tools[0]"),
    ],
    ids=["observation", "argument", "tool description"],
)
def test_bfcl_task_with_a_marker_spelling_is_rejected_and_counted(edit, field):
    """Real outputs are never rewritten: a task whose observation, call or schema holds a marker is skipped."""
    doc = _bfcl_doc()
    edit(doc)
    with pytest.raises(TrajectoryError, match="reserved marker") as err:
        convert_bfcl(doc)
    assert err.value.field == field, str(err.value)
    trajs, skipped = synthesize_tool_use(0, 2, docs=[doc, _bfcl_doc()])
    assert (len(trajs), skipped) == (1, 1)
    assert trajs[0] == convert_bfcl(_bfcl_doc())


def test_unknown_category_is_rejected():
    with pytest.raises(ValueError, match="allowed: math, code, research, tool_use"):
        synthesize("poetry", SynthConfig())


# ---------------------------------------------------------------- the committed set


@pytest.fixture(scope="module")
def manifest():
    try:
        path = synthetic_dir() / "MANIFEST.json"
    except FileNotFoundError:
        pytest.skip("data_samples/ not found")
    if not path.exists():
        pytest.skip("data_samples/synthetic not generated")
    return json.loads(path.read_text())


def test_manifest_matches_files(manifest):
    total = 0
    for category in CATEGORIES:
        rec = manifest["files"][f"{category}.jsonl"]
        data = (synthetic_dir() / f"{category}.jsonl").read_bytes()
        assert rec["bytes"] == len(data) and rec["sha256"] == hashlib.sha256(data).hexdigest()
        trajs = load_synthetic(category)
        assert rec["counts"]["trajectories"] == len(trajs)
        assert rec["counts"]["failed_then_fixed"] == len(_branches(trajs))
        assert rec["counts"]["turns"] == sum(len(t.flat_turns()) for t in trajs)
        assert rec["seed"] == manifest["config"]["seed"] and rec["generator"].startswith("ylm.agent.synth.")
        total += len(data)
    assert total <= 1_500_000


def test_committed_set_is_valid_renders_and_round_trips(manifest):
    for category in CATEGORIES:
        for traj in load_synthetic(category):
            validate(traj)
            assert "synthetic" in traj.meta
            for thinking in THINKING_MODES:
                text = render(traj, check=False, thinking=thinking).text
                for payload in re.findall(r"<tool_call>(.*?)</tool_call>", text, flags=re.S):
                    assert set(json.loads(payload)) == {"name", "arguments"}
                assert parse_rendered(text) == strip_meta(as_rendered(traj, thinking))


TEMPLATE_SAMPLE = 5  # trajectories per category, spread over the file


@pytest.mark.skipif(not reference_path("qwen3").exists(), reason="Qwen3 reference tokenizer not fetched")
def test_template_equals_renderer_on_synthetic_samples(manifest):
    hf = hf_chat_tokenizer(load_reference("qwen3", youtu_specials=True))
    for category in CATEGORIES:
        trajs = load_synthetic(category)
        for traj in trajs[:: max(1, len(trajs) // TEMPLATE_SAMPLE)][:TEMPLATE_SAMPLE]:
            assert template_mismatches(traj, hf) == [], traj.id


@pytest.mark.parametrize("category", ["math", "research", "tool_use"])
def test_regenerating_reproduces_the_committed_file(manifest, category):
    rec = manifest["files"][f"{category}.jsonl"]
    for path, digest in rec.get("sources", {}).items():
        domain, split = path.split("/")[1], path.split("/")[2].removesuffix(".jsonl")
        if source_hashes([(domain, split)])[path] != digest:
            pytest.skip(f"{path} changed since synthesis; rerun scripts/synthesize_trajectories.py")
    trajs, _ = synthesize(category, SynthConfig(**manifest["config"]))
    data = to_jsonl(trajs).encode("utf-8")
    assert hashlib.sha256(data).hexdigest() == rec["sha256"]
