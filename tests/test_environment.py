"""The two descriptions of the environment (pyproject.toml and environment.yml) must agree."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def _split(requirement: str) -> tuple[str, str]:
    match = _REQUIREMENT.match(requirement)
    assert match, requirement
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return dict(_split(r) for r in requirements)


def _environment_yml_pip_requirements() -> dict[str, str]:
    lines = (REPO_ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:")
    pip_lines = [line.strip()[2:] for line in lines[start + 1:] if line.startswith("      - ")]
    return dict(_split(r) for r in pip_lines)


def test_environment_yml_lists_the_same_packages_and_pins_as_pyproject() -> None:
    assert _environment_yml_pip_requirements() == _pyproject_requirements()


def test_torch_is_pinned_exactly() -> None:
    # A range or an unpinned torch resolves to a multi-GB CUDA build.
    assert _pyproject_requirements()["torch"] == "==2.13.0"


def _third_party_imports(module_level_only: bool) -> set[str]:
    """Top-level package names ``ylm`` imports (outside the standard library and ylm itself)."""
    names = set()
    for path in (REPO_ROOT / "ylm").rglob("*.py"):
        tree = ast.parse(path.read_text())
        nodes = tree.body if module_level_only else list(ast.walk(tree))
        for node in nodes:
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("ylm", "__future__")}


def test_core_dependencies_are_exactly_what_ylm_imports() -> None:
    core = {_split(r)[0] for r in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    # every package imported when a ylm module loads is a core dependency ...
    assert _third_party_imports(module_level_only=True) <= core
    # ... and every core dependency is imported somewhere (no dependency that nothing uses)
    assert core <= _third_party_imports(module_level_only=False)
