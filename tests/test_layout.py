"""The package's rooms and the direction of its imports, read with ``ast`` (README, "Using the library").

    top level (paths, data, timing, notebook)  <-  model, tokenizer  <-  agent  <-  train

A module may import from its own room and from rooms to its left, never from one to its right; ``model`` and
``tokenizer`` are siblings and import neither each other. Also: an installed copy of ``ylm`` with no checkout
around it imports, and says which variable points it at the corpora.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = REPO_ROOT / "ylm"
# room -> rank; a module may import rooms of lower rank (and its own). Siblings share a rank.
RANKS = {"top": 0, "model": 1, "tokenizer": 1, "agent": 2, "train": 3}


def room_of(module: str) -> str:
    """'ylm.model.attention' -> 'model'; 'ylm.paths' -> 'top'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANKS else "top"


def imported_modules(source: str, module: str) -> list[str]:
    """Every ``ylm`` module named by an import anywhere in ``source`` (function-level imports too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                base = ".".join(module.split(".")[: -node.level] + ([base] if base else []))
            found += [base] + [f"{base}.{alias.name}" for alias in node.names if base == "ylm"]
    return [name for name in found if name == "ylm" or name.startswith("ylm.")]


def violations(source: str, module: str) -> list[str]:
    """The imports of ``module`` that point up or sideways."""
    room = room_of(module)
    bad = []
    for target in imported_modules(source, module):
        other = room_of(target)
        if other != room and RANKS[other] >= RANKS[room]:
            bad.append(f"{module} ({room}) imports {target} ({other})")
    return bad


def package_modules() -> dict[str, Path]:
    return {".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__"): path
            for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_folder_is_a_known_room() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(RANKS) - {"top"}


def test_imports_only_point_down() -> None:
    bad = [v for module, path in package_modules().items() for v in violations(path.read_text(), module)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module, source", [
    ("ylm.model.attention", "from ylm.tokenizer.train import train_tokenizer"),       # sibling
    ("ylm.tokenizer.kit", "def f():\n    import ylm.agent.render\n"),                # up, inside a function
    ("ylm.data", "from ylm.model import config"),                                      # top level reaching down
    ("ylm.agent.render", "from ..train import trainer"),                               # relative, upward
])
def test_the_checker_catches_a_bad_import(module: str, source: str) -> None:
    assert violations(source, module)


def test_the_checker_allows_imports_that_point_down() -> None:
    assert not violations("from ylm.paths import data_dir\nfrom ylm.tokenizer import kit", "ylm.agent.render")


def _wheel(tmp: Path) -> Path:
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp / "dist"), str(REPO_ROOT)], capture_output=True, text=True)
    if out.returncode:
        pytest.skip(f"cannot build a wheel here: {out.stderr[-300:]}")
    return next((tmp / "dist").glob("ylm-*.whl"))


def test_an_installed_copy_imports_and_names_its_data_variable(tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(_wheel(tmp_path)) as wheel:  # a pure-Python wheel installs by unpacking
        wheel.extractall(site)
    probe = (
        "import sys\n"
        # the checkout's editable install adds a finder that would serve ylm from the checkout: drop it
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        "import ylm.model.hf, ylm.tokenizer.kit, ylm.agent.render, ylm.agent.synth, ylm.notebook, ylm.train\n"
        "from pathlib import Path\n"
        "mods = [m for n, m in sys.modules.items() if n.startswith('ylm')]\n"
        f"assert all(Path(m.__file__).is_relative_to({str(site)!r}) for m in mods), mods\n"
        "from ylm import data, paths\n"
        "assert paths.CHECKOUT_ROOT is None\n"
        "try:\n"
        "    data.load_texts('stem', 'heldout')\n"
        "except FileNotFoundError as e:\n"
        "    assert 'YLM_DATA_DIR' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('no error without data')\n"
        "print(len(data.load_texts('stem', 'heldout', data_dir=Path(__import__('os').environ['CORPORA']))))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("YLM_")}
    env.update(PYTHONPATH=str(site), HOME=str(tmp_path), CORPORA=str(REPO_ROOT / "data_samples"))
    run = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout) > 0
