"""Math trajectories with a calculator tool, in the five Agentic-CoT phases.

Each task is a templated word problem with seeded numbers. The assistant writes Analysis / Plan / Action,
calls the calculator, and finishes with a Summary that quotes the calculator's output. In about a share
``branch_rate`` of all problems (drawn among the kinds that have a natural slip) the first call contains a
real mistake, such as ``^`` for a power, a missing parenthesis or ``math.sqrt``; the calculator really
rejects it, and the next turn reflects on the error message and retries. Thinking and answer text are
templates (labelled synthetic); every observation is the calculator's real output.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ylm.agent.tools import CALCULATOR_SCHEMA, calculator_tool
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
from ylm.checks import check_int, check_rate

SYSTEM = (
    "You are a careful assistant. Use the calculator for arithmetic and report the exact result it returns."
)
SYNTHETIC = {"thinking": "templated", "answer": "templated", "observations": "executed (ylm calculator)"}


@dataclass
class Problem:
    kind: str
    question: str
    analysis: str
    plan: str
    expression: str
    unit: str
    slip: str | None = None  # a wrong expression a hurried solver might write
    slip_reflection: str | None = None


def _shopping(rng: random.Random) -> Problem:
    a, b = rng.randint(2, 12), rng.randint(2, 20)
    p, q = rng.choice([1.25, 2.5, 3.75, 4.2, 5.9]), rng.choice([0.35, 0.8, 1.15, 1.6])
    return Problem(
        "shopping",
        f"A shop sells notebooks at ${p} each and pens at ${q} each. I buy {a} notebooks "
        f"and {b} pens. What do I pay in total?",
        f"Two items with unit prices: {a} notebooks at {p}, {b} pens at {q}.",
        "Total = notebooks x price + pens x price.",
        f"{a}*{p} + {b}*{q}",
        "dollars",
    )


def _interest(rng: random.Random) -> Problem:
    principal, rate, years = (
        rng.choice([500, 1000, 2500, 4000]),
        rng.choice([2, 3, 4.5, 5, 6]),
        rng.randint(2, 9),
    )
    expr = f"round({principal}*(1 + {rate}/100)**{years}, 2)"
    return Problem(
        "compound_interest",
        f"I invest ${principal} at {rate}% interest per year, compounded yearly. "
        f"How much do I have after {years} years (to the cent)?",
        f"Compound growth: the amount is multiplied by (1 + {rate}/100) once per year, {years} times.",
        "Amount = principal x (1 + rate/100)^years, rounded to 2 decimals.",
        expr,
        "dollars",
        slip=expr.replace("**", "^"),
        slip_reflection="The calculator does not accept ^ for powers; it said to use **. "
        "Rewrite the power with ** and keep the rest of the expression.",
    )


def _speed(rng: random.Random) -> Problem:
    d, h, m = rng.randint(40, 600), rng.randint(0, 6), rng.choice([10, 15, 20, 30, 40, 45, 50])
    expr = f"round({d}/({h} + {m}/60), 2)"
    return Problem(
        "speed",
        f"A train covers {d} km in {h} h {m} min. What is its average speed in km/h (2 decimals)?",
        f"Distance {d} km; time {h} h plus {m} min, i.e. {h} + {m}/60 hours.",
        "Speed = distance / time in hours, rounded to 2 decimals.",
        expr,
        "km/h",
        slip=f"round({d}/({h} + {m}/60, 2)",
        slip_reflection="The calculator reports a syntax error: one parenthesis around the time is "
        "not closed before the rounding argument. Close it and call again.",
    )


def _mean(rng: random.Random) -> Problem:
    xs = [rng.randint(40, 100) for _ in range(rng.randint(4, 7))]
    expr = f"round(({' + '.join(map(str, xs))})/{len(xs)}, 2)"
    return Problem(
        "mean",
        f"My test scores are {', '.join(map(str, xs))}. What is my average (2 decimals)?",
        f"{len(xs)} scores; the mean is their sum divided by {len(xs)}.",
        "Sum all scores, divide by the count, round to 2 decimals.",
        expr,
        "points",
    )


def _percent(rng: random.Random) -> Problem:
    x = rng.randint(20, 400)
    y = x + rng.choice([-1, 1]) * rng.randint(1, x // 2)
    expr = f"round(({y} - {x})/{x}*100, 2)"
    return Problem(
        "percent_change",
        f"A price changed from {x} to {y}. What is the percentage change (2 decimals)?",
        f"Old value {x}, new value {y}; the change is relative to the old value.",
        "Percent change = (new - old) / old x 100.",
        expr,
        "percent",
    )


def _hypotenuse(rng: random.Random) -> Problem:
    a, b = rng.randint(3, 40), rng.randint(3, 40)
    expr = f"round(sqrt({a}**2 + {b}**2), 3)"
    return Problem(
        "hypotenuse",
        f"A right triangle has legs {a} and {b}. How long is the hypotenuse (3 decimals)?",
        f"Right triangle with legs {a} and {b}: Pythagoras applies.",
        "c = sqrt(a^2 + b^2), rounded to 3 decimals.",
        expr,
        "units",
        slip=expr.replace("sqrt", "math.sqrt"),
        slip_reflection="The calculator has no math module; its error lists sqrt as a plain "
        "function. Call sqrt directly.",
    )


GENERATORS: dict[str, Callable[[random.Random], Problem]] = {
    "shopping": _shopping,
    "compound_interest": _interest,
    "speed": _speed,
    "mean": _mean,
    "percent_change": _percent,
    "hypotenuse": _hypotenuse,
}


def make_math_trajectory(problem: Problem, with_branch: bool, tid: str) -> Trajectory:
    """Run the calculator for real (the slip first, when branching) and assemble the trajectory."""
    opening = [Phase("analysis", problem.analysis), Phase("plan", problem.plan)]
    turns: list = [UserTurn(problem.question)]
    action = Phase(
        "action", f"Evaluate {problem.expression if not with_branch else problem.slip} with the calculator."
    )
    if with_branch:
        error = calculator_tool(problem.slip)
        if not error.startswith("error:"):
            raise RuntimeError(f"slip {problem.slip!r} did not fail in the calculator: {error}")
        turns.append(
            Branch(
                AssistantTurn(
                    phases=opening + [action],
                    tool_calls=[ToolCall("calculator", {"expression": problem.slip})],
                ),
                ToolTurn([ToolResponse("calculator", error)]),
            )
        )
        turns.append(
            AssistantTurn(
                phases=[
                    Phase("reflection", problem.slip_reflection),
                    Phase("action", f"Evaluate {problem.expression}."),
                ],
                tool_calls=[ToolCall("calculator", {"expression": problem.expression})],
            )
        )
    else:
        turns.append(
            AssistantTurn(
                phases=opening + [action],
                tool_calls=[ToolCall("calculator", {"expression": problem.expression})],
            )
        )
    result = calculator_tool(problem.expression)
    if result.startswith("error:"):
        raise RuntimeError(f"expression {problem.expression!r} failed: {result}")
    turns.append(ToolTurn([ToolResponse("calculator", result)]))
    turns.append(
        AssistantTurn(
            phases=[
                Phase("summary", f"The calculator returned {result}, which answers the question directly.")
            ],
            content=f"The answer is {result} {problem.unit}.",
        )
    )
    return Trajectory(
        turns=turns,
        system=SYSTEM,
        tools=[CALCULATOR_SCHEMA],
        id=tid,
        meta={"category": "math", "kind": problem.kind, "synthetic": SYNTHETIC},
    )


def synthesize_math(seed: int, n: int, branch_rate: float = 0.35) -> list[Trajectory]:
    """``n`` problems, kinds in turn; about ``branch_rate`` of all of them keep a failed first call."""
    check_int("seed", seed, minimum=None)
    check_int("n", n, minimum=0)
    check_rate("branch_rate", branch_rate)
    rng = random.Random(f"math-{seed}")
    kinds = sorted(GENERATORS)
    out = []
    for k in range(n):
        problem = GENERATORS[kinds[k % len(kinds)]](rng)
        branch = problem.slip is not None and rng.random() < branch_rate * len(kinds) / 3
        out.append(make_math_trajectory(problem, branch, f"synthetic/math/{seed}-{k:04d}"))
    return out
