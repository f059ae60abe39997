"""``python -m autograder lms GRADED --roster CSV``: the Canvas and Moodle imports on demand.

``GRADED`` is a class graded by ``grade CLASS --out OUT`` (its ``OUT/reports/``) or an nbgrader
course (its gradebook). The exports themselves are :mod:`autograder.instructor.lms`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..core.curriculum import LEVELS
from ..instructor import lms
from ..instructor.batch import Student
from ..instructor.roster import RosterError, read_roster


def class_grades(out: Path) -> tuple[dict[str, lms.Graded], list[int]]:
    """The grades of a class graded into ``out``, keyed by each student's directory name."""
    students: list[Student] = []
    levels: set[int] = set()
    for f in sorted((out / "reports").glob("*.json")):
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        students.append(Student(f.stem, Path(data.get("submission") or f.stem)))
        levels.update(int(k) for k in data.get("levels", {}))
    levels_list = sorted(levels) or list(LEVELS)
    return lms.grades_from_class(out, students, levels_list), levels_list


def cmd_lms(args) -> int:
    try:
        roster = read_roster(Path(args.roster))
    except RosterError as exc:
        print(f"autograder: {exc}", file=sys.stderr)
        return 2
    source = Path(args.graded)
    out = Path(args.out) if args.out else source
    if (source / "nbgrader_config.py").is_file():
        from ..integrations.nbgrader.gradebook import _course_id, gradebook_scores

        grades, levels = lms.grades_from_scores(gradebook_scores(source, _course_id(source)))
    elif (source / "reports").is_dir():
        grades, levels = class_grades(source)
    else:
        print(f"autograder: {source} is neither a graded class (OUT/reports/) nor an nbgrader course", file=sys.stderr)
        return 2
    result = lms.write_exports(out, roster, grades, levels, args.lms_columns, args.missing)
    for line in lms.describe(result, out):
        print(line)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("lms", help="Canvas and Moodle grade imports from a graded class or an nbgrader course")
    p.add_argument("graded", help="a class graded by `grade CLASS --out OUT` (give OUT), or an nbgrader course")
    p.add_argument("--out", default=None, help="where canvas.csv and moodle.csv go (default: beside the grades)")
    lms.add_options(p, roster_required=True)
    p.set_defaults(func=cmd_lms)
