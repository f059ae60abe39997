"""A course without hints (`nbgrader init --no-hints`) points no student to `hint`: not in the
stubs, not in the notebook's text, not in the grade cells, not in the self-check's messages
(issue 29: the release stubs still said "stuck? hint(3, 'forward')")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.core import curriculum
from autograder.course import build, hints

ROOT = Path(__file__).resolve().parent.parent


def hint_mentions(nb) -> list[str]:
    return [c.source for c in nb.cells if "hint(" in c.source or "stuck?" in c.source.lower()]


@pytest.mark.parametrize("level", sorted(curriculum.LEVELS))
def test_a_notebook_built_without_hints_mentions_none(level):
    for with_solutions in (False, True):
        assert hint_mentions(build.build_notebook(level, with_solutions, hints=False)) == []
    assert hint_mentions(build.build_notebook(level, False))  # (the default build has them)


def test_the_self_check_does_not_suggest_hint_where_hints_are_off(tmp_path, monkeypatch):
    from autograder.core.report import CheckResult, Report
    from autograder.learner.selfcheck import html_panel

    report = Report(seed=1, levels=[3], submission="x")
    report.checks.append(CheckResult("3.forward.values", 3, "forward", "forward", 0.0, 2.0, False, "wrong"))
    monkeypatch.chdir(tmp_path)
    assert "Stuck?" in html_panel(report, "forward")
    (tmp_path / hints.HINTS_FILE).write_text(json.dumps(hints.hints_document(None)))
    assert hints.switched_off(tmp_path)
    assert "Stuck?" not in html_panel(report, "forward") and "hint(" not in html_panel(report, "forward")


@pytest.mark.slow
def test_a_no_hints_course_releases_stubs_without_hint(tmp_path):
    course = tmp_path / "course"
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "nbgrader", "init", str(course), "--levels", "3", "--no-hints"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    released = nbformat.read(course / "release" / "level3" / "level3_autograd.ipynb", as_version=4)
    assert any("raise NotImplementedError" in c.source for c in released.cells)
    assert hint_mentions(released) == []
