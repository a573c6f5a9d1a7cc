"""The real tools behind synthetic observations: calculator, test sandbox, BM25 search/read."""

from __future__ import annotations

import json
import re

import pytest

from ylm.agent.tools import CalculatorError, SearchIndex, calculate, calculator_tool, run_tests


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


def test_search_index_ranks_the_matching_document_first():
    docs = [
        {"id": "a", "text": "Heaps are binary trees.\n\nA heap keeps the smallest item first."},
        {"id": "b", "text": "Cats sleep a lot.\n\nDogs bark at the mail carrier."},
        {"id": "c", "text": "Sorting algorithms\n==========\n\nHeapsort uses a heap."},
    ]
    index = SearchIndex(docs)
    assert index.rank("dogs bark")[0] == "b"
    hits = json.loads(index.search("heap smallest"))
    assert hits[0]["id"] == "a" and "smallest" in hits[0]["snippet"]
    assert index.titles["c"] == "Sorting algorithms"
    assert "Dogs bark" in json.loads(index.read("b", "dogs"))["passage"]
    assert "error" in json.loads(index.read("zzz"))
