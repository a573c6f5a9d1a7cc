"""The JSON-schema subset tool parameters are written in, and the one check of a tool call against its tools.

Tools are described by JSON schemas (OpenAI function style: ``{"name", "description", "parameters"}``). The
kit checks arguments against a subset of JSON Schema: ``type`` (one name or a list), ``required``,
``properties``, ``enum`` and ``items``; BFCL's Python spellings ``dict``/``float``/``tuple`` are accepted as
aliases of ``object``/``number``/``array``. Arguments are strict: a key the schema does not list is an error
unless the schema sets ``additionalProperties: true``.

``check_tool_call`` is the single definition of "a valid call": the tool is known and the arguments are an
object that matches its ``parameters``. ``ylm.agent.validate`` (trajectories) and
``ylm.agent.parse.parse_completion`` (model completions) both use it, so they reject a bad call with the same
message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ylm.agent.trajectory import ToolCall

# BFCL writes some JSON-schema types with Python names; they are accepted as documented aliases.
_TYPE_ALIASES = {"dict": "object", "float": "number", "tuple": "array"}
_JSON_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null", "any")


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


class ToolCallError(ValueError):
    """A tool call its tools reject. ``field`` is the call's field at fault: ``"name"`` or ``"arguments"``."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(message)


def check_tool_call(call: ToolCall, tools: Mapping[str, dict[str, Any]]) -> None:
    """Raise ``ToolCallError`` unless ``call.name`` is one of ``tools`` (schemas by name) and
    ``call.arguments`` is an object valid against that tool's ``parameters`` schema (none: any object)."""
    if not isinstance(call.name, str) or call.name not in tools:
        known = ", ".join(tools) or "(none)"
        raise ToolCallError("name", f"unknown tool {call.name!r}; known tools: {known}")
    if not isinstance(call.arguments, dict):
        raise ToolCallError("arguments", "must be a JSON object")
    errors = schema_errors(call.arguments, tools[call.name].get("parameters", {"type": "object"}))
    if errors:
        raise ToolCallError("arguments", "; ".join(errors))
