"""Rosters, and grades in the files that Canvas and Moodle import.

The roster (read by the kit's one reader, :func:`autograder.instructor.roster.read_roster`: the kit's
CSV, nbgrader's students.csv, the Canvas or Moodle gradebook export, Moodle's grading worksheet) says
who each submission directory is in the LMS.

**The exports** (:func:`write_exports`) are ``canvas.csv``, in the layout of Canvas's gradebook
export (which is what its import takes: the identity columns, then one column per level or one
total column, and the ``Points Possible`` row), ``moodle.csv`` for Moodle's CSV grade import (map
``ID number`` to ``useridnumber`` or ``Email address`` to ``useremail`` on import, each level column
to a grade item or a new one), and ``lms_unmatched.csv``. Roster students without a submission get
an empty cell (the LMS keeps what it had) or, with ``missing="zero"``, a 0. A student whose grading
failed (a grader error) gets an empty cell and is listed: an error is never a score.

Every text cell goes through :func:`autograder.core.csv_safe.safe_cell` (no cell starts a formula).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..core.csv_safe import csv_text
from ..core.curriculum import LEVELS, checks_for
from .roster import Matching, Roster, RosterEntry, RosterError, match, read_roster, split_name

TOTAL_COLUMN = "PyTorch kit total"
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_ROW = "    Points Possible"  # as Canvas writes it in its own export
MOODLE_IDENTITY = ["First name", "Last name", "ID number", "Email address"]


@dataclass
class ExportOptions:
    """What ``grade CLASS --roster`` passes to the batch grader."""

    roster: Roster
    columns: str = "levels"  # or "total"
    missing: str = "empty"  # or "zero"


# ----------------------------------------------------------------------------- grades
@dataclass
class Graded:
    """One submission's grades, as the exports take them."""

    directory: str  # the directory's name on disk (what the roster maps)
    levels: dict[int, float]  # level -> score
    error: bool = False  # a grader error: exported as an empty cell, listed

    @property
    def total(self) -> float:
        return round(sum(self.levels.values()), 4)


def level_points(level: int) -> float:
    return sum(spec.points for spec in checks_for(level))


def column_names(levels: list[int], columns: str) -> list[tuple[str, list[int]]]:
    """(column name, the levels it adds up)."""
    if columns == "total":
        return [(TOTAL_COLUMN, list(levels))]
    return [(f"Level {lv}: {LEVELS[lv].title}", [lv]) for lv in levels]


def _cells(g: Graded | None, cols, missing: str) -> list:
    out: list[str | float] = []
    for _, lvs in cols:
        if g is None:
            out.append(0 if missing == "zero" else "")
        elif g.error:
            out.append("")
        else:
            out.append(_number(sum(g.levels.get(lv, 0.0) for lv in lvs)))
    return out


def _number(x: float) -> float | int:
    x = round(float(x), 4)
    return int(x) if x == int(x) else x


def _canvas_identity(kind: str, e: RosterEntry) -> list[str]:
    """Student, ID, SIS User ID, SIS Login ID, Section: Canvas's own values from a Canvas roster;
    otherwise the student id as SIS User ID (Canvas's internal ID is unknown there)."""
    if kind == "canvas":
        return [e.name, e.student_id, e.sis_user_id, e.sis_login_id, e.section]
    name = f"{e.last_name}, {e.first_name}" if e.last_name and e.first_name else e.name
    return [name, "", e.sis_user_id or e.student_id, e.sis_login_id or e.username, e.section]


def _moodle_identity(kind: str, e: RosterEntry) -> list[str]:
    """First name, Last name, ID number, Email address."""
    first, last = (e.first_name, e.last_name) if (e.first_name or e.last_name) else split_name(e.name)
    number = e.sis_user_id if kind == "canvas" else (e.student_id or e.sis_user_id)
    return [first, last, number, e.email]


def _rows(roster: Roster, matching: Matching, grades: dict[str, Graded], cols, missing: str, identity):
    by_entry = {id(e): d for d, e in matching.matched.items()}
    for e in roster.entries:
        d = by_entry.get(id(e))
        yield identity(roster.kind, e) + _cells(grades.get(d) if d is not None else None, cols, missing)


def canvas_csv(
    roster: Roster,
    matching: Matching,
    grades: dict[str, Graded],
    levels: list[int],
    columns: str = "levels",
    missing: str = "empty",
) -> str:
    cols = column_names(levels, columns)
    headers = [roster.canvas_columns.get(name, name) for name, _ in cols]
    points = [_number(sum(level_points(lv) for lv in lvs)) for _, lvs in cols]
    rows: list[list] = [CANVAS_IDENTITY + headers, [CANVAS_POINTS_ROW, "", "", "", "", *points]]
    return csv_text(rows + list(_rows(roster, matching, grades, cols, missing, _canvas_identity)))


def moodle_csv(
    roster: Roster,
    matching: Matching,
    grades: dict[str, Graded],
    levels: list[int],
    columns: str = "levels",
    missing: str = "empty",
) -> str:
    cols = column_names(levels, columns)
    rows = [MOODLE_IDENTITY + [name for name, _ in cols]]
    return csv_text(rows + list(_rows(roster, matching, grades, cols, missing, _moodle_identity)))


def write_exports(
    out: Path,
    roster: Roster,
    grades: dict[str, Graded],
    levels: list[int],
    columns: str = "levels",
    missing: str = "empty",
) -> dict:
    """OUT/canvas.csv, OUT/moodle.csv and OUT/lms_unmatched.csv; returns what happened."""
    from ..core.report import write_atomic

    matching = match(roster, list(grades))
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "canvas.csv", canvas_csv(roster, matching, grades, levels, columns, missing))
    write_atomic(out / "moodle.csv", moodle_csv(roster, matching, grades, levels, columns, missing))
    errors = sorted(d for d, g in grades.items() if g.error and d in matching.matched)
    unmatched_rows = [["directory", "why", "total"]] + [
        [d, why, "" if grades[d].error else _number(grades[d].total)] for d, why in matching.unmatched
    ]
    write_atomic(out / "lms_unmatched.csv", csv_text(unmatched_rows))
    return {
        "roster": roster.kind,
        "matched": len(matching.matched),
        "unmatched": [{"directory": d, "why": why} for d, why in matching.unmatched],
        "missing": [e.name or e.student_id for e in matching.missing],
        "missing_as": missing,
        "grader_errors_left_empty": errors,
        "files": ["canvas.csv", "moodle.csv", "lms_unmatched.csv"],
    }


def terminal_text(text: str, limit: int = 120) -> str:
    """Student-derived text for a terminal: control characters (escape sequences) shown as ``?``."""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", "?", str(text))
    return text if len(text) <= limit else text[:limit] + "…"


def describe(result: dict, out: Path) -> list[str]:
    """Lines for the terminal, directory names neutralised."""
    lines = [
        (
            f"LMS exports ({result['roster']} roster): {out}/canvas.csv, {out}/moodle.csv; "
            f"{result['matched']} students matched"
        )
    ]
    if result["missing"]:
        lines.append(
            f"  {len(result['missing'])} roster students without a submission: "
            f"{'0' if result['missing_as'] == 'zero' else 'empty cells'}"
        )
    if result["unmatched"]:
        lines.append(
            f"  {len(result['unmatched'])} submissions not in the roster (see {out}/lms_unmatched.csv): "
            + ", ".join(terminal_text(u["directory"], 40) for u in result["unmatched"][:10])
        )
    if result["grader_errors_left_empty"]:
        lines.append(
            "  grader errors, left empty (regrade them): "
            + ", ".join(terminal_text(d, 40) for d in result["grader_errors_left_empty"])
        )
    return lines


# ----------------------------------------------------------------------------- sources of grades
def grades_from_class(out: Path, students, levels: list[int]) -> dict[str, Graded]:
    """From a graded class: OUT/reports/<student>.json, keyed by each student's directory name."""
    import json

    grades = {}
    for s in students:
        try:
            data = json.loads((Path(out) / "reports" / f"{s.name}.json").read_text())
        except (OSError, ValueError):
            grades[Path(s.path).name] = Graded(Path(s.path).name, {}, error=True)
            continue
        per_level = data.get("levels", {})
        grades[Path(s.path).name] = Graded(
            Path(s.path).name,
            {lv: float(per_level.get(str(lv), {}).get("score", 0.0)) for lv in levels},
            error=bool(data.get("errors")),
        )
    return grades


def grades_from_scores(scores: dict) -> tuple[dict[str, Graded], list[int]]:
    """From an nbgrader gradebook's scores (``nbgrader_course.gradebook_scores``): each student id
    with a submission, each level's score. A submission nbgrader could not grade is a grader error
    (empty, listed), never a 0."""
    grades: dict[str, Graded] = {}
    levels: set[int] = set()
    for (student, assignment), s in scores.items():
        m = re.fullmatch(r"level(\d+)", assignment)
        if not m:
            continue
        g = grades.setdefault(student, Graded(student, {}))
        g.levels[int(m.group(1))] = s["score"]
        levels.add(int(m.group(1)))
        if not s["graded"]:
            g.error = True
    return grades, sorted(levels)


# ----------------------------------------------------------------------------- options
def add_options(p, roster_required: bool = False) -> None:
    p.add_argument(
        "--roster",
        required=roster_required,
        default=None,
        metavar="CSV",
        help="map student directories to the LMS and write OUT/canvas.csv and OUT/moodle.csv: the kit's "
        "roster (directory,student_id,name,section); also taken: nbgrader's students.csv, a Canvas or Moodle "
        "gradebook export, Moodle's grading worksheet",
    )
    p.add_argument(
        "--lms-columns",
        choices=["levels", "total"],
        default="levels",
        help="one column per level (default) or one total column",
    )
    p.add_argument(
        "--missing",
        choices=["empty", "zero"],
        default="empty",
        help="roster students without a submission: an empty cell (the LMS keeps its grade; default) or an explicit 0",
    )


def options_from(args) -> ExportOptions | None:
    """The roster and export choices of ``grade``'s flags (raises RosterError); None without --roster."""
    if not args.roster:
        return None
    return ExportOptions(read_roster(Path(args.roster)), args.lms_columns, args.missing)


# RosterError: what options_from raises, for its callers (cli, nbgrader_course)
__all__ = [
    "ExportOptions",
    "Graded",
    "RosterError",
    "add_options",
    "canvas_csv",
    "describe",
    "grades_from_class",
    "grades_from_scores",
    "moodle_csv",
    "options_from",
    "write_exports",
]
