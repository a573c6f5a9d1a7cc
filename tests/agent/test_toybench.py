"""The toy agent benchmark: tasks (deterministic, graded, valid, within the toy model's context, held out from
everything training draws) and their grading on hand-made transcripts."""

from __future__ import annotations

import collections
import re

import pandas as pd
import pytest

from ylm.agent.render import EMPTY_THINK, as_rendered, render, render_assistant_body, render_segments
from ylm.agent.runtime import ScriptedPolicy, run_episode
from ylm.agent.toybench import (
    CATEGORIES,
    LEVELS,
    TRANSIENT_ERROR,
    ExpectedCall,
    Task,
    lookup_index,
    make_tasks,
    task_tools,
)
from ylm.agent.toybench_scoring import (
    answer_contains,
    call_given_thinking,
    call_matches,
    score_episode,
    summarize,
)
from ylm.agent.trajectory import AssistantTurn, ToolCall, Trajectory, UserTurn
from ylm.agent.validate import validate
from ylm.data import DOMAINS, load_texts, sha256_text
from ylm.model.config import toy_mla
from ylm.tokenizer.kit import kit_tokenizer
from ylm.tokenizer.special_tokens import CALL_OPEN
from ylm.train.sampler import AGENT, FRESH_MATH_PER_EPOCH, DocumentSource

N = 3  # tasks per category and level in most tests
TRAINING_SEEDS, TRAINING_EPOCHS = range(10), range(5)  # a notebook's stage 4 draws under one agent epoch


@pytest.fixture(scope="module")
def kit():
    return kit_tokenizer()


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return make_tasks(0, N)


def replies(traj: Trajectory) -> list[str]:
    """The reference's assistant turns as its rendered text holds them: a perfect model's replies."""
    shown = as_rendered(traj).flat_turns()
    return [render_assistant_body(t) for _, t, _ in shown if isinstance(t, AssistantTurn)]


def episode_of(kit, task: Task, texts: list[str], max_steps: int = 4):
    return run_episode(ScriptedPolicy(kit, texts), kit, task.prompt, task_tools(task), max_steps)


def first(tasks: list[Task], category: str, level: int) -> Task:
    return next(t for t in tasks if t.category == category and t.level == level)


def call(expression: str, name: str = "calculator") -> str:
    made = ToolCall(name, {"expression": expression})
    return render_assistant_body(AssistantTurn(thinking="Calculate.", tool_calls=[made]))


def answer(text: str) -> str:
    return EMPTY_THINK + text


# ---------------------------------------------------------------- the tasks


def test_tasks_are_deterministic_per_seed(tasks):
    def content(ts: list[Task]) -> list:
        return [(t.id, t.trajectory.to_json(), t.expected_answers, t.expected_calls, t.fail_first_call)
                for t in ts]

    assert content(make_tasks(0, N)) == content(tasks)
    assert content(make_tasks(1, N)) != content(tasks)


def test_every_category_has_every_level(tasks):
    counts = collections.Counter((t.category, t.level) for t in tasks)
    assert counts == {(category, level): N for category in CATEGORIES for level in LEVELS}


def test_references_validate_and_fit_the_toy_model_context(tasks, kit):
    limit = toy_mla().max_position_embeddings
    for task in tasks:
        validate(task.trajectory)
        total = len(render(task.trajectory, kit).ids)
        asked = Trajectory(task.trajectory.turns[:1], task.trajectory.system, task.trajectory.tools)
        assert total <= limit, (task.id, total)
        assert len(kit.encode(render_segments(asked)[0]).ids) <= 512, task.id
        made = [c for _, t, _ in task.trajectory.flat_turns() if isinstance(t, AssistantTurn)
                for c in t.tool_calls]
        assert all(e.call in made for e in task.expected_calls), task.id


def test_a_perfect_policy_gets_full_marks_and_its_context_is_the_reference(tasks, kit):
    rows = []
    for task in tasks:
        episode = episode_of(kit, task, replies(task.trajectory))
        assert episode.context_ids == render(task.trajectory, kit).ids, task.id
        rows.append(score_episode(task, episode))
    table = summarize(pd.DataFrame(rows))
    assert (table[["valid_call_rate", "right_rate", "success_rate"]] == 1).all().all()
    recovery = table.loc["recovery"]
    assert (recovery["errors_seen"] == N).all() and (recovery["recovery_rate"] == 1).all()
    assert table.drop(index="recovery")["errors_seen"].sum() == 0


# ---------------------------------------------------------------- grading hand-made transcripts


def test_a_right_call_and_a_right_answer_succeed(tasks, kit):
    task = first(tasks, "math", 1)
    expression, value = task.expected_calls[0].call.arguments["expression"], task.expected_answers[0]
    row = score_episode(task, episode_of(kit, task, [call(expression), answer(f"It costs {value} dollars.")]))
    assert row["right"] and row["success"] and row["steps"] == 2
    assert (row["calls"], row["valid_calls"]) == (1, 1)
    assert not row["error_seen"] and not row["recovered"]


def test_a_valid_call_with_wrong_arguments_is_valid_but_not_right(tasks, kit):
    task = first(tasks, "math", 1)
    row = score_episode(task, episode_of(kit, task, [call("1 + 1"), answer("It costs 2 dollars.")]))
    assert (row["calls"], row["valid_calls"]) == (1, 1) and not row["right"] and not row["success"]


def test_a_malformed_call_is_not_valid(tasks, kit):
    task = first(tasks, "math", 1)
    broken = '<tool_call>{"name": "calculator", "arguments": {"expression": 1 + 1}}</tool_call>'
    row = score_episode(task, episode_of(kit, task, [broken]))
    assert row["status"] == "malformed_call" and (row["calls"], row["valid_calls"]) == (1, 0)
    assert not row["right"] and not row["success"] and row["steps"] == 1


def test_recovery_counts_only_a_right_call_after_an_error(tasks, kit):
    task = first(tasks, "recovery", 1)
    assert task.fail_first_call
    expression, value = task.expected_calls[0].call.arguments["expression"], task.expected_answers[0]
    retried = episode_of(kit, task, [call(expression), call(expression), answer(f"It is {value}.")])
    assert retried.steps[0].outputs == [TRANSIENT_ERROR]
    row = score_episode(task, retried)
    assert row["error_seen"] and row["recovered"] and row["success"] and row["steps"] == 3
    gave_up = score_episode(task, episode_of(kit, task, [call(expression), answer("The tool is down.")]))
    assert gave_up["error_seen"] and gave_up["right"] and not gave_up["recovered"] and not gave_up["success"]
    texts = [call(expression), call("1 + 1"), answer("It is 2.")]
    wrong_again = score_episode(task, episode_of(kit, task, texts))
    assert wrong_again["error_seen"] and not wrong_again["recovered"]
    # a call the runtime rejects is an error observation too, on any task
    math = first(tasks, "math", 1)
    expression = math.expected_calls[0].call.arguments["expression"]
    texts = [call(expression, name="calc"), call(expression), answer("Done.")]
    fixed = score_episode(math, episode_of(kit, math, texts))
    assert fixed["error_seen"] and fixed["recovered"] and fixed["calls"] == 2 and fixed["valid_calls"] == 1


def test_multi_turn_success_needs_every_request_answered(tasks, kit):
    task = first(tasks, "tool_use", 3)
    texts = replies(task.trajectory)
    assert score_episode(task, episode_of(kit, task, texts))["success"]
    row = score_episode(task, episode_of(kit, task, texts[:2] + [call("1 + 1")] * 2, max_steps=2))
    assert row["status"] == "max_steps" and not row["success"] and not row["right"]


def test_a_broken_grader_input_is_caught(tasks, kit):
    """Inputs a careless grader would pass: a number inside a longer number, a tampered expected answer, an
    equivalent-looking call to the wrong document."""
    assert answer_contains("It costs 49.30 dollars.", "49.3")
    assert not answer_contains("It costs 149.3 dollars.", "49.3")
    assert answer_contains("See brown/ca23.", "brown/ca23")
    assert not answer_contains("see brown/ca230", "brown/ca23")
    task = first(tasks, "math", 1)
    episode = episode_of(kit, task, replies(task.trajectory))
    assert score_episode(task, episode)["success"]
    tampered = Task(task.id, task.category, task.level, task.trajectory, task.expected_calls,
                    [str(float(task.expected_answers[0]) + 1)])
    assert not score_episode(tampered, episode)["success"]
    lookup = first(tasks, "lookup", 3)
    search, read = (e.call for e in lookup.expected_calls)
    other = next(d for d in lookup_index().order if d != read.arguments["doc_id"])
    assert call_matches(ToolCall("read", {"doc_id": read.arguments["doc_id"], "focus": "anything"}), read)
    assert not call_matches(ToolCall("read", {"doc_id": other}), read)
    assert not call_matches(ToolCall("search", {"query": lookup_index().titles[other]}), search)
    eight = ToolCall("calculator", {"expression": "8"})
    assert not call_matches(ToolCall("calculator", {"expression": "2 ^ 3"}), eight)
    assert call_matches(ToolCall("calculator", {"expression": "2**3"}), eight)


def test_call_given_thinking_scores_the_completion_of_the_reference_turn(tasks, kit):
    class Writes:
        """A policy writing ``pick(task)`` after each context, tasks in order."""

        max_context = None

        def __init__(self, pick):
            self.pick, self.queue = pick, list(tasks)

        def next_turn(self, context_ids: list[int]) -> list[int]:
            return list(kit.encode(self.pick(self.queue.pop(0))).ids)

    def rest_of_turn(task: Task) -> str:
        text, segments = render_segments(task.trajectory)
        start, end = next((a, b) for a, b, kind in segments if kind in ("assistant", "failed_attempt"))
        return text[text.index(CALL_OPEN, start, end):end]

    perfect = call_given_thinking(Writes(rest_of_turn), kit, tasks)
    assert perfect["valid"].all() and perfect["right"].all() and len(perfect) == len(tasks)
    calc = [t for t in tasks if t.category in ("math", "recovery")]
    wrong = call_given_thinking(Writes(lambda t: '<tool_call>{"name": "calculator", "arguments": '
                                       '{"expression": "1 + 1"}}</tool_call><|end_of_text|>'), kit, calc)
    assert wrong["valid"].all() and not wrong["right"].any()
    garbage = call_given_thinking(Writes(lambda t: "<tool_call>{oops</tool_call><|end_of_text|>"), kit, calc)
    assert not garbage["valid"].any() and not garbage["right"].any()


# ---------------------------------------------------------------- held out


def question_and_answer(traj: Trajectory) -> tuple[list[str], str]:
    """The user requests (a rendered user turn is ``<|User|>`` + one) and the reference's final answer."""
    return [t.content for t in traj.turns if isinstance(t, UserTurn)], traj.turns[-1].content


def test_no_task_is_in_anything_the_training_sampler_draws(kit):
    """Everything ``ylm.train.sampler``'s agent source yields for sampler seeds 0-9 over several epochs: the
    committed synthetic set plus each epoch's freshly synthesized math. No benchmark question, and so no
    (question, answer) pair, is among them. (A final answer alone may repeat a training one: "The answer is
    37.5 dollars." is a sum of training prices; the question asking for it differs.)"""
    questions, pairs, drawn = set(), set(), 0
    for seed in TRAINING_SEEDS:
        source = DocumentSource(AGENT, kit, seed)
        # the sampler's own lists: what it loaded, and what it synthesizes for an epoch
        for traj in source._base + [t for epoch in TRAINING_EPOCHS for t in source._fresh(epoch)]:
            asked, answered = question_and_answer(traj)
            questions |= {sha256_text(q) for q in asked}
            pairs.add(sha256_text("\x00".join([*asked, answered])))
            drawn += 1
    assert drawn == len(TRAINING_SEEDS) * (len(source._base) + len(TRAINING_EPOCHS) * FRESH_MATH_PER_EPOCH)
    for task in make_tasks(0) + make_tasks(1):
        asked, answered = question_and_answer(task.trajectory)
        assert not {sha256_text(q) for q in asked} & questions, task.id
        assert sha256_text("\x00".join([*asked, answered])) not in pairs, task.id


def test_the_values_are_disjoint_as_documented(tasks):
    for task in (t for t in tasks if t.category in ("math", "recovery")):
        draws = task.meta["heldout_draws"]
        assert draws and all(b < value <= 2 * b - a + 1 for a, b, value in draws), task.id
        question = task.trajectory.turns[0].content
        shown = {int(n) for n in re.findall(r"(?<![\d.])\d+(?![\d.]\d)", question)}
        assert shown & {value for _, _, value in draws}, task.id
    train = [text for domain in DOMAINS for text in load_texts(domain, "train")]
    heldout = set(lookup_index().order)
    for task in (t for t in tasks if t.category == "lookup"):
        assert task.meta["doc_id"] in heldout
        assert not any(task.meta["sentence"] in text for text in train), task.id


def test_bad_arguments_are_value_errors_naming_the_field():
    with pytest.raises(ValueError, match="seed"):
        make_tasks(-1)
    with pytest.raises(ValueError, match="n_per_level"):
        make_tasks(0, 0)
    with pytest.raises(ValueError, match="tools"):
        _ = Task("x", "math", 1, Trajectory([UserTurn("q")], tools=[{"name": 3}]),
                 [ExpectedCall(0, ToolCall("c"))], ["1"]).prompt
