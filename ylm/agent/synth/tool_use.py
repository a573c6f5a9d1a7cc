"""Tool-use trajectories from the BFCL multi-turn tasks committed in ``data_samples/agent/``.

Each agent document carries ``trajectory = {"tools", "turns"}``: BFCL's user turns, the ground-truth calls,
and the observations BFCL's own offline backends returned when those calls were executed (errors included).
Conversion keeps all of that unchanged and adds only what the Youtu format needs: after the last tool result
of each user request the assistant must speak, so a short closing answer is templated there (labelled
synthetic, it quotes the last observation). Tool schemas keep name, description and parameters (BFCL's
``response`` schemas are dropped to keep the set small). Tasks that do not fit the turn grammar (a user turn
with no calls, or a task ending on a user turn) are skipped and counted.
"""

from __future__ import annotations

import random
from typing import Any

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
from ylm.checks import check_int
from ylm.data import load_documents

SYSTEM = "You are an assistant that completes the user's requests by calling the available functions."
SYNTHETIC = {
    "user_turns": "BFCL",
    "tool_calls": "BFCL ground truth",
    "observations": "executed (BFCL backends)",
    "answer": "templated closing answer per user request",
}


def _closing(calls: list[str], observation: str) -> str:
    shown = observation if len(observation) <= 160 else observation[:157] + "..."
    names = ", ".join(dict.fromkeys(calls))
    plural = "s" if len(calls) != 1 else ""
    return f"Done: I called {names} ({len(calls)} call{plural}). The last result was: {shown}"


def convert_bfcl(doc: dict[str, Any]) -> Trajectory:
    """One BFCL agent document -> a kit trajectory; ``TrajectoryError`` if it does not fit the grammar."""
    src = doc["trajectory"]
    tools = [{k: t[k] for k in ("name", "description", "parameters") if k in t} for t in src["tools"]]
    turns: list = []
    calls_since_user: list[str] = []
    for k, raw in enumerate(src["turns"]):
        role = raw["role"]
        nxt = src["turns"][k + 1]["role"] if k + 1 < len(src["turns"]) else None
        if role == "user":
            if nxt != "assistant":
                raise TrajectoryError(len(turns), "role", "BFCL user turn without any ground-truth call")
            turns.append(UserTurn(raw["content"]))
            calls_since_user = []
        elif role == "assistant":
            turns.append(
                AssistantTurn(tool_calls=[ToolCall(c["name"], c["arguments"]) for c in raw["tool_calls"]])
            )
            calls_since_user += [c["name"] for c in raw["tool_calls"]]
        elif role == "tool":
            if turns and isinstance(turns[-1], ToolTurn):
                turns[-1].responses.append(ToolResponse(raw["name"], raw["content"]))
            else:
                turns.append(ToolTurn([ToolResponse(raw["name"], raw["content"])]))
            if nxt in ("user", None):
                turns.append(AssistantTurn(content=_closing(calls_since_user, raw["content"])))
        else:
            raise TrajectoryError(len(turns), "role", f"unexpected BFCL role {role!r}")
    traj = Trajectory(
        turns=turns,
        system=SYSTEM,
        tools=tools,
        id=f"synthetic/tool_use/{doc['id']}",
        meta={
            "category": "tool_use",
            "source": doc["id"],
            "bfcl_category": doc.get("category"),
            "synthetic": SYNTHETIC,
        },
    )
    return validate(traj)


def synthesize_tool_use(
    seed: int, n: int, docs: list[dict[str, Any]] | None = None
) -> tuple[list[Trajectory], int]:
    """Up to ``n`` BFCL tasks from agent/train converted in ``seed`` order, and how many were skipped as
    invalid."""
    check_int("seed", seed, minimum=None)
    check_int("n", n, minimum=0)
    docs = docs if docs is not None else [d for d in load_documents("agent", "train") if "trajectory" in d]
    order = list(range(len(docs)))
    random.Random(f"tool_use-{seed}").shuffle(order)
    out, skipped = [], 0
    for k in order:
        if len(out) >= n:
            break
        try:
            out.append(convert_bfcl(docs[k]))
        except TrajectoryError:
            skipped += 1
    return out, skipped
