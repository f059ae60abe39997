"""The instructor's day without surprises (issue 20): secrets stay secret, every student's work is
found wherever they put it, the class summary counts attempted work, and the pages say what they show.

Fast tests drive the pieces directly; the ones that grade for real are few and small (level 1).
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.core.report import CheckResult, Report, write_atomic
from autograder.core.submission import locate, read_submission
from autograder.instructor import course_file
from autograder.instructor.batch import Student, class_csv, find_students, summarize, summary_markdown

ROOT = Path(__file__).resolve().parent.parent
LEVEL1 = (ROOT / "solutions" / "level1_numpy.py").read_text()
STUB1 = (ROOT / "assignments" / "level1_numpy.py").read_text()


def kit(*args, cwd=ROOT, env=None):
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=600,
    )


# ----------------------------------------------------------------- 2. finding the files
def test_files_in_a_subfolder_or_a_zip_are_found(tmp_path):
    sub = tmp_path / "alice"
    (sub / "work" / "deep").mkdir(parents=True)
    (sub / "work" / "deep" / "level1_numpy.py").write_text(LEVEL1)
    with zipfile.ZipFile(sub / "hand-in.zip", "w") as zf:
        zf.writestr("hw/level3_autograd.py", "x = 3\n")
    (sub / ".ipynb_checkpoints").mkdir()
    (sub / ".ipynb_checkpoints" / "level2_tensors.py").write_text("old = 1\n")  # an editor's copy: not searched
    sources = read_submission(sub, [1, 2, 3])
    assert sources[1].source == LEVEL1 and sources[1].where == "work/deep/level1_numpy.py"
    assert sources[3].source == "x = 3\n" and sources[3].where == "hand-in.zip!hw/level3_autograd.py"
    assert sources[2].source is None and "missing" in sources[2].problem
    assert str(tmp_path) not in sources[2].problem  # no path of the instructor's machine in a message


def test_a_zip_can_stand_for_the_folder(tmp_path):
    z = tmp_path / "bob.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("bob/level1_numpy.py", LEVEL1)
    assert read_submission(z, [1])[1].source == LEVEL1
    assert [s.name for s in find_students([tmp_path])] == ["bob"]


def test_two_different_copies_are_ambiguous_never_a_silent_choice(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "level1_numpy.py").write_text(LEVEL1)
    (tmp_path / "b" / "level1_numpy.py").write_text(STUB1)
    found = locate(tmp_path, [1])
    assert (
        1 not in found.files
        and "a/level1_numpy.py" in found.problems[1]
        and "b/level1_numpy.py" in found.problems[1]
        and "keep one copy" in found.problems[1]
    )
    assert "keep one copy" in read_submission(tmp_path, [1])[1].problem
    (tmp_path / "b" / "level1_numpy.py").write_text(LEVEL1)  # the same content twice: one file
    assert locate(tmp_path, [1]).files[1].data == LEVEL1.encode()
    (tmp_path / "level1_numpy.py").write_text(STUB1)  # a shallower copy wins, the others are named
    found = locate(tmp_path, [1])
    assert found.files[1].where == "level1_numpy.py" and any("ignored a/level1_numpy.py" in n for n in found.notes)


def test_nbgrader_collection_finds_notebooks_anywhere(tmp_path):
    from autograder.integrations.nbgrader.course import find_submissions

    (tmp_path / "carol" / "my stuff").mkdir(parents=True)
    (tmp_path / "carol" / "my stuff" / "level1_numpy.ipynb").write_text('{"cells": []}')
    with zipfile.ZipFile(tmp_path / "carol" / "l3.zip", "w") as zf:
        zf.writestr("x/level3_autograd.ipynb", '{"cells": [1]}')
    found, _notes = find_submissions(tmp_path, [1, 3])
    assert found[("carol", 1)][0] == b'{"cells": []}' and found[("carol", 3)][0] == b'{"cells": [1]}'


def test_grade_dir_takes_a_single_subfolder_as_one_submission(tmp_path):
    """The documented local recheck of a Gradescope download: files under submission/hw/ are one
    student's, not a class whose student is "hw"."""
    from autograder.cli import is_class

    (tmp_path / "submission" / "hw").mkdir(parents=True)
    (tmp_path / "submission" / "hw" / "level1_numpy.py").write_text(LEVEL1)
    assert not is_class(tmp_path / "submission")
    (tmp_path / "submission" / "other").mkdir()
    (tmp_path / "submission" / "other" / "level1_numpy.py").write_text(LEVEL1)
    assert is_class(tmp_path / "submission")


# ----------------------------------------------------------------- 1. the seed is remembered, and secret
def test_the_course_file_remembers_the_seed_and_refuses_another(tmp_path):
    out = tmp_path / "grades"
    defaults = {"seed": 20240601, "levels": [1], "device": "cpu", "call_timeout": 60.0, "timeout": 600.0}
    settings, _ = course_file.settle(out, {"seed": 914053}, defaults)
    assert settings["seed"] == 914053
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(course_file.path_of(out)).st_mode) == 0o600
    settings, notes = course_file.settle(out, {}, defaults)  # a rerun that forgot --seed
    assert settings["seed"] == 914053 and any("914053" in n for n in notes)
    with pytest.raises(course_file.SeedChanged, match="--force"):
        course_file.settle(out, {"seed": 1}, defaults)
    assert course_file.settle(out, {"seed": 1}, defaults, force=True)[0]["seed"] == 1
    assert course_file.load(out)["seed"] == 1


def test_a_class_rerun_with_another_seed_is_refused(tmp_path):
    (tmp_path / "class" / "alice").mkdir(parents=True)
    out = tmp_path / "grades"
    course_file.settle(out, {"seed": 914053, "levels": [1]}, {"device": "cpu", "call_timeout": 60.0, "timeout": 600.0})
    proc = kit("grade", str(tmp_path / "class"), "--out", str(out), "--seed", "5", "--level", "1")
    assert proc.returncode == 2 and "914053" in proc.stderr and "--force" in proc.stderr
    assert not (out / "grades.csv").exists()


def test_seed_is_in_the_instructors_files_only():
    rows = [{"student": "alice", "level1": 12.5, "total": 12.5, "max": 12.5, "errors": 0}]
    table = list(csv.DictReader(io.StringIO(class_csv(rows, [1], 914053))))
    assert table[0]["seed"] == "914053"


def test_feedback_page_has_no_seed_and_no_instructor_path(tmp_path):
    from autograder.render.html import feedback_page

    sub = tmp_path / "course" / "submissions" / "alice"
    report = Report(seed=914053, levels=[1], submission=str(sub), submission_hash="ab" * 32)
    report.checks.append(
        CheckResult(
            "1.forward.values",
            1,
            "forward",
            "forward values",
            0.0,
            2.0,
            False,
            f"failed in {sub}/level1_numpy.py line 3 and {ROOT}/autograder/x.py",
        )
    )
    report.level_notes[1] = f"something in {sub}"
    page = feedback_page(report, "Feedback for alice")
    assert "914053" not in page
    assert str(tmp_path) not in page and str(ROOT) not in page and "level1_numpy.py line 3" in page


@pytest.mark.slow
def test_nbgrader_secrets_are_private(tmp_path):
    pytest.importorskip("nbgrader")
    from autograder.integrations.nbgrader.course import init_course

    course = tmp_path / "course"
    init_course(course, levels=[1], seed=914053, generate=False)
    for name in ("nbgrader_config.py", "gradebook.db", course_file.NAME):
        assert stat.S_IMODE(os.stat(course / name).st_mode) & 0o077 == 0, name
    assert course_file.load(course)["seed"] == 914053


# ----------------------------------------------------------------- 8. shared output is group-readable
@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_outputs_follow_the_umask_and_secrets_stay_private(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "feedback.html", "x")
        write_atomic(tmp_path / "secret", "x", private=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "feedback.html").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "secret").st_mode) == 0o600


# ----------------------------------------------------------------- 4. the summary counts attempted work
def _report(level_checks: list[tuple[str, bool, str]], note: str | None = None) -> dict:
    r = Report(seed=1, levels=[4])
    for cid, passed, msg in level_checks:
        r.checks.append(CheckResult(cid, 4, cid.split(".")[1], cid, 1.0 if passed else 0.0, 1.0, passed, msg))
    if note:
        r.level_notes[4] = note
    return r.as_json()


def test_summary_counts_only_attempted_work(tmp_path):
    ids = ["4.forward.myrelu", "4.train.converges"]
    reports = {
        "done": _report([(i, True, "") for i in ids]),
        "stub": _report([(i, False, "not implemented yet: MyReLU.forward") for i in ids]),
        "missing": _report([(i, False, "not implemented yet") for i in ids], note="level4_function.py is missing"),
        "wrong": _report([(ids[0], True, ""), (ids[1], False, "the loss did not fall")]),
    }
    students = []
    for name, data in reports.items():
        write_atomic(tmp_path / f"{name}.json", json.dumps(data))
        students.append(Student(name, tmp_path))
    summary = summarize(students, tmp_path, [4], seed=7)
    assert summary["per_level"]["4"] == {"handed_in": 3, "missing": 1, "stub_only": 1, "attempted": 2, "full_marks": 1}
    failed = {m["check"]: (m["students"], m["attempted"]) for m in summary["most_failed"]}
    assert failed == {"4.train.converges": (1, 2)}  # the stub and the missing file are no failures
    md = summary_markdown({**summary, "diagnoses": {"4|mean_loss": 1}})
    assert "| 4 | 2 | 1 | 1 | 1 |" in md and "mean loss" in md and "seed 7" in md


# ----------------------------------------------------------------- 5. the charts say what they compare
def test_level8_chart_has_a_band_and_every_chart_says_what_it_shows():
    from autograder.render.html import curve_caption, loss_plot

    band = [[10.0 / (t + 1) * (1 + d / 4) for d in range(4)] for t in range(20)]
    curve = {"reference": [b[1] for b in band], "student": [b[3] for b in band], "band": band}
    assert loss_plot(8, curve) and "4 possible depths" in curve_caption(8, curve)
    mean = {"reference": [10.0, 5.0], "student": [0.1, 0.05], "student_scale": "mean", "student_factor": 100.0}
    assert "mean" in curve_caption(5, mean) and "sum" in curve_caption(5, mean)
    assert "sum of squared errors" in curve_caption(5, {"reference": [1.0], "student": [1.0]})


def test_level8_reference_band_holds_the_reference_losses():
    import torch

    from autograder.checks.loops import convergence_problem
    from autograder.core import reference as ref

    p = convergence_problem(8, 3, torch.float64)
    run = ref.simulate(
        8, p["params0"], p["x"], p["y"], p["opt"], 30, ks=ref.depths(p["python_seed"], 30), depth_band=True
    )
    assert len(run.band) == 30
    assert all(min(b) - 1e-9 <= loss <= max(b) + 1e-9 for b, loss in zip(run.band, run.losses))


def test_the_three_summary_formats_hold_the_same_content(tmp_path):
    from autograder.render.html import class_page

    write_atomic(tmp_path / "wrong.json", json.dumps(_report([("4.train.converges", False, "did not fall")])))
    summary = summarize([Student("wrong", tmp_path)], tmp_path, [4], seed=7)
    summary["diagnoses"] = {"4|mean_loss": 1}
    md, page = summary_markdown(summary), class_page(summary, {(4, "mean_loss"): 1})
    for text in (md, page):
        assert "4.train.converges" in text and "mean loss" in text and "stub only" in text and "attempted" in text


# ----------------------------------------------------------------- 7 and 6. nbgrader release and reruns
@pytest.mark.slow
def test_release_notebooks_keep_the_stubs_text_and_reruns_regenerate_nothing(tmp_path, monkeypatch):
    """Also: every level is generated by one nbgrader command (its start-up once), which gives the
    release and the gradebook that one command per level gives."""
    pytest.importorskip("nbgrader")
    import nbformat

    from autograder.course.build import build_notebook
    from autograder.integrations.nbgrader import new_course
    from autograder.integrations.nbgrader.course import generate_changed, init_course

    commands = []
    real = new_course.nbgrader
    monkeypatch.setattr(new_course, "nbgrader", lambda course, *a, **k: commands.append(a) or real(course, *a, **k))
    course = tmp_path / "course"
    init_course(course, levels=[1, 3], seed=914053)
    assert commands == [("generate_assignment", "level[13]", "--force")]
    release = nbformat.read(course / "release" / "level3" / "level3_autograd.ipynb", as_version=4)
    stub = build_notebook(3, with_solutions=False)
    want = [c.source for c in stub.cells if c.metadata.get("nbgrader", {}).get("solution")]
    got = [c.source for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert got == want and any('NotImplementedError("forward: ' in s for s in got)
    # the same release and gradebook as nbgrader's command for each level alone
    one_command = _release_and_gradebook(course, [1, 3])
    for level in (1, 3):
        real(course, "generate_assignment", f"level{level}", "--force", check=True)
    assert _release_and_gradebook(course, [1, 3]) == one_command
    assert generate_changed(course, [1, 3]) == []  # nothing changed: nothing regenerated
    src = course / "source" / "level3" / "level3_autograd.ipynb"
    src.write_text(src.read_text().replace("Level 3", "Level 3 (edited)", 1))
    level1 = (course / "release" / "level1" / "level1_numpy.ipynb").stat().st_mtime_ns
    commands.clear()
    assert generate_changed(course, [1, 3]) == [3]  # the edited level alone
    assert commands == [("generate_assignment", "level3", "--force")]
    assert (course / "release" / "level1" / "level1_numpy.ipynb").stat().st_mtime_ns == level1
    assert "(edited)" in (course / "release" / "level3" / "level3_autograd.ipynb").read_text()


def _release_and_gradebook(course: Path, levels: list[int]) -> dict:
    """What generation leaves: each level's release notebook and the gradebook's record of it (its
    cells, points and checksums)."""
    from nbgrader.api import Gradebook

    from autograder.integrations.nbgrader.notebooks import assignment_id, notebook_name

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for level in levels:
            a = assignment_id(level)
            notebooks = gb.find_assignment(a).notebooks
            out[a] = (
                (course / "release" / a / notebook_name(level)).read_bytes(),
                sorted((nb.name, c.name, c.max_score, c.cell_type) for nb in notebooks for c in nb.grade_cells),
                sorted((nb.name, c.name, c.checksum, c.source) for nb in notebooks for c in nb.source_cells),
            )
    return out
