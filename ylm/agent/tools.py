"""The real tools synthetic trajectories call: a calculator, a Python test sandbox, and search/read.

Every observation in a synthesised trajectory is what one of these returned when it was actually run:

* ``calculator``: arithmetic through ``ast`` (never ``eval``): numbers, + - * / // % **, unary +/-, and a
  few whitelisted functions; anything else is a ``CalculatorError`` whose message becomes the observation;
* ``run_tests``: a candidate function plus its test cases in a separate ``python -I -S`` process with a
  timeout; the observation is the process's real output (FAIL lines, exceptions, or the timeout);
* ``search`` / ``read``: BM25 over committed documents,
  ``score(q, d) = sum_t idf(t) * tf(t,d) (k1+1) / (tf(t,d) + k1 (1 - b + b |d| / avgdl))``,
  ``idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))``, k1 = 1.2, b = 0.75.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import Any

# ---------------------------------------------------------------- calculator

CALCULATOR_SCHEMA = {
    "name": "calculator",
    "description": "Evaluate an arithmetic expression. Supports + - * / // % ** and parentheses, and the "
    "functions "
    "sqrt, abs, round, min, max, floor, ceil.",
    "parameters": {
        "type": "object",
        "required": ["expression"],
        "properties": {"expression": {"type": "string", "description": "e.g. round(2**0.5, 3)"}},
    },
}
_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "floor": math.floor,
    "ceil": math.ceil,
}
_OP_NAMES = {
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
}


class CalculatorError(ValueError):
    pass


def _eval_node(node: ast.AST) -> float | int:
    if isinstance(node, ast.Expression):
        return _eval_node(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            sym = _OP_NAMES.get(type(node.op), type(node.op).__name__)
            hint = "; use ** for powers" if sym == "^" else ""
            raise CalculatorError(f"operator {sym} is not supported{hint}")
        left, right = _eval_node(node.left), _eval_node(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 1000:
            raise CalculatorError("exponent too large (limit 1000)")
        try:
            return _BINOPS[type(node.op)](left, right)
        except ZeroDivisionError as err:
            raise CalculatorError("division by zero") from err
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval_node(node.operand))
    if isinstance(node, ast.Call):
        name = ast.unparse(node.func)
        if name not in _FUNCS or node.keywords:
            raise CalculatorError(f"function {name} is not supported; available: {', '.join(_FUNCS)}")
        return _FUNCS[name](*[_eval_node(a) for a in node.args])
    raise CalculatorError(f"unsupported syntax: {ast.unparse(node)!r}")


def calculate(expression: str) -> float | int:
    """Value of an arithmetic expression, or ``CalculatorError``."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as err:
        raise CalculatorError(f"syntax error: {err.msg}") from err
    return _eval_node(tree)


def calculator_tool(expression: str) -> str:
    """What the calculator tool returns: the value (floats to 10 significant digits) or ``error: ...``."""
    try:
        value = calculate(expression)
    except (CalculatorError, TypeError, ValueError, OverflowError) as err:
        return f"error: {err}"
    return str(value) if isinstance(value, int) else format(value, ".10g")


# ---------------------------------------------------------------- sandbox

RUN_TESTS_SCHEMA = {
    "name": "run_tests",
    "description": "Run Python code that defines the requested function against the task's test cases in a "
    "sandboxed subprocess (2 s timeout). Returns the test report.",
    "parameters": {
        "type": "object",
        "required": ["code"],
        "properties": {"code": {"type": "string", "description": "the full function definition"}},
    },
}
_HARNESS = """
_cases = {cases!r}
_failed = 0
for _i, (_args, _want) in enumerate(_cases):
    _call = "{fn}(" + ", ".join(repr(a) for a in _args) + ")"
    try:
        _got = {fn}(*_args)
    except Exception as _e:
        _failed += 1
        print(f"ERROR case {{_i}}: {{_call}} raised {{type(_e).__name__}}: {{_e}}")
        continue
    if _got != _want:
        _failed += 1
        print(f"FAIL case {{_i}}: {{_call}} returned {{_got!r}}, expected {{_want!r}}")
print(f"{{len(_cases) - _failed}}/{{len(_cases)}} tests passed")
"""


@dataclass
class SandboxResult:
    output: str
    passed: bool
    timed_out: bool


def run_tests(
    code: str, function: str, cases: list[tuple[tuple, Any]], timeout: float = 2.0
) -> SandboxResult:
    """Run ``code`` and the test cases in an isolated interpreter (``-I -S``, empty env, temp cwd)."""
    program = code + "\n" + _HARNESS.format(cases=[(tuple(a), w) for a, w in cases], fn=function)
    with tempfile.TemporaryDirectory() as cwd:
        try:
            proc = subprocess.run(
                [sys.executable, "-I", "-S", "-c", program],
                cwd=cwd,
                env={},
                timeout=timeout,
                capture_output=True,
                text=True,
            )
        except subprocess.TimeoutExpired:
            return SandboxResult(
                f"TIMEOUT: the tests did not finish within {timeout:g} s; process killed", False, True
            )
    out = proc.stdout
    if proc.returncode != 0:
        # keep the exception lines of the traceback, which do not depend on where the tempdir is
        tail = [ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("  File ")][-4:]
        out += f"process exited with code {proc.returncode}\n" + "\n".join(tail)
    out = out.strip()
    total = len(cases)
    return SandboxResult(
        out[:1500], proc.returncode == 0 and out.endswith(f"{total}/{total} tests passed"), False
    )


# ---------------------------------------------------------------- search and read

SEARCH_SCHEMA = {
    "name": "search",
    "description": "Search the document collection (BM25). Returns the top results with id, title and the "
    "best-matching sentence.",
    "parameters": {
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": {"type": "string"},
            "k": {"type": "integer", "description": "number of results (default 5)"},
        },
    },
}
READ_SCHEMA = {
    "name": "read",
    "description": "Read a document by id. With `focus`, returns the passage that best matches it.",
    "parameters": {
        "type": "object",
        "required": ["doc_id"],
        "properties": {"doc_id": {"type": "string"}, "focus": {"type": "string"}},
    },
}
_WORD = re.compile(r"[a-z0-9_]+")
STOPWORDS = frozenset(
    "a an and are as at be been but by for from had has have he her his i if in into is it its of on or "
    "she so such that the their them then there these they this to was were which will with would you not "
    "can do does more most other some than".split()
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def doc_title(doc: dict[str, Any]) -> str:
    """A readable title: an rst heading, else the first line (cut to 80 characters)."""
    lines = [ln.strip() for ln in doc["text"].splitlines()]
    for k in range(1, len(lines)):
        if (
            lines[k]
            and set(lines[k]) <= set("=*-#~^")
            and len(lines[k]) >= 3
            and lines[k - 1]
            and not set(lines[k - 1]) <= set("=*-#~^")
        ):
            return lines[k - 1][:80]
    first = next((ln for ln in lines if ln), doc["id"])
    return first[:80]


def passages(text: str, size: int = 700) -> list[str]:
    """Paragraphs, long ones cut into pieces of at most ``size`` characters."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        while para:
            out.append(para[:size])
            para = para[size:]
    return out


class SearchIndex:
    """BM25 over whole documents, deterministic ties (by document order)."""

    def __init__(self, docs: list[dict[str, Any]], k1: float = 1.2, b: float = 0.75):
        self.docs = {d["id"]: d for d in docs}
        self.order = [d["id"] for d in docs]
        self.titles = {d["id"]: doc_title(d) for d in docs}
        self.tf = {d["id"]: Counter(words(d["text"])) for d in docs}
        self.len = {i: sum(c.values()) for i, c in self.tf.items()}
        self.avgdl = sum(self.len.values()) / max(1, len(docs))
        df = Counter(w for c in self.tf.values() for w in c)
        n = len(docs)
        self.idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in df.items()}
        self.k1, self.b = k1, b

    def score(self, query_words: list[str], doc_id: str) -> float:
        tf, dl = self.tf[doc_id], self.len[doc_id]
        s = 0.0
        for w in query_words:
            f = tf.get(w, 0)
            if f:
                s += self.idf[w] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * dl / self.avgdl))
        return s

    def rank(self, query: str) -> list[str]:
        q = words(query)
        scored = [(self.score(q, i), -pos, i) for pos, i in enumerate(self.order)]
        return [i for s, _, i in sorted(scored, reverse=True) if s > 0]

    def best_sentence(self, doc_id: str, query: str) -> str:
        q = set(words(query))
        best, best_score = "", -1.0
        for para in passages(self.docs[doc_id]["text"]):
            for sent in _SENTENCE.split(para):
                score = sum(self.idf.get(w, 0) for w in set(words(sent)) & q)
                if score > best_score:
                    best, best_score = sent, score
        return " ".join(best.split())[:300]

    def search(self, query: str, k: int = 5) -> str:
        """The search tool's observation: JSON list of {id, title, snippet}."""
        hits = self.rank(query)[:k]
        return json.dumps(
            [{"id": i, "title": self.titles[i], "snippet": self.best_sentence(i, query)} for i in hits],
            ensure_ascii=False,
        )

    def best_passage(self, doc_id: str, focus: str) -> str:
        q = set(words(focus))
        chunks = passages(self.docs[doc_id]["text"])
        if not q:
            return chunks[0] if chunks else ""
        scores = [sum(self.idf.get(w, 0) for w in set(words(c)) & q) for c in chunks]
        return chunks[max(range(len(chunks)), key=lambda k: (scores[k], -k))]

    def read(self, doc_id: str, focus: str = "") -> str:
        """The read tool's observation: JSON {id, title, passage} or an error for an unknown id."""
        if doc_id not in self.docs:
            return json.dumps({"error": f"no document with id {doc_id!r}"})
        return json.dumps(
            {"id": doc_id, "title": self.titles[doc_id], "passage": self.best_passage(doc_id, focus)},
            ensure_ascii=False,
        )
