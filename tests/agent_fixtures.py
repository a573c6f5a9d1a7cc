"""Trajectories shared by the agent-format tests (test_trajectory.py, test_chat_format.py)."""

from __future__ import annotations

from ylm.trajectory import (
    AssistantTurn,
    Branch,
    Phase,
    ToolCall,
    ToolResponse,
    ToolTurn,
    Trajectory,
    UserTurn,
)

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
