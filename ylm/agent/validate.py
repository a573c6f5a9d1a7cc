"""Validation of agent trajectories: tools, tool calls, the turn grammar, text and reserved markers.

``validate`` raises ``TrajectoryError`` (a ``ValueError``) naming the turn index and the field: a tool list of
the wrong shape (``ylm.agent.schema.tool_index``: names, strict JSON, the schema subset's shapes at every
depth), unknown tool, arguments that do not match the tool's schema (``ylm.agent.schema``: type, required,
properties, enum, items; a key the schema does not list is an error unless it sets
``additionalProperties: true``), a tool response with no call, a call never answered, empty required content,
a turn out of order (the grammar: a user turn first or after a final answer; an assistant turn after a user or
tool turn; a tool turn answers every call of the assistant turn before it, in order; the trajectory ends with
an assistant turn), and a reflection phase that does not match the failed branches.

What validates also renders, encodes and reads back: every JSON value (arguments, tool schemas, and the
unrendered ``id`` and ``meta`` that ``to_json`` writes) is strict JSON
(``ylm.agent.trajectory.json_problem``: no NaN/Infinity, nesting at most ``MAX_DEPTH``), and no text, key or
string value holds a lone surrogate, which UTF-8 cannot encode.

Reserved markers (the Youtu special-token spellings) may appear nowhere in rendered text: not in free text,
not in tool-call arguments (keys and string values, at any depth), not in the tool schemas (names,
descriptions, enums, ...), and not in tool observations. Inside text they would break ``parse_rendered`` and,
under a tokenizer that registers them as specials, become real control ids in a supervised span. The format
has no escape, so an observation whose real output happens to contain such a spelling (a file read that
holds ``<tool_call>``, say) is rejected, not rewritten: changing an executed tool's output would be a silent
fix. Callers that collect real observations skip and count such trajectories
(``ylm.agent.synth.tool_use`` does).
"""

from __future__ import annotations

from typing import Any

from ylm.agent.schema import ToolCallError, ToolSchemaError, check_tool_call, tool_index
from ylm.agent.trajectory import (
    PHASE_HEADER_RE,
    PHASES,
    AssistantTurn,
    ToolCall,
    ToolTurn,
    Trajectory,
    TrajectoryError,
    Turn,
    UserTurn,
    json_problem,
    need_arg,
    walk_json,
)
from ylm.tokenizer.special_tokens import YOUTU_SPECIAL_TOKENS

# Strings the Youtu format uses as structure; free text may not contain them (parsing stays unambiguous).
RESERVED_MARKERS: tuple[str, ...] = YOUTU_SPECIAL_TOKENS


def _marker_in(text: str) -> str | None:
    return next((m for m in RESERVED_MARKERS if m in text), None)


def _check_strict(value: Any, turn: int | None, where: str) -> None:
    """Strict JSON (``json_problem``), so that what is written encodes as UTF-8 and reads back."""
    if problem := json_problem(value, where):
        raise TrajectoryError(turn, where, problem)


def _check_text(text: Any, turn: int | None, where: str, required: bool = True) -> None:
    if not isinstance(text, str):
        raise TrajectoryError(turn, where, f"must be a string, got {type(text).__name__}")
    if required and not text.strip():
        raise TrajectoryError(turn, where, "is empty but content is required here")
    if marker := _marker_in(text):
        raise TrajectoryError(turn, where, f"contains the reserved marker {marker!r}")
    _check_strict(text, turn, where)  # a lone surrogate


def _check_markers(value: Any, turn: int | None, where: str, path: str) -> None:
    """No reserved marker in a JSON value's keys or strings, at any depth (they land verbatim in the
    rendered JSON)."""
    for at, node, _ in walk_json(value, path):
        if isinstance(node, str) and (marker := _marker_in(node)):
            raise TrajectoryError(turn, where, f"{at} contains the reserved marker {marker!r}")


def _check_assistant(t: AssistantTurn, i: int, tools: dict[str, dict], prefix: str) -> None:
    if t.phases and t.thinking is not None:
        raise TrajectoryError(i, f"{prefix}thinking", "set either thinking or phases, not both")
    _check_text(t.content, i, f"{prefix}content", required=False)
    if t.thinking is not None:
        _check_text(t.thinking, i, f"{prefix}thinking", required=False)
    if not (t.phases or (t.thinking or "").strip() or t.content.strip() or t.tool_calls):
        raise TrajectoryError(
            i, f"{prefix}content", "an assistant turn needs thinking, content or a tool call"
        )
    if t.thinking is not None:
        if PHASE_HEADER_RE.search(t.thinking):
            raise TrajectoryError(
                i, f"{prefix}thinking", "contains a '## Phase' header line; use phases instead"
            )
    for k, p in enumerate(t.phases):
        if p.phase not in PHASES:
            raise TrajectoryError(
                i, f"{prefix}phases[{k}].phase", f"got {p.phase!r}; allowed phases are: {', '.join(PHASES)}"
            )
        _check_text(p.text, i, f"{prefix}phases[{k}].text")
        if PHASE_HEADER_RE.search(p.text):
            raise TrajectoryError(i, f"{prefix}phases[{k}].text", "contains a '## Phase' header line")
    for k, call in enumerate(t.tool_calls):
        where = f"{prefix}tool_calls[{k}]"
        # a reserved marker outranks a schema error (an unknown key may be the marker itself)
        _check_markers(call.arguments, i, f"{where}.arguments", "arguments")
        try:
            check_tool_call(call, tools)
        except ToolCallError as err:
            raise TrajectoryError(i, f"{where}.{err.field}", err.message) from None


def _check_tool_turn(t: ToolTurn, i: int, prefix: str, calls: list[ToolCall] | None) -> None:
    if calls is None:
        raise TrajectoryError(
            i, f"{prefix}responses", "tool response with no call: the previous turn made no tool call"
        )
    if len(t.responses) != len(calls):
        raise TrajectoryError(
            i,
            f"{prefix}responses",
            f"{len(calls)} call(s) but {len(t.responses)} response(s); every call needs one answer",
        )
    for k, (resp, call) in enumerate(zip(t.responses, calls, strict=True)):
        if resp.name != call.name:
            raise TrajectoryError(
                i, f"{prefix}responses[{k}].name", f"answers {resp.name!r} but call {k} was to {call.name!r}"
            )
        _check_text(resp.content, i, f"{prefix}responses[{k}].content")


def validate(traj: Trajectory) -> Trajectory:
    """Raise ``TrajectoryError`` for the first problem found; return the trajectory when it is valid."""
    need_arg(traj, Trajectory, "traj")
    _check_text(traj.system, None, "system", required=False)
    _check_strict(traj.id, None, "id")
    _check_strict(traj.meta, None, "meta")
    try:
        tools = tool_index(traj.tools)
    except ToolSchemaError as err:
        raise TrajectoryError(None, err.field, err.message) from None
    for k, tool in enumerate(traj.tools):
        _check_markers(tool, None, f"tools[{k}]", f"tools[{k}]")  # the whole schema is rendered as JSON
    flat = traj.flat_turns()
    if not flat:
        raise TrajectoryError(None, "turns", "a trajectory needs at least one turn")
    pending: list[ToolCall] | None = None  # calls of the previous assistant turn, awaiting a tool turn
    prev: Turn | None = None
    prev_failed = False
    for pos, (i, turn, failed) in enumerate(flat):
        prefix = ("attempt." if isinstance(turn, AssistantTurn) else "observation.") if failed else ""
        if pending is not None and not isinstance(turn, ToolTurn):
            j = flat[pos - 1][0]
            raise TrajectoryError(j, "tool_calls", "call never answered: the next turn is not a tool turn")
        if isinstance(turn, UserTurn):
            if prev is not None and not (isinstance(prev, AssistantTurn) and not prev.tool_calls):
                raise TrajectoryError(
                    i, "role", "a user turn must come first or follow a final assistant answer"
                )
            _check_text(turn.content, i, "content")
        elif isinstance(turn, AssistantTurn):
            if not isinstance(prev, (UserTurn, ToolTurn)):
                raise TrajectoryError(i, "role", "an assistant turn must follow a user turn or a tool turn")
            _check_assistant(turn, i, tools, prefix)
            opens_with_reflection = bool(turn.phases) and turn.phases[0].phase == "reflection"
            if isinstance(prev, ToolTurn) and prev_failed != opens_with_reflection:
                msg = (
                    "the turn after a failed branch must open with a reflection phase"
                    if prev_failed
                    else "a reflection phase right after a tool response marks a failed attempt; "
                    "wrap it in a Branch"
                )
                raise TrajectoryError(i, f"{prefix}phases", msg)
            if failed and not turn.tool_calls:
                raise TrajectoryError(
                    i, "attempt.tool_calls", "a failed attempt must make the call that failed"
                )
            pending = turn.tool_calls or None
        elif isinstance(turn, ToolTurn):
            _check_tool_turn(turn, i, prefix, pending)
            pending = None
        else:
            raise TrajectoryError(
                i,
                "role",
                f"got a {type(turn).__name__}; a turn is a UserTurn, AssistantTurn, ToolTurn or Branch",
            )
        prev, prev_failed = turn, failed
    if pending is not None:
        raise TrajectoryError(flat[-1][0], "tool_calls", "call never answered: the trajectory ends after it")
    if not isinstance(prev, AssistantTurn):
        raise TrajectoryError(flat[-1][0], "role", "a trajectory must end with an assistant turn")
    return traj
