"""How long the similarity pass takes for a class, as a fraction of the time grading it takes.

    python bench/similarity_speed.py [--students 200] [--sample 3] [--json out.json]

Generates a class of ``--students`` submissions of all eight levels: for each function (or class)
of a level, one of its honest styles (the reference solution's and those of tests/corpus/correct/),
drawn at random, and one student in ten a disguised copy of another (tests/similarity_class.py).
Then, in the same run:

- the baseline: ``python -m autograder grade`` of ``--sample`` of those students (all eight
  levels, one job, no similarity pass), per student;
- ``python -m autograder similarity`` over the whole class (a fresh process: imports included).

It prints the similarity pass's time as a fraction of grading the class: of grading it serially
(students x the baseline) and with ``grade``'s default two jobs. That fraction is what decides
whether ``grade CLASS`` runs the pass by default (it does: see the README, "find copies").
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

STYLE_DIRS = {
    1: ["l1_mask_multiply_stderr", "l1_np_where_float64_loss_prints"],
    2: ["l2_matmul_sub_", "l2_mm_relu_where"],
    3: ["l3_add_alpha_zero_first", "l3_grad_none_data_update"],
    4: ["l4_mask_multiply_grad_none", "l4_where_masked_fill"],
    5: ["l5_append_zero_grad_false", "l5_custom_sse_module"],
    6: ["l6_model_zero_grad_after_step", "l6_set_to_none_false_stderr"],
    7: ["l7_functional_relu_mse", "l7_sgd_built_each_iteration", "l7_zero_after_step_set_false"],
    8: ["l8_grad_none_after_step", "l8_tutorial_style_warnings"],
}


def generate(root: Path, n: int, seed: int = 0) -> list[Path]:
    from autograder.core.curriculum import LEVELS
    from similarity_class import disguise, fill_stub, styles

    rng = random.Random(seed)
    pools = {lv: styles(lv, STYLE_DIRS[lv]) for lv in LEVELS}
    dirs = []
    for i in range(n):
        d = root / f"student_{i:03d}"
        d.mkdir(parents=True)
        copy_of = dirs[rng.randrange(len(dirs))] if dirs and rng.random() < 0.1 else None
        for lv, (per_function, imports) in pools.items():
            module = LEVELS[lv].module
            if copy_of is not None:
                text = disguise((copy_of / f"{module}.py").read_text(), seed=i)
            else:
                text = fill_stub(lv, {name: rng.choice(srcs) for name, srcs in per_function.items()}, imports)
            (d / f"{module}.py").write_text(text)
        dirs.append(d)
    return dirs


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and the processes it waited for)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=200)
    ap.add_argument("--sample", type=int, default=3, help="students graded for the baseline")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dirs = generate(root / "class", args.students)
        sample = root / "sample"
        sample.mkdir()
        for d in dirs[: args.sample]:
            (sample / d.name).symlink_to(d, target_is_directory=True)
        grading, grading_cpu = timed(
            [
                py,
                "-m",
                "autograder",
                "grade",
                str(sample),
                "--out",
                str(root / "graded"),
                "--jobs",
                "1",
                "--no-similarity",
                "--format",
                "json",
            ]
        )
        sim, sim_cpu = timed([py, "-m", "autograder", "similarity", str(root / "class"), "--out", str(root / "sim")])
        flagged = sum(1 for line in (root / "sim" / "similarity.csv").read_text().splitlines()[1:] if ",yes," in line)
    per_student, per_student_cpu = grading / args.sample, grading_cpu / args.sample
    serial = per_student * args.students
    figures = {
        "students": args.students,
        "levels": 8,
        "grading_s_per_student": round(per_student, 2),
        "grading_cpu_s_per_student": round(per_student_cpu, 2),
        "similarity_s": round(sim, 2),
        "similarity_cpu_s": round(sim_cpu, 2),
        "fraction_of_serial_grading": round(sim / serial, 4),
        "fraction_of_grading_with_2_jobs": round(sim / (serial / 2), 4),
        "cpu_fraction": round(sim_cpu / (per_student_cpu * args.students), 4),
        "flagged_levels": flagged,
    }
    print(
        f"grading (baseline): {per_student:.2f} s per student ({per_student_cpu:.2f} s CPU), all 8 levels, "
        f"one job ({args.sample} students graded)"
    )
    print(
        f"similarity pass: {sim:.2f} s ({sim_cpu:.2f} s CPU) for {args.students} students x 8 levels "
        f"({args.students * (args.students - 1) // 2} pairs a level; {flagged} levels flagged)"
    )
    print(
        f"fraction of grading: {sim / serial:.2%} of serial grading, {sim / (serial / 2):.2%} with 2 jobs "
        f"(wall clock); {figures['cpu_fraction']:.2%} of grading's CPU time"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
