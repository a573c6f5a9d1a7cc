"""The JSON-schema subset tool parameters are written in, the one check of a tool list, and the one check of a
tool call against its tools.

Tools are described by JSON schemas (OpenAI function style: ``{"name", "description", "parameters"}``). The
kit checks arguments against a subset of JSON Schema: ``type`` (one name or a list), ``required``,
``properties``, ``enum``, ``items`` and ``additionalProperties``; BFCL's Python spellings
``dict``/``float``/``tuple`` are accepted as aliases of ``object``/``number``/``array``. Arguments are strict:
a key the schema does not list is an error unless the schema sets ``additionalProperties: true``.

``tool_index`` is the single definition of "a valid tool list": a list of objects with unique non-empty string
names, strict JSON (``ylm.agent.trajectory.json_problem``), whose ``parameters`` describe an object and use
the subset's keywords with the right shapes at every depth. ``check_tool_call`` is the single definition of
"a valid call": the tool is known and the arguments are a strict JSON object that matches its ``parameters``.
``ylm.agent.validate`` (trajectories) and ``ylm.agent.parse.parse_completion`` (model completions) both use
them, so they reject a bad tool or call with the same message.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Callable, Mapping
from typing import Any

from ylm.agent.trajectory import ToolCall, json_problem

# BFCL writes some JSON-schema types with Python names; they are accepted as documented aliases.
_TYPE_ALIASES = {"dict": "object", "float": "number", "tuple": "array"}
_JSON_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null", "any")


def schema_type(schema: dict[str, Any]) -> list[str]:
    """The schema's type(s), BFCL aliases mapped; anything but a known name or a non-empty list of known names
    is a ValueError."""
    raw = schema.get("type", "any")
    names = [
        _TYPE_ALIASES.get(n, n) if isinstance(n, str) else n
        for n in (raw if isinstance(raw, list) else [raw])
    ]
    unknown = [name for name in names if name not in _JSON_TYPES]
    if unknown or not names:
        raise ValueError(
            f"schema type {unknown[0] if unknown else raw!r} is not supported; allowed: "
            f"{', '.join(_JSON_TYPES)} (and aliases {', '.join(_TYPE_ALIASES)}), or a non-empty list of them"
        )
    return names


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


def _got(value: Any) -> str:
    return f"got {type(value).__name__} {reprlib.repr(value)}"  # reprlib: short even for huge or deep values


# The shape each keyword of the subset must have (``type``, ``properties`` values and ``items`` are checked as
# schemas); other keys (description, default, ...) are free.
_KEYWORD_SHAPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "properties": (lambda v: isinstance(v, dict), "an object of property schemas"),
    "required": (
        lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v),
        "a list of property names",
    ),
    "enum": (lambda v: isinstance(v, list) and bool(v), "a non-empty list of allowed values"),
    "additionalProperties": (lambda v: isinstance(v, bool), "true or false"),
}


def _shape_problem(schema: Any, path: str) -> tuple[str, str] | None:
    """(path, problem) at the first place ``schema`` leaves the subset's shapes, or None. Recursive: callers
    bound the depth first (``json_problem``)."""
    if not isinstance(schema, dict):
        return path, f"must be a JSON object (a schema), {_got(schema)}"
    try:
        schema_type(schema)
    except ValueError as err:
        return f"{path}.type", str(err)
    for key, (ok, allowed) in _KEYWORD_SHAPES.items():
        if key in schema and not ok(schema[key]):
            return f"{path}.{key}", f"must be {allowed}, {_got(schema[key])}"
    for key, item in schema.get("properties", {}).items():
        if found := _shape_problem(item, f"{path}.properties.{key}"):
            return found
    return _shape_problem(schema["items"], f"{path}.items") if "items" in schema else None


class ToolSchemaError(ValueError):
    """A tool list of the wrong shape. ``field`` locates the fault (``tools[k].parameters.required``, say)."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


def needs_json_escape(name: str) -> bool:
    """True for a name JSON would escape (quotes, backslashes, control characters): the Youtu template writes
    tool names between quotes as they are, so such a name cannot be rendered as a JSON tool call."""
    return json.dumps(name, ensure_ascii=False)[1:-1] != name


def tool_index(tools: Any) -> dict[str, dict[str, Any]]:
    """The tools by name; a ``ToolSchemaError`` naming the tool and the path inside it unless ``tools`` is a
    list of objects with unique non-empty string names, strict JSON, whose ``parameters`` (default: any
    object) describe an object in the subset's shapes at every depth."""
    if not isinstance(tools, list):
        raise ToolSchemaError("tools", f"must be a list of tool schemas, {_got(tools)}")
    index: dict[str, dict[str, Any]] = {}
    for k, tool in enumerate(tools):
        where = f"tools[{k}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
            raise ToolSchemaError(
                f"{where}.name", f"every tool is a JSON object with a non-empty string name, {_got(tool)}"
            )
        name = tool["name"]
        if needs_json_escape(name):
            raise ToolSchemaError(f"{where}.name", f"tool {name!r}: a name with quotes, backslashes or control "
                                  "characters cannot be rendered (the template does not escape names)")
        if problem := json_problem(tool, where):  # first: it bounds the depth _shape_problem recurses to
            raise ToolSchemaError(where, f"tool {name!r}: {problem}")
        if name in index:
            raise ToolSchemaError(f"{where}.name", f"tool {name!r} is listed twice; tool names are unique")
        params = tool.get("parameters", {"type": "object"})
        found = _shape_problem(params, "parameters")
        if not found and not {"object", "any"} & set(schema_type(params)):
            found = "parameters.type", "must describe an object: tool-call arguments are a JSON object"
        if found:
            raise ToolSchemaError(f"{where}.{found[0]}", f"tool {name!r}: {found[1]}")
        index[name] = tool
    return index


class ToolCallError(ValueError):
    """A tool call its tools reject. ``field`` is the call's field at fault: ``"name"`` or ``"arguments"``."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(message)


def check_tool_call(call: ToolCall, tools: Mapping[str, dict[str, Any]]) -> None:
    """Raise ``ToolCallError`` unless ``call.name`` is one of ``tools`` (as ``tool_index`` returns them) and
    ``call.arguments`` is a strict JSON object valid against that tool's ``parameters`` (none: any object)."""
    if not isinstance(call.name, str) or call.name not in tools:
        known = ", ".join(tools) or "(none)"
        raise ToolCallError("name", f"unknown tool {call.name!r}; known tools: {known}")
    if not isinstance(call.arguments, dict):
        raise ToolCallError("arguments", "must be a JSON object")
    if problem := json_problem(call.arguments, "arguments"):  # first: it bounds the depth schema_errors sees
        raise ToolCallError("arguments", problem)
    errors = schema_errors(call.arguments, tools[call.name].get("parameters", {"type": "object"}))
    if errors:
        raise ToolCallError("arguments", "; ".join(errors))
