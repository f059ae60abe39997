"""What Canvas and Moodle do with an imported grades CSV, as their documentation describes it.

These parsers stand in for the LMS in the tests: they are written from the documented formats, not
from the kit's writer, and refuse what the LMS would refuse.

Canvas (gradebook import; its layout is that of Canvas's own gradebook export): the first row is
the header; it must hold an identity (``Student`` name, ``ID`` or ``SIS User ID``), the ``SIS Login
ID`` and the ``Section`` columns; every column after them is an assignment, ``Name (id)`` for an
existing one, a bare name creating a new one; a row whose first cell is ``Points Possible`` (Canvas
writes it indented) gives the points of the assignments; every other row is a student, whose scores
are numbers or empty (empty: the grade is left as it was). An uploaded score replaces the old one.

Moodle (CSV grade import): the first row is the header; the instructor maps one identity column
to a user field (``ID number`` to ``useridnumber`` or ``Email address`` to ``useremail``) and each
other column to a grade item; a value is a number, or empty / ``-`` for no grade.
"""

from __future__ import annotations

import csv
import io
import re

CANVAS_IDENTITY = ("Student", "ID", "SIS User ID")


class ImportRefused(AssertionError):
    pass


def canvas_import(text: str) -> tuple[dict[str, float], dict[tuple[str, str], dict[str, float | None]]]:
    """(points possible per assignment, {(identity column, value): {assignment: score or None}})."""
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    if not any(h in header for h in CANVAS_IDENTITY):
        raise ImportRefused("no identity column (Student, ID or SIS User ID)")
    for required in ("SIS Login ID", "Section"):
        if required not in header:
            raise ImportRefused(f"no {required} column")
    last_identity = max(header.index(h) for h in (*CANVAS_IDENTITY, "SIS Login ID", "Section") if h in header)
    assignments = header[last_identity + 1 :]
    if not assignments:
        raise ImportRefused("no assignment column")
    for a in assignments:
        if re.search(r"\(\d+\)\s*$", a) is None and not a.strip():
            raise ImportRefused("an assignment column without a name")
    points: dict[str, float] = {}
    students: dict[tuple[str, str], dict[str, float | None]] = {}
    for row in rows[1:]:
        cells = dict(zip(header, row))
        if row and row[0].strip() == "Points Possible":
            points = {a: float(cells[a]) for a in assignments if cells.get(a, "").strip()}
            continue
        key = next(((h, cells[h].strip()) for h in ("ID", "SIS User ID", "Student") if cells.get(h, "").strip()), None)
        if key is None:
            raise ImportRefused(f"a student row without identity: {row}")
        if key in students:
            raise ImportRefused(f"two rows for {key}")
        scores = {}
        for a in assignments:
            value = cells.get(a, "").strip()
            scores[a] = None if value == "" else float(value)  # not a number: the import fails here
        students[key] = scores
    for a in assignments:
        if re.search(r"\(\d+\)\s*$", a) is None and a not in points:
            raise ImportRefused(f"new assignment {a!r} without points possible")
    return points, students


def moodle_import(text: str, identity: str) -> dict[str, dict[str, float | None]]:
    """{identity value: {grade item: grade or None}}, the identity column mapped as the instructor
    maps it on the import page (``ID number`` or ``Email address``)."""
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    if identity not in header:
        raise ImportRefused(f"no {identity} column to map from")
    user_fields = {"First name", "Last name", "ID number", "Email address", "Institution", "Department", "Username"}
    items = [h for h in header if h not in user_fields]
    out = {}
    for row in rows[1:]:
        cells = dict(zip(header, row))
        who = cells[identity].strip()
        if not who:
            raise ImportRefused(f"a row without {identity}: {row}")
        if who in out:
            raise ImportRefused(f"two rows for {who}")
        out[who] = {i: None if cells.get(i, "").strip() in ("", "-") else float(cells[i]) for i in items}
    return out
