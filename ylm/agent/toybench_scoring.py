"""Grading the toy agent benchmark: one row of scores per episode, rates per category and level.

    valid call rate   calls that parse, name a tool the task offers and fit its schema / calls attempted
    right             every expected call made validly, for its request, with equivalent arguments
    success           each user request's final answer states its expected value
    recovery          after the first error observation, a later right call; rate = recovered / saw an error
    steps             assistant turns the episode took

Arguments are compared by what they do (``call_matches``): a calculator expression by its value, a search by
the document it ranks first, a read by its document; answers by the value they state (``answer_contains``).
``call_given_thinking`` is the low-noise companion of the episode scores: given the reference thinking of a
task's first turn, does the policy write the call that thinking announces? (The other, the teacher-forced
loss on the reference trajectories, is ``ylm.train.experiment.trajectory_loss``.)
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pandas as pd

from ylm.agent.parse import ToolCallParseError, parse_completion
from ylm.agent.render import encode, render_segments
from ylm.agent.runtime import Episode, Policy, run_episode
from ylm.agent.schema import ToolCallError, check_tool_call, tool_index
from ylm.agent.tools import ERROR_PREFIX, CalculatorError, calculate
from ylm.agent.toybench import Task, lookup_index, task_tools
from ylm.agent.trajectory import AssistantTurn, ToolCall
from ylm.tokenizer.special_tokens import CALL_OPEN

SCORE_COLUMNS: tuple[str, ...] = (
    "task_id", "category", "level", "status", "steps", "calls", "valid_calls", "right", "success",
    "error_seen", "recovered", "generated_tokens", "answers",
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def answer_contains(answer: str, expected: str) -> bool:
    """Whether ``answer`` states ``expected``: for a number, some number written in the answer equals it
    (``49.30`` states 49.3, ``149.3`` does not); otherwise the text as a whole word, in any case."""
    try:
        value = float(expected)
    except ValueError:
        return re.search(rf"(?<!\w){re.escape(expected)}(?!\w)", answer, flags=re.IGNORECASE) is not None
    return any(_close(float(m), value) for m in _NUMBER.findall(answer))


def _same_expression(expression: Any, reference: str) -> bool:
    try:
        want = calculate(reference)
    except CalculatorError:  # a reference slip: the same text, spacing aside
        return isinstance(expression, str) and expression.split() == reference.split()
    try:
        return _close(calculate(expression), want)
    except CalculatorError:
        return False


def call_matches(call: ToolCall, reference: ToolCall) -> bool:
    """Whether ``call`` does what ``reference`` does: the same tool and arguments equivalent for it (a
    calculator expression of the same value, a search ranking the same document first, a read of the same
    document whatever its focus; any other tool the same arguments)."""
    if call.name != reference.name:
        return False
    args, ref = call.arguments, reference.arguments
    if call.name == "calculator":
        return _same_expression(args.get("expression"), ref["expression"])
    if call.name == "search":
        top = lookup_index().rank(ref["query"])[:1]
        return bool(top) and lookup_index().rank(str(args.get("query", "")))[:1] == top
    if call.name == "read":
        return args.get("doc_id") == ref["doc_id"]
    return args == ref


def is_error_observation(text: str) -> bool:
    """An observation reporting a failure: ``error: ...`` (the calculator, a call the runtime rejected, the
    transient failure) or a JSON object with an ``error`` key (``read`` of an unknown document)."""
    if text.startswith(ERROR_PREFIX):
        return True
    try:
        parsed = json.loads(text)
    except ValueError:
        return False
    return isinstance(parsed, dict) and "error" in parsed


def _valid(call: ToolCall, schemas: dict[str, dict[str, Any]]) -> bool:
    try:
        check_tool_call(call, schemas)
    except ToolCallError:
        return False
    return True


def score_episode(task: Task, episode: Episode) -> dict[str, Any]:
    """The scores of one episode of ``task`` (``SCORE_COLUMNS``). ``calls`` counts the calls attempted: those
    parsed, and in a turn that did not parse its ``<tool_call>`` openings; a call counts as made (for
    ``right`` and ``recovered``) once the runtime answered it."""
    schemas = tool_index(task.trajectory.tools)
    made = [(step.request, call, output) for step in episode.steps
            for call, output in zip(step.calls, step.outputs, strict=False)]

    def right(request: int, call: ToolCall) -> bool:
        return _valid(call, schemas) and any(
            e.request == request and call_matches(call, e.call) for e in task.expected_calls)

    first_error = next((k for k, (_, _, output) in enumerate(made) if is_error_observation(output)), None)
    answered = len(episode.answers) == len(task.expected_answers)
    return {
        "task_id": task.id,
        "category": task.category,
        "level": task.level,
        "status": episode.status,
        "steps": len(episode.steps),
        "calls": sum(len(s.calls) if s.turn is not None else s.text.count(CALL_OPEN) for s in episode.steps),
        "valid_calls": sum(_valid(call, schemas) for step in episode.steps for call in step.calls),
        "right": all(any(r == e.request and right(r, c) for r, c, _ in made) for e in task.expected_calls),
        "success": answered and all(answer_contains(answer, value) for answer, value
                                    in zip(episode.answers, task.expected_answers, strict=True)),
        "error_seen": first_error is not None,
        "recovered": first_error is not None and any(right(r, c) for r, c, _ in made[first_error + 1:]),
        "generated_tokens": episode.generated_tokens,
        "answers": list(episode.answers),
    }


def run_benchmark(policy: Policy, tokenizer: Any, tasks: list[Task], max_steps: int = 4) -> pd.DataFrame:
    """Every task run once with ``policy`` (``run_episode``, fresh tools each); one ``score_episode`` row per
    task."""
    rows = [score_episode(task, run_episode(policy, tokenizer, task.prompt, task_tools(task), max_steps))
            for task in tasks]
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Per category and level: tasks, valid call rate (pooled over calls attempted; NaN when none were),
    right-call and success rates, tasks that saw an error, recovery rate (recovered / saw an error; NaN when
    none did) and mean steps."""
    groups = rows.groupby(["category", "level"], sort=False)
    return pd.DataFrame({
        "tasks": groups.size(),
        "valid_call_rate": groups["valid_calls"].sum() / groups["calls"].sum().replace(0, math.nan),
        "right_rate": groups["right"].mean(),
        "success_rate": groups["success"].mean(),
        "errors_seen": groups["error_seen"].sum(),
        "recovery_rate": groups["recovered"].sum() / groups["error_seen"].sum().replace(0, math.nan),
        "mean_steps": groups["steps"].mean(),
    })


def call_given_thinking(policy: Policy, tokenizer: Any, tasks: list[Task]) -> pd.DataFrame:
    """The call a policy writes after the reference thinking. The context is the task's rendered prompt plus
    its first assistant turn up to ``<tool_call>`` (the thinking, and any text); the policy writes the rest of
    the turn. One row per task: ``valid`` (the completion parses, with at least one call, each fitting its
    tool's schema) and ``right`` (its first call matches the reference turn's first call: for a slip task, the
    slip that turn's thinking announces); the column means are the two rates."""
    rows = []
    for task in tasks:
        text, segments = render_segments(task.trajectory)
        start, end = next((a, b) for a, b, kind in segments if kind in ("assistant", "failed_attempt"))
        cut = text.index(CALL_OPEN, start, end)
        written = tokenizer.decode(policy.next_turn(list(encode(tokenizer, text[:cut]).ids)),
                                   skip_special_tokens=False)
        reference = next(t for _, t, _ in task.trajectory.flat_turns() if isinstance(t, AssistantTurn))
        try:
            calls = parse_completion(text[start:cut] + written, task.trajectory.tools)
        except ToolCallParseError:
            calls = []
        rows.append({"task_id": task.id, "category": task.category, "level": task.level, "valid": bool(calls),
                     "right": bool(calls) and call_matches(calls[0], reference.tool_calls[0]),
                     "completion": written})
    return pd.DataFrame(rows)
