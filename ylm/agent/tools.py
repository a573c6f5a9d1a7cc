"""The real tools synthetic trajectories call: a calculator, a Python test sandbox, and search/read.

Every observation in a synthesised trajectory is what one of these returned when it was actually run. An agent
runtime runs model-written calls through the same functions, so each is bounded in time and size:

* ``calculator``: arithmetic through ``ast`` (never ``eval``), evaluated with an explicit stack (no recursion):
  numbers, + - * / // % **, unary +/-, and a few whitelisted functions. The input (2,000 characters), exponents
  (1,000), ``round``'s ndigits (1,000) and every integer on the way (1,000 digits) are capped; anything else is a
  ``CalculatorError`` whose message becomes the ``error: ...`` observation;
* ``run_tests``: a candidate function against its test cases in a separate ``python -I -S`` (the sandbox below);
* ``search`` / ``read``: BM25 over committed documents,
  ``score(q, d) = sum_t idf(t) * tf(t,d) (k1+1) / (tf(t,d) + k1 (1 - b + b |d| / avgdl))``,
  ``idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))``, k1 = 1.2, b = 0.75.

What the sandbox contains, always: a fresh interpreter (``-I -S``) with an empty environment in an empty
temporary directory, in its own session whose whole process group is SIGKILLed when the run ends (normal
return, timeout or too much output); hard limits set before the code runs: 512 MiB of address space, CPU
seconds, 16 MiB per written file, 64 open files, no core files, no new processes (RLIMIT_NPROC 0, which binds
every user but root); stdout, stderr and results read in chunks, 1 MiB in all, then the run is killed. The
verdict never comes from the code's own output: the harness sends each return value (built from exact
built-in types, so an object with a lying ``__eq__`` or ``__repr__`` is reported as an object) or exception
over a separate pipe, tagged with a per-run secret, and this process compares it with the expected value and
writes the report; a printed summary line, a patched ``print`` or an early ``os._exit(0)`` fails.

More where the machine offers it, probed once per process (``sandbox_isolation()`` says what was found):

* ``unshare`` (util-linux) with user namespaces: its own network namespace (its loopback is down: nothing is
  reachable, not even 127.0.0.1), PID namespace with its own ``/proc`` (the caller's processes, their
  environment and signals are out of reach, and every process left inside dies with it), IPC and mount
  namespaces, and no capabilities (with util-linux before 2.38 it is root inside, so deliberate code could
  unmount that ``/proc``);
* a root caller whose interpreter ``nobody`` can run: the code runs as uid/gid 65534 with no extra groups.

What it does not contain:

* files: no filesystem jail is built (no bwrap or chroot). Run as the caller, the code can read and write
  whatever the caller can, outside its directory too; as ``nobody`` it can still read world-readable files and
  write world-writable directories such as /tmp;
* processes, when the caller is root and stays root: RLIMIT_NPROC does not apply to uid 0, so the code can
  start processes (``/bin/sh`` included); inside the namespaces they die with the run, but without them a
  process that left the session (``setsid``) outlives it;
* without ``unshare``: the network (127.0.0.1 included), and processes of the same user, which it can signal
  and whose environment it can read in ``/proc``;
* a forger: code that digs the secret out of the harness's own frames or memory (``sys._getframe``, ``gc``,
  ``ctypes``) can still write a passing record. The sandbox stops accidents and cheap tricks, not an
  adversary with the whole interpreter in hand.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import operator
import os
import re
import secrets
import select
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
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
MAX_EXPRESSION_CHARS = 2000
MAX_EXPONENT = 1000
MAX_DIGITS = 1000  # of any integer, literal or intermediate; also the bound on round()'s ndigits
_INT_LIMIT = 10**MAX_DIGITS
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
_FUNCS: dict[str, Callable[..., Any]] = {
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


def _snippet(expression: str, node: ast.AST) -> str:
    """The node's source text, cut short (``ast.unparse`` recurses, and the text can be long)."""
    text = ast.get_source_segment(expression, node) or type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _operands(expression: str, node: ast.AST) -> list[ast.AST]:
    """The sub-expressions ``node`` needs, or ``CalculatorError`` for syntax outside the whitelist.

    Checked before the operands are evaluated, so the first error reported is the outermost one."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return []
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            sym = _OP_NAMES.get(type(node.op), type(node.op).__name__)
            hint = "; use ** for powers" if sym == "^" else ""
            raise CalculatorError(f"operator {sym} is not supported{hint}")
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return [node.operand]
    if isinstance(node, ast.Call):
        name = _snippet(expression, node.func)
        if name not in _FUNCS or node.keywords:
            raise CalculatorError(f"function {name} is not supported; available: {', '.join(_FUNCS)}")
        return list(node.args)
    raise CalculatorError(f"unsupported syntax: {_snippet(expression, node)!r}")


def _bounded(value: Any) -> float | int:
    """``value`` if it is a real number of at most ``MAX_DIGITS`` digits."""
    if isinstance(value, complex):
        raise CalculatorError("result is not a real number")
    if isinstance(value, int) and abs(value) >= _INT_LIMIT:
        raise CalculatorError(f"number too large (limit {MAX_DIGITS} digits)")
    return value


def _power(left: float | int, right: float | int) -> float | int:
    if abs(right) > MAX_EXPONENT:
        raise CalculatorError(f"exponent too large (limit {MAX_EXPONENT})")
    # an integer power is exact, so its size is known before it is computed; +1 keeps rounding on the safe side
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        if right * math.log10(abs(left)) > MAX_DIGITS + 1:
            raise CalculatorError(f"number too large (limit {MAX_DIGITS} digits)")
    return left**right


def _apply(expression: str, node: ast.AST, values: list[float | int]) -> float | int:
    """Evaluate ``node`` with its operands' values taken off the end of ``values``."""
    if isinstance(node, ast.Constant):
        return _bounded(node.value)
    try:
        if isinstance(node, ast.BinOp):
            right, left = values.pop(), values.pop()
            op = _power if isinstance(node.op, ast.Pow) else _BINOPS[type(node.op)]
            return _bounded(op(left, right))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](values.pop())
        assert isinstance(node, ast.Call)
        name, start = _snippet(expression, node.func), len(values) - len(node.args)
        args = values[start:]
        del values[start:]
        if name == "round" and len(args) == 2 and isinstance(args[1], int) and abs(args[1]) > MAX_DIGITS:
            raise CalculatorError(f"round: ndigits too large (limit {MAX_DIGITS})")
        return _bounded(_FUNCS[name](*args))
    except CalculatorError:
        raise
    except ZeroDivisionError as err:
        raise CalculatorError("division by zero") from err
    except (ArithmeticError, TypeError, ValueError) as err:  # e.g. sqrt(-1), min(), a float overflow
        raise CalculatorError(str(err)) from err


def calculate(expression: str) -> float | int:
    """Value of an arithmetic expression, or ``CalculatorError`` (a ``ValueError``)."""
    if not isinstance(expression, str):
        raise CalculatorError(f"expression must be a string, got {type(expression).__name__}")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"expression too long (limit {MAX_EXPRESSION_CHARS} characters)")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as err:
        raise CalculatorError(f"syntax error: {err.msg}") from err
    except ValueError as err:  # a null byte, on older 3.11 releases (newer ones raise SyntaxError)
        raise CalculatorError(f"syntax error: {err}") from err
    # post-order walk with an explicit stack: a deep expression (a long sum, many unary minuses) cannot
    # exhaust the interpreter's recursion limit
    todo: list[tuple[ast.AST, bool]] = [(tree.body, False)]
    values: list[float | int] = []
    while todo:
        node, operands_done = todo.pop()
        if operands_done:
            values.append(_apply(expression, node, values))
        else:
            todo.append((node, True))
            todo.extend((child, False) for child in reversed(_operands(expression, node)))
    return values[0]


ERROR_PREFIX = "error: "  # how a tool's observation reports a failure; the runtime answers rejected calls alike


def calculator_tool(expression: str) -> str:
    """What the calculator tool returns: the value (floats to 10 significant digits) or ``error: ...``."""
    try:
        value = calculate(expression)
    except CalculatorError as err:
        return f"{ERROR_PREFIX}{err}"
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
MAX_TIMEOUT = 60.0
MAX_OUTPUT = 1 << 20  # bytes read from stdout, stderr and the results pipe together before the run is killed
_READ_CHUNK = 1 << 16
_NOBODY = 65534
_LIMITS = {  # hard limits the harness sets before the code under test runs (RLIMIT_CPU comes from the timeout)
    "RLIMIT_AS": 512 << 20,
    "RLIMIT_FSIZE": 16 << 20,
    "RLIMIT_NOFILE": 64,
    "RLIMIT_NPROC": 0,  # counted per real user, and never enforced for root (see the module docstring)
    "RLIMIT_CORE": 0,
}
# Runs in the child. It reads its job from stdin before the code under test exists, keeps every builtin it
# needs as a default argument (the code may rebind builtins or patch modules), and writes one record per test
# case to the results pipe: [secret, "returned", value] or [secret, "raised", type name, message], where value
# is built from exact built-in types (None, bool, str, or a list headed by a tag) and written with ascii(),
# so the parent can read it back with ast.literal_eval.
_HARNESS = r"""
import ast, os, resource, sys


def harness(ascii=ascii, hex=hex, str=str, type=type, write=os.write, Exception=Exception):
    job = ast.literal_eval(sys.stdin.buffer.read().decode("ascii"))
    for name, value in job["limits"].items():
        kind = getattr(resource, name)
        hard = resource.getrlimit(kind)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, value))
    containers = {list: "L", tuple: "T", set: "S", frozenset: "F"}

    def encode(value, depth):
        kind = type(value)
        if value is None or kind is bool or kind is str:
            return value
        if kind is int:
            return ["i", hex(value)]
        if kind is float or kind is bytes:
            return ["f" if kind is float else "b", value.hex()]
        if depth >= 100:
            return ["?", "a value nested more than 100 levels deep"]
        if kind is dict:
            return ["D", *[encode(x, depth + 1) for item in value.items() for x in item]]
        if kind in containers:
            return [containers[kind], *[encode(x, depth + 1) for x in value]]
        return ["?", "an object of type " + str(kind.__name__)]

    def report(*record):
        data = (ascii([job["secret"], *record]) + "\n").encode()
        while data:
            data = data[write(job["fd"], data):]

    try:
        code = compile(job["code"], "<string>", "exec")
    except SyntaxError as err:  # as the interpreter reports it, without the harness's frames
        import traceback

        sys.stderr.write("".join(traceback.format_exception_only(err)))
        sys.exit(1)
    namespace = {"__name__": "__main__"}
    exec(code, namespace)
    if job["function"] not in namespace:
        raise NameError(f"name {job['function']!r} is not defined")
    function = namespace[job["function"]]
    for args in job["args"]:
        try:
            value = function(*args)
        except Exception as err:
            try:
                report("raised", str(type(err).__name__), str(err))
            except Exception:
                report("raised", "Exception", "(the exception could not be printed)")
            continue
        try:
            report("returned", encode(value, 0))
        except Exception:  # e.g. a container changed by another thread while it was read
            report("returned", ["?", "a value that could not be read"])


harness()
"""
# What the probe runs: whether the code can start a process, i.e. whether RLIMIT_NPROC binds (not for uid 0).
_FORK_PROBE = """import os

def can_fork():
    try:
        pid = os.fork()
    except OSError:
        return False
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return True
"""


@dataclass
class SandboxResult:
    output: str
    passed: bool
    timed_out: bool


@dataclass(frozen=True)
class Isolation:
    """What this machine let the sandbox add to the limits it always sets (see the module docstring)."""

    namespaces: bool  # own network, PID (with its /proc), IPC and mount namespaces through unshare
    separate_user: bool  # runs as nobody (65534) rather than as the calling root
    can_fork: bool  # the code can start processes (RLIMIT_NPROC does not bind uid 0)


@dataclass(frozen=True)
class _Jail:
    prefix: tuple[str, ...]  # the unshare command line, or nothing
    user: int | None  # the uid and gid to run as, or None for the caller's


@dataclass
class _Run:
    status: str  # "done", "timeout" or "output" (more than MAX_OUTPUT bytes)
    returncode: int
    stdout: str
    stderr: str
    records: list[list]


def _candidates() -> list[_Jail]:
    """Ways to start the sandbox, strongest first: the first that runs the fork probe is kept."""
    unshare = shutil.which("unshare")
    spaces = ["--net", "--ipc", "--pid", "--fork", "--mount-proc", "--kill-child", "--"]
    prefixes = [()]
    if unshare:
        # a non-root uid inside the user namespace drops every capability at exec (so /proc cannot be
        # unmounted to see the caller's); util-linux before 2.38 lacks --map-user, hence the second form
        prefixes[:0] = [
            (unshare, "--user", "--map-user=65534", "--map-group=65534", *spaces),
            (unshare, "--map-root-user", *spaces),
        ]
    users = [_NOBODY, None] if os.geteuid() == 0 else [None]
    return [_Jail(prefix, user) for user in users for prefix in prefixes]


def _pump(
    proc: subprocess.Popen, results_fd: int, job: bytes, deadline: float
) -> tuple[str, dict[int, bytearray]]:
    """Feed ``job`` to stdin and read stdout, stderr and results until all close, the deadline or the cap."""
    assert proc.stdin and proc.stdout and proc.stderr
    streams = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray(), results_fd: bytearray()}
    pending, total = memoryview(job), 0
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdin.fileno(), selectors.EVENT_WRITE)
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout", streams
            for key, _ in selector.select(left):
                if key.fd not in streams:
                    try:  # at most PIPE_BUF: the most a pipe reported writable is sure to take at once
                        pending = pending[os.write(key.fd, pending[: select.PIPE_BUF]) :]
                    except BrokenPipeError:  # the child died early; its exit status tells why
                        pending = pending[:0]
                    if not pending:
                        selector.unregister(key.fd)
                        proc.stdin.close()
                    continue
                data = os.read(key.fd, _READ_CHUNK)
                total += len(data)
                if total > MAX_OUTPUT:
                    return "output", streams
                streams[key.fd] += data
                if not data:
                    selector.unregister(key.fd)
    return "done", streams


def _well_formed(record: list) -> bool:
    """``["returned", value]`` or ``["raised", type name, message]``."""
    if record[:1] == ["returned"]:
        return len(record) == 2
    return record[:1] == ["raised"] and len(record) == 3 and all(type(x) is str for x in record[1:])


def _records(raw: bytes, secret: str) -> list[list]:
    """The harness's records; lines without the secret were written by the code under test and are ignored."""
    records = []
    for line in raw.decode("ascii", "replace").split("\n"):
        try:
            record = ast.literal_eval(line) if line.startswith(f"[{secret!r}, ") else None
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            record = None
        if type(record) is list and _well_formed(record[1:]):
            records.append(record[1:])
    return records


def _execute(jail: _Jail, code: str, function: str, args: list[tuple], timeout: float) -> _Run:
    """Run the harness on ``code`` in ``jail`` and collect what came back; nothing of it survives the call."""
    secret = secrets.token_hex(16)
    limits = dict(_LIMITS, RLIMIT_CPU=math.ceil(timeout) + 1)
    user = {} if jail.user is None else {"user": jail.user, "group": jail.user, "extra_groups": []}
    read_fd, write_fd = os.pipe()
    job = {
        "code": code,
        "function": function,
        "args": args,
        "fd": write_fd,
        "secret": secret,
        "limits": limits,
    }
    try:
        with tempfile.TemporaryDirectory(prefix="ylm-sandbox-") as cwd:
            if jail.user is not None:
                os.chown(cwd, jail.user, jail.user)
            deadline = time.monotonic() + timeout
            try:
                proc = subprocess.Popen(
                    [*jail.prefix, sys.executable, "-I", "-S", "-c", _HARNESS],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    cwd=cwd,
                    env={},
                    pass_fds=(write_fd,),
                    start_new_session=True,
                    **user,
                )
            finally:
                os.close(write_fd)  # the child has its own copy; ours would keep the pipe from closing
            with proc:
                assert proc.stdout and proc.stderr
                out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
                try:
                    status, streams = _pump(proc, read_fd, ascii(job).encode(), deadline)
                finally:
                    # the leader is not reaped yet, so its group id cannot have been reused
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    finally:
        os.close(read_fd)
    out, err = (bytes(streams[fd]).decode("utf-8", "replace") for fd in (out_fd, err_fd))
    return _Run(status, proc.returncode, out, err, _records(bytes(streams[read_fd]), secret))


@functools.cache
def _sandbox() -> tuple[_Jail, Isolation]:
    """The strongest way to start the sandbox that works here, found once per process."""
    failures = []
    for jail in _candidates():
        try:
            run = _execute(jail, _FORK_PROBE, "can_fork", [()], timeout=10.0)
        except OSError as err:  # e.g. nobody may not execute an interpreter under /root
            failures.append(str(err))
            continue
        if run.status == "done" and run.returncode == 0 and run.records and run.records[0][0] == "returned":
            return jail, Isolation(bool(jail.prefix), jail.user is not None, run.records[0][1] is True)
        failures.append(run.stderr.strip()[-300:] or f"exit code {run.returncode}")
    raise RuntimeError("the test sandbox cannot start here: " + " | ".join(failures))


def sandbox_isolation() -> Isolation:
    """What the sandbox adds on this machine beyond its fixed limits (probed on first use, then cached)."""
    return _sandbox()[1]


class _Opaque(Exception):
    """A returned value the harness could only describe (an object of a non-built-in type, too deep...)."""


_SCALARS: dict[str, Callable[[str], Any]] = {
    "i": lambda s: int(s, 16),
    "f": float.fromhex,
    "b": bytes.fromhex,
}
_CONTAINERS: dict[str, Callable[[list], Any]] = {"L": list, "T": tuple, "S": set, "F": frozenset}


def _decode(tree: Any) -> Any:
    """The value the harness encoded (its nesting is bounded by the parser's limit on brackets)."""
    if tree is None or type(tree) in (bool, str):
        return tree
    tag, *items = tree
    if tag == "?":
        raise _Opaque(*items)
    if tag in _SCALARS:
        (text,) = items
        return _SCALARS[tag](text)
    values = [_decode(x) for x in items]
    if tag == "D":
        return dict(zip(values[::2], values[1::2], strict=True))
    return _CONTAINERS[tag](values)


def _show(value: Any) -> str:
    try:
        return repr(value)
    except ValueError:  # an int past Python's 4,300-digit limit on conversion to decimal
        return "an int too large to print"


def _case_line(i: int, function: str, args: tuple, want: Any, record: list) -> str | None:
    """The report line of one test case: None when it passed."""
    call = f"{function}(" + ", ".join(repr(a) for a in args) + ")"
    if record[0] == "raised":
        return f"ERROR case {i}: {call} raised {record[1]}: {record[2]}"
    try:
        got = _decode(record[1])
    except _Opaque as what:
        return f"FAIL case {i}: {call} returned {what}, expected {want!r}"
    except (KeyError, ValueError, TypeError, RecursionError):  # only a forger holding the secret gets here
        return f"FAIL case {i}: {call} returned an unreadable value, expected {want!r}"
    return None if got == want else f"FAIL case {i}: {call} returned {_show(got)}, expected {want!r}"


def _report(run: _Run, function: str, cases: list[tuple[tuple, Any]]) -> SandboxResult:
    """The observation, written here from the harness's records (never from what the code printed)."""
    verdicts = [
        _case_line(i, function, tuple(args), want, record)
        for i, ((args, want), record) in enumerate(zip(cases, run.records, strict=False))  # fewer if it died
    ]
    failures = [line for line in verdicts if line]
    lines = ([run.stdout.strip()] if run.stdout.strip() else []) + failures
    complete = run.returncode == 0 and len(run.records) == len(cases)
    if complete:
        lines.append(f"{len(cases) - len(failures)}/{len(cases)} tests passed")
    else:
        # the exception lines of the traceback, which do not depend on where the temporary directory is
        tail = [ln for ln in run.stderr.strip().splitlines() if not ln.startswith("  File ")][-4:]
        lines.append("\n".join([f"process exited with code {run.returncode}", *tail]))
    return SandboxResult("\n".join(lines).strip()[:1500], complete and not failures, False)


def _is_literal(value: Any) -> bool:
    """Whether ``value`` survives ``repr`` and ``ast.literal_eval`` unchanged, as arguments travel to the child."""
    try:
        return bool(ast.literal_eval(repr(value)) == value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def _check_job(code: str, function: str, cases: list[tuple[tuple, Any]], timeout: float) -> None:
    if not isinstance(code, str):
        raise ValueError(f"code must be a str, got {type(code).__name__}")
    if not isinstance(function, str) or not function.isidentifier():
        raise ValueError(f"function must be a Python identifier, got {function!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError(f"timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}], got {timeout!r}")
    pairs = isinstance(cases, list | tuple) and all(
        isinstance(c, list | tuple) and len(c) == 2 and isinstance(c[0], list | tuple) for c in cases
    )
    if not pairs or not cases:
        raise ValueError(
            f"cases must be a non-empty list of (args tuple, expected value) pairs, got {cases!r:.100}"
        )
    for args, want in cases:
        if not (_is_literal(tuple(args)) and _is_literal(want)):
            raise ValueError(
                "cases must hold plain literals (None, bool, int, float, str, bytes, tuple, list, dict, set), "
                f"got {(args, want)!r:.100}"
            )


def run_tests(
    code: str, function: str, cases: list[tuple[tuple, Any]], timeout: float = 2.0
) -> SandboxResult:
    """Run ``code`` against ``cases`` in the sandbox; the report is judged and written in this process."""
    _check_job(code, function, cases, timeout)
    run = _execute(_sandbox()[0], code, function, [tuple(a) for a, _ in cases], timeout)
    if run.status == "timeout":
        return SandboxResult(
            f"TIMEOUT: the tests did not finish within {timeout:g} s; process killed", False, True
        )
    if run.status == "output":
        return SandboxResult(
            f"OUTPUT LIMIT: the program wrote more than {MAX_OUTPUT >> 10} KiB; process killed", False, False
        )
    return _report(run, function, cases)


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


def _check_count(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def passages(text: str, size: int = 700) -> list[str]:
    """Paragraphs, long ones cut into pieces of at most ``size`` characters."""
    _check_count("size", size, 1)  # size 0 would never shorten a paragraph
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
        if not (isinstance(k1, int | float) and 0 <= k1 < math.inf):
            raise ValueError(f"k1 must be a finite number >= 0, got {k1!r}")
        if not (isinstance(b, int | float) and 0 <= b <= 1):
            raise ValueError(f"b must be a number in [0, 1], got {b!r}")
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
        _check_count("k", k, 1)  # a negative k would slice hits off the end
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
