"""``python -m autograder similarity CLASS --out OUT``: the similarity report on demand.

The comparing is :mod:`autograder.instructor.similarity`; this module finds the class (as ``grade`` does, or
an nbgrader course's ``submitted/``) and writes the report.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..core import neutralise
from ..instructor import similarity
from ..instructor.batch import find_students


def find_class(paths: list[Path]) -> list[tuple[str, Path]]:
    """Students as ``grade`` finds them (a directory of student directories, or several); an
    nbgrader course's ``submitted/`` folder works too."""
    if len(paths) == 1 and (paths[0] / "submitted").is_dir() and (paths[0] / "nbgrader_config.py").is_file():
        paths = [paths[0] / "submitted"]
    return [(s.name, s.path) for s in find_students(paths)]


def cmd_similarity(args) -> int:
    from ..core.settings import parse_levels

    paths = [Path(p) for p in args.dir]
    missing = [p for p in paths if not p.is_dir()]
    if missing:
        print(f"autograder: {missing[0]} is not a directory", file=sys.stderr)
        return 2
    students = find_class(paths)
    if len(students) < 2:
        print("autograder: a similarity report needs at least two students", file=sys.stderr)
        return 2
    out = Path(args.out)
    s = similarity.write_report(students, out, parse_levels(args.level), similarity.options_from(args))
    print(
        f"{len(students)} students, {s['pairs_compared']} pairs compared in {s['seconds']} s; "
        f"{len(s['flagged'])} level(s) flagged at {s['threshold']}. "
        f"Report: {out}/similarity.html, {out}/similarity.csv. A high score is a reason to look, not proof."
    )
    if s["not_compared"]:  # (folder names come from students: neutralised for the terminal)
        print(neutralise.terminal(f"compared at no level: {', '.join(s['not_compared'])} (why: on the page)"))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "similarity", help="compare every pair of students, level by level: OUT/similarity.html and OUT/similarity.csv"
    )
    p.add_argument(
        "dir",
        nargs="+",
        help="a directory of student directories (or an nbgrader course), or several submission directories",
    )
    p.add_argument("--out", default="grades", help="where the report goes (default: grades/)")
    p.add_argument("--level", type=int, action="append", help="compare only this level (repeatable)")
    similarity.add_options(p)
    p.set_defaults(func=cmd_similarity)
