"""A whole class graded the way an instructor grades it: submissions per hour.

    python bench/class_rate.py [--students 200] [--jobs 2] [--json out.json]

Generates a class of ``--students`` full submissions (all eight levels; honest styles drawn at
random, one student in ten a disguised copy of another: ``bench/similarity_speed.py``'s class), then
times one ``python -m autograder grade CLASS --out DIR --jobs N`` with the similarity report on (the
default), from the command's start to its exit, and prints submissions per hour. It checks what it
timed: every student in grades.csv, every honest one (not a disguised copy: those are the similarity
report's to find, and their renamed arguments may break the contract) with full marks, and
similarity.csv written.
``python -c "import torch"`` is timed in the same run, for scale, and so is the students' training
alone (``bench/training_floor.py``): the rate no grader could pass on this machine's cores.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import training_floor
from similarity_speed import generate

from autograder.core.machine import usable_cores


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    py = sys.executable
    imports = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([py, "-c", "import torch"], check=True)
        imports.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dirs = generate(root / "class", args.students)
        copies = {d.name for d in dirs if any(f.read_text().startswith("# my own work") for f in d.glob("*.py"))}
        out = root / "graded"
        env = dict(os.environ, KIT_HISTORY="off")
        t0 = time.perf_counter()
        proc = subprocess.run(
            [py, "-m", "autograder", "grade", str(root / "class"), "--out", str(out), "--jobs", str(args.jobs)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"grade failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        with open(out / "grades.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        similarity = (out / "similarity.csv").is_file()
    # what the students' training alone allows on this machine, in the same run (bench/training_floor.py)
    ceiling = training_floor.ceilings(training_floor.training_cpu_seconds(), statistics.median(imports), usable_cores())
    full = {r["student"] for r in rows if float(r.get("total") or 0) >= 100 - 1e-9}
    honest = {r["student"] for r in rows} - copies
    per_hour = args.students / wall * 3600
    figures = {
        "students": args.students,
        "jobs": args.jobs,
        "wall_s": round(wall, 1),
        "s_per_submission": round(wall / args.students, 2),
        "submissions_per_hour": round(per_hour),
        "import_torch_s": round(statistics.median(imports), 2),
        "graded_rows": len(rows),
        "copies": len(copies),
        "full_marks": len(full),
        "honest_with_full_marks": len(honest & full),
        "honest": len(honest),
        "similarity_csv": similarity,
        "load_after": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "training_cpu_s": ceiling["training_cpu_s"],
        "ceiling_per_hour": ceiling["class_per_hour_ceiling"],
    }
    print(
        f"{args.students} full submissions (8 levels each), grade --jobs {args.jobs} with the similarity "
        f"report: {wall:.1f} s, {wall / args.students:.2f} s a submission, {per_hour:.0f} submissions per hour"
    )
    print(
        f"grades.csv: {len(rows)} rows, {len(full)} with full marks, {len(honest & full)} of the "
        f"{len(honest)} honest ones ({len(copies)} disguised copies); similarity.csv written: {similarity}; "
        f"python -c 'import torch': {statistics.median(imports):.2f} s"
    )
    print(
        f"the students' training alone: {ceiling['training_cpu_s']:.2f} CPU-s a submission (the reference's "
        f"eight convergence runs, bench/training_floor.py): at most {ceiling['class_per_hour_ceiling']} per hour "
        f"on {ceiling['cores']} cores were everything else free"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    ok = len(rows) == args.students and honest <= full and similarity
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
