"""Every command block of the README's instructor sections runs, as written, on a scratch course
(issue 20): the README cannot drift from the tool.

The blocks are taken from README.md between "## Grading (instructors)" and "### Running the checks
with pytest directly" and run with bash, each from a scratch directory that is also $HOME (so
``~/courses/pt2026`` is scratch). Only what the README leaves to the reader is prepared: a
submission (level 1 at the top, level 3 in a subfolder), a class of two, students.csv, an
incoming notebook, an LMS download and its roster. Optional parts written ``[--like this]`` are
dropped, so are ``pip install`` lines (the kit is installed), and the README's example scheduler
address becomes a local Dask cluster. Each command's wall time is written to
``$KIT_TEST_ARTIFACTS/readme/timings.txt`` (the instructor's day, step by step).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import conftest

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
    shutil.copy(ROOT / "assignments" / "level3_autograd.ipynb", home / "incoming" / "alice")
    (home / "Downloads").mkdir()
    with zipfile.ZipFile(home / "Downloads" / "submissions.zip", "w") as zf:  # Canvas's names
        zf.writestr("liddellalice_12345_777_level1_numpy.py", sol)
        zf.writestr(
            "builderbob_LATE_12346_778_level1_numpy-1.py",  # late and resubmitted
            (ROOT / "assignments" / "level1_numpy.py").read_text(),
        )
    (home / "roster.csv").write_text(
        "student_id,login,name,section\n12345,alice,Alice Liddell,A\n12346,bob,Bob Builder,A\n"
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
    assert (grades / "grades.csv").read_text().splitlines()[0].endswith(",seed")
    assert (grades / ".kit-course.json").is_file()
    page = (grades / "feedback" / "alice.html").read_text()
    assert "914053" not in page and str(home) not in page
    assert (home / "submissions" / "bob" / "level1_numpy.py").is_file()  # the LMS download, by the roster
    assert "bob,0.0" in (grades / "grades.csv").read_text()
    assert (home / "courses" / "pt2026" / "grades.csv").is_file()
    assert (home / "courses" / "pt2026" / "canvas.csv").is_file()
