"""Trajectories, tools, a hypothesis strategy and helpers shared by the agent tests (test_render.py, ...)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import strategies as st

from ylm.agent.trajectory import (
    PHASE_HEADER_RE,
    AssistantTurn,
    Branch,
    Phase,
    ToolCall,
    ToolResponse,
    ToolTurn,
    Trajectory,
    UserTurn,
)
from ylm.agent.validate import RESERVED_MARKERS
from ylm.tokenizer.reference import reference_path
from ylm.tokenizer.special_tokens import ASSISTANT, EOS

CALC = {
    "name": "calculator",
    "description": "Evaluate an arithmetic expression.",
    "parameters": {
        "type": "object",
        "properties": {"expression": {"type": "string"}},
        "required": ["expression"],
    },
}


def branch_fix() -> Trajectory:
    return Trajectory(
        system="Use tools when useful.",
        tools=[CALC],
        turns=[
            UserTurn("What is 2 to the power 10?"),
            Branch(
                AssistantTurn(
                    phases=[Phase("analysis", "A power."), Phase("action", "Calculator.")],
                    tool_calls=[ToolCall("calculator", {"expression": "2^10"})],
                ),
                ToolTurn([ToolResponse("calculator", "error: operator ^ is not supported; use **")]),
            ),
            AssistantTurn(
                phases=[
                    Phase("reflection", "The calculator uses ** for powers."),
                    Phase("action", "Retry with **."),
                ],
                tool_calls=[ToolCall("calculator", {"expression": "2**10"})],
            ),
            ToolTurn([ToolResponse("calculator", "1024")]),
            AssistantTurn(phases=[Phase("summary", "The result is 1024.")], content="2¹⁰ = 1024"),
        ],
    )


MOVE = {
    "name": "move",
    "description": "Move a piece.",
    "parameters": {
        "type": "dict",
        "required": ["direction", "steps"],
        "properties": {
            "direction": {"type": "string", "enum": ["up", "down"]},
            "steps": {"type": "integer"},
            "path": {"type": "array", "items": {"type": "float"}},
        },
    },
}


def calc_trajectory() -> Trajectory:
    """A valid trajectory with a failed-then-fixed branch (two tools offered), used by several tests."""
    return dataclasses.replace(
        branch_fix(), system="Be precise.", tools=[CALC, MOVE], id="t0", meta={"source": "test"}
    )


ANY_TOOL = {
    "name": "probe",
    "description": "Accepts anything.",
    "parameters": {"type": "object", "additionalProperties": True},
}


def probe_trajectory(arguments: dict) -> Trajectory:
    """A valid trajectory whose failed attempt calls ``probe`` (``ANY_TOOL``) with ``arguments``: the deepest
    place a value sits in the trajectory's JSON form."""
    return Trajectory(
        tools=[ANY_TOOL],
        turns=[
            UserTurn("Probe it."),
            Branch(
                AssistantTurn(tool_calls=[ToolCall("probe", arguments)]),
                ToolTurn([ToolResponse("probe", "error: try again")]),
            ),
            AssistantTurn(phases=[Phase("reflection", "Retry.")], tool_calls=[ToolCall("probe", {})]),
            ToolTurn([ToolResponse("probe", "ok")]),
            AssistantTurn(content="Done."),
        ],
    )


needs_qwen3 = pytest.mark.skipif(
    not reference_path("qwen3").exists(),
    reason="Qwen3 reference tokenizer not fetched (scripts/fetch_reference_tokenizers.sh)",
)


WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "required": ["city"],
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
    },
}


def chat_only() -> Trajectory:
    return Trajectory(
        system="You are Youtu-LLM, a helpful assistant.",
        turns=[
            UserTurn("Name a prime number larger than 10."),
            AssistantTurn(thinking="11 is prime and larger than 10.", content="11."),
            UserTurn("And one that is even?"),
            AssistantTurn(thinking="", content="2 is the only even prime, and it is not larger than 10."),
        ],
    )


def parallel_tools() -> Trajectory:
    return Trajectory(
        tools=[WEATHER],
        turns=[
            UserTurn("Is it warmer in Lisbon or in Oslo? Use °C."),
            AssistantTurn(
                phases=[Phase("analysis", "Two cities, one tool."), Phase("plan", "Call it for both.")],
                content="Checking both cities.",
                tool_calls=[
                    ToolCall("get_weather", {"city": "Lisbon", "unit": "celsius"}),
                    ToolCall("get_weather", {"city": "Oslo", "unit": "celsius"}),
                ],
            ),
            ToolTurn(
                [ToolResponse("get_weather", '{"temp": 19}'), ToolResponse("get_weather", '{"temp": 4}')]
            ),
            AssistantTurn(
                phases=[Phase("summary", "19 > 4.")], content="Lisbon (19 °C) is warmer than Oslo (4 °C)."
            ),
        ],
    )


def chat_then_tools() -> Trajectory:
    """A chat turn, a tool exchange, an answer without thinking: the template cuts the first turn's thinking
    (and the newline opening its answer), keeps the calling turn's, and gives the last turn the empty think
    block."""
    return Trajectory(
        system="You are Youtu-LLM, a helpful assistant.",
        tools=[CALC],
        turns=[
            UserTurn("Hi! Can you do arithmetic?"),
            AssistantTurn(thinking="A greeting and a question.", content="\nYes, with a calculator."),
            UserTurn("Then what is 12 * 34?"),
            AssistantTurn(
                phases=[Phase("plan", "Use the calculator.")],
                tool_calls=[ToolCall("calculator", {"expression": "12*34"})],
            ),
            ToolTurn([ToolResponse("calculator", "408")]),
            AssistantTurn(content="12 × 34 = 408."),
        ],
    )


FIXED = {
    "chat_only": chat_only,
    "parallel_tools": parallel_tools,
    "branch_fix": branch_fix,
    "chat_then_tools": chat_then_tools,
}


def strip_meta(traj: Trajectory) -> Trajectory:
    """The trajectory without its id and meta, which are not rendered (what parsing gives back at best)."""
    return Trajectory(turns=traj.turns, system=traj.system, tools=traj.tools)


def assistant_char_spans(text: str) -> list[tuple[int, int]]:
    """Independent of the renderer: every span from after <|Assistant|> through the next <|end_of_text|>."""
    spans = []
    for m in re.finditer(re.escape(ASSISTANT), text):
        end = text.index(EOS, m.end()) + len(EOS)
        spans.append((m.end(), end))
    return spans


# ---------------------------------------------------------------- a hypothesis strategy of valid trajectories


FRAGMENTS = [
    "a",
    "Xy",
    "019",
    " ",
    ".",
    ",",
    ":",
    "!?",
    "#",
    "## ",
    "Plan",
    "Summary",
    "{",
    "}",
    "[",
    "]",
    '"',
    "'",
    "<",
    ">",
    "|",
    "/",
    "_",
    "-",
    "\n",
    "\n\n",
    "\t",
    "é",
    "中",
    "🙂",
    "think",
    "tool_call",
    "<|",
    "|>",
]


TEXT = (
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12)
    .map("".join)
    .filter(
        lambda s: s.strip() and not any(m in s for m in RESERVED_MARKERS) and not PHASE_HEADER_RE.search(s)
    )
)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def _final_turn(draw) -> AssistantTurn:
    """A turn answering a user request: free thinking (none, empty or text) or phases."""
    content = draw(TEXT)
    if draw(st.booleans()):
        phases = draw(
            st.lists(st.tuples(st.sampled_from(["analysis", "plan", "summary"]), TEXT), min_size=1, max_size=2)
        )
        return AssistantTurn(content=content, phases=[Phase(p, t) for p, t in phases])
    return AssistantTurn(content=content, thinking=draw(st.one_of(st.none(), st.just(""), TEXT)))


@st.composite
def trajectories(draw) -> Trajectory:
    """Valid trajectories: 1-3 user requests, each answered after 0-2 rounds of (parallel) tool calls, so
    chat turns come before, between and after tool exchanges."""
    turns = []
    for _ in range(draw(st.integers(1, 3))):
        turns.append(UserTurn(draw(TEXT)))
        for _ in range(draw(st.integers(0, 2))):
            n = draw(st.integers(1, 2))
            turns.append(
                AssistantTurn(
                    content=draw(st.one_of(st.just(""), TEXT)),
                    thinking=draw(st.one_of(st.none(), st.just(""), TEXT)),
                    tool_calls=[
                        ToolCall("probe", draw(st.dictionaries(TEXT, _JSON, max_size=3))) for _ in range(n)
                    ],
                )
            )
            turns.append(ToolTurn([ToolResponse("probe", draw(TEXT)) for _ in range(n)]))
        turns.append(draw(_final_turn()))
    return Trajectory(
        turns=turns,
        system=draw(st.one_of(st.just(""), TEXT)),
        tools=[ANY_TOOL] if draw(st.booleans()) or len(turns) > 2 else [],
    )
