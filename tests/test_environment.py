"""The two descriptions of the environment (pyproject.toml and environment.yml) must agree."""

from __future__ import annotations

import re
import tomllib

from ylm.paths import REPO_ROOT

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
