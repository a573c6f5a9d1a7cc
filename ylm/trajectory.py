"""Agent trajectories: the data model, its JSON form and its validation.

A trajectory is what an agent did for one task, in the shape the paper's agentic mid-training data
describes (thinking, tool calls, real observations, error reflection and path correction):

    Trajectory = system prompt + tools (JSON schemas) + turns
    turn       = UserTurn | AssistantTurn | ToolTurn | Branch
    Branch     = failed AssistantTurn attempt + the ToolTurn that observed the failure;
                 the next assistant turn opens with a Reflection phase and carries the corrected path.

The five Agentic-CoT phases (Analysis -> Plan -> Action -> Reflection -> Summary) are first-class:
an assistant turn's thinking is either free text or a list of ``Phase(phase, text)``. The rule that makes a
branch recoverable from plain text: right after a tool response, an assistant turn opens with a Reflection
phase exactly when that response was a failed branch's observation (several failures = several Branches).
``ylm.chat_format`` renders trajectories to the Youtu chat format with a loss mask.

Validation (``validate``) raises ``TrajectoryError`` (a ``ValueError``) naming the turn index and the
field: unknown tool, arguments that do not match the tool's schema (a JSON-schema subset: type, required,
properties, enum, items), malformed JSON, a tool response with no call, a call never answered, empty
required content. Tool arguments are strict: a key the schema does not list is an error unless the
schema sets ``additionalProperties: true``. ``Trajectory.from_dict``/``from_json`` raise ``TrajectoryError``
for JSON of the wrong shape (a missing or non-object field), never a ``KeyError``.

Reserved markers (the Youtu special-token spellings) may appear nowhere in rendered text: not in free text,
not in tool-call arguments (keys and string values, at any depth), not in the tool schemas (names,
descriptions, enums, ...), and not in tool observations. Inside text they would break ``parse_rendered`` and,
under a tokenizer that registers them as specials, become real control ids in a supervised span. The format
has no escape, so an observation whose real output happens to contain such a spelling (a file read that
holds ``<tool_call>``, say) is rejected, not rewritten: changing an executed tool's output would be a silent
fix. Callers that collect real observations skip and count such trajectories (``ylm.synth.tool_use`` does).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ylm.tokenizer import YOUTU_SPECIAL_TOKENS

FORMAT_VERSION = 1
PHASES: tuple[str, ...] = ("analysis", "plan", "action", "reflection", "summary")
ROLES: tuple[str, ...] = ("user", "assistant", "tool", "branch")

# Strings the Youtu format uses as structure; free text may not contain them (parsing stays unambiguous).
RESERVED_MARKERS: tuple[str, ...] = YOUTU_SPECIAL_TOKENS
# A line like "## Plan" opens a phase inside the thinking block.
PHASE_HEADER_RE = re.compile(r"^## (Analysis|Plan|Action|Reflection|Summary)$", re.MULTILINE)

# BFCL writes some JSON-schema types with Python names; they are accepted as documented aliases.
_TYPE_ALIASES = {"dict": "object", "float": "number", "tuple": "array"}
_JSON_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null", "any")


class TrajectoryError(ValueError):
    """A trajectory is invalid. ``turn`` is the index in ``Trajectory.turns`` (None for the header)."""

    def __init__(self, turn: int | None, field: str, message: str):
        self.turn, self.field = turn, field
        where = "trajectory" if turn is None else f"turn {turn}"
        super().__init__(f"{where}, field {field!r}: {message}")


@dataclass
class Phase:
    """One Agentic-CoT phase of an assistant turn's thinking."""

    phase: str
    text: str


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolResponse:
    """What a tool returned for one call (``name`` repeats the called tool)."""

    name: str
    content: str


@dataclass
class UserTurn:
    content: str
    role: str = "user"


@dataclass
class AssistantTurn:
    """``thinking=None`` renders no think block; ``""`` renders the empty (non-thinking) one."""

    content: str = ""
    thinking: str | None = None
    phases: list[Phase] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    role: str = "assistant"

    def thinking_text(self) -> str | None:
        """The text inside ``<think>``: free thinking, or the phases under ``## Name`` headers."""
        if self.phases:
            return "\n\n".join(f"## {p.phase.capitalize()}\n{p.text}" for p in self.phases)
        return self.thinking


@dataclass
class ToolTurn:
    """The responses to the previous assistant turn's calls, one per call, in call order."""

    responses: list[ToolResponse]
    role: str = "tool"


@dataclass
class Branch:
    """A failed attempt kept for learning to recover: the attempt, and the observation of its failure."""

    attempt: AssistantTurn
    observation: ToolTurn
    role: str = "branch"


Turn = UserTurn | AssistantTurn | ToolTurn | Branch


@dataclass
class Trajectory:
    turns: list[Turn]
    system: str = ""
    tools: list[dict[str, Any]] = field(default_factory=list)
    id: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def flat_turns(self) -> list[tuple[int, Turn, bool]]:
        """(top-level index, turn, is_failed_attempt) with branches expanded into their two turns."""
        out: list[tuple[int, Turn, bool]] = []
        for i, turn in enumerate(self.turns):
            if isinstance(turn, Branch):
                out += [(i, turn.attempt, True), (i, turn.observation, True)]
            else:
                out.append((i, turn, False))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "id": self.id,
            "system": self.system,
            "tools": self.tools,
            "turns": [_turn_to_dict(t) for t in self.turns],
            "meta": self.meta,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        if not isinstance(data, dict):
            raise TrajectoryError(
                None, "json", f"a trajectory must be a JSON object, got {type(data).__name__}"
            )
        version = data.get("version")
        if version != FORMAT_VERSION:
            raise TrajectoryError(
                None, "version", f"got {version!r}; this ylm reads version {FORMAT_VERSION}"
            )
        turns = data.get("turns")
        if not isinstance(turns, list):
            raise TrajectoryError(None, "turns", "must be a list of turns")
        return cls(
            turns=[_turn_from_dict(t, i) for i, t in enumerate(turns)],
            system=data.get("system", ""),
            tools=list(_need(data.get("tools", []), list, None, "tools")),
            id=data.get("id", ""),
            meta=dict(_need(data.get("meta", {}), dict, None, "meta")),
        )

    @classmethod
    def from_json(cls, text: str) -> Trajectory:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise TrajectoryError(None, "json", f"malformed JSON: {err}") from err
        return cls.from_dict(data)


# ---------------------------------------------------------------- (de)serialisation


def _assistant_to_dict(t: AssistantTurn) -> dict[str, Any]:
    d: dict[str, Any] = {"role": "assistant"}
    if t.thinking is not None:
        d["thinking"] = t.thinking
    if t.phases:
        d["phases"] = [{"phase": p.phase, "text": p.text} for p in t.phases]
    d["content"] = t.content
    if t.tool_calls:
        d["tool_calls"] = [{"name": c.name, "arguments": c.arguments} for c in t.tool_calls]
    return d


def _turn_to_dict(t: Turn) -> dict[str, Any]:
    if isinstance(t, UserTurn):
        return {"role": "user", "content": t.content}
    if isinstance(t, AssistantTurn):
        return _assistant_to_dict(t)
    if isinstance(t, ToolTurn):
        return {"role": "tool", "responses": [{"name": r.name, "content": r.content} for r in t.responses]}
    return {
        "role": "branch",
        "attempt": _assistant_to_dict(t.attempt),
        "observation": _turn_to_dict(t.observation),
    }


def parse_arguments(raw: Any, turn: int | None, where: str) -> dict[str, Any]:
    """Tool-call arguments from a dict or a JSON string (OpenAI style); malformed JSON is an error."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            raise TrajectoryError(turn, where, f"malformed JSON: {err}") from err
    if not isinstance(raw, dict):
        raise TrajectoryError(turn, where, f"must be a JSON object, got {type(raw).__name__}")
    return raw


_JSON_NAMES = {dict: "a JSON object", list: "a JSON array"}


def _need(value: Any, kind: type, turn: int | None, where: str) -> Any:
    """``value`` when it is a ``kind`` (dict or list); a ``TrajectoryError`` naming ``where`` otherwise."""
    if not isinstance(value, kind):
        raise TrajectoryError(turn, where, f"must be {_JSON_NAMES[kind]}, got {type(value).__name__}")
    return value


def _assistant_from_dict(d: Any, i: int, prefix: str = "") -> AssistantTurn:
    _need(d, dict, i, prefix.removesuffix(".") or "turn")
    calls = []
    for k, c in enumerate(_need(d.get("tool_calls", []), list, i, f"{prefix}tool_calls")):
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise TrajectoryError(
                i, f"{prefix}tool_calls[{k}]", "must be an object with a string 'name' and 'arguments'"
            )
        calls.append(
            ToolCall(
                c["name"], parse_arguments(c.get("arguments", {}), i, f"{prefix}tool_calls[{k}].arguments")
            )
        )
    phases = []
    for k, p in enumerate(_need(d.get("phases", []), list, i, f"{prefix}phases")):
        _need(p, dict, i, f"{prefix}phases[{k}]")
        for key in ("phase", "text"):
            if key not in p:
                raise TrajectoryError(
                    i, f"{prefix}phases[{k}].{key}", "is missing; a phase needs 'phase' and 'text'"
                )
        phases.append(Phase(p["phase"], p["text"]))
    return AssistantTurn(
        content=d.get("content", ""), thinking=d.get("thinking"), phases=phases, tool_calls=calls
    )


def _tool_from_dict(d: Any, i: int, prefix: str = "") -> ToolTurn:
    _need(d, dict, i, prefix.removesuffix(".") or "turn")
    responses = d.get("responses")
    if not isinstance(responses, list):
        raise TrajectoryError(i, f"{prefix}responses", "a tool turn needs a list of responses")
    for k, r in enumerate(responses):
        if not isinstance(r, dict):
            raise TrajectoryError(
                i,
                f"{prefix}responses[{k}]",
                f"must be an object with 'name' and 'content', got {type(r).__name__}",
            )
    return ToolTurn([ToolResponse(r.get("name", ""), r.get("content", "")) for r in responses])


def _turn_from_dict(d: dict[str, Any], i: int) -> Turn:
    role = d.get("role") if isinstance(d, dict) else None
    if role == "user":
        return UserTurn(d.get("content", ""))
    if role == "assistant":
        return _assistant_from_dict(d, i)
    if role == "tool":
        return _tool_from_dict(d, i)
    if role == "branch":
        for key in ("attempt", "observation"):
            if key not in d:
                raise TrajectoryError(i, key, "is missing; a branch needs 'attempt' and 'observation'")
        return Branch(
            _assistant_from_dict(d["attempt"], i, "attempt."),
            _tool_from_dict(d["observation"], i, "observation."),
        )
    raise TrajectoryError(i, "role", f"got {role!r}; allowed roles are: {', '.join(ROLES)}")


# ---------------------------------------------------------------- JSON-schema subset


def schema_type(schema: dict[str, Any]) -> list[str]:
    """The schema's type(s), BFCL aliases mapped; unknown type names are a ValueError."""
    raw = schema.get("type", "any")
    names = raw if isinstance(raw, list) else [raw]
    out = []
    for name in names:
        name = _TYPE_ALIASES.get(name, name)
        if name not in _JSON_TYPES:
            raise ValueError(
                f"schema type {name!r} is not supported; allowed: {', '.join(_JSON_TYPES)} "
                f"(and aliases {', '.join(_TYPE_ALIASES)})"
            )
        out.append(name)
    return out


def _is_type(value: Any, name: str) -> bool:
    if name == "any":
        return True
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    py = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}[name]
    return isinstance(value, py)


def schema_errors(value: Any, schema: dict[str, Any], path: str = "arguments") -> list[str]:
    """Ways ``value`` breaks ``schema`` (type, required, properties, enum, items), each naming its path."""
    types = schema_type(schema)
    if not any(_is_type(value, t) for t in types):
        return [f"{path}: expected {'/'.join(types)}, got {type(value).__name__} {value!r}"]
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing required property {key!r}")
        for key, item in value.items():
            if key in props:
                errors += schema_errors(item, props[key], f"{path}.{key}")
            elif "properties" in schema and schema.get("additionalProperties") is not True:
                errors.append(f"{path}: unknown property {key!r}; allowed: {', '.join(props) or '(none)'}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for k, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{path}[{k}]")
    return errors


# ---------------------------------------------------------------- validation


def _check_text(text: Any, turn: int | None, where: str, required: bool = True) -> None:
    if not isinstance(text, str):
        raise TrajectoryError(turn, where, f"must be a string, got {type(text).__name__}")
    if required and not text.strip():
        raise TrajectoryError(turn, where, "is empty but content is required here")
    for marker in RESERVED_MARKERS:
        if marker in text:
            raise TrajectoryError(turn, where, f"contains the reserved marker {marker!r}")


def _find_marker(value: Any, path: str) -> tuple[str, str] | None:
    """(path, marker) of the first reserved marker in a JSON value's keys or strings, at any depth."""
    if isinstance(value, str):
        return next(((path, m) for m in RESERVED_MARKERS if m in value), None)
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_marker(key, f"{path} key {key!r}") or _find_marker(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, (list, tuple)):
        for k, item in enumerate(value):
            found = _find_marker(item, f"{path}[{k}]")
            if found:
                return found
    return None


def _check_json(value: Any, turn: int | None, where: str, path: str) -> None:
    """JSON-serialisable and free of reserved markers (which would land verbatim in the rendered JSON)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError) as err:
        raise TrajectoryError(turn, where, f"not JSON-serialisable: {err}") from err
    found = _find_marker(value, path)
    if found:
        raise TrajectoryError(turn, where, f"{found[0]} contains the reserved marker {found[1]!r}")


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
        if not isinstance(call.name, str) or call.name not in tools:
            raise TrajectoryError(
                i, f"{where}.name", f"unknown tool {call.name!r}; known tools: {', '.join(tools) or '(none)'}"
            )
        if not isinstance(call.arguments, dict):
            raise TrajectoryError(i, f"{where}.arguments", "must be a JSON object")
        _check_json(call.arguments, i, f"{where}.arguments", "arguments")
        errors = schema_errors(call.arguments, tools[call.name].get("parameters", {"type": "object"}))
        if errors:
            raise TrajectoryError(i, f"{where}.arguments", "; ".join(errors))


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
    _check_text(traj.system, None, "system", required=False)
    tools: dict[str, dict] = {}
    for k, tool in enumerate(traj.tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
            raise TrajectoryError(None, f"tools[{k}].name", "every tool needs a non-empty string name")
        _check_json(tool, None, f"tools[{k}]", f"tools[{k}]")  # the whole schema is rendered as JSON
        try:
            schema_type(tool.get("parameters", {"type": "object"}))
        except ValueError as err:
            raise TrajectoryError(None, f"tools[{k}].parameters", str(err)) from err
        tools[tool["name"]] = tool
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


def load_jsonl(path: str | Path) -> list[Trajectory]:
    """Trajectories from a JSONL file, one ``Trajectory.to_json()`` per line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [Trajectory.from_json(line) for line in lines if line.strip()]
