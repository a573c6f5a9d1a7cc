"""The real tools behind synthetic observations: calculator, test sandbox, BM25 search/read.

The sandbox's containment is tested in ``test_sandbox.py``."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import time
from collections.abc import Callable

import pytest

from ylm.agent.tools import CalculatorError, SearchIndex, calculate, calculator_tool, passages, run_tests


def test_calculator_evaluates_arithmetic():
    assert calculate("2**10 + 3*(4 - 1)") == 1033
    assert calculator_tool("round(sqrt(3**2 + 4**2), 3)") == "5"
    assert calculator_tool("10/4") == "2.5"
    assert calculator_tool("-7 // 2 + 7 % 3") == "-3"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("2^10", "use ** for powers"),
        ("__import__('os').system('echo hi')", "not supported"),
        ("open('x')", "function open is not supported"),
        ("(1).__class__", "unsupported syntax"),
        ("1/0", "division by zero"),
        ("2**100000", "exponent too large"),
        ("(1 + 2", "syntax error"),
        ("x + 1", "unsupported syntax"),
        ("'a' * 3", "unsupported syntax"),
    ],
)
def test_calculator_rejects_everything_else(expr, message):
    with pytest.raises(CalculatorError, match=re.escape(message)):
        calculate(expr)
    assert calculator_tool(expr).startswith("error: ")


def within(seconds: float, fn: Callable[[], str]) -> str:
    """``fn()`` computed in a forked child that is killed after ``seconds``. Only a safety net, not a speed
    test: CPython cannot interrupt a long big-integer operation, so a hang could not be stopped in-process."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            text = fn()
        except BaseException as err:  # the child must reach os._exit whatever happens
            text = f"raised {type(err).__name__}: {err}"
        os.write(write_fd, text.encode()[:60000])
        os._exit(0)
    os.close(write_fd)
    chunks, deadline = [], time.monotonic() + seconds
    try:
        while select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                return b"".join(chunks).decode()
            chunks.append(chunk)
        pytest.fail(f"still running after {seconds} s")
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_fd)


def _calculator_outcome(expr: object) -> str:
    """The tool's observation, and what ``calculate`` raised (it must be a CalculatorError)."""
    try:
        calculate(expr)
        raised = "nothing"
    except Exception as err:
        raised = type(err).__name__
    return f"{calculator_tool(expr)} | {raised}"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param("round(1, -10**9)", "ndigits too large", id="round-huge-negative-ndigits"),
        pytest.param("round(1.5, 10**9)", "ndigits too large", id="round-huge-ndigits"),
        pytest.param("((10**1000)**1000)**1000", "number too large", id="tower-of-powers"),
        pytest.param("10**999 * 10**999", "number too large", id="product-past-1000-digits"),
        pytest.param("*".join(["10**999"] * 5), "number too large", id="product-past-str-limit"),
        pytest.param("9" * 1500, "number too large", id="long-literal"),
        pytest.param("0x" + "f" * 1500, "number too large", id="long-hex-literal"),
        pytest.param("2**2**2**2**2", "exponent too large", id="right-associative-powers"),
        pytest.param("+".join(["1"] * 100_000), "expression too long", id="100k-term-sum"),
        pytest.param("~" * 1500 + "1", "unsupported syntax", id="deep-unsupported-unary"),
        pytest.param("a" + ".a" * 900 + "()", "is not supported", id="deep-attribute-call"),
        pytest.param("(" * 300 + "1" + ")" * 300, "syntax error", id="deep-parentheses"),
        pytest.param("1\x002", "syntax error", id="null-byte"),
        pytest.param("(-8)**0.5", "not a real number", id="complex-result"),
        pytest.param(12, "expression must be a string", id="not-a-string"),
    ],
)
def test_calculator_bounds_every_input(expr, message):
    observation, raised = within(2.0, lambda: _calculator_outcome(expr)).split(" | ")
    assert observation.startswith("error: ") and message in observation, observation
    assert raised == "CalculatorError"


@pytest.mark.parametrize(
    ("expr", "value"),
    [("1" + "+1" * 999, "1000"), ("-" * 1999 + "1", "-1")],
    ids=["long-sum", "many-minuses"],
)
def test_calculator_evaluates_deep_expressions_without_recursion(expr, value):
    assert within(2.0, lambda: calculator_tool(expr)) == value


def test_sandbox_reports_real_outcomes():
    cases = [((1,), 2), ((5,), 6)]
    assert run_tests("def inc(x):\n    return x + 1\n", "inc", cases).passed
    bad = run_tests("def inc(x):\n    return x + 2\n", "inc", cases)
    assert not bad.passed and "FAIL case 0: inc(1) returned 3, expected 2" in bad.output
    assert "0/2 tests passed" in bad.output
    crash = run_tests("def inc(x)\n    return x\n", "inc", cases)
    assert not crash.passed and "SyntaxError" in crash.output
    hang = run_tests("def inc(x):\n    while True:\n        pass\n", "inc", cases, timeout=0.5)
    assert hang.timed_out and not hang.passed and "TIMEOUT" in hang.output
    probe = (
        "import os\ndef inc(x):\n"
        "    return x + 1 if not ({'HOME', 'PATH'} & set(os.environ) or os.listdir('.')) else 0\n"
    )
    assert run_tests(probe, "inc", cases).passed  # no inherited environment, an empty working directory


DOCS = [
    {"id": "a", "text": "Heaps are binary trees.\n\nA heap keeps the smallest item first."},
    {"id": "b", "text": "Cats sleep a lot.\n\nDogs bark at the mail carrier."},
    {"id": "c", "text": "Sorting algorithms\n==========\n\nHeapsort uses a heap."},
]


def test_search_index_ranks_the_matching_document_first():
    index = SearchIndex(DOCS)
    assert index.rank("dogs bark")[0] == "b"
    hits = json.loads(index.search("heap smallest"))
    assert hits[0]["id"] == "a" and "smallest" in hits[0]["snippet"]
    assert index.titles["c"] == "Sorting algorithms"
    assert "Dogs bark" in json.loads(index.read("b", "dogs"))["passage"]
    assert "error" in json.loads(index.read("zzz"))


def test_search_returns_at_most_k_hits():
    index = SearchIndex(DOCS)
    ranked = index.rank("heap")
    assert len(ranked) == 2
    assert [h["id"] for h in json.loads(index.search("heap", k=1))] == ranked[:1]
    assert [h["id"] for h in json.loads(index.search("heap", k=100))] == ranked


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(lambda: SearchIndex(DOCS).search("heap", k=-1), "k", id="k-negative"),
        pytest.param(lambda: SearchIndex(DOCS).search("heap", k=0), "k", id="k-zero"),
        pytest.param(lambda: SearchIndex(DOCS).search("heap", k="2"), "k", id="k-a-string"),
        pytest.param(lambda: SearchIndex(DOCS).search("heap", k=True), "k", id="k-a-bool"),
        pytest.param(lambda: SearchIndex(DOCS, k1=-1.0), "k1", id="k1-negative"),
        pytest.param(lambda: SearchIndex(DOCS, k1=float("inf")), "k1", id="k1-infinite"),
        pytest.param(lambda: SearchIndex(DOCS, b=1.5), "b", id="b-above-1"),
        pytest.param(lambda: SearchIndex(DOCS, b=float("nan")), "b", id="b-nan"),
        pytest.param(lambda: passages("some text", size=0), "size", id="passage-size-zero"),
    ],
)
def test_search_parameters_are_range_checked(call, field):
    def error() -> str:
        try:
            call()
        except ValueError as err:
            return str(err)
        return "no error"

    # in a child: passages(size=0) used to loop forever, growing a list
    assert within(2.0, error).startswith(f"{field} must be")
