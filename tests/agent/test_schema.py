"""The JSON-schema subset, and the one tool-call check that validation and completion parsing share."""

from __future__ import annotations

import pytest
from agent_fixtures import CALC, MOVE

from ylm.agent.parse import ToolCallParseError, parse_completion
from ylm.agent.render import render_assistant_body
from ylm.agent.schema import ToolCallError, check_tool_call, schema_errors
from ylm.agent.trajectory import (
    AssistantTurn,
    ToolCall,
    ToolResponse,
    ToolTurn,
    Trajectory,
    TrajectoryError,
    UserTurn,
)
from ylm.agent.validate import validate


def test_schema_subset():
    schema = MOVE["parameters"]
    assert schema_errors({"direction": "up", "steps": 2, "path": [1, 2.5]}, schema) == []
    assert any("not one of" in e for e in schema_errors({"direction": "left", "steps": 2}, schema))
    assert any(
        "arguments.path[1]" in e
        for e in schema_errors({"direction": "up", "steps": 1, "path": [1, "x"]}, schema)
    )
    assert any("expected integer" in e for e in schema_errors({"direction": "up", "steps": True}, schema))
    assert any("expected integer" in e for e in schema_errors({"direction": "up", "steps": 1.5}, schema))
    with pytest.raises(ValueError, match="not supported"):
        schema_errors(1, {"type": "decimal"})


# ---------------------------------------------------------------- one check of a tool call, used twice

BAD_CALLS = [
    ("unknown tool", ToolCall("abacus", {"expression": "1"})),
    ("missing required", ToolCall("calculator", {})),
    ("wrong type and unknown property", ToolCall("calculator", {"expression": 3, "x": 1})),
]


@pytest.mark.parametrize("call", [c for _, c in BAD_CALLS], ids=[n for n, _ in BAD_CALLS])
def test_validate_and_parse_completion_reject_a_bad_call_with_the_same_message(call):
    """Both go through ``check_tool_call``: the same call is rejected with the same words by both."""
    turn = AssistantTurn(tool_calls=[call])
    answer = ToolTurn([ToolResponse(call.name, "1")])
    traj = Trajectory(tools=[CALC], turns=[UserTurn("Compute."), turn, answer, AssistantTurn(content="1")])
    with pytest.raises(ToolCallError) as checked:
        check_tool_call(call, {CALC["name"]: CALC})
    with pytest.raises(TrajectoryError) as invalid:
        validate(traj)
    with pytest.raises(ToolCallParseError) as unparsed:
        parse_completion(render_assistant_body(turn), tools=[CALC])
    assert (invalid.value.turn, invalid.value.field) == (1, f"tool_calls[0].{checked.value.field}")
    assert invalid.value.message == checked.value.message
    assert str(unparsed.value) == f"tool call 0: {checked.value.message}"


def test_check_tool_call_accepts_a_valid_call_and_names_the_known_tools():
    tools = {t["name"]: t for t in (CALC, MOVE)}
    check_tool_call(ToolCall("move", {"direction": "up", "steps": 2}), tools)
    with pytest.raises(ToolCallError, match=r"unknown tool 'jump'; known tools: calculator, move") as err:
        check_tool_call(ToolCall("jump", {}), tools)
    assert err.value.field == "name"
    with pytest.raises(ToolCallError, match="must be a JSON object") as err:
        check_tool_call(ToolCall("move", [1]), tools)
    assert err.value.field == "arguments"
