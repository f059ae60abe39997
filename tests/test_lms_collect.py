"""LMS downloads (issue 20): the real download names of Canvas, Moodle and Blackboard are filed under
the roster's student ids, and nothing is guessed from the parts of a name."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.instructor.lms_collect import collect, read_roster
from autograder.instructor.roster import parse_roster

ROOT = Path(__file__).resolve().parent.parent
NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def test_canvas_download_by_user_id(tmp_path):
    roster = tmp_path / "gradebook.csv"  # Canvas's own gradebook export
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Level 3 (1234)\n"
        "    Points Possible,,,,,12.5\n"
        '"Doe, John",12345,S1,jdoe,A,\n"Doe, Jane",12346,S2,jane.doe,A,\n'
    )
    z = tmp_path / "submissions.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("doejohn_12345_6789012_level3_autograd.ipynb", NB)
        zf.writestr("doejane_LATE_12346_6789013_level3_autograd-1.ipynb", NB)  # late, resubmitted
        zf.writestr("doejim_99999_6789014_level3_autograd.ipynb", NB)  # not on the roster
    result = collect(z, read_roster(roster), tmp_path / "out")
    assert (tmp_path / "out" / "jdoe" / "level3_autograd.ipynb").read_bytes() == NB
    assert (tmp_path / "out" / "jane.doe" / "level3_autograd.ipynb").is_file()
    assert not (tmp_path / "out" / "doe").exists() and not (tmp_path / "out" / "doejim").exists()
    assert result.lms == {"Canvas"} and any("99999 is not on the roster" in n for n in result.not_collected)


def test_moodle_download_folders_and_flat_files(tmp_path):
    roster = tmp_path / "worksheet.csv"  # Moodle's grading worksheet
    roster.write_text(
        "Identifier,Full name,Email address,Status,Grade\n"
        "Participant 701,John Doe,john@uni.edu,Submitted,\nParticipant 702,Ann Lee,ann@uni.edu,,\n"
    )
    dl = tmp_path / "download"
    (dl / "John Doe_701_assignsubmission_file_" / "hw").mkdir(parents=True)
    (dl / "John Doe_701_assignsubmission_file_" / "hw" / "level1_numpy.py").write_text("x = 1\n")
    (dl / "Ann Lee_702_assignsubmission_file_level1_numpy.py").write_text("y = 1\n")
    result = collect(dl, read_roster(roster), tmp_path / "out")
    # folders by the participant id, never the e-mail address (issue 29)
    assert (tmp_path / "out" / "701" / "hw" / "level1_numpy.py").read_text() == "x = 1\n"
    assert (tmp_path / "out" / "702" / "level1_numpy.py").read_text() == "y = 1\n"
    assert result.lms == {"Moodle"} and not result.not_collected


def test_blackboard_download_by_username_never_a_name_part(tmp_path):
    roster = tmp_path / "roster.csv"  # the kit's roster (autograder/instructor/roster.py): folders named by username
    roster.write_text("directory,student_id,name,section\njdoe,,John Doe,A\nj_doe,,Jim Doe,A\n")
    dl = tmp_path / "bb"
    dl.mkdir()
    (dl / "Level 3_jdoe_attempt_2026-01-05-10-11-12_level3_autograd.ipynb").write_bytes(NB)
    (dl / "Level 3_jdoe_attempt_2026-01-05-10-11-12.txt").write_text("Name: John Doe\n")
    (dl / "level3_john_doe_attempt_2026-01-05-10-11-13_level3_autograd.ipynb").write_bytes(NB)
    result = collect(dl, read_roster(roster), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["jdoe"]  # never "doe" from "john_doe"
    assert any("john_doe" in n and "no roster username" in n for n in result.not_collected)
    both = tmp_path / "bb2"
    both.mkdir()
    (both / "Level 3_x_jdoe_attempt_2026-01-05-10-11-12_level3_autograd.ipynb").write_bytes(NB)
    two = parse_roster("directory,student_id,name,section\njdoe,,John Doe,A\nx_jdoe,,X Doe,A\n")
    result = collect(both, two, tmp_path / "out2")
    assert not result.files and "more than one roster entry" in result.not_collected[0]


def test_collect_command_then_the_class_is_ready(tmp_path):
    (tmp_path / "roster.csv").write_text("student_id,login,name,section\n12345,alice,Alice Liddell,A\n")
    with zipfile.ZipFile(tmp_path / "submissions.zip", "w") as zf:
        zf.writestr("smithalice_12345_1_level1_numpy.py", "x = 1\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "collect",
            str(tmp_path / "submissions.zip"),
            "--roster",
            str(tmp_path / "roster.csv"),
            "--out",
            str(tmp_path / "class"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Canvas download: 1 of 1 students" in proc.stdout
    assert (tmp_path / "class" / "alice" / "level1_numpy.py").read_text() == "x = 1\n"


def collect_command(tmp_path: Path, download: Path, roster: Path, out: str = "class") -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "collect",
            str(download),
            "--roster",
            str(roster),
            "--out",
            str(tmp_path / out),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


@pytest.mark.slow
def test_partly_collected_has_its_own_exit_status_and_late_files_are_recorded(tmp_path):
    """Issue 29: exit 4 (not 1) when some files were collected and others not; Canvas's LATE_ in
    the collection report and, after grading, in grades.csv."""
    import csv

    from autograder.instructor.lms_collect import PARTIAL

    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,login,name,section\n12345,alice,Alice Liddell,A\n12346,bob,Bob Roberts,A\n")
    solution = (ROOT / "solutions" / "level1_numpy.py").read_text()
    z = tmp_path / "submissions.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("liddellalice_12345_1_level1_numpy.py", solution)
        zf.writestr("robertsbob_LATE_12346_2_level1_numpy.py", solution)
    proc = collect_command(tmp_path, z, roster)
    assert proc.returncode == 0, proc.stderr
    assert "bob: level1_numpy.py  (LATE: level1_numpy.py)" in proc.stdout
    report = {r["student"]: r for r in csv.DictReader((tmp_path / "class" / "collection.csv").open())}
    assert (report["alice"]["late"], report["bob"]["late"]) == ("", "yes")
    with zipfile.ZipFile(z, "a") as zf:
        zf.writestr("strangerx_99999_3_level1_numpy.py", solution)
    partial = collect_command(tmp_path, z, roster, "class2")
    assert partial.returncode == PARTIAL == 4, partial.stderr
    assert (
        "NOT COLLECTED strangerx_99999_3_level1_numpy.py: Canvas user id 99999 is not on the roster" in partial.stderr
    )
    rows = list(csv.DictReader((tmp_path / "class2" / "collection.csv").open()))
    assert rows[-1]["files"] == "strangerx_99999_3_level1_numpy.py" and "not on the roster" in rows[-1]["not_collected"]
    nothing = tmp_path / "nothing.zip"
    with zipfile.ZipFile(nothing, "w") as zf:
        zf.writestr("strangerx_99999_3_level1_numpy.py", solution)
    assert collect_command(tmp_path, nothing, roster, "class3").returncode == 2
    graded = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(tmp_path / "class"),
            "--out",
            str(tmp_path / "grades"),
            "--level",
            "1",
            "--no-similarity",
            "--jobs",
            "1",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    assert graded.returncode == 0, graded.stderr[-3000:]
    grades = {r["student"]: r for r in csv.DictReader((tmp_path / "grades" / "grades.csv").open())}
    assert sorted(grades) == ["alice", "bob"]  # the report is no student
    assert (grades["alice"]["late"], grades["bob"]["late"]) == ("", "yes")
    assert grades["bob"]["total"] == "12.5"


def test_folders_never_named_by_email_and_moodle_marks_late(tmp_path):
    from autograder.instructor.lms_collect import folder_of
    from autograder.instructor.roster import RosterEntry

    assert folder_of(RosterEntry(name="A", student_id="S1", email="a@uni.edu")) == "S1"
    try:
        folder_of(RosterEntry(name="A", email="a@uni.edu"))
    except ValueError as exc:
        assert "never" in str(exc)
    else:
        raise AssertionError("an e-mail address became a folder name")
    roster = tmp_path / "worksheet.csv"  # with identity fields: username shown
    roster.write_text(
        "Identifier,Full name,Username,Email address,Status,Grade\n"
        '"Participant 701",John Doe,jdoe,john@uni.edu,"Submitted for grading - 2 days 3 hours late",\n'
        '"Participant 702",Ann Lee,alee,ann@uni.edu,Submitted for grading,\n'
    )
    dl = tmp_path / "download"
    dl.mkdir()
    (dl / "John Doe_701_assignsubmission_file_level1_numpy.py").write_text("x = 1\n")
    (dl / "Ann Lee_702_assignsubmission_file_level1_numpy.py").write_text("y = 1\n")
    result = collect(dl, read_roster(roster), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["alee", "jdoe"]
    assert result.late == {"jdoe": ["level1_numpy.py"]}
