"""The test sandbox against the escapes a review found: each one now fails, or this machine cannot stop it and
the test says why it is skipped (the module docstring of ``ylm.agent.tools`` lists what is not contained)."""

from __future__ import annotations

import math
import os
import signal
import socket
import time
import tracemalloc
import uuid
from pathlib import Path

import pytest

from ylm.agent.tools import MAX_OUTPUT, run_tests, sandbox_isolation

INC = "def inc(x):\n    return x + 1\n"
INC_CASES = [((1,), 2), ((5,), 6)]


@pytest.fixture(scope="module")
def isolation():
    return sandbox_isolation()


def contained(probe: str, *args: object) -> None:
    """``probe(*args)`` must return "contained": it does when its escape attempt fails."""
    result = run_tests(probe, "probe", [(args, "contained")])
    assert result.passed, result.output


# ---------------------------------------------------------------- the caller and the machine


def test_the_callers_environment_cannot_be_read(isolation):
    if not (isolation.namespaces or isolation.separate_user):
        pytest.skip("no unshare and no separate user here: /proc/<caller>/environ is readable (same uid)")
    assert Path(f"/proc/{os.getpid()}/environ").read_bytes(), "the caller has an environment to steal"
    probe = (
        "def probe(pid):\n"
        "    try:\n"
        "        with open(f'/proc/{pid}/environ', 'rb') as f:\n"
        "            return f.read().decode(errors='replace')\n"
        "    except OSError:\n"
        "        return 'contained'\n"
    )
    contained(probe, os.getpid())


def test_the_caller_cannot_be_signalled(isolation):
    if not (isolation.namespaces or isolation.separate_user):
        pytest.skip("no unshare and no separate user here: a process of the same uid can signal the caller")
    # signal 0 checks permission without delivering anything, so a failure here cannot hurt the test run
    probe = (
        "import os\n"
        "def probe(pid):\n"
        "    try:\n"
        "        os.kill(pid, 0)\n"
        "    except OSError:\n"
        "        return 'contained'\n"
        "    return 'could signal the caller'\n"
    )
    contained(probe, os.getpid())


def test_files_outside_the_working_directory_cannot_be_written(isolation, tmp_path):
    if not isolation.separate_user:
        pytest.skip(
            "the code runs as the calling user (no filesystem jail, no uid to drop to): it can write what the "
            "caller can; documented in ylm.agent.tools"
        )
    target = tmp_path / "escaped.txt"
    probe = (
        "def probe(path):\n"
        "    try:\n"
        "        with open(path, 'w') as f:\n"
        "            f.write('escaped')\n"
        "    except OSError:\n"
        "        return 'contained'\n"
        "    return 'wrote outside'\n"
    )
    contained(probe, str(target))
    assert not target.exists()


def test_no_connection_even_to_localhost(isolation):
    if not isolation.namespaces:
        pytest.skip("no working unshare here: the network, 127.0.0.1 included, is reachable")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        probe = (
            "import socket\n"
            "def probe(port):\n"
            "    try:\n"
            "        socket.create_connection(('127.0.0.1', port), timeout=0.5).close()\n"
            "    except OSError:\n"
            "        return 'contained'\n"
            "    return 'connected'\n"
        )
        contained(probe, listener.getsockname()[1])
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever arrived


def test_no_shell_can_be_started(isolation):
    if isolation.can_fork:
        pytest.skip(
            "the caller is root: RLIMIT_NPROC does not bind uid 0, so the code can start /bin/sh (under the "
            "same limits, in the same namespaces if any); documented in ylm.agent.tools"
        )
    probe = (
        "import subprocess\n"
        "def probe():\n"
        "    try:\n"
        "        subprocess.run(['/bin/sh', '-c', 'true'])\n"
        "    except OSError:\n"
        "        return 'contained'\n"
        "    return 'started a shell'\n"
    )
    contained(probe)


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            pass
    return found


@pytest.mark.parametrize("hang", [False, True], ids=["returns", "times-out"])
def test_no_process_outlives_the_run(isolation, hang):
    if isolation.can_fork and not isolation.namespaces:
        pytest.skip("root without unshare: a process that calls setsid() leaves the killed process group")
    marker = f"ylm-sandbox-test-{uuid.uuid4().hex}"
    probe = (
        "import os, sys\n"
        "def probe(marker, hang):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        return 'contained'\n"
        "    if pid == 0:  # a daemon: new session, then a grandchild that sleeps, named by the marker\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        "            os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(30)', marker])\n"
        "        os._exit(0)\n"
        "    os.waitpid(pid, 0)\n"
        "    while hang:\n"
        "        pass\n"
        "    return 'contained'\n"
    )
    run_tests(probe, "probe", [((marker, hang), "contained")], timeout=0.5 if hang else 2.0)
    deadline = time.monotonic() + 2.0
    while (survivors := _processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in survivors:  # the test's own leftovers: end them before failing
        os.kill(pid, signal.SIGKILL)
    assert not survivors, "a grandchild outlived the run"


def test_the_working_directory_is_removed_after_the_run():
    result = run_tests("import os\ndef probe():\n    return os.getcwd()\n", "probe", [((), "")])
    cwd = result.output.split(" returned ")[1].split(", expected")[0].strip("'")
    assert cwd.startswith("/") and not Path(cwd).exists(), result.output


# ---------------------------------------------------------------- resources


def test_a_memory_bomb_hits_the_address_space_limit():
    # bytes(n) is calloc'ed: without a limit it would succeed lazily, so the probe is harmless either way
    probe = (
        "def probe():\n"
        "    try:\n"
        "        return len(bytes(1 << 30))\n"
        "    except MemoryError:\n"
        "        return 'contained'\n"
    )
    contained(probe)


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_an_output_flood_is_cut_off_and_the_caller_stays_small(stream):
    flood = (
        "import sys\n"
        "def probe():\n"
        f"    out = sys.{stream}.buffer\n"
        "    for _ in range(64):\n"
        "        out.write(b'x' * (1 << 20))\n"
        "    return 'contained'\n"
    )
    tracemalloc.start()
    try:
        result = run_tests(flood, "probe", [((), "contained")])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not result.passed and "OUTPUT LIMIT" in result.output, result.output
    assert peak < 4 * MAX_OUTPUT, f"the caller grew by {peak / 2**20:.1f} MiB reading 64 MiB of output"


# ---------------------------------------------------------------- fake passes

FAKES = {
    "summary line then os._exit(0)": "import os\nprint('2/2 tests passed', flush=True)\nos._exit(0)\n",
    "an object equal to everything": (
        "class Anything:\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    def __ne__(self, other):\n"
        "        return False\n"
        "    def __repr__(self):\n"
        "        return '2'\n"
        "def inc(x):\n"
        "    return Anything()\n"
    ),
    "patched print": (
        "import builtins, sys\n"
        "builtins.print = lambda *a, **k: sys.stdout.write('2/2 tests passed\\n')\n"
        "def inc(x):\n"
        "    return 0\n"
    ),
    "records forged on every descriptor": (
        "import os\n"
        "def inc(x):\n"
        "    for fd in range(3, 64):\n"
        "        for secret in ('', '0' * 32):\n"
        "            try:\n"
        "                os.write(fd, f\"[{secret!r}, 'returned', ['i', '0x2']]\\n\".encode())\n"
        "            except OSError:\n"
        "                pass\n"
        "    os._exit(0)\n"
    ),
    "sys.exit(0) in the function": "import sys\ndef inc(x):\n    sys.exit(0)\n",
}


def test_an_honest_solution_passes():
    result = run_tests(INC, "inc", INC_CASES)
    assert result.passed and result.output == "2/2 tests passed", result.output


@pytest.mark.parametrize("code", FAKES.values(), ids=FAKES.keys())
def test_a_faked_pass_fails(code):
    result = run_tests(code, "inc", INC_CASES)
    assert not result.passed, result.output
    assert result.output.splitlines()[-1] != "2/2 tests passed", "the report's last line is written here"


def test_an_object_is_reported_by_its_type_not_its_repr():
    result = run_tests(FAKES["an object equal to everything"], "inc", INC_CASES)
    assert "FAIL case 0: inc(1) returned an object of type Anything, expected 2" in result.output


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"timeout": -1}, "timeout", id="timeout-negative"),
        pytest.param({"timeout": 0}, "timeout", id="timeout-zero"),
        pytest.param({"timeout": math.nan}, "timeout", id="timeout-nan"),
        pytest.param({"timeout": 3600}, "timeout", id="timeout-an-hour"),
        pytest.param({"timeout": True}, "timeout", id="timeout-a-bool"),
        pytest.param({"function": "not an identifier"}, "function", id="function-not-an-identifier"),
        pytest.param({"function": 3}, "function", id="function-a-number"),
        pytest.param({"code": b"def inc(x): return x"}, "code", id="code-bytes"),
        pytest.param({"cases": []}, "cases", id="cases-empty"),
        pytest.param({"cases": [(1, 2)]}, "cases", id="cases-args-not-a-tuple"),
        pytest.param({"cases": [((1,), object())]}, "cases", id="cases-an-object"),
        pytest.param({"cases": [((math.nan,), 1)]}, "cases", id="cases-nan"),
    ],
)
def test_bad_arguments_are_value_errors_naming_the_field(kwargs, field):
    call = {"code": INC, "function": "inc", "cases": INC_CASES} | kwargs
    with pytest.raises(ValueError, match=rf"^{field} must "):
        run_tests(**call)
