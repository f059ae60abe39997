"""Every release notebook, filled in with the reference code, gets full marks: the kit's own cells
(the install cell, the grade cells, the progress cell) cost no point, through `grade`, through
nbgrader and through the Gradescope bundle (issue 29, finding 1: the progress cell's
`from autograder.progress import ...` once read as autograd use at level 2)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.core import curriculum
from autograder.integrations.nbgrader.course import fill_notebook
from conftest import SEED

ROOT = Path(__file__).resolve().parent.parent
LEVELS = sorted(curriculum.LEVELS)


def filled(release_dir: Path, level: int) -> nbformat.NotebookNode:
    module = curriculum.LEVELS[level].module
    release = nbformat.read(release_dir / f"{module}.ipynb", as_version=4)
    return fill_notebook(release, (ROOT / "solutions" / f"{module}.py").read_text())


def write_filled(dest: Path, release_of) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for level in LEVELS:
        nbformat.write(filled(release_of(level), level), str(dest / f"{curriculum.LEVELS[level].module}.ipynb"))
    return dest


def kit(*args: str, cwd: Path = ROOT, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def lost_points(report: dict) -> list[str]:
    return [f"{c['level']}.{c['stage']}: {c['message']}" for c in report["checks"] if not c["passed"]]


def test_the_kits_own_imports_are_not_autograd():
    from autograder.checks.by_hand import autograd_uses

    assert autograd_uses("from autograder.progress import show_progress\n") == set()
    assert autograd_uses("from autograder.selfcheck import check, hint\nx = 1\n") == set()
    assert autograd_uses("from torch.autograd import grad\n") == {"torch.autograd"}


def test_the_progress_cell_is_left_out_of_the_graded_module():
    from autograder.core.submission import notebook_code

    for level in LEVELS:
        module = curriculum.LEVELS[level].module
        code = notebook_code((ROOT / "assignments" / f"{module}.ipynb").read_bytes())
        assert "autograder.progress" not in code, module


@pytest.mark.slow
def test_filled_release_notebooks_get_full_marks_through_grade(tmp_path):
    student = write_filled(tmp_path / "class" / "alice", lambda level: ROOT / "assignments")
    proc = kit("grade", str(student), "--format", "json", "--seed", str(SEED))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert lost_points(report) == []
    assert report["score"] == report["max_score"] == 12.5 * len(LEVELS)


@pytest.mark.slow
def test_filled_release_notebooks_get_full_marks_through_gradescope(tmp_path):
    from test_gradescope import make_tree, run_autograder

    out = tmp_path / "autograder.zip"
    proc = kit("gradescope", "build", "--out", str(out), "--seed", str(SEED))
    assert proc.returncode == 0, proc.stderr[-3000:]
    with zipfile.ZipFile(out) as zf:
        wheel = next(n for n in zf.namelist() if n.endswith(".whl"))
        with zipfile.ZipFile(zf.open(wheel)) as wz:
            wz.extractall(tmp_path / "site")
    bundle = {"zip": out, "site": tmp_path / "site"}
    files = {
        f"{curriculum.LEVELS[lv].module}.ipynb": nbformat.writes(filled(ROOT / "assignments", lv)) for lv in LEVELS
    }
    results, _, log = run_autograder(make_tree(tmp_path, bundle, files), bundle, timeout=600)
    failed = [f"{t['name']}: {t['output'][:200]}" for t in results["tests"] if t["score"] != t["max_score"]]
    assert failed == [], log[-3000:]
    assert results["score"] == 12.5 * len(LEVELS)


@pytest.mark.slow
def test_filled_release_notebooks_get_full_marks_through_nbgrader(tmp_path):
    """nbgrader's own release (generate_assignment), filled in; the official points of the
    gradebook (the isolated grader's, with or without a kernel run: --no-execute keeps this test
    within minutes) are full marks."""
    from autograder.integrations.nbgrader.course import assignment_id, gradebook_scores

    course = tmp_path / "course"
    proc = kit("nbgrader", "init", str(course), "--seed", str(SEED))
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = course / "nbgrader_config.py"
    if not sys.platform.startswith("linux") or __import__("os").geteuid() != 0:
        config.write_text(config.read_text() + "\nc.IsolatedGrades.require_isolation = False\n")
    submissions = write_filled(tmp_path / "incoming" / "alice", lambda lv: course / "release" / assignment_id(lv))
    proc = kit(
        "nbgrader", "run", str(course), "--submissions", str(submissions.parent), "--no-execute", "--no-similarity"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # one grading pass: every notebook's official grade came from the parallel pass (issue 29)
    log = next((course / ".kit-logs").glob("autograde-*.log")).read_text()
    assert log.count("(graded in nbgrader run's parallel pass)") == len(LEVELS), log[-3000:]
    for path in [course / "autograded", *(course / "autograded").rglob("*")]:  # they hold the seed
        assert path.lstat().st_mode & 0o077 == 0, path
    scores = gradebook_scores(course, "pytorch-examples")
    assert {a: s["score"] for (who, a), s in scores.items() if who == "alice"} == {
        assignment_id(lv): 12.5 for lv in LEVELS
    }, proc.stdout
