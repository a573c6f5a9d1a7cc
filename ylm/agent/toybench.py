"""A toy agent benchmark, graded by difficulty, that a 3M-parameter model can score above zero on: the tasks.

The paper's agent benchmarks (BFCL, tau2, GAIA, ...; paper_facts §5.4) are out of a toy model's reach. This
one keeps their kinds of task and shrinks them to what the kit's trained models have seen:

    category  level 1                  level 2                         level 3
    math      shopping (2-digit        hypotenuse, percent change      compound interest, speed, mean
              counts)
    recovery  level-1 math, the first  level-2 math, the first call    the slip kinds: the calculator
              call times out           times out                       rejects the slip (not forced)
    tool_use  two calculations         a calculation, then a search    a calculation, then "multiply
                                                                       that result by k"
    lookup    which document holds a   the missing word of a           the missing word: search, then
              sentence (search)        sentence, shown by the search   read the document

* **math** questions are written by the training generators themselves (``synth.math_tasks.GENERATORS``), so
  level 1 is phrased exactly as in training; the references come from ``make_math_trajectory``.
* **recovery**: at levels 1-2 the environment fails the first call with a realistic transient error
  (``TRANSIENT_ERROR``, a timeout) and the agent must call again; at level 3 the task is one of the kinds
  whose training trajectories open with a slip (``^``, ``math.sqrt``, a missing parenthesis) 70% of the time,
  and the calculator really rejects it; no error is forced, so only the episodes that slip count for recovery.
* **tool_use** mirrors BFCL's multi-turn category: two user requests in a row, each needing one call. BFCL's
  backends are not installed at run time, so the calls go to the kit's real offline tools (calculator, BM25
  search). References are built by ``synth.tool_use.convert_bfcl``, the path the training tool-use data
  takes, so they have its format (no thinking; a templated closing answer quoting the last observation).
* **lookup** is ``synth.research``'s forward construction over held-out documents (``heldout_corpus``),
  changed so a whole task fits the toy model's context: the reference search asks for the top hit only
  (``"k": 1``; five hits alone take ~400 tokens) and level 3 reads passages of at most ``MAX_READ_CHARS``.

**Held out.** Tasks come from seeds named ``toybench-...`` (training's are ``math-<seed>`` and the sampler's
derived integers) and from values training cannot produce for any seed. Math and recovery questions draw
their integers through ``OutOfRange``, whose ``randint(a, b)`` returns a value in ``[b + 1, 2b - a + 1]``:
every generator prints at least one of its ``randint`` draws, so every question shows a number its generator
never puts there in training (the draws are kept in ``Task.meta["heldout_draws"]``). Tool-use requests use
templates no training generator writes. Lookup sentences come from held-out documents (no synthetic
trajectory is built on them) and occur in no train-split document. ``tests/agent/test_toybench.py`` checks
the questions by content hash against everything the training sampler draws, and the values and sentences
directly.

Every task carries its reference ``Trajectory`` (the teacher-forced loss of
``ylm.train.experiment.trajectory_loss`` is taken on ``[task.trajectory for task in tasks]``) and what grading
needs (``ylm.agent.toybench_scoring``): the expected calls and each request's expected answer.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ylm.agent.runtime import Prompt, Tool
from ylm.agent.synth.math_tasks import GENERATORS, Problem, make_math_trajectory
from ylm.agent.synth.research import READ_SCHEMA, SEARCH_SCHEMA, _blank, _candidate_sentences
from ylm.agent.synth.research import SYSTEM as RESEARCH_SYSTEM
from ylm.agent.synth.tool_use import convert_bfcl
from ylm.agent.tools import CALCULATOR_SCHEMA, ERROR_PREFIX, SearchIndex, calculator_tool, words
from ylm.agent.trajectory import (
    AssistantTurn,
    Branch,
    Phase,
    ToolCall,
    ToolResponse,
    ToolTurn,
    Trajectory,
    UserTurn,
)
from ylm.checks import check_int
from ylm.data import DOMAINS, load_documents, load_texts

CATEGORIES: tuple[str, ...] = ("math", "tool_use", "lookup", "recovery")
LEVELS: tuple[int, ...] = (1, 2, 3)
MATH_KINDS: dict[int, tuple[str, ...]] = {
    1: ("shopping",),
    2: ("hypotenuse", "percent_change"),
    3: ("compound_interest", "speed", "mean"),
}
SLIP_KINDS: tuple[str, ...] = ("compound_interest", "speed", "hypotenuse")  # the generators with a slip
TRANSIENT_ERROR = ERROR_PREFIX + "calculator timed out after 5 s; the expression was not evaluated. Retry the call."
RETRY_REFLECTION = "The calculator timed out before evaluating; the expression is fine. Call it again."
LOOKUP_K = 1
MAX_READ_CHARS = 500  # of a level-3 lookup's read observation: keeps the task within ~1,000 kit tokens
SYNTHETIC = {"questions": "templated (held-out values or documents)", "observations": "executed (ylm tools)"}

Draws = list[tuple[int, int, int]]


class OutOfRange(random.Random):
    """A ``random.Random`` whose ``randint(a, b)`` returns a value in ``[b + 1, 2b - a + 1]``: as many values
    as asked for, none of which ``randint(a, b)`` can return; ``draws`` records ``(a, b, value)``. Handed to a
    training generator, it writes that generator's exact template with numbers training never shows there
    (``choice`` is untouched, so prices and rates stay in their training lists)."""

    def __init__(self, seed: str) -> None:
        super().__init__(seed)
        self.draws: Draws = []

    def randint(self, a: int, b: int) -> int:
        value = super().randint(b + 1, 2 * b - a + 1)
        self.draws.append((a, b, value))
        return value


@dataclass
class ExpectedCall:
    """A call the task needs, made for user request ``request`` (0-based)."""

    request: int
    call: ToolCall


@dataclass
class Task:
    """One benchmark task: the reference solution in the training format, what grading needs, and whether the
    environment fails the first call (with ``TRANSIENT_ERROR``)."""

    id: str
    category: str
    level: int
    trajectory: Trajectory
    expected_calls: list[ExpectedCall]
    expected_answers: list[str]  # per user request: the value its final answer must contain
    fail_first_call: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> Prompt:
        return Prompt.from_trajectory(self.trajectory)


# ---------------------------------------------------------------- environment


def heldout_corpus() -> list[dict[str, Any]]:
    """The lookup collection: the held-out split of what ``synth.research`` searches in training (general:
    Brown and the Python docs; stem: the SymPy docs)."""
    sympy = [d for d in load_documents("stem", "heldout") if d["source"] == "sympy-docs"]
    return load_documents("general", "heldout") + sympy


@functools.cache
def lookup_index() -> SearchIndex:
    """BM25 over ``heldout_corpus()``, built once per process."""
    return SearchIndex(heldout_corpus())


@functools.cache
def _training_text() -> str:
    """Every train-split document of every domain, joined: the text training batches are cut from."""
    return "\n".join(text for domain in DOMAINS for text in load_texts(domain, "train"))


def _fails_first(tool: Tool, error: str) -> Tool:
    calls = 0

    def wrapped(arguments: dict[str, Any]) -> str:
        nonlocal calls
        calls += 1
        return error if calls == 1 else tool(arguments)

    return wrapped


def kit_tools(schemas: list[dict[str, Any]], fail_first_call: bool = False) -> dict[str, Tool]:
    """Fresh functions for the tools ``schemas`` name: the kit's calculator, BM25 search/read over the
    held-out collection; with ``fail_first_call`` the calculator answers its first call with
    ``TRANSIENT_ERROR``."""
    names = [tool["name"] for tool in schemas]
    tools: dict[str, Tool] = {"calculator": lambda a: calculator_tool(a["expression"])}
    if "search" in names or "read" in names:
        index = lookup_index()
        tools["search"] = lambda a: index.search(**a)  # arguments already checked against the schema
        tools["read"] = lambda a: index.read(**a)
    if fail_first_call:
        tools["calculator"] = _fails_first(tools["calculator"], TRANSIENT_ERROR)
    return {name: tools[name] for name in names}


def task_tools(task: Task) -> dict[str, Tool]:
    """Fresh tool functions for one episode of ``task``."""
    return kit_tools(task.trajectory.tools, task.fail_first_call)


# ---------------------------------------------------------------- math and recovery


def _problems(category: str, seed: int, level: int, n: int,
              kinds: tuple[str, ...]) -> Iterator[tuple[str, Problem, Draws]]:
    """(task id, problem, its out-of-range draws) for ``n`` problems of ``kinds`` in turn."""
    rng = OutOfRange(f"toybench-{category}-{level}-{seed}")
    for k in range(n):
        start = len(rng.draws)
        problem = GENERATORS[kinds[k % len(kinds)]](rng)
        yield f"toybench/{category}/{level}/{seed}-{k:03d}", problem, rng.draws[start:]


def _calculator_task(category: str, level: int, tid: str, traj: Trajectory, problem: Problem, draws: Draws,
                     fail_first_call: bool = False) -> Task:
    expected = [ExpectedCall(0, ToolCall("calculator", {"expression": problem.expression}))]
    return Task(tid, category, level, traj, expected, [calculator_tool(problem.expression)], fail_first_call,
                meta={"kind": problem.kind, "heldout_draws": draws})


def math_tasks(seed: int, level: int, n: int) -> list[Task]:
    """``n`` held-out math tasks of ``level``: kinds ``MATH_KINDS[level]`` in turn, one call each."""
    return [_calculator_task("math", level, tid, make_math_trajectory(problem, False, tid), problem, draws)
            for tid, problem, draws in _problems("math", seed, level, n, MATH_KINDS[level])]


def with_transient_failure(traj: Trajectory) -> Trajectory:
    """A one-call math trajectory whose first call the environment failed: the attempt kept as a ``Branch``
    observing ``TRANSIENT_ERROR``, then a reflection and the same call again."""
    user, first, *rest = traj.turns
    call = first.tool_calls[0]
    action = Phase("action", f"Evaluate {call.arguments['expression']}.")
    retry = AssistantTurn(phases=[Phase("reflection", RETRY_REFLECTION), action], tool_calls=[call])
    failed = Branch(first, ToolTurn([ToolResponse("calculator", TRANSIENT_ERROR)]))
    return dataclasses.replace(traj, turns=[user, failed, retry, *rest])


def recovery_tasks(seed: int, level: int, n: int) -> list[Task]:
    """``n`` held-out recovery tasks of ``level``: at levels 1-2 that level's math with the first call failed
    by the environment; at level 3 the slip kinds, the reference opening with the slip the calculator rejects
    (the training data's branch: ``make_math_trajectory(problem, with_branch=True)``)."""
    slips = level == 3
    tasks = []
    kinds = SLIP_KINDS if slips else MATH_KINDS[level]
    for tid, problem, draws in _problems("recovery", seed, level, n, kinds):
        traj = make_math_trajectory(problem, slips, tid)
        traj = traj if slips else with_transient_failure(traj)
        tasks.append(_calculator_task("recovery", level, tid, traj, problem, draws, not slips))
    return tasks


# ---------------------------------------------------------------- lookup


def _sentences(index: SearchIndex, rng: random.Random) -> list[tuple[str, str]]:
    """Every (document, prose sentence) of the collection (``synth.research``'s candidates), in ``rng``
    order."""
    pairs = [(doc_id, s) for doc_id in index.order for s in _candidate_sentences(index, doc_id)]
    rng.shuffle(pairs)
    return pairs


def _opening_words(quote: str) -> str:
    """The query ``synth.research`` searches first: the quote's first six words, the blank removed."""
    return " ".join(quote.split()[:6]).replace("____", "").strip()


def _lookup_question(index: SearchIndex, doc_id: str, sentence: str,
                     level: int) -> tuple[str, str, str, list[Phase]] | None:
    """(question, quote, expected answer, opening phases); None when the sentence has no word to blank."""
    if level == 1:
        return (f'Which document is this sentence from?\n"{sentence}"', sentence, doc_id,
                [Phase("analysis", "A quoted sentence; I need the document it comes from."),
                 Phase("plan", "Search for the quote and report the document of the top result.")])
    blanked = _blank(index, sentence)
    if blanked is None:
        return None
    quote, word = blanked
    plan = ("Search for the quote; the matching result shows the sentence." if level == 2 else
            "Search for the quote, open the matching document, read the sentence.")
    question = f'Which word is missing from this sentence, and which document is it from?\n"{quote}"'
    return (question, quote, word,
            [Phase("analysis", "A quoted sentence with one blank; I need the source document to fill it."),
             Phase("plan", plan)])


def _read_step(index: SearchIndex, doc_id: str, sentence: str, quote: str) -> list | None:
    """The read turn and its observation (the passage around the quote), or None when the passage does not
    show the whole sentence or is longer than ``MAX_READ_CHARS``."""
    focus = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(quote.replace("____", " ").split()))
    passage = index.read(doc_id, focus)
    shown = " ".join(json.loads(passage)["passage"].split())
    if " ".join(sentence.split()) not in shown or len(passage) > MAX_READ_CHARS:
        return None
    pick = Phase("analysis", f"Result {doc_id} matches the quote; read it around the quote.")
    read = ToolCall("read", {"doc_id": doc_id, "focus": focus})
    return [AssistantTurn(phases=[pick, Phase("action", "Read the passage.")], tool_calls=[read]),
            ToolTurn([ToolResponse("read", passage)])]


def _lookup_task(index: SearchIndex, doc_id: str, sentence: str, level: int, tid: str) -> Task | None:
    """A lookup task on ``sentence`` of held-out document ``doc_id``; None when the sentence makes none (no
    word to blank, the opening words do not find the document first, the evidence is not shown, or a train
    document has the sentence too: documentation repeats boilerplate across pages)."""
    asked = _lookup_question(index, doc_id, sentence, level)
    if asked is None:
        return None
    question, quote, answer, opening = asked
    query = _opening_words(quote)
    if index.rank(query)[:1] != [doc_id] or sentence in _training_text():
        return None
    search = ToolCall("search", {"query": query, "k": LOOKUP_K})
    found = index.search(query, LOOKUP_K)
    turns: list = [UserTurn(question),
                   AssistantTurn(phases=[*opening, Phase("action", "Search with the opening words.")],
                                 tool_calls=[search]),
                   ToolTurn([ToolResponse("search", found)])]
    where = f"{doc_id} ({index.titles[doc_id]})"
    if level == 1:
        summary, content = f"Result {doc_id} shows the quoted sentence.", f"The sentence is from {where}."
    else:
        content = f'The missing word is "{answer}"; the sentence is from {where}.'
        summary = f"The result's snippet shows the full sentence; the blank is '{answer}'."
    if level == 2 and answer not in json.loads(found)[0]["snippet"]:
        return None
    if level == 3:
        read = _read_step(index, doc_id, sentence, quote)
        if read is None:
            return None
        turns += read
        summary = f"The passage contains the full sentence; the blank is '{answer}'."
    turns.append(AssistantTurn(phases=[Phase("summary", summary)], content=content))
    tools = [SEARCH_SCHEMA] if level < 3 else [SEARCH_SCHEMA, READ_SCHEMA]
    traj = Trajectory(turns, RESEARCH_SYSTEM, tools, tid, {"category": "lookup", "target": doc_id,
                                                           "synthetic": SYNTHETIC})
    calls = [ExpectedCall(0, c) for t in turns if isinstance(t, AssistantTurn) for c in t.tool_calls]
    return Task(tid, "lookup", level, traj, calls, [answer], meta={"doc_id": doc_id, "sentence": sentence})


def lookup_tasks(seed: int, level: int, n: int) -> list[Task]:
    """Up to ``n`` lookup tasks of ``level`` on sentences of held-out documents, in a seeded order."""
    index = lookup_index()
    tasks: list[Task] = []
    for doc_id, sentence in _sentences(index, random.Random(f"toybench-lookup-{level}-{seed}")):
        if len(tasks) == n:
            break
        tid = f"toybench/lookup/{level}/{seed}-{len(tasks):03d}"
        task = _lookup_task(index, doc_id, sentence, level, tid)
        tasks += [task] if task is not None else []
    return tasks


# ---------------------------------------------------------------- multi-turn tool use


def _arithmetic(rng: random.Random, digits: int) -> str:
    low, high = 10 ** (digits - 1), 10**digits - 1
    return f"{rng.randint(low, high)} {rng.choice('+-*')} {rng.randint(low, high)}"


def _search_query(rng: random.Random) -> str:
    """The three rarest words of a held-out sentence, when they find its document first."""
    index = lookup_index()
    for doc_id, sentence in _sentences(index, rng):
        rare = sorted({w for w in words(sentence) if w in index.idf}, key=lambda w: (-index.idf[w], w))
        query = " ".join(rare[:3])
        if index.rank(query)[:1] == [doc_id]:
            return query
    raise ValueError("no held-out sentence gives a search query that finds its document first")


def _second_request(rng: random.Random, level: int, first: str) -> tuple[str, ToolCall]:
    """The second user request of a tool-use task and the call it needs."""
    if level == 1:
        expression = _arithmetic(rng, 2)
        return f"Now compute {expression}.", ToolCall("calculator", {"expression": expression})
    if level == 2:
        query = _search_query(rng)
        return f"Now search the documents for {query}.", ToolCall("search", {"query": query, "k": LOOKUP_K})
    factor = rng.randint(3, 9)
    expression = f"{calculator_tool(first)} * {factor}"  # needs the first request's result
    return f"Now multiply that result by {factor}.", ToolCall("calculator", {"expression": expression})


def tool_use_tasks(seed: int, level: int, n: int) -> list[Task]:
    """``n`` two-request tasks of ``level`` in BFCL's multi-turn shape, converted by ``convert_bfcl``; the
    calls run on the kit's tools. A calculation is answered by its value, a search by its top document."""
    rng = random.Random(f"toybench-tool_use-{level}-{seed}")
    tools = [CALCULATOR_SCHEMA] if level == 1 else [CALCULATOR_SCHEMA, SEARCH_SCHEMA]
    run = kit_tools(tools)
    tasks = []
    for k in range(n):
        first = _arithmetic(rng, 2 if level == 1 else 3)
        requests = [(f"Please compute {first}.", ToolCall("calculator", {"expression": first})),
                    _second_request(rng, level, first)]
        turns, answers = [], []
        for text, call in requests:
            observation = run[call.name](call.arguments)
            turns += [{"role": "user", "content": text},
                      {"role": "assistant", "tool_calls": [{"name": call.name, "arguments": call.arguments}]},
                      {"role": "tool", "name": call.name, "content": observation}]
            answers.append(json.loads(observation)[0]["id"] if call.name == "search" else observation)
        tid = f"toybench/tool_use/{level}/{seed}-{k:03d}"
        traj = convert_bfcl({"id": tid, "trajectory": {"tools": tools, "turns": turns}})
        traj = dataclasses.replace(traj, id=tid, meta={"category": "tool_use", "synthetic": SYNTHETIC})
        expected = [ExpectedCall(r, call) for r, (_, call) in enumerate(requests)]
        tasks.append(Task(tid, "tool_use", level, traj, expected, answers))
    return tasks


# ---------------------------------------------------------------- the benchmark

TASK_BUILDERS: dict[str, Callable[[int, int, int], list[Task]]] = {
    "math": math_tasks,
    "tool_use": tool_use_tasks,
    "lookup": lookup_tasks,
    "recovery": recovery_tasks,
}


def make_tasks(seed: int = 0, n_per_level: int = 8) -> list[Task]:
    """The benchmark: ``n_per_level`` tasks per category and level (lookup: fewer should the held-out
    sentences run out), in ``CATEGORIES`` then ``LEVELS`` order; deterministic for ``seed``."""
    check_int("seed", seed, minimum=0)
    check_int("n_per_level", n_per_level)
    return [task for category in CATEGORIES for level in LEVELS
            for task in TASK_BUILDERS[category](seed, level, n_per_level)]
