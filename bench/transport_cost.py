"""What the portable transport costs per level, against the warm pool, measured in one run.

    python bench/transport_cost.py [--repeat 3] [--levels 1 3 6]

Both grade the same reference with the same seed inside one warm grader process. The warm pool
(Linux's default) forks each level's children from an interpreter that has imported torch already;
the portable transport (macOS's and Windows' default, ``KIT_SANDBOX_START=portable`` anywhere)
starts a fresh ``python -I`` per child that imports torch itself and talks over its standard
input and output. The difference is the price of a cold child per lane. Ratios, not seconds, are
what carry from machine to machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.core.curriculum import LEVELS
from autograder.grading import grade
from autograder.sandbox import Portable, Zygote


def timed(level: int, pool) -> float:
    t0 = time.perf_counter()
    report = grade(ROOT / "solutions", [level], 1, pool=pool)
    elapsed = time.perf_counter() - t0
    assert report.errors == [] and report.score == report.max_score, (level, report.errors, report.score)
    return elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--levels", type=int, nargs="+", default=sorted(LEVELS))
    args = ap.parse_args(argv)
    warm, cold = Zygote(), Portable()
    try:
        timed(1, warm), timed(1, cold)  # the grader's own first-use costs, out of the figures
        rows = []
        for level in args.levels:
            w, c = [], []
            for _ in range(args.repeat):  # interleaved, so a busy spell of the machine hits both
                w.append(timed(level, warm))
                c.append(timed(level, cold))
            rows.append((level, statistics.median(w), statistics.median(c)))
    finally:
        warm.close()
        cold.close()
    print(f"{'level':>5} {'warm pool s':>12} {'portable s':>11} {'extra s':>8} {'ratio':>6}")
    for level, w, c in rows:
        print(f"{level:>5} {w:>12.2f} {c:>11.2f} {c - w:>8.2f} {c / w:>6.2f}")
    total_w, total_c = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"{'all':>5} {total_w:>12.2f} {total_c:>11.2f} {total_c - total_w:>8.2f} {total_c / total_w:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
