"""Hostile inputs to the agent kit: each is a ValueError naming the field and what is allowed, never a silent
fix or a stack trace from deep inside. One section per defect a review found."""

from __future__ import annotations

import dataclasses
import math

import pytest
from agent_fixtures import ANY_TOOL, CALC, branch_fix, probe_trajectory

from ylm.agent.convert import to_openai_messages
from ylm.agent.parse import ToolCallParseError, parse_completion, parse_rendered
from ylm.agent.render import render
from ylm.agent.synth import SynthConfig, to_jsonl
from ylm.agent.synth.code_tasks import synthesize_code
from ylm.agent.synth.math_tasks import synthesize_math
from ylm.agent.synth.research import synthesize_research
from ylm.agent.synth.tool_use import synthesize_tool_use
from ylm.agent.trajectory import MAX_DEPTH, Trajectory, TrajectoryError, load_jsonl
from ylm.agent.validate import validate
from ylm.tokenizer.special_tokens import ASSISTANT, BOS, EOS, RESP_CLOSE, RESP_OPEN, USER

CALL = '<tool_call>{"name": "calculator", "arguments": {"expression": "1"}}</tool_call>'


def nested(depth: int) -> dict:
    """A JSON object nested ``depth`` levels: {"a": {"a": ... {}}}."""
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


# ---------------------------------------------------------------- 1. tool schemas of the wrong shape


def lookup(parameters: object) -> dict:
    return {"name": "lookup", "description": "Look a thing up.", "parameters": parameters}


SHAPES = [
    ("parameters a type name", lookup("object"), "parameters"),
    ("property schema a type name", lookup({"properties": {"id": "string"}}), "parameters.properties.id"),
    ("enum not a list", lookup({"properties": {"id": {"enum": 5}}}), "parameters.properties.id.enum"),
    ("empty enum", lookup({"properties": {"id": {"enum": []}}}), "parameters.properties.id.enum"),
    ("required a string", lookup({"required": "q", "properties": {"q": {}}}), "parameters.required"),
    (
        "items not an object",
        lookup({"properties": {"ids": {"items": "string"}}}),
        "parameters.properties.ids.items",
    ),
    ("unknown type name", lookup({"properties": {"n": {"type": "decimal"}}}), "parameters.properties.n.type"),
    ("type an object", lookup({"type": {"name": "object"}}), "parameters.type"),
    ("type an empty list", lookup({"type": []}), "parameters.type"),
    ("properties a list", lookup({"properties": ["q"]}), "parameters.properties"),
    (
        "additionalProperties a schema",
        lookup({"additionalProperties": {}}),
        "parameters.additionalProperties",
    ),
    (
        "enum deep inside items",
        lookup({"properties": {"a": {"items": {"properties": {"b": {"enum": 5}}}}}}),
        "parameters.properties.a.items.properties.b.enum",
    ),
    ("parameters not an object type", lookup({"type": "string"}), "parameters.type"),
    ("empty name", {"name": "", "parameters": {}}, "name"),
    ("name listed twice", CALC, "name"),
]


@pytest.mark.parametrize(("tool", "path"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_tool_schema_of_the_wrong_shape_names_the_tool_and_the_path(tool, path):
    """validate and parse_completion share the check (schema.tool_index): same field, same message."""
    tools = [CALC, tool]
    with pytest.raises(TrajectoryError) as invalid:
        validate(dataclasses.replace(branch_fix(), tools=tools))
    assert (invalid.value.turn, invalid.value.field) == (None, f"tools[1].{path}"), str(invalid.value)
    if tool["name"]:
        assert invalid.value.message.startswith(f"tool {tool['name']!r}")
    with pytest.raises(ToolCallParseError) as unparsed:
        parse_completion(CALL, tools=tools)
    assert str(unparsed.value) == f"tools[1].{path}: {invalid.value.message}"


def test_tools_not_a_list_is_rejected_as_a_whole():
    with pytest.raises(TrajectoryError, match="must be a list of tool schemas, got dict") as err:
        validate(dataclasses.replace(branch_fix(), tools=CALC))
    assert err.value.field == "tools"


# ---------------------------------------------------------------- 2. deep nesting


def test_arguments_at_max_depth_validate_render_and_round_trip_and_deeper_is_rejected():
    at_limit = probe_trajectory(nested(MAX_DEPTH))
    render(at_limit)
    assert Trajectory.from_json(at_limit.to_json()) == at_limit
    with pytest.raises(TrajectoryError, match=f"nested deeper than {MAX_DEPTH} levels") as err:
        validate(probe_trajectory(nested(990)))  # passed validate, then hit RecursionError in render
    assert (err.value.turn, err.value.field) == (1, "attempt.tool_calls[0].arguments")
    with pytest.raises(TrajectoryError, match="nested deeper") as err:
        validate(dataclasses.replace(probe_trajectory({}), tools=[lookup(nested(200))]))
    assert err.value.field == "tools[0]"


def test_deeply_nested_json_is_a_trajectory_error_when_read():
    data = branch_fix().to_dict()
    data["turns"][2]["tool_calls"][0]["arguments"] = '{"a": ' * 5000 + "{}" + "}" * 5000
    with pytest.raises(TrajectoryError, match="nested deeper") as err:
        Trajectory.from_dict(data)
    assert (err.value.turn, err.value.field) == (2, "tool_calls[0].arguments")
    text = branch_fix().to_json()[:-1] + ', "extra": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(TrajectoryError, match="nested deeper") as err:
        Trajectory.from_json(text)
    assert err.value.field == "json"


# ---------------------------------------------------------------- 3. lone surrogates


def _set(obj, attr, value):
    setattr(obj, attr, value)


SURROGATES = [
    ("system", lambda t: _set(t, "system", "Be \ud800 precise."), None, "system"),
    ("user text", lambda t: _set(t.turns[0], "content", "What is 2\udfff?"), 0, "content"),
    ("phase text", lambda t: _set(t.turns[4].phases[0], "text", "\ud800"), 4, "phases[0].text"),
    ("answer", lambda t: _set(t.turns[4], "content", "1024\udc00"), 4, "content"),
    (
        "argument value",
        lambda t: _set(t.turns[2].tool_calls[0], "arguments", {"expression": "2**10\ud800"}),
        2,
        "tool_calls[0].arguments",
    ),
    (
        "argument key",
        lambda t: _set(t.turns[2].tool_calls[0], "arguments", {"expression": "1", "\ud800": 1}),
        2,
        "tool_calls[0].arguments",
    ),
    ("observation", lambda t: _set(t.turns[3].responses[0], "content", "\ud800"), 3, "responses[0].content"),
    (
        "failed observation",
        lambda t: _set(t.turns[1].observation.responses[0], "content", "err\ud800"),
        1,
        "observation.responses[0].content",
    ),
    ("schema", lambda t: _set(t, "tools", [dict(CALC, description="\ud800")]), None, "tools[0]"),
    ("meta", lambda t: _set(t, "meta", {"note": "\ud800"}), None, "meta"),
]


@pytest.mark.parametrize(
    ("edit", "turn", "field"), [s[1:] for s in SURROGATES], ids=[s[0] for s in SURROGATES]
)
def test_lone_surrogate_is_rejected_naming_turn_and_field(edit, turn, field):
    traj = branch_fix()
    edit(traj)
    with pytest.raises(TrajectoryError, match="lone surrogate") as err:
        validate(traj)
    assert (err.value.turn, err.value.field) == (turn, field), str(err.value)


# ---------------------------------------------------------------- 4. strict JSON: no NaN or Infinity


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_numbers_are_rejected_in_arguments_and_schemas(number):
    with pytest.raises(TrajectoryError, match="NaN and Infinity are not valid JSON") as err:
        validate(probe_trajectory({"x": [1, number]}))
    assert (err.value.turn, err.value.field) == (1, "attempt.tool_calls[0].arguments")
    assert "arguments.x[1]" in err.value.message
    with pytest.raises(TrajectoryError, match="NaN and Infinity") as err:
        validate(dataclasses.replace(probe_trajectory({}), tools=[dict(ANY_TOOL, default=number)]))
    assert err.value.field == "tools[0]"


def test_non_finite_numbers_are_never_written_nor_read():
    traj = probe_trajectory({"x": math.nan})
    with pytest.raises(ValueError, match="not JSON compliant"):
        render(traj, check=False)
    with pytest.raises(ValueError, match="not JSON compliant"):
        to_openai_messages(traj)
    text = probe_trajectory({"x": 1.5}).to_json().replace("1.5", "NaN")
    with pytest.raises(TrajectoryError, match="NaN is not valid JSON"):
        Trajectory.from_json(text)
    for number in ("Infinity", "1e999"):
        completion = f'<tool_call>{{"name": "probe", "arguments": {{"x": {number}}}}}</tool_call>'
        with pytest.raises(ToolCallParseError, match="not allowed"):
            parse_completion(completion)


# ---------------------------------------------------------------- 5. parse_rendered validates


def test_parse_rendered_rejects_text_that_parses_but_breaks_the_grammar():
    no_call = f"{BOS}{USER}Hi.{ASSISTANT}Hello.{EOS}{USER}{RESP_OPEN}42{RESP_CLOSE}{ASSISTANT}Ok.{EOS}"
    with pytest.raises(TrajectoryError, match="tool response with no call") as err:
        parse_rendered(no_call)
    assert (err.value.turn, err.value.field) == (2, "responses")
    unknown = render(branch_fix()).text.replace(
        '<tool_call>{"name": "calculator"', '<tool_call>{"name": "abacus"'
    )
    with pytest.raises(TrajectoryError, match="unknown tool 'abacus'") as err:
        parse_rendered(unknown)
    assert err.value.field == "attempt.tool_calls[0].name"


# ---------------------------------------------------------------- 6. synthesis parameters

SYNTH = [
    ("negative count", lambda: SynthConfig(n_math=-1), r"SynthConfig.n_math=.*: must be an integer >= 0"),
    ("rate of 7", lambda: SynthConfig(math_branch_rate=7), r"SynthConfig.math_branch_rate=.*: must be a number in \[0, 1\]"),
    ("NaN rate", lambda: SynthConfig(math_branch_rate=math.nan), r"math_branch_rate=.*: must be a number in \[0, 1\]"),
    ("float seed", lambda: SynthConfig(seed=1.5), r"SynthConfig.seed=.*: must be an integer"),
    ("bool count", lambda: SynthConfig(n_tool_use=True), r"SynthConfig.n_tool_use=.*: must be an integer >= 0"),
    ("math count", lambda: synthesize_math(0, -3), r"n=.*: must be an integer >= 0"),
    ("math rate", lambda: synthesize_math(0, 2, branch_rate=-0.1), r"branch_rate=.*: must be a number in \[0, 1\]"),
    ("math seed", lambda: synthesize_math("0", 2), r"seed=.*: must be an integer"),
    ("code count", lambda: synthesize_code(0, -1), r"n_direct=.*: must be an integer >= 0"),
    ("research count", lambda: synthesize_research(0, 2, -1, docs=[]), r"n_reverse=.*: must be an integer >= 0"),
    ("tool-use count", lambda: synthesize_tool_use(0, 2.5, docs=[]), r"n=.*: must be an integer >= 0"),
]


@pytest.mark.parametrize(("call", "message"), [s[1:] for s in SYNTH], ids=[s[0] for s in SYNTH])
def test_synthesis_parameters_are_range_checked(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- 7. loading names the file and the line


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [("{not json", "malformed JSON"), ('{"version": 1, "turns": 5}', "must be a list of turns")],
    ids=["bad JSON", "JSON but not a trajectory"],
)
def test_load_jsonl_names_the_file_and_the_line(tmp_path, bad_line, message):
    path = tmp_path / "set.jsonl"
    path.write_text(to_jsonl([branch_fix()]) + "\n" + bad_line + "\n", encoding="utf-8")
    with pytest.raises(TrajectoryError, match=message) as err:
        load_jsonl(path)
    assert f"{path}, line 3" in str(err.value)


def test_load_jsonl_splits_lines_on_newline_only(tmp_path):
    """to_json writes U+2028 raw inside strings; str.splitlines() used to cut the record there."""
    traj = branch_fix()
    traj.turns[0].content = "Two lines\u2028in one paragraph\x85?"
    path = tmp_path / "set.jsonl"
    path.write_text(to_jsonl([traj, branch_fix()]), encoding="utf-8")
    assert load_jsonl(path) == [traj, branch_fix()]


# ---------------------------------------------------------------- 8. wrong types at public entry points

ENTRY_POINTS = [
    ("validate a dict", lambda: validate(branch_fix().to_dict()), "traj must be a Trajectory, got dict"),
    (
        "render a bogus branch mode",
        lambda: render(branch_fix(), branch_mode="bogus"),
        "branch_mode 'bogus' is not valid; allowed: supervised, context",
    ),
    ("from_dict a list", lambda: Trajectory.from_dict([1]), r"data must be a JSON object \(a dict"),
    ("from_json bytes", lambda: Trajectory.from_json(b"\xff\xfe"), "text must be a str, got bytes"),
    ("parse_rendered None", lambda: parse_rendered(None), "text must be a str, got NoneType"),
    ("parse_completion bytes", lambda: parse_completion(CALL.encode()), "text must be a str, got bytes"),
]


@pytest.mark.parametrize(("call", "message"), [s[1:] for s in ENTRY_POINTS], ids=[s[0] for s in ENTRY_POINTS])
def test_wrong_types_at_entry_points_name_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("name", ['say"hi', "back\\slash", "tab\there"])
def test_a_tool_name_the_template_cannot_write_is_refused_by_validate(name: str) -> None:
    from ylm.agent.trajectory import AssistantTurn, ToolCall, ToolResponse, ToolTurn, Trajectory, UserTurn
    from ylm.agent.validate import validate

    traj = Trajectory(id="t", system="", tools=[{"name": name, "parameters": {"type": "object"}}],
                      turns=[UserTurn("go"), AssistantTurn(tool_calls=[ToolCall(name, {})]),
                             ToolTurn([ToolResponse(name, "ok")]), AssistantTurn(content="done")])
    with pytest.raises(ValueError, match=r"tools\[0\]\.name.*cannot be rendered"):
        validate(traj)
