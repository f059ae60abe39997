"""What the students' own training costs: the part of grading no change to the grader can remove.

    python bench/training_floor.py [--repeat 3] [--json out.json]

Each level's convergence check runs the student's ``train`` for the level's steps on the seed's
problem (N=64, D_in=1000, H=100, D_out=10; 300 steps), and issue 27 keeps both. This script calls the
reference solutions' ``train`` on exactly that problem (``bench/tolerances.py``: the objects the
grader hands it, built from the level's record), one level after another in one fresh interpreter
with one thread and torch._dynamo's stand-in (as a grading child has), after one unmeasured run
per level (the set-up the zygote's warm-up does once), and prints each level's CPU seconds (the median of
``--repeat``) and their sum: the CPU one full submission's training takes on this machine.

From that sum, two ceilings that hold were the grader, the children's starts and every other check
free of cost (so every real figure lies below them):
- a class graded on C usable cores: C x 3600 / sum submissions per hour;
- one ``check`` of all eight levels: ``import torch`` (the children cannot start before it) plus
  sum / C, as a multiple of ``import torch`` (timed in the same run).
``bench/class_rate.py`` prints the first beside the rate it measures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trace_check import import_torch_seconds

from autograder.core.machine import usable_cores  # (torch-free)

_MEASURE = """
import json, sys, time
sys.path[:0] = [{root!r}, {bench!r}]
import torch
from autograder.child import lazy_modules
lazy_modules.install(torch)  # (as in a grading child: the optimizers' torch._dynamo is a stand-in)
import tolerances  # (sets one thread)
from autograder.checks import loops
from autograder.core.curriculum import LEVELS
out = {{}}
for level in sorted(LEVELS):
    mod = tolerances.load(level)
    times = []
    p = loops.convergence_problem(level, 0)
    tolerances.run_train(level, mod, p, p["x"].dtype)  # (unmeasured: torch's lazy set-up, the zygote's)
    for _ in range({repeat}):
        p = loops.convergence_problem(level, 0)
        t0 = time.process_time()
        tolerances.run_train(level, mod, p, p["x"].dtype)
        times.append(time.process_time() - t0)
    out[level] = sorted(times)[len(times) // 2]
print(json.dumps(out))
"""


def training_cpu_seconds(repeat: int = 3) -> dict[int, float]:
    """Each level's convergence training of the reference, CPU seconds (median of ``repeat``), in a
    fresh interpreter with the thread settings of a grading child."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    code = _MEASURE.format(root=str(ROOT), bench=str(ROOT / "bench"), repeat=repeat)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return {int(k): v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def ceilings(training: dict[int, float], import_torch: float, cores: int) -> dict:
    total = sum(training.values())
    return {
        "training_cpu_s": round(total, 2),
        "cores": cores,
        "class_per_hour_ceiling": round(cores * 3600 / total),
        "check_all_floor_x_import_torch": round((import_torch + total / cores) / import_torch, 2),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    imp = import_torch_seconds(args.repeat)
    training = training_cpu_seconds(args.repeat)
    cores = usable_cores()
    figures = {"import_torch_s": round(imp, 2), "per_level_cpu_s": training, **ceilings(training, imp, cores)}
    print(f"the reference's convergence training, CPU seconds (one thread, median of {args.repeat}):")
    print("  " + "  ".join(f"{lv}: {s:.2f}" for lv, s in sorted(training.items())))
    print(f"  all eight: {figures['training_cpu_s']:.2f} CPU-s; python -c 'import torch': {imp:.2f} s")
    print(
        f"ceilings on {cores} cores, every other cost taken as nothing: a class at "
        f"{figures['class_per_hour_ceiling']} submissions per hour; a check of all eight levels at "
        f"{figures['check_all_floor_x_import_torch']:.2f} x import torch"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
