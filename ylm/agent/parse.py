"""Parse Youtu-format text back into trajectories, and model completions into tool calls.

``parse_rendered`` inverts ``ylm.agent.render.render_text`` up to what the text holds:
``parse_rendered(render_text(t, thinking=m)[0])`` equals ``ylm.agent.render.as_rendered(t, m)`` (id and meta
aside). With ``thinking="all"`` that is ``t`` itself, but for a last turn without thinking, which reads back
with the empty thinking ``""`` it is rendered with; the default ``"template"`` text has lost the thinking of
the turns before the first tool exchange, and everything else reads back. It validates what it returns
(``TrajectoryError`` for text that parses but breaks the rules: a tool response answering no call, an unknown
tool, ...). The text has no escape, which is why ``ylm.agent.validate`` keeps the reserved markers out of
everything rendered. Two things are recovered from structure alone:

* Agentic-CoT phases: thinking written as ``## Analysis`` / ``## Plan`` / ... sections becomes phases;
* failed branches: an (assistant, tool) pair followed by a turn that opens with a Reflection phase is a
  ``Branch`` (the rule ``ylm.agent.trajectory`` states). The template never cuts those turns' thinking: a
  branch's attempt and reflection come at or after the first tool exchange.

``parse_completion`` reads what a model generated after ``<|Assistant|>`` into tool calls; a malformed call
is a ``ToolCallParseError`` naming the call, and given the tools it checks them and each call exactly as
``validate`` does (``ylm.agent.schema.tool_index`` and ``check_tool_call``). JSON is read strictly
(``ylm.agent.trajectory.read_json``: no NaN/Infinity, bounded depth).
"""

from __future__ import annotations

import re
from typing import Any

from ylm.agent.render import TOOLS_HEAD, TOOLS_TAIL, unwrap_tool
from ylm.agent.schema import ToolCallError, ToolSchemaError, check_tool_call, tool_index
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
    need_arg,
    parse_arguments,
    read_json,
)
from ylm.agent.validate import validate
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
        obj = read_json(payload, None, f"tool_calls[{k}]", envelope=1)  # arguments sit inside the call
    except TrajectoryError as err:
        reason = err.__cause__ or err.message  # the decoder's own words, or the depth limit's
        raise ToolCallParseError(
            f"tool call {k}: payload is not valid JSON ({reason}): {payload[:200]!r}"
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


def split_thinking(text: str) -> tuple[str | None, str]:
    """(thinking, answer) of an assistant text that opens with ``<think>...</think>``, as
    ``ylm.agent.render.render_content`` writes it; (None, text) when it opens with none."""
    if not text.startswith(THINK_OPEN):
        return None, text
    end = text.find(THINK_CLOSE)
    if end < 0:
        raise ToolCallParseError(f"{THINK_OPEN} is never closed by {THINK_CLOSE}")
    thinking = text[len(THINK_OPEN) : end].removeprefix("\n").removesuffix("\n")
    return thinking, text[end + len(THINK_CLOSE) :].removeprefix("\n\n")


def assistant_turn(thinking: str | None, content: str, calls: list[ToolCall]) -> AssistantTurn:
    """An assistant turn; thinking written as ``## Phase`` sections becomes phases."""
    phases = split_phases(thinking) if thinking is not None else None
    if phases is not None:
        return AssistantTurn(content=content, phases=phases, tool_calls=calls)
    return AssistantTurn(content=content, thinking=thinking, tool_calls=calls)


def parse_assistant_body(body: str) -> AssistantTurn:
    """Parse what an assistant wrote (a rendered turn or a model completion) into thinking, text and calls."""
    thinking, body = split_thinking(body.removesuffix(EOS))
    first = body.find(CALL_OPEN)
    content, rest = (body, "") if first < 0 else (body[:first], body[first:])
    if CALL_CLOSE in content:
        raise ToolCallParseError(f"{CALL_CLOSE} without an opening {CALL_OPEN}")
    calls = []
    while rest.strip():
        rest = rest.lstrip()  # calls are written one a line; a model may space them otherwise
        if not rest.startswith(CALL_OPEN):
            raise ToolCallParseError(
                f"text after tool call {len(calls) - 1}: {rest[:80]!r}; calls end the turn"
            )
        end = rest.find(CALL_CLOSE)
        if end < 0:
            raise ToolCallParseError(f"tool call {len(calls)}: {CALL_OPEN} is never closed by {CALL_CLOSE}")
        calls.append(_parse_call(rest[len(CALL_OPEN) : end], len(calls)))
        rest = rest[end + len(CALL_CLOSE) :]
    return assistant_turn(thinking, content, calls)


def parse_completion(text: str, tools: list[dict[str, Any]] | None = None) -> list[ToolCall]:
    """The tool calls in a model completion.

    ``ToolCallParseError`` for a malformed call or, when ``tools`` is given, an invalid one (unknown tool,
    arguments against its schema: ``ylm.agent.schema.check_tool_call``, the check ``validate`` makes); so
    is a malformed ``tools`` list, naming ``tools[k]`` and the path inside it (``schema.tool_index``)."""
    need_arg(text, str, "text")
    calls = parse_assistant_body(text).tool_calls
    if tools is None:
        return calls
    try:
        by_name = tool_index(tools)
    except ToolSchemaError as err:
        raise ToolCallParseError(str(err)) from None
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
    entries = re.findall(r"\n```json\n(.*?)\n```", block[len(TOOLS_HEAD) : -len(TOOLS_TAIL)], flags=re.S)
    # envelope=1: a schema sits one level inside its {"type": "function", "function": ...} entry
    return [unwrap_tool(read_json(raw, None, "tools", envelope=1)) for raw in entries]


def parse_rendered(text: str) -> Trajectory:
    """Parse Youtu-format text (as ``render_text`` writes it) back into a trajectory, validated; a turn whose
    thinking the template cut reads back without it."""
    need_arg(text, str, "text")
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
        if not tools:
            raise ValueError(
                "the tool block lists no tool (the template was given tools=[]); a trajectory without tools "
                "renders no block, so this text has no trajectory"
            )
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
    return validate(Trajectory(turns=regroup_branches(turns), system=system, tools=tools))
