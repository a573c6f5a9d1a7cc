"""Parsing: rendered text back to trajectories (round trips, property-tested too), completions to calls."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from agent_fixtures import (
    ANY_TOOL,
    FIXED,
    FRAGMENTS,
    WEATHER,
    assistant_char_spans,
    branch_fix,
    strip_meta,
    trajectories,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ylm.agent.convert import from_openai_messages, to_openai_messages
from ylm.agent.parse import ToolCallParseError, parse_completion, parse_rendered
from ylm.agent.render import THINKING_MODES, as_rendered, render, render_text
from ylm.agent.trajectory import (
    PHASE_HEADER_RE,
    AssistantTurn,
    Branch,
    Phase,
    ToolCall,
    ToolResponse,
    ToolTurn,
    Trajectory,
    TrajectoryError,
    UserTurn,
)
from ylm.agent.validate import RESERVED_MARKERS, validate
from ylm.tokenizer.special_tokens import EOS


@pytest.mark.parametrize("thinking", THINKING_MODES)
@pytest.mark.parametrize("name", sorted(FIXED))
def test_parse_rendered_round_trip(name, thinking):
    traj = FIXED[name]()
    assert parse_rendered(render(traj, thinking=thinking).text) == strip_meta(as_rendered(traj, thinking))


def test_all_mode_round_trips_exactly_when_the_last_turn_thinks():
    """as_rendered changes nothing in "all" mode but a last turn's missing thinking; so text round-trips."""
    for make in (FIXED["parallel_tools"], branch_fix):
        traj = make()
        assert parse_rendered(render(traj, thinking="all").text) == strip_meta(traj)


def test_consecutive_failed_branches_round_trip():
    traj = branch_fix()
    second = Branch(
        AssistantTurn(
            phases=[Phase("reflection", "Maybe pow works."), Phase("action", "Try pow.")],
            tool_calls=[ToolCall("calculator", {"expression": "pow(2, 10)"})],
        ),
        ToolTurn([ToolResponse("calculator", "error: function pow is not supported")]),
    )
    traj.turns.insert(2, second)
    r = render(traj)
    assert parse_rendered(r.text) == strip_meta(traj)
    assert len(render_text(traj, "context")[1]) == len(r.spans) - 2


def test_parse_completion_tool_calls():
    text = (
        "<think>\nNeed weather.\n</think>\n\n"
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>\n'
        '<tool_call>{"name": "get_weather", "arguments": "{\\"city\\": \\"Rome\\"}"}</tool_call>'
    )
    calls = parse_completion(text + EOS, tools=[WEATHER])
    assert [(c.name, c.arguments) for c in calls] == [
        ("get_weather", {"city": "Oslo"}),
        ("get_weather", {"city": "Rome"}),
    ]
    assert parse_completion("Just an answer.") == []


@pytest.mark.parametrize(
    ("completion", "message"),
    [
        ('<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}</tool_call>', "not valid JSON"),
        ("<tool_call>{'name': 'get_weather', 'arguments': {}}</tool_call>", "not valid JSON"),
        ('<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}', "never closed"),
        ('<tool_call>{"arguments": {}}</tool_call>', "string 'name'"),
        ('<tool_call>{"name": "get_weather", "arguments": [1]}</tool_call>', "must be a JSON object"),
        (
            '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call> trailing',
            "text after tool call",
        ),
        ('<tool_call>{"name": "get_time", "arguments": {}}</tool_call>', "unknown tool 'get_time'"),
        (
            '<tool_call>{"name": "get_weather", "arguments": {"unit": "kelvin"}}</tool_call>',
            "missing required",
        ),
    ],
)
def test_parse_completion_errors(completion, message):
    with pytest.raises(ToolCallParseError, match=message):
        parse_completion(completion, tools=[WEATHER])


@pytest.mark.parametrize(
    "tools",
    [[{"description": "no name"}], ["get_weather"], [WEATHER, {"name": None}]],
    ids=["no name", "not an object", "null name"],
)
def test_parse_completion_tools_need_names(tools):
    completion = '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'
    k = len(tools) - 1
    with pytest.raises(ToolCallParseError, match=re.escape(f"tools[{k}].name")):
        parse_completion(completion, tools=tools)


# ---------------------------------------------------------------- property test: any valid text round-trips


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(trajectories())
def test_property_render_parse_round_trip_and_mask(tok, traj):
    validate(traj)
    for thinking in THINKING_MODES:
        r = render(traj, tok, thinking=thinking)
        assert parse_rendered(r.text) == strip_meta(as_rendered(traj, thinking))
        assert r.spans == assistant_char_spans(r.text)
        supervised = tok.decode([i for i, m in zip(r.ids, r.mask, strict=True) if m], skip_special_tokens=False)
        assert supervised == "".join(r.text[s:e] for s, e in r.spans)
    exported = to_openai_messages(traj)
    assert from_openai_messages(exported["messages"], exported["tools"]) == strip_meta(traj)


def _without_thinking(traj: Trajectory) -> list:
    """The flat turns with thinking dropped and answers' leading newlines stripped."""
    return [
        dataclasses.replace(t, thinking=None, phases=[], content=t.content.lstrip("\n"))
        if isinstance(t, AssistantTurn)
        else t
        for _, t, _ in traj.flat_turns()
    ]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(trajectories())
def test_property_default_text_loses_only_early_thinking(traj):
    """Parsing the template-mode text gives the all-mode trajectory but for the thinking of turns before the
    first tool exchange, which is gone (with their answers' leading newlines)."""
    full = parse_rendered(render(traj, thinking="all").text)
    cut = parse_rendered(render(traj).text)
    assert _without_thinking(cut) == _without_thinking(full)
    flat_cut, flat_full = cut.flat_turns(), full.flat_turns()
    first_tool = next((j for j, (_, t, _) in enumerate(flat_full) if isinstance(t, ToolTurn)), len(flat_full))
    for j, ((_, a, _), (_, b, _)) in enumerate(zip(flat_cut, flat_full, strict=True)):
        if j < first_tool - 1 and isinstance(b, AssistantTurn):
            assert a.thinking is None and not a.phases
        else:
            assert a == b, j


# ---------------------------------------------------------------- property test: markers are caught, never rendered


_ANY_TEXT = (
    st.lists(st.sampled_from(FRAGMENTS + list(RESERVED_MARKERS)), min_size=1, max_size=8)
    .map("".join)
    .filter(lambda s: s.strip() and not PHASE_HEADER_RE.search(s))
)


_ANY_JSON = st.recursive(
    st.none() | st.integers(-9, 9) | _ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_ANY_TEXT, inner, max_size=3),
    max_leaves=6,
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(
    st.dictionaries(_ANY_TEXT, _ANY_JSON, max_size=3),
    st.one_of(st.none(), _ANY_TEXT),
    _ANY_TEXT,
)
def test_property_markers_anywhere_are_rejected_else_round_trip(arguments, description, observation):
    tool = dict(ANY_TOOL) if description is None else dict(ANY_TOOL, description=description)
    traj = Trajectory(
        tools=[tool],
        turns=[
            UserTurn("Probe it."),
            AssistantTurn(tool_calls=[ToolCall("probe", arguments)]),
            ToolTurn([ToolResponse("probe", observation)]),
            AssistantTurn(content="Done."),
        ],
    )
    written = json.dumps([tool, arguments], ensure_ascii=False) + observation
    has_marker = any(m in written for m in RESERVED_MARKERS)
    try:
        validate(traj)
    except TrajectoryError as err:
        assert has_marker and "reserved marker" in str(err)
        return
    assert not has_marker
    assert parse_rendered(render(traj).text) == strip_meta(as_rendered(traj))
