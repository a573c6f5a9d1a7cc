"""The argument checks every room shares: a ``ValueError`` naming the argument and what it allows.

A bool is never a count or a rate here (Python makes it an int), and NaN is refused explicitly (every
comparison with it is False, so a plain range check lets it through).
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def check_int(name: str, value: Any, minimum: int | None = 1, extra: str = "") -> int:
    """``value`` if it is an int (not a bool) >= ``minimum`` (any int when ``minimum`` is None)."""
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        kind = ("an integer" if minimum is None else "a positive integer" if minimum == 1
                else f"an integer >= {minimum}")
        raise ValueError(f"{name}={value!r}: must be {kind}{extra}")
    return value


def check_number(name: str, value: Any, minimum: float | None = None, *, strict: bool = False) -> float:
    """``value`` if it is a finite real number (not a bool) >= ``minimum`` (> with ``strict``)."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not number or (minimum is not None and (value <= minimum if strict else value < minimum)):
        bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum}"
        raise ValueError(f"{name}={value!r}: must be a finite number{bound}")
    return value


def check_rate(name: str, value: Any) -> float:
    """``value`` if it is a finite number in [0, 1]."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not number or not 0 <= value <= 1:
        raise ValueError(f"{name}={value!r}: must be a number in [0, 1]")
    return value
