"""`nbgrader autograde` on N submissions against the kit's own batch grader on the same N, one run.

    python bench/nbgrader_vs_kit.py [--n 8] [--level 3] [--jobs 2] [--keep DIR]

It creates a course (`python -m autograder nbgrader init`, one level), builds N notebook
submissions from the release notebook (the reference, the stub and broken ones from
tests/corpus/broken/, in turn), places them in `submitted/` and in a class folder, then times, with
the wall clock:

- nbgrader: `nbgrader autograde levelN` (serial: a fresh kernel per notebook, the in-kernel
  self-check of every stage, then the kit's isolated grader for the official points);
- the kit: `python -m autograder grade CLASS_DIR --out OUT --jobs 2` (the isolated grader only,
  2 workers).

Both give the same scores (checked here); the ratio is what the nbgrader workflow costs over the
kit's batch grader. A third run times `nbgrader autograde --no-execute` (no kernel: the official
grades only, serially) on the same submissions.
"""

from __future__ import annotations

import argparse
import json
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
from autograder.core.settings import default_seed
from autograder.integrations.nbgrader.course import (
    assignment_id,
    fill_notebook,
    gradebook_scores,
    init_course,
    notebook_name,
)
from autograder.integrations.nbgrader.runner import beside_interpreter_env


def submissions(course: Path, level: int, n: int) -> list[tuple[str, nbformat.NotebookNode]]:
    module = curriculum.LEVELS[level].module
    release = nbformat.read(course / "release" / assignment_id(level) / notebook_name(level), as_version=4)
    sources = [("reference", (ROOT / "solutions" / f"{module}.py").read_text()), ("stub", None)]
    for case in sorted((ROOT / "tests" / "corpus" / "broken").glob(f"l{level}_*")):
        sources.append((case.name, (case / f"{module}.py").read_text()))
    out = []
    for i in range(n):
        name, text = sources[i % len(sources)]
        out.append((f"s{i:03d}_{name}", release if text is None else fill_notebook(release, text)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8, help="submissions (default 8)")
    ap.add_argument("--level", type=int, default=3, choices=sorted(curriculum.LEVELS))
    ap.add_argument("--jobs", type=int, default=2, help="the kit's batch workers (default 2)")
    ap.add_argument("--keep", default=None, help="work in this directory and keep it (default: a temp dir)")
    args = ap.parse_args(argv)

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-nbgrader-"))
    work.mkdir(parents=True, exist_ok=True)
    course, class_dir, out = work / "course", work / "class", work / "kit-out"
    seed = default_seed()
    init_course(course, levels=[args.level], seed=seed, force=True)
    subs = submissions(course, args.level, args.n)
    for student, nb in subs:
        dest = course / "submitted" / student / assignment_id(args.level) / notebook_name(args.level)
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(dest))
        (class_dir / student).mkdir(parents=True, exist_ok=True)
        (class_dir / student / notebook_name(args.level)).write_bytes(dest.read_bytes())

    cmd_nbgrader = [sys.executable, "-m", "nbgrader", "autograde", assignment_id(args.level), "--force"]
    t0 = time.perf_counter()
    # nbgrader and the kit of this checkout (PYTHONPATH), whichever kit the interpreter has installed
    env = beside_interpreter_env()
    p1 = subprocess.run(cmd_nbgrader, cwd=course, capture_output=True, text=True, env=env)
    t_nbgrader = time.perf_counter() - t0

    cmd_kit = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        str(class_dir),
        "--out",
        str(out),
        "--jobs",
        str(args.jobs),
        "--level",
        str(args.level),
        "--seed",
        str(seed),
        "--force",
        "--format",
        "json",
    ]
    t0 = time.perf_counter()
    p2 = subprocess.run(cmd_kit, cwd=ROOT, capture_output=True, text=True, env=env)
    t_kit = time.perf_counter() - t0

    if p1.returncode != 0 or p2.returncode != 0:
        sys.stderr.write(p1.stderr[-3000:] + p2.stderr[-3000:])
        print("a grading run failed", file=sys.stderr)
        return 1
    book = gradebook_scores(course)
    kit = {p.stem: json.loads(p.read_text()) for p in (out / "reports").glob("*.json")}
    differ = [s for s, _ in subs if abs(book[(s, assignment_id(args.level))]["score"] - kit[s]["score"]) > 1e-6]

    # the hardened mode: no kernel at all, the official grades only (serial, like all of nbgrader)
    t0 = time.perf_counter()
    p3 = subprocess.run(cmd_nbgrader + ["--no-execute"], cwd=course, capture_output=True, text=True, env=env)
    t_noexec = time.perf_counter() - t0
    book = gradebook_scores(course)
    differ += [s for s, _ in subs if abs(book[(s, assignment_id(args.level))]["score"] - kit[s]["score"]) > 1e-6]
    if p3.returncode != 0:
        sys.stderr.write(p3.stderr[-3000:])
        differ.append("(the --no-execute run failed)")

    print(
        f"level {args.level}, {args.n} submissions, seed {seed}, work dir {work}"
        f"{'' if args.keep else ' (removed at the end: --keep DIR keeps it)'}"
    )
    rows = [
        (
            "nbgrader autograde (kernel + official grade)",
            t_nbgrader,
            f"$ cd {course} && nbgrader autograde {assignment_id(args.level)} --force",
        ),
        (
            f"kit batch grader (--jobs {args.jobs})",
            t_kit,
            f"$ python -m autograder grade {class_dir} --out {out} --jobs {args.jobs} --level {args.level}",
        ),
        ("nbgrader autograde --no-execute (no kernel)", t_noexec, ""),
    ]
    for label, seconds, cmd in rows:
        print(f"  {label:<46} {seconds:7.1f} s  ({seconds / args.n:4.1f} s per submission)  {cmd}")
    print(
        f"  ratio nbgrader / kit: {t_nbgrader / t_kit:.1f}x (--no-execute: {t_noexec / t_kit:.1f}x); "
        f"same scores: {'yes' if not differ else differ}"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
