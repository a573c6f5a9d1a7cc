"""BFCL v4 multi-turn tasks, PyPI ``bfcl-eval``, agent domain: ground-truth calls executed on BFCL's backends.

Licence: Apache-2.0; Huanzhi Mao, Shishir Patil and the Sky Computing Lab, UC Berkeley (Gorilla project).
Each ground-truth call is parsed with ast (never eval) and run with bfcl_eval's own executor, so every
observation is a real backend output; no assistant prose is added.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .common import jsonl_line

BFCL_PKG, BFCL_VERSION = "bfcl-eval", "2026.3.23"
BFCL_CATEGORIES = ("multi_turn_base", "multi_turn_miss_param", "multi_turn_miss_func", "multi_turn_long_context")
BFCL_BUDGET = 2_000_000  # bytes of JSONL; categories are added whole, in the order above, while they fit


def parse_call(call: str, param_names: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """``mv(source='a', destination='b')`` -> {"name": "mv", "arguments": {...}} using ast, never eval.

    Positional arguments are named from ``param_names[name]`` (the backend method's signature).
    """
    try:
        node = ast.parse(call.strip(), mode="eval").body
    except SyntaxError as err:
        raise ValueError(f"call: not a Python call expression: {call!r}") from err
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"call: expected name(args...), got {call!r}")
    name = node.func.id
    args: dict[str, Any] = {}
    if node.args:
        names = (param_names or {}).get(name)
        if names is None or len(names) < len(node.args):
            raise ValueError(f"call: positional arguments for unknown signature of {name!r} in {call!r}")
        for pname, arg in zip(names, node.args, strict=False):
            args[pname] = ast.literal_eval(arg)
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError(f"call: **kwargs not supported in {call!r}")
        args[kw.arg] = ast.literal_eval(kw.value)
    return {"name": name, "arguments": args}


def is_error_observation(obs: str) -> bool:
    if obs.startswith("Error during execution"):
        return True
    try:
        parsed = json.loads(obs)
    except (json.JSONDecodeError, TypeError):
        return False
    return isinstance(parsed, dict) and "error" in parsed


def transcript(turns: list[dict[str, Any]]) -> str:
    """A readable plain-text rendering of a trajectory."""
    lines = []
    for t in turns:
        if t["role"] == "user":
            lines.append(f"User: {t['content']}")
        elif t["role"] == "assistant":
            for c in t["tool_calls"]:
                lines.append("Assistant calls: " + json.dumps(c, ensure_ascii=False, sort_keys=False))
        else:
            lines.append(f"Tool ({t['name']}): {t['content']}")
    return "\n".join(lines) + "\n"


class BfclRunner:
    """Executes BFCL ground truth with the package's own executor (state persists across a task's turns)."""

    def __init__(self, pkg_dir: Path):
        if str(pkg_dir) not in sys.path:
            sys.path.insert(0, str(pkg_dir))
        from bfcl_eval.constants.executable_backend_config import (
            CLASS_FILE_PATH_MAPPING,
            MULTI_TURN_FUNC_DOC_FILE_MAPPING,
        )
        from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils

        self.utils = multi_turn_utils
        self.data = pkg_dir / "bfcl_eval" / "data"
        self.class_modules = CLASS_FILE_PATH_MAPPING
        self.schemas: dict[str, dict[str, dict]] = {}
        for cls, fname in MULTI_TURN_FUNC_DOC_FILE_MAPPING.items():
            path = self.data / "multi_turn_func_doc" / fname
            self.schemas[cls] = {d["name"]: d for d in map(json.loads, path.read_text().splitlines()) if d}
        self.errors: list[str] = []
        self.calls = 0

    def param_names(self, classes: list[str]) -> dict[str, list[str]]:
        out = {}
        for cls in classes:
            klass = getattr(importlib.import_module(self.class_modules[cls]), cls)
            for name, fn in inspect.getmembers(klass, predicate=inspect.isfunction):
                if not name.startswith("_"):
                    out[name] = [p for p in inspect.signature(fn).parameters if p != "self"]
        return out

    def task(self, q: dict[str, Any], ground_truth: list[list[str]], category: str) -> dict[str, Any]:
        classes = q["involved_classes"]
        names = self.param_names(classes)
        turns: list[dict[str, Any]] = []
        called: list[str] = []
        for user_msgs, calls in zip(q["question"], ground_truth, strict=True):
            for m in user_msgs:
                turns.append({"role": "user", "content": m["content"]})
            if not calls:
                continue
            results, _ = self.utils.execute_multi_turn_func_call(calls, q["initial_config"], classes, "ylm_data_build", q["id"],
                                      long_context="long_context" in category)
            for call, obs in zip(calls, results, strict=True):
                parsed = parse_call(call, names)
                self.calls += 1
                if is_error_observation(obs):
                    self.errors.append(f"{q['id']}: {call} -> {obs[:200]}")
                turns.append({"role": "assistant", "tool_calls": [parsed]})
                turns.append({"role": "tool", "name": parsed["name"], "content": obs})
                if parsed["name"] not in called:
                    called.append(parsed["name"])
        # the executor caches backend instances in its module globals by task id: drop them so a rebuild
        # in the same process (--check) starts every task from its initial state again
        for key in [k for k in vars(self.utils) if k.startswith(f"ylm_data_build_{q['id']}_")]:
            delattr(self.utils, key)
        tools = [self.schemas[cls][n] for cls in classes for n in sorted(self.schemas[cls]) if n in called]
        return {
            "id": f"bfcl/{q['id']}", "source": "bfcl", "category": category, "involved_classes": classes,
            "trajectory": {"tools": tools, "turns": turns}, "text": transcript(turns),
        }

    def category(self, category: str) -> list[dict[str, Any]]:
        qpath = self.data / f"BFCL_v4_{category}.json"
        apath = self.data / "possible_answer" / f"BFCL_v4_{category}.json"
        answers = {a["id"]: a["ground_truth"] for a in map(json.loads, apath.read_text().splitlines()) if a}
        questions = [json.loads(line) for line in qpath.read_text().splitlines() if line.strip()]
        return [self.task(q, answers[q["id"]], category) for q in tqdm(questions, desc=category, unit="task")]


def bfcl_documents(pkg_dir: Path) -> tuple[list[dict[str, Any]], BfclRunner]:
    runner = BfclRunner(pkg_dir)
    docs: list[dict[str, Any]] = []
    used = 0
    for cat in BFCL_CATEGORIES:
        cat_docs = runner.category(cat)
        size = sum(len(jsonl_line(d).encode("utf-8")) for d in cat_docs)
        if docs and used + size > BFCL_BUDGET:
            continue
        docs += cat_docs
        used += size
    return docs, runner
