"""Every command block of the README's instructor sections runs, as written, on a scratch course
(issue 20): the README cannot drift from the tool.

The blocks are taken from README.md between "## Grading (instructors)" and "### Running the checks
with pytest directly" and run with bash, each from a scratch directory that is also $HOME (so
``~/courses/pt2026`` is scratch). Only what the README leaves to the reader is prepared: a
submission (level 1 at the top, level 3 in a subfolder), students.csv, an incoming notebook (nbgrader's
release, filled in), a Canvas download of a class of four who all hand in the reference, each another
way (loose files; late; a zip with a subfolder; the release notebooks), and its roster. Every
student then has full marks in grades.csv, canvas.csv and the gradebook, and a row in the
similarity report (issue 29). Optional parts written ``[--like this]`` are
dropped, so are ``pip install`` lines (the kit is installed), and the README's example scheduler
address becomes a local Dask cluster. Each command's wall time is written to
``$KIT_TEST_ARTIFACTS/readme/timings.txt`` (the instructor's day, step by step).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

import conftest
from autograder.core.curriculum import LEVELS
from autograder.integrations.nbgrader.course import assignment_id, fill_notebook, gradebook_scores

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = conftest.ARTIFACTS / "readme"  # (never in the checkout: tree_guard.py)
START, END = "## Grading (instructors)", "### Running the checks with pytest directly"

pytestmark = pytest.mark.slow


def instructor_blocks(readme: str) -> list[list[str]]:
    section = readme[readme.index(START) : readme.index(END)]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    out = []
    for block in blocks:
        lines = []
        for line in block.splitlines():
            line = re.sub(r"\s*\[[^\]]*\]", "", line).rstrip()  # optional parts: [--html] [--levels 1 2 3]
            if not line.strip() or line.lstrip().startswith(("#", "pip install", "python -m pip install")):
                continue  # (the kit is installed; an extra's install would reach the network)
            lines.append(line.replace("tcp://head:8786", "local:1"))  # no cluster here: a local one
        out.append(lines)
    return out


#: The class of the LMS download: (name in Canvas's file names, Canvas id, login). Every one hands in
#: the reference, each in another way: alice loose .py files, bob the same but late (Canvas's
#: LATE_), carol one zip with the files in a subfolder, dave the release notebooks filled in.
CLASS = [("liddellalice", "12345", "alice"), ("builderbob", "12346", "bob"), ("carrollcarol", "12347", "carol"),
         ("dodgsondave", "12348", "dave")]  # fmt: skip
ALL_LEVELS = sorted(LEVELS)
FULL = 12.5 * len(ALL_LEVELS)


def _module(level: int) -> str:
    return LEVELS[level].module


def canvas_download(path: Path) -> None:
    """The LMS's "download all submissions": one flat zip, each file named by Canvas's rule."""
    with zipfile.ZipFile(path, "w") as zf:
        for (name, cid, login), sub_id in zip(CLASS, range(777, 781)):
            prefix = f"{name}_{cid}_{sub_id}"
            for level in ALL_LEVELS:
                solution = (ROOT / "solutions" / f"{_module(level)}.py").read_text()
                if login == "alice":
                    zf.writestr(f"{prefix}_{_module(level)}.py", solution)
                elif login == "bob":  # late, and resubmitted (Canvas appends -1)
                    zf.writestr(f"{name}_LATE_{cid}_{sub_id}_{_module(level)}-1.py", solution)
                elif login == "dave":
                    release = nbformat.read(ROOT / "assignments" / f"{_module(level)}.ipynb", as_version=4)
                    zf.writestr(f"{prefix}_{_module(level)}.ipynb", nbformat.writes(fill_notebook(release, solution)))
            if login == "carol":
                inner = io.BytesIO()
                with zipfile.ZipFile(inner, "w") as hw:
                    for level in ALL_LEVELS:
                        hw.write(ROOT / "solutions" / f"{_module(level)}.py", f"homework/{_module(level)}.py")
                zf.writestr(f"{prefix}_homework.zip", inner.getvalue())


def nbgrader_release_filled(home: Path, level: int) -> nbformat.NotebookNode:
    """A student's notebook as nbgrader hands it out (a course made the README's way, elsewhere),
    with the reference code in its answer cells."""
    course = home / "elsewhere" / "pt2026"
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "nbgrader", "init", str(course), "--course-id", "pt2026"]
        + ["--seed", "914053", "--levels", str(level)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    release = nbformat.read(course / "release" / assignment_id(level) / f"{_module(level)}.ipynb", as_version=4)
    filled = fill_notebook(release, (ROOT / "solutions" / f"{_module(level)}.py").read_text())
    shutil.rmtree(home / "elsewhere")
    return filled


def scratch(home: Path) -> None:
    sol = (ROOT / "solutions" / "level1_numpy.py").read_text()
    (home / "SUBMISSION_DIR" / "hw").mkdir(parents=True)
    (home / "SUBMISSION_DIR" / "level1_numpy.py").write_text(sol)
    shutil.copy(ROOT / "solutions" / "level3_autograd.py", home / "SUBMISSION_DIR" / "hw")
    course = home / "courses" / "pt2026"
    course.mkdir(parents=True)
    (course / "students.csv").write_text("id,last_name,first_name,email\nalice,Liddell,Alice,alice@example.org\n")
    (course / "roster.csv").write_text("directory,student_id,name,section\nalice,12345,Alice Liddell,A\n")
    (home / "incoming" / "alice").mkdir(parents=True)
    nbformat.write(nbgrader_release_filled(home, 3), str(home / "incoming" / "alice" / "level3_autograd.ipynb"))
    (home / "Downloads").mkdir()
    canvas_download(home / "Downloads" / "submissions.zip")
    (home / "roster.csv").write_text(
        "student_id,login,name,section\n" + "".join(f"{cid},{login},{login.title()},A\n" for _, cid, login in CLASS)
    )


def test_every_instructor_command_of_the_readme_runs(tmp_path):
    blocks = instructor_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 5 and any("nbgrader run" in " ".join(b) for b in blocks)
    home = tmp_path / "home"
    home.mkdir()
    scratch(home)
    env = {
        **os.environ,
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    }
    env.pop("KIT_SEED", None)
    timings = []
    for block in blocks:
        script = ["set -e", f"cd {shlex.quote(str(home))}"]
        for line in block:
            script += ['echo "@@start $(date +%s.%N)" >&2', line, 'echo "@@end $(date +%s.%N)" >&2']
        t0 = time.monotonic()
        proc = subprocess.run(["bash", "-c", "\n".join(script)], env=env, capture_output=True, text=True, timeout=1800)
        marks = [float(m) for m in re.findall(r"@@(?:start|end) ([0-9.]+)", proc.stderr)]
        for i, line in enumerate(block[: len(marks) // 2]):
            timings.append(f"{marks[2 * i + 1] - marks[2 * i]:7.1f} s  {line}")
        assert proc.returncode == 0, (
            f"README block failed ({time.monotonic() - t0:.0f} s):\n"
            + "\n".join(block)
            + f"\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-5000:]}"
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "timings.txt").write_text("\n".join(timings) + "\n")
    grades = home / "grades"
    assert (grades / ".kit-course.json").is_file()
    page = (grades / "feedback" / "alice.html").read_text()
    assert "914053" not in page and str(home) not in page
    # every student collected by the roster, in whatever form they handed in, and every one of them
    # (all correct) with full marks in grades.csv; bob's lateness carried from Canvas's file names
    assert (home / "submissions" / "bob" / f"{_module(1)}.py").is_file()
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO((grades / "grades.csv").read_text()))}
    assert sorted(rows) == sorted(login for *_, login in CLASS), rows
    for login, row in rows.items():
        assert (float(row["total"]), float(row["max"]), row["errors"]) == (FULL, FULL, "0"), row
        assert row["late"] == ("yes" if login == "bob" else ""), row  # (empty: not marked late)
        assert row["seed"] == "914053", row
    # full marks in the LMS import too: every level's cell equals its points possible
    canvas = list(csv.reader(io.StringIO((grades / "canvas.csv").read_text())))
    header, points, students = canvas[0], canvas[1], canvas[2:]
    assert points[0].strip() == "Points Possible" and len(students) == len(CLASS), canvas
    for row in students:
        assert [float(c) for c in row[5:]] == [float(c) for c in points[5:]], (header, row)
    # every student in the similarity report (all hand in the reference: every pair matches)
    pairs = list(csv.DictReader(io.StringIO((grades / "similarity.csv").read_text())))
    assert {p["student_a"] for p in pairs} | {p["student_b"] for p in pairs} == set(rows), pairs[:3]
    # the nbgrader course: the release notebook, filled in, has full marks in the gradebook
    course = home / "courses" / "pt2026"
    assert (course / "grades.csv").is_file() and (course / "canvas.csv").is_file()
    scores = gradebook_scores(course, "pt2026")
    assert scores[("alice", assignment_id(3))]["score"] == 12.5, scores
