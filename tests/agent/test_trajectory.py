"""The trajectory data model: JSON round trips, and JSON of the wrong shape as errors naming the field."""

from __future__ import annotations

import json

import pytest
from agent_fixtures import calc_trajectory

from ylm.agent.trajectory import FORMAT_VERSION, Branch, Phase, Trajectory, TrajectoryError
from ylm.agent.validate import validate


def test_json_round_trip_keeps_everything():
    traj = calc_trajectory()
    text = traj.to_json()
    assert f'"version": {FORMAT_VERSION}' in text
    back = Trajectory.from_json(text)
    assert back == traj
    assert isinstance(back.turns[1], Branch)
    assert back.turns[2].phases[0] == Phase("reflection", "The calculator uses ** for powers.")


def test_valid_trajectory_passes_and_flat_turns_mark_the_attempt():
    traj = validate(calc_trajectory())
    flags = [failed for _, _, failed in traj.flat_turns()]
    assert flags == [False, True, True, False, False, False]


def test_wrong_version_is_rejected():
    data = calc_trajectory().to_dict()
    data["version"] = 99
    with pytest.raises(TrajectoryError, match="version"):
        Trajectory.from_dict(data)


def test_malformed_argument_json_names_turn_and_field():
    data = calc_trajectory().to_dict()
    data["turns"][2]["tool_calls"][0]["arguments"] = '{"expression": "2**10"'
    with pytest.raises(TrajectoryError) as err:
        Trajectory.from_dict(data)
    assert err.value.turn == 2 and err.value.field == "tool_calls[0].arguments"
    assert "malformed JSON" in str(err.value)


def test_string_arguments_are_parsed_as_json():
    data = calc_trajectory().to_dict()
    data["turns"][2]["tool_calls"][0]["arguments"] = '{"expression": "2**10"}'
    assert Trajectory.from_dict(data) == calc_trajectory()


def test_bad_role_in_json():
    data = calc_trajectory().to_dict()
    data["turns"][0]["role"] = "narrator"
    with pytest.raises(TrajectoryError, match="allowed roles are: user, assistant, tool, branch"):
        Trajectory.from_dict(data)


# ---------------------------------------------------------------- malformed JSON is a TrajectoryError


def _pop(d, key):
    d.pop(key)


JSON_CASES = [
    ("branch without attempt", lambda d: _pop(d["turns"][1], "attempt"), 1, "attempt", "is missing"),
    ("branch without observation", lambda d: _pop(d["turns"][1], "observation"), 1, "observation", "missing"),
    (
        "attempt not an object",
        lambda d: d["turns"][1].update(attempt=[1]),
        1,
        "attempt",
        "JSON object, got list",
    ),
    (
        "observation not an object",
        lambda d: d["turns"][1].update(observation="x"),
        1,
        "observation",
        "got str",
    ),
    (
        "phase without phase",
        lambda d: _pop(d["turns"][2]["phases"][0], "phase"),
        2,
        "phases[0].phase",
        "missing",
    ),
    (
        "phase without text",
        lambda d: _pop(d["turns"][4]["phases"][0], "text"),
        4,
        "phases[0].text",
        "missing",
    ),
    (
        "attempt phase without phase",
        lambda d: _pop(d["turns"][1]["attempt"]["phases"][1], "phase"),
        1,
        "attempt.phases[1].phase",
        "missing",
    ),
    ("phase not an object", lambda d: d["turns"][4].update(phases=["summary"]), 4, "phases[0]", "got str"),
    (
        "phases not a list",
        lambda d: d["turns"][4].update(phases={"phase": "summary"}),
        4,
        "phases",
        "JSON array",
    ),
    (
        "response not an object",
        lambda d: d["turns"][3].update(responses=["1024"]),
        3,
        "responses[0]",
        "got str",
    ),
    (
        "observation response not an object",
        lambda d: d["turns"][1]["observation"].update(responses=[None]),
        1,
        "observation.responses[0]",
        "got NoneType",
    ),
    ("tool_calls not a list", lambda d: d["turns"][2].update(tool_calls=7), 2, "tool_calls", "JSON array"),
    (
        "tool call name not a string",
        lambda d: d["turns"][2]["tool_calls"][0].update(name=1),
        2,
        "tool_calls[0]",
        "name",
    ),
    ("tools not a list", lambda d: d.update(tools=7), None, "tools", "JSON array, got int"),
    ("meta not an object", lambda d: d.update(meta=[1]), None, "meta", "JSON object, got list"),
]


@pytest.mark.parametrize(
    ("name", "edit", "turn", "field", "message"), JSON_CASES, ids=[c[0] for c in JSON_CASES]
)
def test_malformed_json_raises_trajectory_error_naming_the_field(name, edit, turn, field, message):
    data = calc_trajectory().to_dict()
    edit(data)
    with pytest.raises(TrajectoryError) as err:
        Trajectory.from_json(json.dumps(data))
    assert (err.value.turn, err.value.field) == (turn, field), str(err.value)
    assert message in str(err.value)


@pytest.mark.parametrize("text", ["[1, 2]", '"x"', "null", "3"])
def test_top_level_json_must_be_an_object(text):
    with pytest.raises(TrajectoryError, match="must be a JSON object") as err:
        Trajectory.from_json(text)
    assert (err.value.turn, err.value.field) == (None, "json")
