"""The course's gradebook: its scores (read from nbgrader's SQLite ``gradebook.db``) and the course id
that the course's config names."""

from __future__ import annotations

import re
from pathlib import Path

from .runner import put_scripts_on_path

DEFAULT_COURSE_ID = "pytorch-examples"


def gradebook_scores(course: Path, course_id: str | None = None) -> dict:
    """``{(student, assignment): {"score", "max_score", "needs_manual_grade", "graded"}}``."""
    from nbgrader.api import Gradebook

    put_scripts_on_path()
    db = f"sqlite:///{Path(course).resolve() / 'gradebook.db'}"
    out = {}
    with Gradebook(db, course_id=course_id or DEFAULT_COURSE_ID) as gb:
        for assignment in gb.assignments:
            for sub in gb.assignment_submissions(assignment.name):
                grades = [g for nb in sub.notebooks for g in nb.grades]
                out[(sub.student.id, assignment.name)] = {
                    "score": float(sub.score),
                    "max_score": float(sub.max_score),
                    "needs_manual_grade": bool(sub.needs_manual_grade),
                    "graded": bool(grades)
                    and all(g.auto_score is not None or g.manual_score is not None for g in grades),
                }
    return out


def _course_id(course: Path) -> str:
    text = (course / "nbgrader_config.py").read_text()
    m = re.search(r"^c\.CourseDirectory\.course_id\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    return m.group(1) if m else DEFAULT_COURSE_ID
