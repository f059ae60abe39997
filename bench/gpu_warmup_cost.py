"""What the warm pool's children pay where a GPU is visible: the zygote's warm-up only imports there
(no backward pass, no optimizer step before a fork), so each child pays those first uses itself.

    python bench/gpu_warmup_cost.py [--repeat 3] [--levels 1,2,...,8]

Grades the reference through the fork pool with the full warm-up (as on a machine without a GPU)
and with the imports-only warm-up (``Zygote(gpu=True)``, as where a GPU is visible), alternating, on
the CPU of this machine; prints the median seconds per level and the ratio, measured in one run.
The CUDA side (a context per child) needs a GPU: bench/gpu_record.py measures it there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.grading import grade
from autograder.sandbox import Zygote

SEED = 20240601


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=list(range(1, 9)))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    pools = {"full warm-up (no GPU)": Zygote(gpu=False), "imports only (GPU visible)": Zygote(gpu=True)}
    times: dict = {name: {"total": [], **{lv: [] for lv in args.levels}} for name in pools}
    try:
        for pool in pools.values():  # one untimed run each: the zygotes' own start is not the children's
            grade(ROOT / "solutions", args.levels, SEED, pool=pool)
        for _ in range(args.repeat):
            for name, pool in pools.items():
                t0 = time.perf_counter()
                r = grade(ROOT / "solutions", args.levels, SEED, pool=pool)
                times[name]["total"].append(time.perf_counter() - t0)
                assert r.score == r.max_score, (name, r.score)
                for lv in args.levels:
                    times[name][lv].append(r.timings["per_level_s"][str(lv)])
    finally:
        for pool in pools.values():
            pool.close()
    full, imports = pools
    print(f"Reference, levels {','.join(map(str, args.levels))}; median of {args.repeat} (seconds of checks per level)")
    print(f"| level | {full} | {imports} | ratio |")
    print("|---|---|---|---|")
    for key in [*args.levels, "total"]:
        a, b = statistics.median(times[full][key]), statistics.median(times[imports][key])
        print(f"| {key} | {a:.2f} | {b:.2f} | {b / a:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
