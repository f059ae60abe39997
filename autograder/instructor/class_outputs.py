"""A class's outputs never contradict each other: after a rerun, every file derived from the reports
is either rewritten or removed.

``grade CLASS --out OUT`` rewrites ``grades.csv`` and the summaries from the reports each time. The
other derived files are written only when asked for: the HTML pages (``--html``), the similarity
report (not with ``--no-similarity``), the LMS imports (``--roster``). A rerun without the option
once left them as they were: a student's ``feedback/<student>.html`` still said 93.5 while
``grades.csv`` said 100. Now:

- the course file remembers ``--html`` (course_file.KEYS), so a rerun writes the pages again, and
  writes the page of every student who has none or an older one than their report (a class first
  graded without ``--html``);
- any derived file that this run does not rewrite and that is older than a report it depends on
  is removed, and the run says which (the pages of an older kit's course file; a similarity report
  or LMS import from a run with options this one lacks).
"""

from __future__ import annotations

import json
from pathlib import Path

#: derived files that hold every student's numbers: stale as soon as any report is newer
CLASS_FILES = {
    "html": ("summary.html",),
    "similarity": ("similarity.csv", "similarity.html"),
    "lms": ("canvas.csv", "moodle.csv", "lms_unmatched.csv"),
}


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def write_missing_pages(out: Path, names: list[str]) -> list[Path]:
    """With ``--html``: the page of each student whose page is missing or older than their report
    (students graded before pages were asked for). Returns the pages written."""
    from ..core.report import Report, write_atomic
    from ..render.html import feedback_page

    written = []
    for name in names:
        report, page = out / "reports" / f"{name}.json", out / "feedback" / f"{name}.html"
        r, p = _mtime(report), _mtime(page)
        if r is None or (p is not None and p >= r):
            continue
        try:
            data = json.loads(report.read_text())
        except (OSError, ValueError):
            continue
        write_atomic(page, feedback_page(Report.from_json(data), f"Feedback for {name}"))
        written.append(page)
    return written


def remove_stale(out: Path, names: list[str], rewritten: set[str]) -> list[Path]:
    """Remove each derived file that this run did not rewrite (``rewritten``: keys of CLASS_FILES,
    and "html" for the students' pages) and that is older than a report it depends on."""
    reports = {name: _mtime(out / "reports" / f"{name}.json") for name in names}
    newest = max((t for t in reports.values() if t is not None), default=None)
    removed = []
    if "html" not in rewritten:
        for name, r in reports.items():
            page = out / "feedback" / f"{name}.html"
            p = _mtime(page)
            if p is not None and r is not None and p < r:
                page.unlink(missing_ok=True)
                removed.append(page)
    for key, files in CLASS_FILES.items():
        if key in rewritten or newest is None:
            continue
        for file in files:
            path = out / file
            t = _mtime(path)
            if t is not None and t < newest:
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed
