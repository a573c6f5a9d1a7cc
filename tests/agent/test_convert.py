"""OpenAI and Hermes message formats: round trips, call ids, and malformed messages."""

from __future__ import annotations

import json
import re

import pytest
from agent_fixtures import FIXED, WEATHER, chat_only, parallel_tools, strip_meta

from ylm.agent.convert import from_openai_messages, to_hermes_messages, to_openai_messages
from ylm.agent.trajectory import ToolTurn, Trajectory, TrajectoryError


@pytest.mark.parametrize("name", sorted(FIXED))
def test_openai_round_trip_and_hermes_export(name):
    traj = FIXED[name]()
    exported = to_openai_messages(traj)
    json.dumps(exported)  # plain JSON
    back = from_openai_messages(exported["messages"], exported["tools"])
    assert back == strip_meta(traj)
    hermes = to_hermes_messages(traj)
    for msg in hermes:
        for payload in re.findall(r"<tool_call>\n(.*?)\n</tool_call>", msg["content"], flags=re.S):
            if msg["role"] == "assistant":
                assert set(json.loads(payload)) == {"name", "arguments"}
    n_responses = sum(len(t.responses) for _, t, _ in traj.flat_turns() if isinstance(t, ToolTurn))
    assert sum(m["role"] == "tool" for m in hermes) == n_responses


def test_openai_log_import_uses_call_ids():
    exported = to_openai_messages(parallel_tools())
    messages = [dict(m) for m in exported["messages"]]
    for m in messages:
        m.pop("name", None)  # the OpenAI API identifies tool results by tool_call_id only
    messages[2], messages[3] = messages[3], messages[2]  # results may arrive out of call order
    back = from_openai_messages(messages, exported["tools"])
    assert back == Trajectory(turns=parallel_tools().turns, tools=parallel_tools().tools)
    messages[2]["tool_call_id"] = "call_x"
    with pytest.raises(ValueError, match="tool_call_id 'call_x' answers no call"):
        from_openai_messages(messages, exported["tools"])


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"id": "c0", "type": "function"}, "tool_calls[0].function"),
        ({"id": "c0", "function": "get_weather"}, "tool_calls[0].function"),
        ({"id": "c0", "function": {"arguments": "{}"}}, "tool_calls[0].function"),
        ("get_weather", "tool_calls[0].function"),
    ],
    ids=["no function", "function not an object", "no name", "call not an object"],
)
def test_openai_tool_call_without_function_is_a_trajectory_error(call, field):
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
    ]
    with pytest.raises(TrajectoryError, match="message 1: an OpenAI tool call needs a 'function'") as err:
        from_openai_messages(messages, [WEATHER])
    assert (err.value.turn, err.value.field) == (1, field)


def test_openai_messages_of_the_wrong_shape_are_value_errors():
    with pytest.raises(ValueError, match="message 0: must be an object"):
        from_openai_messages(["hello"])
    with pytest.raises(TrajectoryError, match="must be a list of tool calls"):
        from_openai_messages([{"role": "assistant", "content": "", "tool_calls": {"function": {}}}])


def test_openai_export_carries_thinking_inside_content():
    """Where the Youtu template reads it; the export keeps all of it (cutting is the template's job)."""
    messages = to_openai_messages(chat_only())["messages"]
    assert all("reasoning_content" not in m for m in messages)
    assert messages[2]["content"] == "<think>\n11 is prime and larger than 10.\n</think>\n\n11."
    assert messages[4]["content"].startswith("<think>\n\n</think>\n\n2 is")
    assert to_openai_messages(chat_only())["tools"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda ms: ms[2].update(reasoning_content="x"), "message 2: reasoning_content is ignored"),
        (lambda ms: ms[2].update(content="<think>x</think>11."), "message 2: the think block is not written"),
        (lambda ms: ms[2].update(content="<think>\nx"), "message 2: <think> is never closed"),
        (lambda ms: ms.insert(3, {"role": "system", "content": "x"}), "message 3: a system message after"),
    ],
    ids=["reasoning_content", "think layout", "unclosed think", "late system"],
)
def test_openai_messages_ylm_would_render_otherwise_are_refused(change, message):
    messages = to_openai_messages(chat_only())["messages"]
    change(messages)
    with pytest.raises(ValueError, match=re.escape(message)):
        from_openai_messages(messages)
