"""Synthesis of small agent-trajectory sets with real tools, deterministic for a seed.

The paper's ~200B agentic tokens are Agentic-CoT, math, code, deep-research and tool-use trajectories
(paper_facts §4). The kit builds a tiny set of each kind in which every observation is a real tool output:

    math      ylm.agent.synth.math_tasks   calculator (ast, never eval); slips the calculator really rejects
    code      ylm.agent.synth.code_tasks   functions + tests in a subprocess sandbox; failed attempt,
                                           real output, reflection, fix
    research  ylm.agent.synth.research     BM25 search/read over data_samples train splits, forward, reverse
    tool_use  ylm.agent.synth.tool_use     BFCL multi-turn tasks, observations from BFCL's offline backends

The tools themselves (calculator, sandbox, search/read) are in ``ylm.agent.tools``.

Numeric parameters are range-checked (``ylm.checks``): seeds are ints, counts ints >= 0 (a
generator returns fewer when its source has fewer usable tasks), rates numbers in [0, 1]; anything else is a
``ValueError`` naming the parameter and its range.

``write_synthetic_set`` writes ``<category>.jsonl`` (one ``Trajectory.to_json()`` per line) and
``MANIFEST.json`` (generator, seed, parameters, counts, bytes, sha256 per file) to ``synthetic_dir()``,
that is ``ylm.paths.data_dir() / "synthetic"``, looked up when called (importing needs no data).
Templated question, thinking and answer text is labelled in each record's ``meta.synthetic``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ylm.agent.trajectory import FORMAT_VERSION, AssistantTurn, Branch, Trajectory, load_jsonl
from ylm.agent.validate import validate
from ylm.checks import check_int, check_rate
from ylm.data import domain_path, sha256_file
from ylm.paths import data_dir

CATEGORIES: tuple[str, ...] = ("math", "code", "research", "tool_use")


def synthetic_dir() -> Path:
    """Where the committed synthetic set lives: ``<data_dir>/synthetic`` (looked up at call time)."""
    return data_dir() / "synthetic"


@dataclass(frozen=True)
class SynthConfig:
    seed: int = 0
    n_math: int = 120
    math_branch_rate: float = 0.35
    n_code_direct: int = 6  # code: every task once with a failed branch, plus this many solved first time
    n_research_forward: int = 40
    n_research_reverse: int = 20
    n_tool_use: int = 50

    def __post_init__(self) -> None:
        check_int("SynthConfig.seed", self.seed, minimum=None)
        for name in ("n_math", "n_code_direct", "n_research_forward", "n_research_reverse", "n_tool_use"):
            check_int(f"SynthConfig.{name}", getattr(self, name), minimum=0)
        check_rate("SynthConfig.math_branch_rate", self.math_branch_rate)


def stats(trajs: list[Trajectory]) -> dict[str, int]:
    """Manifest counts: trajectories, turns (branches expanded), failed-then-fixed branches."""
    return {
        "trajectories": len(trajs),
        "turns": sum(len(t.flat_turns()) for t in trajs),
        "assistant_turns": sum(isinstance(x, AssistantTurn) for t in trajs for _, x, _ in t.flat_turns()),
        "failed_then_fixed": sum(isinstance(x, Branch) for t in trajs for x in t.turns),
        "with_branch": sum(any(isinstance(x, Branch) for x in t.turns) for t in trajs),
    }


def source_hashes(files: list[tuple[str, str]]) -> dict[str, str]:
    """sha256 of the data_samples files a generator read, so a stale synthetic set can be detected."""
    root = data_dir().parent
    return {str(domain_path(d, s).relative_to(root)): sha256_file(domain_path(d, s)) for d, s in files}


def synthesize(category: str, config: SynthConfig = SynthConfig()) -> tuple[list[Trajectory], dict[str, Any]]:
    """Trajectories of one category and the generator's record (name, parameters, extra counts)."""
    if category == "math":
        from ylm.agent.synth.math_tasks import synthesize_math

        trajs = synthesize_math(config.seed, config.n_math, config.math_branch_rate)
        return trajs, {
            "generator": "ylm.agent.synth.math_tasks.synthesize_math",
            "params": {"n": config.n_math, "branch_rate": config.math_branch_rate},
        }
    if category == "code":
        from ylm.agent.synth.code_tasks import synthesize_code

        trajs = synthesize_code(config.seed, config.n_code_direct)
        return trajs, {
            "generator": "ylm.agent.synth.code_tasks.synthesize_code",
            "params": {"n_direct": config.n_code_direct},
            "attempts_timed_out": sum(bool(t.meta.get("attempt_timed_out")) for t in trajs),
        }
    if category == "research":
        from ylm.agent.synth.research import synthesize_research

        trajs = synthesize_research(config.seed, config.n_research_forward, config.n_research_reverse)
        return trajs, {
            "generator": "ylm.agent.synth.research.synthesize_research",
            "params": {"n_forward": config.n_research_forward, "n_reverse": config.n_research_reverse},
            "sources": source_hashes([("general", "train"), ("stem", "train")]),
            "forward": sum(t.meta["construction"] == "forward" for t in trajs),
            "reverse": sum(t.meta["construction"] == "reverse" for t in trajs),
        }
    if category == "tool_use":
        from ylm.agent.synth.tool_use import synthesize_tool_use

        trajs, skipped = synthesize_tool_use(config.seed, config.n_tool_use)
        return trajs, {
            "generator": "ylm.agent.synth.tool_use.synthesize_tool_use",
            "params": {"n": config.n_tool_use},
            "sources": source_hashes([("agent", "train")]),
            "skipped_invalid": skipped,
        }
    raise ValueError(f"category {category!r} is not valid; allowed: {', '.join(CATEGORIES)}")


def to_jsonl(trajs: list[Trajectory]) -> str:
    return "".join(t.to_json() + "\n" for t in trajs)


def write_synthetic_set(
    out_dir: Path | None = None,
    config: SynthConfig = SynthConfig(),
    categories: tuple[str, ...] = CATEGORIES,
) -> dict[str, Any]:
    """Synthesise, validate and write every category plus ``MANIFEST.json`` to ``out_dir`` (default
    ``synthetic_dir()``); returns the manifest."""
    out_dir = Path(out_dir) if out_dir is not None else synthetic_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for category in categories:
        trajs, record = synthesize(category, config)
        for t in trajs:
            validate(t)
        data = to_jsonl(trajs).encode("utf-8")
        (out_dir / f"{category}.jsonl").write_bytes(data)
        files[f"{category}.jsonl"] = {
            **record,
            "seed": config.seed,
            "counts": stats(trajs),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    manifest = {
        "format_version": FORMAT_VERSION,
        "config": asdict(config),
        "files": files,
        "note": "Observations are real tool outputs; question/thinking/answer text is templated "
        "(see each record's meta.synthetic).",
    }
    (out_dir / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def load_synthetic(category: str, folder: Path | None = None) -> list[Trajectory]:
    """The committed synthetic trajectories of one category, from ``folder`` (default ``synthetic_dir()``)."""
    if category not in CATEGORIES:
        raise ValueError(f"category {category!r} is not valid; allowed: {', '.join(CATEGORIES)}")
    path = (Path(folder) if folder is not None else synthetic_dir()) / f"{category}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run scripts/synthesize_trajectories.py")
    return load_jsonl(path)
