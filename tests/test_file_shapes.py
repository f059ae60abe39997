"""Files as students' editors save them: the grader reads them as Python does (issue 26).

A UTF-8 byte-order mark (Notepad), CRLF or CR line ends, tab indentation, a coding cookie with a
non-UTF-8 encoding and non-ASCII names: ``python levelN_x.py`` runs each of these, so none may cost
a point, at any level, in a ``.py`` or in a notebook, for grading or for the similarity report. A
notebook that cannot be read at all (nested deeper than a JSON parser recurses) scores 0 with the
reason, and the grader answers with its report as for any student's failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.core import curriculum, submission
from autograder.grading import grade
from autograder.instructor import similarity
from conftest import SEED

ROOT = Path(__file__).resolve().parent.parent
BOM = b"\xef\xbb\xbf"
LEVELS = sorted(curriculum.LEVELS)


def module(level: int) -> str:
    return curriculum.LEVELS[level].module


def solution(level: int) -> str:
    return (ROOT / "solutions" / f"{module(level)}.py").read_text(encoding="utf-8")


def windows(text: str) -> bytes:
    """What Notepad saves: a BOM, then CRLF line ends."""
    return BOM + text.replace("\n", "\r\n").encode("utf-8")


def old_mac(text: str) -> bytes:
    """CR line ends alone, indentation with tabs (each four leading spaces one tab)."""
    out = []
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        depth = len(line) - len(stripped)
        out.append("\t" * (depth // 4) + " " * (depth % 4) + stripped)
    return "\r".join(out).encode("utf-8")


def latin1(text: str) -> bytes:
    """A coding cookie for Latin-1, and non-ASCII names and text in that encoding."""
    extra = "\n\n# Größe der Schrittweite: ändert nichts am Ergebnis\nschritt_größe_é = 3.14159\n"
    return ("# -*- coding: latin-1 -*-\n" + text + extra).encode("latin-1")


SHAPES = {"windows": windows, "old_mac": old_mac, "latin1": latin1}


def grade_dir(sub: Path, levels, zygote):
    report = grade(sub, list(levels), seed=SEED, pool=zygote)
    assert not report.errors, report.errors
    assert not [c.id for c in report.checks if c.error]
    return report


@pytest.mark.slow
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_level_saved_by_every_editor_gets_full_marks(tmp_path, zygote, shape):
    """Each level's reference, saved in one editor's shape: full marks at all eight levels."""
    for lv in LEVELS:
        (tmp_path / f"{module(lv)}.py").write_bytes(SHAPES[shape](solution(lv)))
    report = grade_dir(tmp_path, LEVELS, zygote)
    failing = {c.id: c.message[:300] for c in report.checks if not c.passed}
    assert not failing, failing
    assert report.score == report.max_score == 100.0


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_source_is_the_text_python_runs(name):
    """The text handed to the child compiles and is the reference's own text, whatever the bytes."""
    text = solution(3)
    raw = SHAPES[name](text)
    src = submission.source_of(3, f"{module(3)}.py", raw)
    assert src.problem is None, src.problem
    assert "\r" not in src.source and "\ufeff" not in src.source
    compile(src.source, "level3_autograd.py", "exec", dont_inherit=True)
    if name == "windows":
        assert src.source == text
    if name == "latin1":
        assert "schritt_größe_é" in src.source


def test_undecodable_file_scores_zero_with_the_reason():
    """Bytes that are not their declared encoding, and an unknown cookie: Python refuses them too."""
    first = submission.source_of(1, "level1_numpy.py", b"x = '\xff\xfe'\n")
    assert first.source is None and "level1_numpy.py is not Python source text (binary file?" in first.problem
    later = submission.source_of(1, "level1_numpy.py", b"x = 1\ny = 2\nz = '\xff\xfe'\n")
    assert later.source is None and "level1_numpy.py is not text in its declared encoding" in later.problem
    cookie = submission.source_of(1, "level1_numpy.py", b"# coding: no-such-codec\nx = 1\n")
    assert cookie.source is None and "no-such-codec" in cookie.problem


def _windows_notebook(level: int) -> bytes:
    """The release notebook with its solution cells filled in, saved with a BOM and CRLF in every cell."""
    from autograder.integrations.nbgrader.course import fill_notebook

    release = nbformat.read(ROOT / "assignments" / f"{module(level)}.ipynb", as_version=4)
    nb = fill_notebook(release, solution(level))
    for cell in nb.cells:
        cell.source = cell.source.replace("\n", "\r\n")
    return BOM + nbformat.writes(nb).encode("utf-8")


@pytest.mark.parametrize("level", [1, 6])
def test_notebook_saved_with_a_bom_and_crlf(tmp_path, zygote, level):
    (tmp_path / f"{module(level)}.ipynb").write_bytes(_windows_notebook(level))
    report = grade_dir(tmp_path, [level], zygote)
    failing = {c.id: c.message[:300] for c in report.checks if not c.passed}
    assert not failing, failing


def test_similarity_reads_the_file_as_python_does(tmp_path):
    """The same code saved by Notepad and by a Unix editor is the same code to the similarity report."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    text = solution(2)
    (a / f"{module(2)}.py").write_text(text, encoding="utf-8")
    (b / f"{module(2)}.py").write_bytes(windows(text))
    result = similarity.compare([("a", a), ("b", b)], [2])
    assert not [p.problem for p in result.prints.values() if p.problem]
    assert result.prints[("a", 2)].source == result.prints[("b", 2)].source == text
    assert result.pair_scores[("a", "b")] == pytest.approx(1.0)


# ------------------------------------------------------------------ notebooks that cannot be read
DEEP = b"[" * 100_000 + b"]" * 100_000  # 200 KB of valid JSON, deeper than any parser recurses


def test_deep_notebook_scores_zero_with_the_reason(tmp_path, zygote):
    (tmp_path / f"{module(6)}.ipynb").write_bytes(DEEP)
    report = grade_dir(tmp_path, [6], zygote)
    assert {c.id for c in report.checks} == {s.id for s in curriculum.checks_for(6)}
    for c in report.checks:
        assert c.score == 0 and "level6_optim.ipynb cannot be read: its JSON is nested too deeply" in c.message


@pytest.mark.slow
def test_deep_notebook_from_the_command_line(tmp_path):
    """The CLI answers with its report and the exit status of any student failure (0), no traceback."""
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / f"{module(6)}.ipynb").write_bytes(DEEP)
    (sub / f"{module(1)}.py").write_bytes(windows(solution(1)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")} | {"KIT_HISTORY": "off"}
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(sub), "--level", "1", "--level", "6", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    assert data["score"] == 12.5, [c["message"][:200] for c in data["checks"] if not c["passed"]]


def test_deep_notebook_through_nbgrader(zygote):
    """nbgrader's preprocessor grades the submitted bytes: 0 with the reason, no grader error."""
    from autograder.integrations.nbgrader.course import grade_notebook_bytes

    report = grade_notebook_bytes(DEEP, 6, SEED, pool=zygote)
    assert not report.errors
    assert report.checks and all(c.score == 0 and "nested too deeply" in c.message for c in report.checks)
