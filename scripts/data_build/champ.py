"""CHAMP: competition-level math problems with step-by-step solutions, PyPI ``champ-dataset``, stem domain.

Licence: MIT; Copyright 2024 Yujun Mao, Yoon Kim, Yilun Zhou. Problem, solution steps and answer are
rendered as 'Problem / Solution / Answer' text; hints, concepts and model conversations are dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tqdm import tqdm

CHAMP_PKG, CHAMP_VERSION = "champ-dataset", "1.0.0"


def champ_text(problem: str, steps: list[str], answer: str) -> str:
    lines = [f"Problem: {problem}", "", "Solution:"]
    lines += [f"{i}. {s}" for i, s in enumerate(steps, 1)]
    lines += ["", f"Answer: {answer}"]
    return "\n".join(lines) + "\n"


def champ_documents(wheel_dir: Path) -> list[dict[str, Any]]:
    data = json.loads((wheel_dir / "champ_dataset" / "dataset_files" / "v0.json").read_text(encoding="utf-8"))
    docs = []
    for pid, prob in tqdm(sorted(data["problems"].items()), desc="champ", unit="doc"):
        steps = [s["_text"] for s in prob["solution"]["steps"]]
        docs.append({
            "id": f"champ/{pid}", "source": "champ", "category": prob["category"],
            "problem": prob["_text"], "solution_steps": steps, "answer": prob["_answer"],
            "text": champ_text(prob["_text"], steps, prob["_answer"]),
        })
    return docs
