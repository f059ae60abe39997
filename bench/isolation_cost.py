"""What isolation costs per submission: the sandboxed grader against in-process grading, one run.

    python bench/isolation_cost.py [--repeat 3] [--levels 1 3 6]

Both paths run the same checks on the same reference solution with the same seed, inside one
already-warm grader process (torch imported, one sandbox zygote started), so the difference is the
price of the boundary itself: forking a child per level, loading the module there, and sending
every value across as bytes. In-process grading (what the notebook self-check does) imports the
student's module into the grader: never acceptable for a grade, measured here only as the baseline.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.core.curriculum import LEVELS
from autograder.grading import grade
from autograder.sandbox import Zygote


def namespace(level: int) -> dict:
    path = ROOT / "solutions" / f"{LEVELS[level].module}.py"
    spec = importlib.util.spec_from_file_location(LEVELS[level].module, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return vars(mod)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--levels", type=int, nargs="+", default=sorted(LEVELS))
    args = ap.parse_args(argv)
    zygote = Zygote()
    try:
        grade(ROOT / "solutions", [1], 1, pool=zygote)  # warm both paths once
        rows = []
        for level in args.levels:
            ns = namespace(level)
            iso, inproc = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                r1 = grade(ROOT / "solutions", [level], 1, pool=zygote)
                iso.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                r2 = grade(None, [level], 1, in_process={level: ns})
                inproc.append(time.perf_counter() - t0)
                assert r1.score == r2.score == r1.max_score, (level, r1.score, r2.score)
            rows.append((level, statistics.median(inproc), statistics.median(iso)))
    finally:
        zygote.close()
    print(f"{'level':>5} {'in-process s':>13} {'isolated s':>11} {'cost s':>8} {'ratio':>6}")
    for level, a, b in rows:
        print(f"{level:>5} {a:13.3f} {b:11.3f} {b - a:8.3f} {b / a:6.2f}")
    a, b = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"{'all':>5} {a:13.3f} {b:11.3f} {b - a:8.3f} {b / a:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
