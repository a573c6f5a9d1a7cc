"""Code trajectories that keep a failed branch: buggy attempt, real test output, reflection, fix.

The paper's code data keeps failed paths and their corrections ("branching strategy"). Here each task is a
small function with test cases, a correct solution and a genuinely wrong first attempt (off-by-one, a missed
edge case, an infinite loop...). Both are run in the ``run_tests`` sandbox at synthesis time: the attempt's
failure and the fix's success are what the sandbox really printed, and synthesis stops with an error if an
attempt unexpectedly passes or a fix fails. The reflection text is written per bug (labelled synthetic).
"""

from __future__ import annotations

import random
import textwrap
from dataclasses import dataclass
from typing import Any

from ylm.agent.tools import RUN_TESTS_SCHEMA, run_tests
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

SYSTEM = "You are a coding agent. Write the requested Python function, then check it with run_tests."
SYNTHETIC = {
    "thinking": "templated",
    "answer": "templated",
    "code": "hand-written (attempt and fix)",
    "observations": "executed (ylm sandbox)",
}


@dataclass
class CodeTask:
    function: str
    spec: str
    cases: list[tuple[tuple, Any]]
    solution: str
    bug: str
    reflection: str


def _src(code: str) -> str:
    """Source written as an indented triple-quoted block, dedented (one trailing newline)."""
    return textwrap.dedent(code).lstrip("\n")


TASKS: list[CodeTask] = [
    CodeTask(
        function="fizzbuzz",
        spec=(
            "fizzbuzz(n) returns 'FizzBuzz' if n is divisible by 15, 'Fizz' if by 3, 'Buzz' if by 5, else "
            "str(n)."
        ),
        cases=[((3,), "Fizz"), ((5,), "Buzz"), ((15,), "FizzBuzz"), ((7,), "7"), ((30,), "FizzBuzz")],
        solution=_src("""
        def fizzbuzz(n):
            if n % 15 == 0:
                return 'FizzBuzz'
            if n % 3 == 0:
                return 'Fizz'
            if n % 5 == 0:
                return 'Buzz'
            return str(n)
        """),
        bug=_src("""
        def fizzbuzz(n):
            if n % 3 == 0:
                return 'Fizz'
            if n % 5 == 0:
                return 'Buzz'
            if n % 15 == 0:
                return 'FizzBuzz'
            return str(n)
        """),
        reflection=(
            "Multiples of 15 are also multiples of 3, so the n % 3 branch returns first and the FizzBuzz "
            "branch is unreachable. Test the most specific condition (15) first."
        ),
    ),
    CodeTask(
        function="is_palindrome",
        spec=(
            "is_palindrome(s) is True when s reads the same backwards, ignoring case and every character "
            "that is not a letter or digit."
        ),
        cases=[
            (("racecar",), True),
            (("A man, a plan, a canal: Panama",), True),
            (("hello",), False),
            (("",), True),
        ],
        solution=_src("""
        def is_palindrome(s):
            t = [c.lower() for c in s if c.isalnum()]
            return t == t[::-1]
        """),
        bug=_src("""
        def is_palindrome(s):
            t = s.lower()
            return t == t[::-1]
        """),
        reflection=(
            "Lower-casing is not enough: spaces and punctuation stay in the string and break the symmetry. "
            "Keep only alphanumeric characters before comparing."
        ),
    ),
    CodeTask(
        function="binary_search",
        spec=("binary_search(xs, target) returns an index of target in the sorted list xs, or -1."),
        cases=[
            (([1, 3, 5, 7, 9], 7), 3),
            (([1, 3, 5, 7, 9], 1), 0),
            (([1, 3, 5, 7, 9], 4), -1),
            (([], 1), -1),
        ],
        solution=_src("""
        def binary_search(xs, target):
            lo, hi = 0, len(xs) - 1
            while lo <= hi:
                mid = (lo + hi) // 2
                if xs[mid] == target:
                    return mid
                if xs[mid] < target:
                    lo = mid + 1
                else:
                    hi = mid - 1
            return -1
        """),
        bug=_src("""
        def binary_search(xs, target):
            lo, hi = 0, len(xs) - 1
            while lo <= hi:
                mid = (lo + hi) // 2
                if xs[mid] == target:
                    return mid
                if xs[mid] < target:
                    lo = mid
                else:
                    hi = mid
            return -1
        """),
        reflection=(
            "The run timed out: with lo = mid and hi = mid the window stops shrinking once lo and hi are "
            "adjacent or equal, so the loop never ends. Move past mid: lo = mid + 1, hi = mid - 1."
        ),
    ),
    CodeTask(
        function="median",
        spec=(
            "median(xs) returns the median of a non-empty list of numbers (mean of the two middle values "
            "for even length)."
        ),
        cases=[(([3, 1, 2],), 2), (([4, 1, 3, 2],), 2.5), (([5],), 5), (([1, 10],), 5.5)],
        solution=_src("""
        def median(xs):
            s = sorted(xs)
            n = len(s)
            if n % 2:
                return s[n // 2]
            return (s[n // 2 - 1] + s[n // 2]) / 2
        """),
        bug=_src("""
        def median(xs):
            s = sorted(xs)
            return s[len(s) // 2]
        """),
        reflection=(
            "For an even number of values there are two middle elements and the code returns only the upper "
            "one. Average s[n//2 - 1] and s[n//2] when n is even."
        ),
    ),
    CodeTask(
        function="is_prime",
        spec=("is_prime(n) is True for prime numbers n >= 2, False otherwise."),
        cases=[((2,), True), ((9,), False), ((25,), False), ((13,), True), ((1,), False)],
        solution=_src("""
        def is_prime(n):
            if n < 2:
                return False
            for d in range(2, int(n ** 0.5) + 1):
                if n % d == 0:
                    return False
            return True
        """),
        bug=_src("""
        def is_prime(n):
            if n < 2:
                return False
            for d in range(2, int(n ** 0.5)):
                if n % d == 0:
                    return False
            return True
        """),
        reflection=(
            "Squares of primes pass as prime: range(2, int(sqrt(n))) stops before sqrt(n) itself, so 3 is "
            "never tried for 9. The upper bound must include int(n ** 0.5)."
        ),
    ),
    CodeTask(
        function="run_length",
        spec=("run_length(s) encodes runs as char+count, e.g. 'aaab' -> 'a3b1'."),
        cases=[(("aaab",), "a3b1"), (("",), ""), (("abc",), "a1b1c1"), (("zz",), "z2")],
        solution=_src("""
        def run_length(s):
            out, i = [], 0
            while i < len(s):
                j = i
                while j < len(s) and s[j] == s[i]:
                    j += 1
                out.append(f'{s[i]}{j - i}')
                i = j
            return ''.join(out)
        """),
        bug=_src("""
        def run_length(s):
            out, count = [], 1
            for a, b in zip(s, s[1:]):
                if a == b:
                    count += 1
                else:
                    out.append(f'{a}{count}')
                    count = 1
            return ''.join(out)
        """),
        reflection=(
            "The last run is never written: the loop only emits a run when the next character differs, and "
            "the final run has no next character. Emit the run at the end too (or scan runs explicitly)."
        ),
    ),
    CodeTask(
        function="second_largest",
        spec=("second_largest(xs) returns the second largest distinct value, or None if there is none."),
        cases=[(([5, 5, 3],), 3), (([1, 2, 3],), 2), (([7],), None), (([4, 4],), None)],
        solution=_src("""
        def second_largest(xs):
            vals = sorted(set(xs))
            return vals[-2] if len(vals) >= 2 else None
        """),
        bug=_src("""
        def second_largest(xs):
            s = sorted(xs)
            return s[-2] if len(s) >= 2 else None
        """),
        reflection=(
            "Duplicates of the maximum are counted as the second largest. The spec asks for distinct "
            "values, so deduplicate with set() before sorting."
        ),
    ),
    CodeTask(
        function="to_roman",
        spec=("to_roman(n) converts 1 <= n <= 3999 to Roman numerals with subtractive pairs (4 = IV)."),
        cases=[((4,), "IV"), ((9,), "IX"), ((14,), "XIV"), ((1994,), "MCMXCIV"), ((3,), "III")],
        solution=_src("""
        def to_roman(n):
            table = [(1000, 'M'), (900, 'CM'), (500, 'D'), (400, 'CD'), (100, 'C'), (90, 'XC'),
                     (50, 'L'), (40, 'XL'), (10, 'X'), (9, 'IX'), (5, 'V'), (4, 'IV'), (1, 'I')]
            out = ''
            for value, sym in table:
                while n >= value:
                    out += sym
                    n -= value
            return out
        """),
        bug=_src("""
        def to_roman(n):
            table = [(1000, 'M'), (500, 'D'), (100, 'C'), (50, 'L'), (10, 'X'), (5, 'V'), (1, 'I')]
            out = ''
            for value, sym in table:
                while n >= value:
                    out += sym
                    n -= value
            return out
        """),
        reflection=(
            "The table has no subtractive pairs, so 4 becomes IIII and 9 becomes VIIII. Add CM, CD, XC, XL, "
            "IX and IV to the table in descending order."
        ),
    ),
    CodeTask(
        function="merge_intervals",
        spec=(
            "merge_intervals(xs) merges overlapping [start, end] intervals and returns them sorted by start."
        ),
        cases=[
            (([[1, 3], [2, 6], [8, 10]],), [[1, 6], [8, 10]]),
            (([[8, 10], [1, 3], [2, 6]],), [[1, 6], [8, 10]]),
            (([],), []),
        ],
        solution=_src("""
        def merge_intervals(xs):
            out = []
            for s, e in sorted(xs):
                if out and s <= out[-1][1]:
                    out[-1][1] = max(out[-1][1], e)
                else:
                    out.append([s, e])
            return out
        """),
        bug=_src("""
        def merge_intervals(xs):
            out = []
            for s, e in xs:
                if out and s <= out[-1][1]:
                    out[-1][1] = max(out[-1][1], e)
                else:
                    out.append([s, e])
            return out
        """),
        reflection=(
            "Merging only looks at the previous interval, which is correct only when the input is sorted by "
            "start. The unsorted case fails; sort the intervals first."
        ),
    ),
    CodeTask(
        function="flatten",
        spec=("flatten(xs) flattens arbitrarily nested lists into one flat list."),
        cases=[(([1, [2, 3]],), [1, 2, 3]), (([1, [2, [3, [4]]]],), [1, 2, 3, 4]), (([],), [])],
        solution=_src("""
        def flatten(xs):
            out = []
            for x in xs:
                if isinstance(x, list):
                    out.extend(flatten(x))
                else:
                    out.append(x)
            return out
        """),
        bug=_src("""
        def flatten(xs):
            out = []
            for x in xs:
                if isinstance(x, list):
                    out.extend(x)
                else:
                    out.append(x)
            return out
        """),
        reflection=(
            "Only one level is removed: extending with the inner list keeps deeper lists intact. Recurse "
            "into nested lists."
        ),
    ),
    CodeTask(
        function="word_count",
        spec=(
            "word_count(text) returns a dict mapping each lower-cased word (split on whitespace) to its "
            "count."
        ),
        cases=[(("the cat The",), {"the": 2, "cat": 1}), (("",), {}), (("A a a",), {"a": 3})],
        solution=_src("""
        def word_count(text):
            counts = {}
            for w in text.lower().split():
                counts[w] = counts.get(w, 0) + 1
            return counts
        """),
        bug=_src("""
        def word_count(text):
            counts = {}
            for w in text.split():
                counts[w] = counts.get(w, 0) + 1
            return counts
        """),
        reflection=(
            "'The' and 'the' are counted as different words. The spec wants lower-cased words, so lower the "
            "text before splitting."
        ),
    ),
    CodeTask(
        function="fib",
        spec=("fib(n) returns the n-th Fibonacci number with fib(0) = 0 and fib(1) = 1."),
        cases=[((0,), 0), ((1,), 1), ((2,), 1), ((10,), 55)],
        solution=_src("""
        def fib(n):
            a, b = 0, 1
            for _ in range(n):
                a, b = b, a + b
            return a
        """),
        bug=_src("""
        def fib(n):
            a, b = 0, 1
            for _ in range(n):
                a, b = b, a + b
            return b
        """),
        reflection=(
            "Every value is one position ahead: after n steps a holds fib(n) and b holds fib(n + 1), and "
            "the code returns b. Return a."
        ),
    ),
    CodeTask(
        function="chunk",
        spec=("chunk(xs, k) splits xs into consecutive pieces of length k; the last piece may be shorter."),
        cases=[(([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]), (([1, 2], 3), [[1, 2]]), (([], 2), [])],
        solution=_src("""
        def chunk(xs, k):
            return [xs[i:i + k] for i in range(0, len(xs), k)]
        """),
        bug=_src("""
        def chunk(xs, k):
            return [xs[i:i + k] for i in range(0, len(xs) - k + 1, k)]
        """),
        reflection=(
            "The range stops at len(xs) - k + 1, which drops a shorter final piece. Step through the whole "
            "list: range(0, len(xs), k)."
        ),
    ),
    CodeTask(
        function="gcd",
        spec=("gcd(a, b) returns the greatest common divisor of two non-negative integers (gcd(0, 0) = 0)."),
        cases=[((12, 18), 6), ((7, 5), 1), ((10, 0), 10), ((0, 0), 0)],
        solution=_src("""
        def gcd(a, b):
            while b:
                a, b = b, a % b
            return a
        """),
        bug=_src("""
        def gcd(a, b):
            if a % b == 0:
                return b
            return gcd(b, a % b)
        """),
        reflection=(
            "The recursion divides by b before checking it: gcd(10, 0) computes 10 % 0 and raises "
            "ZeroDivisionError. Stop when b is 0 (Euclid's loop: a, b = b, a % b while b)."
        ),
    ),
]


def _code_block(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```"


def make_code_trajectory(task: CodeTask, with_branch: bool, tid: str) -> Trajectory:
    """Run the attempt and the fix in the sandbox and assemble the trajectory from the real outputs."""
    examples = "\n".join(f"- {task.function}({', '.join(map(repr, a))}) == {w!r}" for a, w in task.cases)
    turns: list = [UserTurn(f"Write a Python function: {task.spec}\nIt must pass these tests:\n{examples}")]
    opening = [
        Phase("analysis", f"The function is {task.function}; the tests pin down the edge cases."),
        Phase("plan", "Write the function, then run the tests in the sandbox."),
    ]
    if with_branch:
        bad = run_tests(task.bug, task.function, task.cases)
        if bad.passed:
            raise RuntimeError(f"the buggy attempt for {task.function} passed its tests; it must fail")
        turns.append(
            Branch(
                AssistantTurn(
                    phases=opening + [Phase("action", "Run the first version.")],
                    tool_calls=[ToolCall("run_tests", {"code": task.bug})],
                ),
                ToolTurn([ToolResponse("run_tests", bad.output)]),
            )
        )
        fix_phases = [Phase("reflection", task.reflection), Phase("action", "Run the corrected version.")]
    else:
        fix_phases = opening + [Phase("action", "Run it.")]
    good = run_tests(task.solution, task.function, task.cases)
    if not good.passed:
        raise RuntimeError(f"the solution for {task.function} failed its tests: {good.output}")
    turns.append(
        AssistantTurn(phases=fix_phases, tool_calls=[ToolCall("run_tests", {"code": task.solution})])
    )
    turns.append(ToolTurn([ToolResponse("run_tests", good.output)]))
    turns.append(
        AssistantTurn(
            phases=[Phase("summary", f"All {len(task.cases)} tests pass.")],
            content=f"{_code_block(task.solution)}\n\nThis passes all {len(task.cases)} tests.",
        )
    )
    return Trajectory(
        turns=turns,
        system=SYSTEM,
        tools=[RUN_TESTS_SCHEMA],
        id=tid,
        meta={
            "category": "code",
            "function": task.function,
            "synthetic": SYNTHETIC,
            "attempt_timed_out": with_branch and "TIMEOUT" in turns[1].observation.responses[0].content,
        },
    )


def synthesize_code(seed: int, n_direct: int = 6) -> list[Trajectory]:
    """Every task once with its failed branch, plus ``n_direct`` tasks (at most one per task) solved on the
    first try."""
    check_int("seed", seed, minimum=None)
    check_int("n_direct", n_direct, minimum=0)
    rng = random.Random(f"code-{seed}")
    order = list(TASKS)
    rng.shuffle(order)
    plan = [(t, True) for t in order] + [(t, False) for t in rng.sample(order, min(n_direct, len(order)))]
    return [
        make_code_trajectory(task, branch, f"synthetic/code/{seed}-{k:04d}")
        for k, (task, branch) in enumerate(plan)
    ]
