"""A rerun of a class leaves no page that contradicts grades.csv (issue 29, finding 3: after a
student's files changed, `grade CLASS --out OUT` without --html updated grades.csv to 100 but left
feedback/<student>.html at 93.5 and summary.html at the old mean)."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # (whole class runs: `make test` runs them, `make test-fast` not)


ROOT = Path(__file__).resolve().parent.parent
BROKEN = ROOT / "tests" / "corpus" / "broken" / "l1_backward_no_factor2" / "level1_numpy.py"
GOOD = ROOT / "solutions" / "level1_numpy.py"


def grade(klass: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(klass), "--out", str(out), "--jobs", "1", *extra],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def page_total(page: Path) -> float:
    return float(re.search(r"Total: <b>([\d.]+) /", page.read_text()).group(1))


def csv_total(out: Path, student: str) -> float:
    return float(next(r["total"] for r in csv.DictReader((out / "grades.csv").open()) if r["student"] == student))


def make_class(tmp_path: Path) -> Path:
    klass = tmp_path / "class"
    for name, source in (("alice", BROKEN), ("bob", GOOD)):
        (klass / name).mkdir(parents=True)
        shutil.copy(source, klass / name / "level1_numpy.py")
    return klass


def change_alice(klass: Path) -> None:
    time.sleep(1.1)  # (file times: a coarse clock must still see the rerun as newer)
    shutil.copy(GOOD, klass / "alice" / "level1_numpy.py")


def test_a_rerun_without_html_rewrites_the_pages_the_course_remembers(tmp_path):
    klass, out = make_class(tmp_path), tmp_path / "grades"
    grade(klass, out, "--level", "1", "--html", "--no-similarity")
    before = page_total(out / "feedback" / "alice.html")
    assert before == csv_total(out, "alice") != 12.5
    assert json.loads((out / ".kit-course.json").read_text())["html"] is True
    change_alice(klass)
    grade(klass, out, "--no-similarity")  # no --html: the course remembers it
    assert csv_total(out, "alice") == 12.5 == page_total(out / "feedback" / "alice.html")
    assert json.loads((out / "summary.json").read_text())["mean"] == 12.5
    assert (out / "summary.html").stat().st_mtime >= (out / "reports" / "alice.json").stat().st_mtime


def test_pages_a_run_does_not_rewrite_are_removed_and_named(tmp_path):
    """A course file from before --html was remembered, and a similarity report from a run with
    the pass: a rerun that writes neither removes them and says which."""
    klass, out = make_class(tmp_path), tmp_path / "grades"
    grade(klass, out, "--level", "1", "--html")
    assert (out / "similarity.html").is_file() and (out / "summary.html").is_file()
    course = json.loads((out / ".kit-course.json").read_text())
    del course["html"]  # as an older kit wrote it
    (out / ".kit-course.json").write_text(json.dumps(course))
    change_alice(klass)
    proc = grade(klass, out, "--no-similarity")
    assert csv_total(out, "alice") == 12.5
    for stale in ("feedback/alice.html", "summary.html", "similarity.html", "similarity.csv"):
        assert not (out / stale).exists(), stale
        assert stale in proc.stderr
    assert (out / "feedback" / "bob.html").is_file()  # bob's numbers did not change: his page stands
    assert page_total(out / "feedback" / "bob.html") == csv_total(out, "bob")


def test_html_asked_later_writes_every_students_page(tmp_path):
    klass, out = make_class(tmp_path), tmp_path / "grades"
    grade(klass, out, "--level", "1", "--no-similarity")
    proc = grade(klass, out, "--html", "--no-similarity")  # nothing to regrade: the pages still appear
    assert "Nothing changed" in proc.stdout
    for student in ("alice", "bob"):
        assert page_total(out / "feedback" / f"{student}.html") == csv_total(out, student)
