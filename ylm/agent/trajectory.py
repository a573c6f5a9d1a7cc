"""Agent trajectories: the data model and its JSON form.

A trajectory is what an agent did for one task, in the shape the paper's agentic mid-training data
describes (thinking, tool calls, real observations, error reflection and path correction):

    Trajectory = system prompt + tools (JSON schemas) + turns
    turn       = UserTurn | AssistantTurn | ToolTurn | Branch
    Branch     = failed AssistantTurn attempt + the ToolTurn that observed the failure;
                 the next assistant turn opens with a Reflection phase and carries the corrected path.

The five Agentic-CoT phases (Analysis -> Plan -> Action -> Reflection -> Summary) are first-class:
an assistant turn's thinking is either free text or a list of ``Phase(phase, text)``, written as ``## Name``
sections (``PHASE_HEADER_RE`` finds their header lines). The rule that makes a branch recoverable from plain
text: right after a tool response, an assistant turn opens with a Reflection phase exactly when that response
was a failed branch's observation (several failures = several Branches).

``Trajectory.from_dict``/``from_json`` raise ``TrajectoryError`` (a ``ValueError`` naming the turn index and
the field) for JSON of the wrong shape (a missing or non-object field, malformed argument JSON), never a
``KeyError``. ``ylm.agent.validate`` checks the rest (tools, schemas, turn grammar, reserved markers);
``ylm.agent.render`` renders trajectories to the Youtu chat format with a loss mask.

The JSON is strict, read and written: no NaN or Infinity (``read_json`` rejects them, writers pass
``allow_nan=False``), no lone surrogates (text must encode as UTF-8), and objects and arrays nest at most
``MAX_DEPTH`` levels inside a value (tool-call arguments, a tool schema, meta). The depth bound keeps every
recursive step (``json.dumps``/``json.loads``, the schema check) far from Python's recursion limit, so a value
that validates also renders and reads back; ``json_problem`` checks a value, ``read_json`` measures JSON text
before decoding it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

FORMAT_VERSION = 1
PHASES: tuple[str, ...] = ("analysis", "plan", "action", "reflection", "summary")
ROLES: tuple[str, ...] = ("user", "assistant", "tool", "branch")

# A line like "## Plan" opens a phase inside the thinking block.
PHASE_HEADER_RE = re.compile(r"^## (Analysis|Plan|Action|Reflection|Summary)$", re.MULTILINE)

# Deepest nesting of objects and arrays in one JSON value of a trajectory (arguments, a tool schema, meta),
# the value itself counting as level 1. Real tool schemas nest a few levels; 64 leaves room and stays far
# below Python's recursion limit (1000), which json.dumps/json.loads and the schema check run into.
MAX_DEPTH = 64
# Levels the trajectory document puts around a value: a failed attempt's arguments sit inside
# document > turns > branch > attempt > tool_calls > call.
_DOCUMENT_DEPTH = 6


class TrajectoryError(ValueError):
    """A trajectory is invalid. ``turn`` is the index in ``Trajectory.turns`` (None for the header)."""

    def __init__(self, turn: int | None, field: str, message: str):
        self.turn, self.field, self.message = turn, field, message
        where = "trajectory" if turn is None else f"turn {turn}"
        super().__init__(f"{where}, field {field!r}: {message}")


def need_arg(value: Any, kind: type, name: str) -> None:
    """A public entry point's argument ``name`` is a ``kind``; a ``ValueError`` naming both otherwise."""
    if not isinstance(value, kind):
        raise ValueError(f"{name} must be a {kind.__name__}, got {type(value).__name__}")


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
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        if not isinstance(data, dict):
            raise TrajectoryError(
                None, "json", f"data must be a JSON object (a dict of fields), got {type(data).__name__}"
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
        need_arg(text, str, "text")
        return cls.from_dict(read_json(text, None, "json", _DOCUMENT_DEPTH))


# ---------------------------------------------------------------- strict JSON


def walk_json(value: Any, path: str) -> Iterator[tuple[str, Any, int]]:
    """(path, node, depth) for ``value`` and everything in it, in document order; an object's keys are nodes
    too (path ``<object> key '<key>'``). ``depth`` counts the objects and arrays from ``value`` down to the
    node, the node included. Iterative, and it enters nothing deeper than ``MAX_DEPTH``."""
    stack = [(path, value, 0)]
    while stack:
        where, node, outer = stack.pop()
        depth = outer + isinstance(node, (dict, list))
        yield where, node, depth
        if depth > MAX_DEPTH:
            continue
        if isinstance(node, dict):
            children = [
                child
                for key, item in node.items()
                for child in ((f"{where} key {key!r}", key, depth), (f"{where}.{key}", item, depth))
            ]
        elif isinstance(node, list):
            children = [(f"{where}[{k}]", item, depth) for k, item in enumerate(node)]
        else:
            continue
        stack += reversed(children)


_JSON_TYPES = (dict, list, str, int, float, type(None))  # bool is an int
# Any surrogate code point in a str is unpaired as far as UTF-8 goes: encoding it raises.
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


def json_problem(value: Any, path: str) -> str | None:
    """The first way ``value`` is not strict JSON, naming its path: a non-JSON type, a non-string key,
    NaN/Infinity, a lone surrogate, or nesting deeper than ``MAX_DEPTH``; None when it is strict JSON."""
    for where, node, depth in walk_json(value, path):
        if not isinstance(node, _JSON_TYPES):
            return f"{where} is not JSON-serialisable: a {type(node).__name__}"
        if depth > MAX_DEPTH:
            return f"{where} is nested deeper than {MAX_DEPTH} levels (MAX_DEPTH)"
        if isinstance(node, dict) and not all(isinstance(key, str) for key in node):
            return f"{where} has a non-string key; JSON object keys are strings"
        if isinstance(node, float) and not math.isfinite(node):
            return f"{where} is {node!r}; NaN and Infinity are not valid JSON"
        if isinstance(node, str) and (found := _SURROGATE_RE.search(node)):
            return f"{where} contains the lone surrogate {found.group()!r}, which UTF-8 cannot encode"
    return None


# A JSON string literal, escapes included (removed before counting brackets).
_JSON_STRING_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def _json_text_depth(text: str) -> int:
    """How deeply the objects and arrays of JSON text nest, counted without decoding it (decoding
    recurses)."""
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", _JSON_STRING_RE.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON (NaN and Infinity are not allowed)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 decodes to inf without passing through parse_constant
        raise ValueError(f"{text} overflows to {value}; NaN and Infinity are not allowed")
    return value


def read_json(text: str, turn: int | None, where: str, envelope: int = 0) -> Any:
    """Strict JSON from ``text``, a ``TrajectoryError`` naming ``where`` otherwise: malformed, NaN/Infinity,
    or nested deeper than ``MAX_DEPTH`` plus ``envelope``, the levels the format wraps around the value."""
    limit = MAX_DEPTH + envelope
    if _json_text_depth(text) > limit:
        raise TrajectoryError(turn, where, f"JSON nested deeper than {limit} levels (MAX_DEPTH + {envelope})")
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except ValueError as err:  # JSONDecodeError, or a constant/float rejected above
        raise TrajectoryError(turn, where, f"malformed JSON: {err}") from err


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
        raw = read_json(raw, turn, where)
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


def load_jsonl(path: str | Path) -> list[Trajectory]:
    """Trajectories from a JSONL file, one ``Trajectory.to_json()`` per line; a bad line is a
    ``TrajectoryError`` whose message names the file and the line (1-based)."""
    trajs = []
    # split on "\n" only: to_json writes U+2028 and the other Unicode line breaks raw inside strings
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").split("\n"), start=1):
        if line.strip():
            try:
                trajs.append(Trajectory.from_json(line))
            except TrajectoryError as err:
                raise TrajectoryError(err.turn, err.field, f"{err.message} ({path}, line {n})") from None
    return trajs
