"""How long grading takes, against the bare cost of ``import torch`` measured in the same run.

    python bench/grade_speed.py [--repeat 3] [--json out.json]

Prints the median wall time of: ``python -c "import torch"`` (the baseline), grading one level
of the reference, and grading all eight levels of the reference, each a fresh ``python -m
autograder grade`` process, with the ratios to the baseline. Ratios, not seconds, are what to
compare across machines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    py = sys.executable
    grade = [py, "-m", "autograder", "grade", str(ROOT / "solutions"), "--format", "json"]
    cases = {
        "import torch": [py, "-c", "import torch"],
        "grade 1 level (level 3, reference)": grade + ["--level", "3"],
        "grade 8 levels (reference)": grade,
    }
    results = {}
    for name, cmd in cases.items():
        times = [wall(cmd) for _ in range(args.repeat)]
        results[name] = statistics.median(times)
    base = results["import torch"]
    print(f"{'what':40} {'median s':>9} {'× import torch':>15}")
    for name, t in results.items():
        print(f"{name:40} {t:9.2f} {t / base:15.2f}")
    if args.json:
        args.json.write_text(
            json.dumps({"median_s": results, "ratio": {k: v / base for k, v in results.items()}}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
