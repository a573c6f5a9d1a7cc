"""Write the kit's small synthetic agent-trajectory set to data_samples/synthetic/ (deterministic per seed).

    python scripts/synthesize_trajectories.py [--seed 0] [--out data_samples/synthetic]

Every observation comes from really running a tool (calculator, test sandbox, BM25 search/read, BFCL
backends via data_samples/agent); see ylm/agent/synth/__init__.py. Writes <category>.jsonl and
MANIFEST.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ylm.agent.synth import CATEGORIES, SynthConfig, synthetic_dir, write_synthetic_set


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="default: <YLM_DATA_DIR>/synthetic")
    parser.add_argument("--categories", nargs="+", default=list(CATEGORIES), choices=CATEGORIES)
    args = parser.parse_args()
    out = args.out or synthetic_dir()
    start = time.perf_counter()
    manifest = write_synthetic_set(out, SynthConfig(seed=args.seed), tuple(args.categories))
    total = 0
    print(f"{'file':<16} {'trajs':>6} {'turns':>6} {'branches':>8} {'bytes':>9}")
    for name, rec in manifest["files"].items():
        c = rec["counts"]
        total += rec["bytes"]
        print(
            f"{name:<16} {c['trajectories']:>6} {c['turns']:>6} {c['failed_then_fixed']:>8} {rec['bytes']:>9}"
        )
    print(f"total {total} bytes in {out} ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
