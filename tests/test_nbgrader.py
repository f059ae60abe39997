"""End to end with the real nbgrader CLI and its SQLite gradebook (issue 4).

One course (levels 1 and 3, a private seed) is created with `python -m autograder nbgrader init`;
students are added, assignments generated, submissions placed in submitted/, and `nbgrader
autograde`, `generate_feedback` and `export` run as an instructor would. The class holds the
reference, the stub, broken submissions from tests/corpus/broken/, and tampering ones (edited,
deleted and `skip-execution`-tagged test cells, monkeypatching in a solution cell, stderr output,
cells that never end). Every score in the gradebook must equal what the kit's own batch grader
(`python -m autograder grade CLASS --out OUT`) gives the same notebook, and no tampering may gain a
point. Then release/ and the feedback are searched for solutions and hidden checks, `nbgrader
validate` is run as a student would, and the single kit command `nbgrader run` grades a second
round (a folder of submissions and an LMS zip through zip_collect).

nbgrader starts a kernel per notebook and the in-kernel self-check runs every stage, so this
module takes minutes: the class is kept small, and cell and call timeouts are short.
"""

from __future__ import annotations

import copy
import csv
import html
import json
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.core import curriculum
from autograder.course import build
from autograder.integrations.nbgrader.course import assignment_id, fill_notebook, notebook_name

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("nbgrader")]  # one course for the whole file

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "broken"
SEED = 86420531  # a private course seed: it must reach neither release/ nor the feedback
CELL_TIMEOUT = 15  # seconds a cell may run in the kernel (a hang costs this, never a point)
CALL_TIMEOUT = 10.0  # the isolated grader's limit per call (the same for nbgrader and the kit)
COURSE_ID = "kit-e2e"
LEVELS = [1, 3]


def nbgrader(course: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True, timeout=1800
    )
    if ok:
        assert proc.returncode == 0, f"nbgrader {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


def kit(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True, timeout=1800
    )
    assert proc.returncode == 0, f"autograder {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


# ----------------------------------------------------------------------------- the submissions


def _code_cells(nb, kind: str):
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        is_test = bool(meta.get("grade")) and not meta.get("solution")
        if kind == "test" and is_test or kind == "solution" and meta.get("solution"):
            yield cell
        elif kind == "plain" and not meta:
            yield cell


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _imports_cell(nb):
    return next(_code_cells(nb, "plain"))


def tampered_test_cells(nb):
    """The stub, with its test cells tampered with, two by two, in the three ways nbgrader users
    know: edited to claim full points (a number is read as partial credit; one also claims 99
    points), deleted, and tagged `skip-execution` (no output reads as a pass)."""
    nb = copy.deepcopy(nb)
    tests = list(_code_cells(nb, "test"))
    assert len(tests) == 6
    for cell in tests[0:2]:
        cell.source = f"{cell.metadata.nbgrader['points']}"
    tests[1].metadata.nbgrader["points"] = 99.0
    for cell in tests[4:6]:
        cell.metadata["tags"] = ["skip-execution"]
    deleted = {id(c) for c in tests[2:4]}
    nb.cells = [c for c in nb.cells if id(c) not in deleted]
    return nb


MONKEYPATCH = {
    1: """
try:  # the kernel's self-check becomes a no-op (in the grader's sandbox there is nothing to patch)
    import autograder.selfcheck as _selfcheck
    _selfcheck.check = lambda *args, **kwargs: None
except Exception:
    pass
np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
""",
    3: """
try:
    import autograder.selfcheck as _selfcheck
    _selfcheck.check = lambda *args, **kwargs: None
except Exception:
    pass
torch.allclose = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
""",
}


def monkeypatched(nb, level: int):
    nb = copy.deepcopy(nb)
    cell = _imports_cell(nb)
    cell.source = cell.source + "\n" + MONKEYPATCH[level]
    return nb


def with_stderr(nb):
    """Correct work that writes to stderr, also from inside forward (so during the test cells)."""
    nb = copy.deepcopy(nb)
    cell = _imports_cell(nb)
    cell.source += (
        "\nimport sys\nimport warnings\nprint('student output on stderr', file=sys.stderr)\n"
        "warnings.warn('a warning from the student')\n"
    )
    forward = _cell(nb, "level1_solution_forward")
    forward.source += (
        "\n\n\n_forward_impl = forward\n\n\ndef forward(x, w1, w2):\n"
        "    print('forward was called', file=sys.stderr)\n    return _forward_impl(x, w1, w2)\n"
    )
    return nb


def never_ending(nb):
    """Correct functions, then a cell that never ends (interruptible) and one that ignores SIGINT;
    first of all, the kernel copies the reference's submission over this one."""
    nb = copy.deepcopy(nb)
    _imports_cell(nb).source += "\n" + COPY_OTHERS_WORK
    _cell(nb, "level1_solution_train").source += "\n\n\nwhile True:  # never ends\n    pass\n"
    install = build.install_cell(None)[0]  # (the first cell guarded by __main__ installs the kit)
    demo = [c for c in _code_cells(nb, "plain") if "__main__" in c.source and not c.source.startswith(install)][0]
    demo.source = (
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "while True:  # never ends, and ignores the interrupt\n    pass\n\n" + demo.source
    )
    return nb


COPY_OTHERS_WORK = """
import os as _os
import shutil as _shutil
# The kernel runs as the instructor, in autograded/<student>/<assignment>/: put the reference's
# submission in place of this one, hoping it is read after this code ran.
_course = _os.path.abspath(_os.path.join(_os.getcwd(), "..", "..", ".."))
_mine = _os.path.join(_course, "submitted", "tamper_hang", "level1", "level1_numpy.ipynb")
_theirs = _os.path.join(_course, "submitted", "reference", "level1", "level1_numpy.ipynb")
if _os.path.isfile(_theirs) and _os.path.isfile(_mine):
    _shutil.copyfile(_theirs, _mine)
"""


def build_class(course: Path) -> tuple[dict, dict]:
    """``{student: {level: notebook}}`` and, for each tampering student, the untampered base."""
    release = {
        lv: nbformat.read(course / "release" / assignment_id(lv) / notebook_name(lv), as_version=4) for lv in LEVELS
    }
    solution = {lv: (ROOT / "solutions" / f"{curriculum.LEVELS[lv].module}.py").read_text() for lv in LEVELS}
    ref = {lv: fill_notebook(release[lv], solution[lv]) for lv in LEVELS}

    def broken(case: str, lv: int):
        return fill_notebook(release[lv], (CORPUS / case / f"{curriculum.LEVELS[lv].module}.py").read_text())

    b1, b1_backward, b3 = (
        broken("l1_loss_mean", 1),
        broken("l1_backward_no_factor2", 1),
        broken("l3_train_no_zero_grad", 3),
    )
    students = {
        "reference": {1: ref[1], 3: ref[3]},
        "stub": {1: release[1], 3: release[3]},
        "broken_loss": {1: b1},
        "tamper_cells": {1: tampered_test_cells(release[1])},
        "tamper_patch": {1: monkeypatched(b1_backward, 1), 3: monkeypatched(b3, 3)},
        "tamper_stderr": {1: with_stderr(ref[1])},
        "tamper_hang": {1: never_ending(ref[1])},
    }
    bases = {  # what each tampering student would have without the tampering
        "tamper_cells": {1: release[1]},
        "tamper_patch": {1: b1_backward, 3: b3},
        "tamper_stderr": {1: ref[1]},
        "tamper_hang": {1: ref[1]},
    }
    return students, bases


def kit_batch(class_dir: Path, out: Path) -> dict:
    """The kit's own batch grader on a class directory: ``{student: report}``."""
    args = [
        "grade",
        str(class_dir),
        "--out",
        str(out),
        "--jobs",
        "2",
        "--seed",
        str(SEED),
        "--call-timeout",
        str(CALL_TIMEOUT),
        "--format",
        "json",
        "--force",
    ]
    for lv in LEVELS:
        args += ["--level", str(lv)]
    kit(*args)
    return {p.stem: json.loads(p.read_text()) for p in (out / "reports").glob("*.json")}


def kit_in_process(notebooks: dict, zygote) -> dict:
    """``{student: {level: score}}`` from the kit's grader, called in this process."""
    from autograder.integrations.nbgrader.course import grade_notebook_bytes
    from autograder.sandbox import Limits

    return {
        student: {
            lv: grade_notebook_bytes(
                nbformat.writes(nb).encode(), lv, SEED, limits=Limits(call_seconds=CALL_TIMEOUT), pool=zygote
            ).level_score(lv)[0]
            for lv, nb in nbs.items()
        }
        for student, nbs in notebooks.items()
    }


def level_score(report: dict, level: int) -> float:
    return round(sum(c["score"] for c in report["checks"] if c["level"] == level), 6)


def stage_score(report: dict, level: int, stage: str) -> float:
    return round(sum(c["score"] for c in report["checks"] if c["level"] == level and c["stage"] == stage), 6)


def gradebook(course: Path) -> dict:
    """``{(student, level): (score, needs_manual, {grade_id: auto_score})}`` from gradebook.db."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        for lv in LEVELS:
            for sub in gb.assignment_submissions(assignment_id(lv)):
                grades = {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades}
                out[(sub.student.id, lv)] = (float(sub.score), bool(sub.needs_manual_grade), grades)
    return out


# ----------------------------------------------------------------------------- the run


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """Create the course, add the students, generate the assignments."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    kit(
        "nbgrader",
        "init",
        str(course),
        "--course-id",
        COURSE_ID,
        "--levels",
        *map(str, LEVELS),
        "--no-generate",
        "--seed",
        str(SEED),
        "--cell-timeout",
        str(CELL_TIMEOUT),
        "--call-timeout",
        str(CALL_TIMEOUT),
    )
    roster = course.parent / "students.csv"
    roster.write_text(
        "id,last_name,first_name,email\n"
        + "".join(f"{s},{s.split('_')[0].title()},{s},{s}@example.org\n" for s in STUDENTS)
    )
    nbgrader(course, "db", "student", "import", str(roster))
    # every level in one command, as `nbgrader init` does (nbgrader reads the name as a pattern)
    nbgrader(course, "generate_assignment", "level[" + "".join(map(str, LEVELS)) + "]", "--force")
    assert all((course / "release" / assignment_id(lv) / notebook_name(lv)).is_file() for lv in LEVELS)
    return course


STUDENTS = ["reference", "stub", "broken_loss", "tamper_cells", "tamper_patch", "tamper_stderr", "tamper_hang"]


@pytest.fixture(scope="module")
def graded(course: Path, tmp_path_factory, zygote) -> dict:
    """Place the submissions, autograde, feedback, export; grade the same notebooks with the kit."""
    students, bases = build_class(course)
    assert sorted(students) == sorted(STUDENTS)
    # place the submissions as nbgrader's collect would: submitted/<student>/<assignment>/
    class_dir = tmp_path_factory.mktemp("class")
    for student, notebooks in students.items():
        for lv, nb in notebooks.items():
            dest = course / "submitted" / student / assignment_id(lv) / notebook_name(lv)
            dest.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(dest))
            (class_dir / student).mkdir(exist_ok=True)
            (class_dir / student / notebook_name(lv)).write_bytes(dest.read_bytes())
    (course / "submitted" / "reference" / "level1" / "timestamp.txt").write_text("2026-02-01 10:00:00.000000 UTC")

    t0 = time.monotonic()
    # each assignment that has submissions, as an instructor runs them (one nbgrader command each)
    handed_in = sorted({lv for notebooks in students.values() for lv in notebooks})
    autograde = {lv: nbgrader(course, "autograde", assignment_id(lv), ok=False) for lv in handed_in}
    t1 = time.monotonic()
    feedback = {lv: nbgrader(course, "generate_feedback", assignment_id(lv)) for lv in handed_in}
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    t2 = time.monotonic()
    kit_reports = kit_batch(class_dir, tmp_path_factory.mktemp("kit-out"))
    t3 = time.monotonic()
    print(
        f"\nnbgrader autograde: {t1 - t0:.0f} s for {sum(len(n) for n in students.values())} notebooks; "
        f"feedback + export {t2 - t1:.0f} s; kit batch grader {t3 - t2:.0f} s",
        file=sys.stderr,
    )
    return dict(
        students=students,
        autograde=autograde,
        feedback=feedback,
        gradebook=gradebook(course),
        kit=kit_reports,
        kit_bases=kit_in_process(bases, zygote),
    )


def test_autograde_grades_every_submission(graded):
    for lv, proc in graded["autograde"].items():
        assert proc.returncode == 0, f"autograde level{lv}:\n{proc.stderr[-6000:]}"
    expected = {(s, lv) for s, nbs in graded["students"].items() for lv in nbs}
    got = {k for k, (_, _, grades) in graded["gradebook"].items() if any(v is not None for v in grades.values())}
    assert got == expected
    for key in expected:
        score, needs_manual, grades = graded["gradebook"][key]
        assert not needs_manual, key
        assert set(grades) == {f"level{key[1]}_{st}" for st in curriculum.stages_of(key[1])}, key


def test_gradebook_equals_the_kits_grader(graded):
    mismatches = []
    for (student, lv), (score, _, grades) in sorted(graded["gradebook"].items()):
        report = graded["kit"][student]
        assert not report["errors"], (student, report["errors"])
        if abs(score - level_score(report, lv)) > 1e-6:
            mismatches.append((student, lv, score, level_score(report, lv)))
        for grade_id, auto in grades.items():
            stage = grade_id.split("_", 1)[1]
            assert type(auto) is float, (student, grade_id, auto)
            if abs(auto - stage_score(report, lv, stage)) > 1e-6:
                mismatches.append((student, grade_id, auto, stage_score(report, lv, stage)))
    assert mismatches == []


def test_scores_are_what_each_submission_deserves(graded):
    scores = {k: v[0] for k, v in graded["gradebook"].items()}
    assert scores[("reference", 1)] == scores[("reference", 3)] == 12.5
    assert scores[("stub", 1)] == scores[("stub", 3)] == 0.0
    assert 0 < scores[("broken_loss", 1)] < 12.5
    assert scores[("tamper_stderr", 1)] == 12.5  # stderr (warnings included) costs nothing


def test_no_tampering_gains_a_point(graded):
    scores = {k: v[0] for k, v in graded["gradebook"].items()}
    for student, levels in graded["kit_bases"].items():
        for lv, base in levels.items():
            assert scores[(student, lv)] <= base + 1e-9, (student, lv, scores[(student, lv)], base)
    assert scores[("tamper_cells", 1)] == 0.0
    assert set(graded["gradebook"][("tamper_cells", 1)][2].values()) == {0.0}  # every test cell
    assert scores[("tamper_patch", 1)] < 12.5 and scores[("tamper_patch", 3)] < 12.5
    assert scores[("tamper_hang", 1)] == 0.0  # its module never finishes importing


def test_a_kernel_that_rewrites_its_submission_gains_nothing(course, graded):
    """tamper_hang's kernel did copy the reference over its own submission: too late, the grade
    had been taken from the file before the kernel started."""
    mine = course / "submitted" / "tamper_hang" / "level1" / "level1_numpy.ipynb"
    assert mine.read_bytes() == (course / "submitted" / "reference" / "level1" / "level1_numpy.ipynb").read_bytes()
    assert graded["gradebook"][("tamper_hang", 1)][0] == 0.0


def _autograded(course: Path, student: str, lv: int):
    return nbformat.read(course / "autograded" / student / assignment_id(lv) / notebook_name(lv), as_version=4)


def test_student_code_ran_in_the_kernel_and_test_cells_show_the_official_grade(course, graded):
    nb = _autograded(course, "reference", 1)
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")  # the kernel ran every cell
    for cell in _code_cells(nb, "test"):
        assert "### BEGIN HIDDEN TESTS" in cell.source  # restored from the gradebook for autograding
        assert [o.output_type for o in cell.outputs] == ["stream", "execute_result"]
        assert cell.outputs[1].data["text/plain"] == repr(float(cell.metadata.nbgrader["points"]))
    hang = _autograded(course, "tamper_hang", 1)
    errors = [
        o.ename for c in hang.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert "CellTimeoutError" in errors
    tampered = _autograded(course, "tamper_cells", 1)
    assert len(list(_code_cells(tampered, "test"))) == len(curriculum.stages_of(1))  # deleted ones put back


def test_export_csv_matches_the_gradebook(course, graded):
    rows = list(csv.DictReader((course / "grades.csv").open()))
    for row in rows:
        key = (row["student_id"], int(row["assignment"].removeprefix("level")))
        if key in graded["gradebook"]:
            assert float(row["score"]) == pytest.approx(graded["gradebook"][key][0]), row
        else:
            assert float(row["score"]) == 0.0, row  # no submission
    assert {(r["student_id"], r["assignment"]) for r in rows} >= {(s, f"level{lv}") for s, lv in graded["gradebook"]}


def test_lms_imports_and_similarity_from_the_course(course, graded, tmp_path):
    """``python -m autograder lms COURSE`` writes the Canvas and Moodle imports from the gradebook
    (read back by the documented-format parsers), ``similarity COURSE`` compares submitted/."""
    from lms_import import canvas_import, moodle_import

    roster = tmp_path / "roster.csv"
    roster.write_text(
        "directory,student_id,name,section\n"
        + "".join(f'{s},{1000 + i},"{s.title()}, Student",A\n' for i, s in enumerate(STUDENTS))
        + 'absent,1999,"Absent, Student",A\n'
    )
    kit("lms", str(course), "--roster", str(roster), "--out", str(tmp_path), "--lms-columns", "total")
    gradebook_totals = {}
    for (student, _), (score, _, _) in graded["gradebook"].items():
        gradebook_totals[student] = gradebook_totals.get(student, 0.0) + score
    _, canvas = canvas_import((tmp_path / "canvas.csv").read_text())
    moodle = moodle_import((tmp_path / "moodle.csv").read_text(), "ID number")
    for i, s in enumerate(STUDENTS):
        assert canvas[("SIS User ID", str(1000 + i))]["PyTorch kit total"] == pytest.approx(gradebook_totals[s])
        assert moodle[str(1000 + i)]["PyTorch kit total"] == pytest.approx(gradebook_totals[s])
    assert canvas[("SIS User ID", "1999")] == {"PyTorch kit total": None}

    kit("similarity", str(course), "--out", str(tmp_path / "sim"))
    rows = list(csv.DictReader((tmp_path / "sim" / "similarity.csv").open()))
    assert rows and not [r for r in rows if "stub" in (r["student_a"], r["student_b"])]
    assert any(
        {r["student_a"], r["student_b"]} == {"reference", "tamper_stderr"} and r["flagged"] == "yes" for r in rows
    )


def _solution_only_lines(level: int) -> set[str]:
    solution = build.load_solution(level)
    inside, in_region = set(), [False] * len(solution.lines)
    for region in solution.regions:
        for i in range(region.begin, region.end + 1):
            in_region[i] = True
        inside.update(line.strip() for line in solution.lines[region.begin + 1 : region.end])
    outside = {line.strip() for line, flag in zip(solution.lines, in_region) if not flag}
    return {line for line in inside - outside if line and not line.startswith("#")}


def _html_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


HIDDEN_MARKERS = ["BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "official_grade(", "IsolatedGrades", str(SEED)]


def test_release_and_feedback_hold_no_solutions_nor_hidden_checks(course, graded):
    release = {p: p.read_text(encoding="utf-8") for p in (course / "release").rglob("*") if p.is_file()}
    release_code = {
        p: "\n".join(c.source for c in nbformat.reads(t, as_version=4).cells)
        for p, t in release.items()
        if p.suffix == ".ipynb"
    }
    feedback = {p: _html_text(p) for p in (course / "feedback").rglob("*.html")}
    assert len(release_code) == len(LEVELS)
    # each level's hints ship beside its notebook (hints on by default): that level's ladders only
    hints = {p: json.loads(t) for p, t in release.items() if p.name == "hints.json"}
    assert sorted(p.parent.name for p in hints) == [assignment_id(lv) for lv in LEVELS]
    assert len(release) == 2 * len(LEVELS)
    for path, document in hints.items():
        lv = int(path.parent.name.removeprefix("level"))
        assert document["enabled"] is True and list(document["levels"]) == [str(lv)]
        assert set(document["levels"][str(lv)]) == set(curriculum.stages_of(lv))
        # the very ladders that tests/test_build.py proves give no region away
        assert document == build.build_hints([lv]), path
    assert len(feedback) == sum(len(nbs) for nbs in graded["students"].values())
    for texts in (release, feedback):
        for path, text in texts.items():
            leaked = [m for m in HIDDEN_MARKERS if m in text]
            assert not leaked, f"{path} shows hidden checks: {leaked}"
    stub_feedback = {p: t for p, t in feedback.items() if "/stub/" in p.as_posix()}
    assert len(stub_feedback) == len(LEVELS)
    for texts in (release_code, stub_feedback):
        for path, text in texts.items():
            lv = int(re.search(r"level(\d)", path.name).group(1))
            lines = {line.strip() for line in text.splitlines()}
            leaked = _solution_only_lines(lv) & lines
            assert not leaked, f"{path} contains solution code: {sorted(leaked)[:5]}"
    # the check above can see them: the autograded copies (instructor only) hold the hidden region
    assert "BEGIN HIDDEN TESTS" in (course / "autograded" / "stub" / "level1" / "level1_numpy.ipynb").read_text()
    ref_feedback = _html_text(course / "feedback" / "reference" / "level3" / "level3_autograd.html")
    assert "Official grade, level 3 stage train: 3.5 / 3.5" in ref_feedback


def test_hints_switched_off_for_a_course_leave_none_in_its_release(tmp_path):
    from autograder.course.hints import HINTS_FORMAT
    from autograder.learner import hints

    course = tmp_path / "course"
    kit("nbgrader", "init", str(course), "--levels", "3", "--no-hints", "--seed", str(SEED))
    released = course / "release" / "level3"
    assert (released / "level3_autograd.ipynb").is_file()
    document = json.loads((released / "hints.json").read_text())
    assert document == {"format": HINTS_FORMAT, "enabled": False, "levels": {}}
    with pytest.raises(hints.NoHints, match="switched off"):  # not even the kit's own copy
        hints.next_hint(3, "forward", released, record=False)


def test_validate_fails_on_the_stub_and_passes_when_completed(course, tmp_path):
    release = nbformat.read(course / "release" / "level3" / "level3_autograd.ipynb", as_version=4)
    nbformat.write(release, str(tmp_path / "stub.ipynb"))
    solution = (ROOT / "solutions" / "level3_autograd.py").read_text()
    nbformat.write(fill_notebook(release, solution), str(tmp_path / "done.ipynb"))
    stub = nbgrader(tmp_path, "validate", "stub.ipynb", ok=False)
    done = nbgrader(tmp_path, "validate", "done.ipynb", ok=False)
    assert "VALIDATION FAILED" in stub.stdout + stub.stderr
    out = done.stdout + done.stderr
    assert "Success! Your notebook passes all the tests." in out, out[-3000:]
    assert "cannot be converted" not in out  # test cells display no value nbgrader would misread


def test_run_grades_a_new_round_in_one_command(course, graded, tmp_path, zygote):
    """The single kit command: a folder of submissions (kit layout) and an LMS zip (zip_collect),
    graded without a kernel (--no-execute)."""
    from autograder.integrations.nbgrader.course import grade_notebook_bytes
    from autograder.sandbox import Limits

    release = {
        lv: nbformat.read(course / "release" / assignment_id(lv) / notebook_name(lv), as_version=4) for lv in LEVELS
    }
    late = fill_notebook(release[3], (CORPUS / "l3_loss_mean" / "level3_autograd.py").read_text())
    folder = tmp_path / "round2"
    (folder / "latecomer").mkdir(parents=True)
    nbformat.write(late, str(folder / "latecomer" / "level3_autograd.ipynb"))
    # an unchanged resubmission is not graded again
    (folder / "stub").mkdir()
    (folder / "stub" / "level3_autograd.ipynb").write_bytes(
        (course / "submitted" / "stub" / "level3" / "level3_autograd.ipynb").read_bytes()
    )
    lms_nb = fill_notebook(release[1], (CORPUS / "l1_step_rebinds" / "level1_numpy.py").read_text())
    lms = tmp_path / "lms" / "level1"
    lms.mkdir(parents=True)
    with zipfile.ZipFile(lms / "submissions.zip", "w") as z:
        z.writestr("level1_lmsstudent_attempt_2026-02-01-10-00-00_level1_numpy.ipynb", nbformat.writes(lms_nb))
    before = (course / "autograded" / "stub" / "level3" / "level3_autograd.ipynb").stat().st_mtime_ns

    # --no-execute: no kernel at all (the hardened mode for a shared server), the same grades
    proc = kit(
        "nbgrader", "run", str(course), "--submissions", str(folder), "--lms", str(tmp_path / "lms"), "--no-execute"
    )
    assert "zip_collect level1" in proc.stderr
    after = (course / "autograded" / "stub" / "level3" / "level3_autograd.ipynb").stat().st_mtime_ns
    assert before == after
    assert (course / "submitted" / "lmsstudent" / "level1" / "timestamp.txt").is_file()
    scores = gradebook(course)
    limits = Limits(call_seconds=CALL_TIMEOUT)
    for student, lv, nb in (("latecomer", 3, late), ("lmsstudent", 1, lms_nb)):
        raw = (course / "submitted" / student / assignment_id(lv) / notebook_name(lv)).read_bytes()
        assert nbformat.reads(raw.decode(), as_version=4).cells[3].source == nb.cells[3].source
        official = grade_notebook_bytes(raw, lv, SEED, limits=limits, pool=zygote)
        assert scores[(student, lv)][0] == pytest.approx(official.level_score(lv)[0], abs=1e-6)
        assert 0 < scores[(student, lv)][0] < 12.5
        assert (course / "feedback" / student / assignment_id(lv) / f"{curriculum.LEVELS[lv].module}.html").is_file()
        graded_nb = _autograded(course, student, lv)
        assert not any(c.get("outputs") for c in graded_nb.cells if not c.metadata.get("nbgrader", {}).get("grade"))
    rows = {
        (r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader((course / "grades.csv").open())
    }
    assert rows[("latecomer", "level3")] == pytest.approx(scores[("latecomer", 3)][0])
    assert rows[("reference", "level1")] == 12.5
