"""Execute the kit's notebooks in order, in place, and save them with their outputs.

Usage: python scripts/run_notebooks.py [--start NN] notebooks/00_x.ipynb notebooks/01_y.ipynb ...

Full size unless YLM_SMOKE=1 is set; a smoke run saves its executed copies under ``<cache>/notebooks-smoke/``
and leaves the committed notebooks (which carry full-size outputs) alone. ``--start NN`` skips notebooks numbered below NN, so a long
reproduction that stopped part-way resumes without redoing the finished notebooks.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from ylm.paths import cache_dir, is_smoke


def execute(path: Path, timeout_s: int, out: Path) -> float:
    """Run one notebook with its directory as the working directory, save it to ``out``; returns seconds."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:  # no timestamps: re-running an unchanged notebook leaves no diff
        cell.metadata.pop("execution", None)
    client = NotebookClient(notebook, timeout=timeout_s, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--start", type=int, default=0, help="skip notebooks numbered below this")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    args = parser.parse_args()
    for path in sorted(args.notebooks):
        number = int(path.name[:2])
        if number < args.start:
            print(f"skip  {path.name}")
            continue
        out = cache_dir() / "notebooks-smoke" / path.name if is_smoke() else path
        print(f"run   {path.name} ...", flush=True)
        seconds = execute(path, args.timeout, out)
        print(f"done  {path.name} in {seconds:.0f} s -> {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
