"""`nbgrader run` against `grade` on the same class of notebooks, every level, one run.

    python bench/nbgrader_run_vs_grade.py [--students 6] [--jobs 2] [--keep DIR] [--execute]

A class as an instructor has it (issue 29): half the students hand in the reference, one the
stub, the others a realistic bug per level (tests/corpus/broken/), every level as the release
notebook filled in. The course is created first (`nbgrader init`, all eight levels: not timed);
then, with the wall clock, on the same folder of submissions:

- `python -m autograder nbgrader run COURSE --submissions CLASS --jobs J --no-similarity`: place,
  one parallel grading pass, nbgrader autograde and generate_feedback (one command each, every
  level), export;
- `python -m autograder grade CLASS --out OUT --jobs J --no-similarity --force`.

Both must give every student the same points per level (checked). The ratio is what the nbgrader
workflow costs over the kit's batch grader; `--execute` adds nbgrader's kernel run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat

from autograder.core import curriculum
from autograder.integrations.nbgrader.course import assignment_id, fill_notebook, gradebook_scores, notebook_name


def build_class(course: Path, folder: Path, n: int) -> None:
    for i in range(n):
        kind = "reference" if i < (n + 1) // 2 else "stub" if i == (n + 1) // 2 else "broken"
        student = folder / f"s{i:02d}_{kind}"
        student.mkdir(parents=True)
        for level, spec in sorted(curriculum.LEVELS.items()):
            release = nbformat.read(course / "release" / assignment_id(level) / notebook_name(level), as_version=4)
            if kind == "reference":
                nb = fill_notebook(release, (ROOT / "solutions" / f"{spec.module}.py").read_text())
            elif kind == "stub":
                nb = release
            else:
                cases = sorted((ROOT / "tests" / "corpus" / "broken").glob(f"l{level}_*"))
                case = cases[i % len(cases)]
                nb = fill_notebook(release, (case / f"{spec.module}.py").read_text())
            nbformat.write(nb, str(student / notebook_name(level)))


def run(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - t0, proc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=6)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", default=None, help="work in this directory and keep it (default: a temp dir)")
    ap.add_argument("--execute", action="store_true", help="nbgrader run --execute (the kernel run too)")
    args = ap.parse_args(argv)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-nbrun-"))
    course, klass, out = work / "course", work / "class", work / "kit-out"
    kit = [sys.executable, "-m", "autograder"]
    t_init, proc = run([*kit, "nbgrader", "init", str(course)], ROOT)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        return 1
    if not (sys.platform.startswith("linux") and os.geteuid() == 0):  # official isolation needs root
        config = course / "nbgrader_config.py"
        config.write_text(config.read_text() + "\nc.IsolatedGrades.require_isolation = False\n")
    build_class(course, klass, args.students)
    nb_cmd = [*kit, "nbgrader", "run", str(course), "--submissions", str(klass), "--jobs", str(args.jobs)]
    nb_cmd += ["--no-similarity", *(["--execute"] if args.execute else [])]
    t_nb, p1 = run(nb_cmd, ROOT)
    kit_cmd = [*kit, "grade", str(klass), "--out", str(out), "--jobs", str(args.jobs), "--no-similarity", "--force"]
    t_kit, p2 = run(kit_cmd, ROOT)
    if p1.returncode != 0 or p2.returncode not in (0,):
        sys.stderr.write(p1.stderr[-3000:] + p2.stderr[-3000:])
        print("a grading run failed", file=sys.stderr)
        return 1
    book = gradebook_scores(course)
    differ = []
    for report in (out / "reports").glob("*.json"):
        data = json.loads(report.read_text())
        for level in curriculum.LEVELS:
            points = round(sum(c["score"] for c in data["checks"] if c["level"] == level), 6)
            if abs(book[(report.stem, assignment_id(level))]["score"] - points) > 1e-6:
                differ.append(f"{report.stem} level {level}")
    n = args.students * len(curriculum.LEVELS)
    print(
        f"{args.students} students x {len(curriculum.LEVELS)} notebooks = {n}; course init {t_init:.0f} s (not timed)"
    )
    print(f"  nbgrader run{' --execute' if args.execute else ''}: {t_nb:7.1f} s   $ {' '.join(nb_cmd[1:])}")
    print(f"  grade:        {t_kit:7.1f} s   $ {' '.join(kit_cmd[1:])}")
    print(
        f"  ratio nbgrader run / grade: {t_nb / t_kit:.2f}x; same points per level: {'yes' if not differ else differ}"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
