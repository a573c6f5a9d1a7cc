"""Parse Youtu-format text back into trajectories, and model completions into tool calls.

``parse_rendered`` inverts ``ylm.agent.render.render_text``: for every valid trajectory
``parse_rendered(render_text(t)[0])`` equals ``t`` (its id and meta aside). The text has no escape, which is
why ``ylm.agent.validate`` keeps the reserved markers out of everything rendered. Two things are recovered
from structure alone:

* Agentic-CoT phases: thinking written as ``## Analysis`` / ``## Plan`` / ... sections becomes phases;
* failed branches: an (assistant, tool) pair followed by a turn that opens with a Reflection phase is a
  ``Branch`` (the rule ``ylm.agent.trajectory`` states).

``parse_completion`` reads what a model generated after ``<|Assistant|>`` into tool calls; a malformed call
is a ``ToolCallParseError`` naming the call, and given the tools it also checks each call exactly as
``validate`` does (``ylm.agent.schema.check_tool_call``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ylm.agent.render import TOOLS_HEAD, TOOLS_TAIL
from ylm.agent.schema import ToolCallError, check_tool_call
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
    Turn,
    UserTurn,
    parse_arguments,
)
from ylm.tokenizer.special_tokens import (
    ASSISTANT,
    BOS,
    CALL_CLOSE,
    CALL_OPEN,
    EOS,
    RESP_CLOSE,
    RESP_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    TOOLS_OPEN,
    USER,
)


class ToolCallParseError(ValueError):
    """A model completion holds a malformed tool call."""


def split_phases(thinking: str) -> list[Phase] | None:
    """Phases when the thinking is written as ``## Phase`` sections, else None."""
    if not PHASE_HEADER_RE.match(thinking):
        return None
    chunks = re.split(r"\n\n(?=## (?:Analysis|Plan|Action|Reflection|Summary)\n)", thinking)
    phases = []
    for chunk in chunks:
        header, _, text = chunk.partition("\n")
        phases.append(Phase(header[3:].lower(), text))
    return phases


def _parse_call(payload: str, k: int) -> ToolCall:
    try:
        obj = json.loads(payload)
    except json.JSONDecodeError as err:
        raise ToolCallParseError(
            f"tool call {k}: payload is not valid JSON ({err}): {payload[:200]!r}"
        ) from err
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise ToolCallParseError(
            f"tool call {k}: payload must be an object with a string 'name': {payload[:200]!r}"
        )
    extra = set(obj) - {"name", "arguments"}
    if extra:
        raise ToolCallParseError(f"tool call {k}: unexpected keys {sorted(extra)}; allowed: name, arguments")
    try:
        arguments = parse_arguments(obj.get("arguments", {}), None, f"tool_calls[{k}].arguments")
    except TrajectoryError as err:
        raise ToolCallParseError(f"tool call {k}: {err}") from err
    return ToolCall(obj["name"], arguments)


def parse_assistant_body(body: str) -> AssistantTurn:
    """Parse what an assistant wrote (a rendered turn or a model completion) into thinking, text and calls."""
    body = body.removesuffix(EOS)
    thinking = None
    if body.startswith(THINK_OPEN):
        end = body.find(THINK_CLOSE)
        if end < 0:
            raise ToolCallParseError(f"{THINK_OPEN} is never closed by {THINK_CLOSE}")
        inner = body[len(THINK_OPEN) : end]
        thinking = inner.removeprefix("\n").removesuffix("\n")
        body = body[end + len(THINK_CLOSE) :].removeprefix("\n\n")
    first = body.find(CALL_OPEN)
    content, rest = (body, "") if first < 0 else (body[:first], body[first:])
    if CALL_CLOSE in content:
        raise ToolCallParseError(f"{CALL_CLOSE} without an opening {CALL_OPEN}")
    calls = []
    while rest.strip():
        rest = rest.lstrip()
        if not rest.startswith(CALL_OPEN):
            raise ToolCallParseError(
                f"text after tool call {len(calls) - 1}: {rest[:80]!r}; calls end the turn"
            )
        end = rest.find(CALL_CLOSE)
        if end < 0:
            raise ToolCallParseError(f"tool call {len(calls)}: {CALL_OPEN} is never closed by {CALL_CLOSE}")
        calls.append(_parse_call(rest[len(CALL_OPEN) : end], len(calls)))
        rest = rest[end + len(CALL_CLOSE) :]
    phases = split_phases(thinking) if thinking is not None else None
    if phases is not None:
        return AssistantTurn(content=content, phases=phases, tool_calls=calls)
    return AssistantTurn(content=content, thinking=thinking, tool_calls=calls)


def parse_completion(text: str, tools: list[dict[str, Any]] | None = None) -> list[ToolCall]:
    """The tool calls in a model completion.

    ``ToolCallParseError`` for a malformed call or, when ``tools`` is given, an invalid one (unknown tool,
    arguments against its schema: ``ylm.agent.schema.check_tool_call``, the check ``validate`` makes)."""
    calls = parse_assistant_body(text).tool_calls
    if tools is not None:
        for k, t in enumerate(tools):
            if not isinstance(t, dict) or not isinstance(t.get("name"), str):
                raise ToolCallParseError(f"tools[{k}].name: every tool needs a string 'name' (a JSON schema)")
        by_name = {t["name"]: t for t in tools}
        for k, call in enumerate(calls):
            try:
                check_tool_call(call, by_name)
            except ToolCallError as err:
                raise ToolCallParseError(f"tool call {k}: {err}") from None
    return calls


def regroup_branches(turns: list[Turn]) -> list[Turn]:
    """Fold (assistant, tool) pairs followed by a turn opening with a reflection phase into ``Branch``es."""
    out: list[Turn] = []
    for turn in turns:
        if (
            isinstance(turn, AssistantTurn)
            and turn.phases
            and turn.phases[0].phase == "reflection"
            and len(out) >= 2
            and isinstance(out[-1], ToolTurn)
            and isinstance(out[-2], AssistantTurn)
        ):
            observation = out.pop()
            out.append(Branch(out.pop(), observation))
        out.append(turn)
    return out


def _parse_tools(block: str) -> list[dict[str, Any]]:
    if not (block.startswith(TOOLS_HEAD) and block.endswith(TOOLS_TAIL)):
        raise ValueError("tool block does not have the Youtu tool-description layout")
    tools = []
    for raw in re.findall(r"\n```json\n(.*?)\n```", block[len(TOOLS_HEAD) : -len(TOOLS_TAIL)], flags=re.S):
        entry = json.loads(raw)
        if not isinstance(entry, dict):
            raise ValueError(f"tool block entry must be a JSON object, got {type(entry).__name__}")
        tools.append(entry["function"] if entry.get("type") == "function" else entry)
    return tools


def parse_rendered(text: str) -> Trajectory:
    """Parse Youtu-format text (as ``render_text`` writes it) back into a trajectory."""
    if not text.startswith(BOS):
        raise ValueError(f"rendered text must start with {BOS}")
    first = text.find(USER)
    if first < 0:
        raise ValueError(f"rendered text has no {USER} turn")
    preamble = text[len(BOS) : first]
    system, tools = preamble, []
    if TOOLS_OPEN in preamble:
        at = preamble.index(TOOLS_OPEN)
        system, tools = preamble[:at].removesuffix("\n\n"), _parse_tools(preamble[at:])
    turns: list[Turn] = []
    rest = text[first:]
    while rest:
        if not rest.startswith(USER):
            raise ValueError(f"expected {USER} at {rest[:40]!r}")
        a = rest.find(ASSISTANT)
        if a < 0:
            raise ValueError(f"a {USER} turn is not followed by {ASSISTANT}")
        user = rest[len(USER) : a]
        if user.startswith(RESP_OPEN):
            prev_calls = turns[-1].tool_calls if turns and isinstance(turns[-1], AssistantTurn) else []
            contents = [
                c.removeprefix(RESP_OPEN) for c in user.removesuffix(RESP_CLOSE).split(RESP_CLOSE + "\n")
            ]
            names = [c.name for c in prev_calls] + [""] * len(contents)
            turns.append(ToolTurn([ToolResponse(n, c) for n, c in zip(names, contents, strict=False)]))
        else:
            turns.append(UserTurn(user))
        e = rest.find(EOS, a)
        if e < 0:
            raise ValueError(f"an {ASSISTANT} turn is not closed by {EOS}")
        turns.append(parse_assistant_body(rest[a + len(ASSISTANT) : e]))
        rest = rest[e + len(EOS) :]
    return Trajectory(turns=regroup_branches(turns), system=system, tools=tools)
