"""What the portable transport costs per level, against the warm pool, measured in one run.

    python bench/transport_cost.py [--repeat 3] [--levels 1 3 6] [--idle 3]

Both grade the same reference with the same seed inside one warm grader process. The warm pool
(Linux's default) forks each level's children from an interpreter that has imported torch already;
the portable transport (macOS's and Windows' default, ``KIT_SANDBOX_START=portable`` anywhere)
starts a fresh ``python -I`` per child that imports torch itself and talks over its standard
input and output. The difference is the price of a cold child per lane. Ratios, not seconds, are
what carry from machine to machine.

By default the portable pool keeps two interpreters ahead whatever it grades (a batch worker's
use), so each cold grade meets the import of the one that replaces it, on the same cores. With
``--idle SECONDS`` each grade (both kinds) waits that long first, and the portable pool is told the
level's one interpreter before the wait (``start_ahead``) and starts none during the grade: the
cold child is then ready and idle, as for a student's ``check`` of one level or ``check --watch``,
and what is left is the cold child's own cost.
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


def ready_and_idle(pool: Portable, level: int, pause: float) -> None:
    """The level's one interpreter started ahead, and ``pause`` seconds for its import and warm-up."""
    numpy = LEVELS[level].numpy
    pool.start_ahead(0 if numpy else 1, numpy_only=1 if numpy else 0)
    time.sleep(pause)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--levels", type=int, nargs="+", default=sorted(LEVELS))
    ap.add_argument("--idle", type=float, default=None, metavar="SECONDS", help="a ready, idle cold child")
    args = ap.parse_args(argv)
    warm, cold = Zygote(), Portable()
    try:
        timed(1, warm), timed(1, cold)  # the grader's own first-use costs, out of the figures
        rows = []
        for level in args.levels:
            w, c = [], []
            for _ in range(args.repeat):  # interleaved, so a busy spell of the machine hits both
                if args.idle is not None:
                    time.sleep(args.idle)
                w.append(timed(level, warm))
                if args.idle is not None:
                    ready_and_idle(cold, level, args.idle)
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
