"""Trajectories, tools and helpers shared by the agent tests (test_trajectory.py, test_render.py, ...)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from ylm.agent.trajectory import (
    AssistantTurn,
    Branch,
    Phase,
    ToolCall,
    ToolResponse,
    ToolTurn,
    Trajectory,
    UserTurn,
)
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
    return dataclasses.replace(branch_fix(), system="Be precise.", tools=[CALC, MOVE], id="t0",
                               meta={"source": "test"})


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


FIXED = {"chat_only": chat_only, "parallel_tools": parallel_tools, "branch_fix": branch_fix}


def assistant_char_spans(text: str) -> list[tuple[int, int]]:
    """Independent of the renderer: every span from after <|Assistant|> through the next <|end_of_text|>."""
    spans = []
    for m in re.finditer(re.escape(ASSISTANT), text):
        end = text.index(EOS, m.end()) + len(EOS)
        spans.append((m.end(), end))
    return spans
