"""The similarity report: normalisation, a class with disguised copies, the CSV and the HTML page."""

from __future__ import annotations

import csv
import io
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.cli.similarity import find_class
from autograder.instructor import similarity
from autograder.instructor.similarity_normalise import normalise
from similarity_class import (
    COPY_PAIRS,
    FORMULA_NAME,
    HOSTILE_TEXT,
    NOTEBOOK,
    PARTIAL_LEVEL,
    PARTIAL_PAIR,
    build_class,
    disguise,
    honest_source,
)

ROOT = Path(__file__).resolve().parent.parent


def _stream(source: str, level: int = 1) -> list[str]:
    boilerplate, keep = similarity.stub_boilerplate(level)
    return [u.text for u in normalise(source, set(boilerplate), set(keep)).units]


# ------------------------------------------------------------------ normalisation
def test_disguises_do_not_change_the_stream():
    """Renaming, comments, docstrings, layout, function order and swapped independent statements."""
    original = honest_source(1, (0, 1, 2, 0, 1))
    assert _stream(disguise(original, seed=3)) == _stream(original)


def test_the_stream_keeps_what_the_program_does():
    """Changing an operation, or the order of dependent statements, changes the stream."""
    a = "def forward(x, w1, w2):\n    h = x @ w1\n    y = np.maximum(h, 0) @ w2\n    return y, h\n"
    b = a.replace("np.maximum(h, 0)", "np.minimum(h, 0)")
    c = "def forward(x, w1, w2):\n    y = np.maximum(h, 0) @ w2\n    h = x @ w1\n    return y, h\n"
    assert _stream(a) != _stream(b)
    assert _stream(a) != _stream(c)
    swapped = (
        "def forward(p, q, r):\n    # two independent lines, swapped\n    k = 2\n    h = p @ q\n"
        "    y = np.maximum(h, 0) @ r * k\n    return y, h\n"
    )
    original = (
        "def forward(x, w1, w2):\n    h = x @ w1\n    two = 2\n    y = np.maximum(h, 0) @ w2 * two\n    return y, h\n"
    )
    assert _stream(swapped) == _stream(original)


def test_the_stub_is_boilerplate():
    """What every student was given (the released stub, as .py or notebook) leaves nothing to compare."""
    stub = (ROOT / "assignments" / "level3_autograd.py").read_text()
    assert _stream(stub, 3) == []
    from autograder.core.submission import notebook_code

    assert _stream(notebook_code((ROOT / "assignments" / "level3_autograd.ipynb").read_bytes()), 3) == []


def test_source_that_does_not_parse_is_still_compared():
    broken = "def forward(x, w1, w2)\n    h = x @ w1  # no colon above\n    return h @ w2, h\n"
    norm = normalise(broken)
    assert norm.method == "tokens"
    assert [u.text for u in norm.units] == [u.text for u in normalise(broken.replace("w1", "weights")).units]


# ------------------------------------------------------------------ the class
@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    build_class(root / "class")
    students = find_class([root / "class"])
    assert len(students) >= 12
    result = similarity.compare(students, [1, 2, 3], similarity.Options(report_floor=0.0))
    return root, students, result


def test_disguised_pairs_rank_above_every_honest_pair(klass):
    _, _, result = klass
    ranked = [pair for pair, _ in result.ranked_pairs()]
    assert set(ranked[:2]) == COPY_PAIRS, ranked[:5]
    honest = [s for pair, s in result.pair_scores.items() if pair not in COPY_PAIRS]
    assert min(result.pair_scores[p] for p in COPY_PAIRS) > max(honest)


def test_copies_are_flagged_at_every_level_and_the_partial_copy_on_its_level_only(klass):
    _, _, result = klass
    flagged = {(m.a, m.b, m.level) for m in result.flagged}
    expected = {(a, b, lv) for a, b in COPY_PAIRS for lv in (1, 2, 3)} | {(*PARTIAL_PAIR, PARTIAL_LEVEL)}
    assert flagged == expected
    # the notebook copy was compared on its code cells, and its lines point into them
    m = next(m for m in result.flagged if (m.a, m.level) == NOTEBOOK)
    assert result.prints[NOTEBOOK].filename.endswith(".ipynb") and m.lines_a


def test_stub_only_submissions_are_never_flagged(klass):
    _, students, result = klass
    stubs = {name for name, _ in students if "stub" in name}
    assert len(stubs) == 2
    assert not [m for m in result.matches if {m.a, m.b} & stubs]


def test_the_threshold_separates_the_class(klass):
    """The default threshold sits between the honest pairs and the copies of this class."""
    _, _, result = klass
    copies = [m.score for m in result.matches if (m.a, m.b) in COPY_PAIRS]
    honest = [
        m.score
        for m in result.matches
        if (m.a, m.b) not in COPY_PAIRS and ((m.a, m.b), m.level) != (PARTIAL_PAIR, PARTIAL_LEVEL)
    ]
    assert max(honest) < similarity.DEFAULT_THRESHOLD < min(copies)


@pytest.mark.slow
def test_the_command_writes_a_safe_csv_and_a_self_contained_page(klass, tmp_path):
    root, _, _ = klass
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "similarity", str(root / "class"), "--out", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "reason to look, not proof" in proc.stdout
    rows = list(csv.DictReader(io.StringIO((tmp_path / "similarity.csv").read_text())))
    assert {(r["student_a"], r["student_b"], int(r["level"])) for r in rows if r["flagged"] == "yes"} == {
        (a, b, lv) for a, b in COPY_PAIRS for lv in (1, 2, 3)
    } | {(*PARTIAL_PAIR, PARTIAL_LEVEL)}
    cells = [c for r in csv.reader(io.StringIO((tmp_path / "similarity.csv").read_text())) for c in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # the directory named like a formula is keyed by its safe name plus a tag of its path (batch.student_names)
    assert FORMULA_NAME not in cells and any(c.startswith(FORMULA_NAME.lstrip("-") + "-") for c in cells)
    page = (tmp_path / "similarity.html").read_text()
    assert "not proof" in page
    assert (
        HOSTILE_TEXT not in page
        and "<script" not in page.lower()
        and "onerror=alert" not in page.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    )
    assert "&lt;/pre&gt;&lt;script&gt;" in page  # shown, escaped
    for external in ('src="http', "src='http", 'href="http', "href='http", "@import", "url("):
        assert external not in page
    assert page.count("class='hit'") + page.count('class="hit"') > 0


def test_links_in_a_submission_are_not_read(tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_text("TOKEN = 'instructor only'\n")
    student = tmp_path / "class" / "mallory"
    student.mkdir(parents=True)
    (student / "level1_numpy.py").symlink_to(secret)
    source = similarity.read_student_level(student, 1)
    assert source.source is None and "link" in source.problem


def test_pairs_are_scored_once_and_symmetrically(klass):
    _, students, result = klass
    names = sorted(n for n, _ in students if "stub" not in n)
    pairs = list(result.pair_scores)
    assert len(pairs) == len({frozenset(p) for p in pairs})  # each pair once, in one order
    assert {frozenset(p) for p in pairs} == {frozenset(p) for p in itertools.combinations(names, 2)}


def test_a_huge_or_pathological_file_is_bounded(tmp_path):
    """A file of 200,000 statements is listed as too large, not normalised for minutes; deeply
    nested code falls back to tokens instead of crashing."""
    for name, text in (("huge", "x = 1\n" * 200_000), ("deep", "y = " + "(" * 5000 + ")" * 5000 + "\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "level1_numpy.py").write_text(text)
    result = similarity.compare([("huge", tmp_path / "huge"), ("deep", tmp_path / "deep")], [1])
    assert any("too large to compare" in n for n in result.notes)
    assert result.prints[("deep", 1)].norm.method == "tokens"


def test_a_class_that_all_wrote_the_same_is_told_so(tmp_path):
    """Nine identical reference solutions: what most of the class wrote is ignored (nothing is
    flagged) and the page says so; with --common 1 every pair is flagged."""
    students = []
    for i in range(9):
        (tmp_path / f"s{i}").mkdir()
        (tmp_path / f"s{i}" / "level1_numpy.py").write_text((ROOT / "solutions" / "level1_numpy.py").read_text())
        students.append((f"s{i}", tmp_path / f"s{i}"))
    result = similarity.compare(students, [1])
    assert result.flagged == [] and result.commonplace[1] == 1.0
    from autograder.render.similarity_html import similarity_page

    assert "Most of the class wrote the same code at level 1" in similarity_page(result)
    everything = similarity.compare(students, [1], similarity.Options(common=1.0))
    assert len(everything.flagged) == 36 and {m.score for m in everything.flagged} == {1.0}


def test_every_student_grade_finds_is_compared_wherever_their_files_sit(tmp_path):
    """Issue 29: files in a subfolder, in a zip inside the folder, or a student's zip in place of
    the folder are found as `grade` finds them; whoever cannot be compared is named, with the reason."""
    import zipfile

    from autograder.cli.similarity import find_class

    solution = (ROOT / "solutions" / "level1_numpy.py").read_text()
    klass = tmp_path / "class"
    (klass / "top").mkdir(parents=True)
    (klass / "top" / "level1_numpy.py").write_text(solution)
    (klass / "sub" / "hw" / "week1").mkdir(parents=True)
    (klass / "sub" / "hw" / "week1" / "level1_numpy.py").write_text(solution)
    (klass / "inner").mkdir()
    with zipfile.ZipFile(klass / "inner" / "work.zip", "w") as zf:
        zf.writestr("work/level1_numpy.py", solution)
    with zipfile.ZipFile(klass / "zipped.zip", "w") as zf:
        zf.writestr("level1_numpy.py", solution)
    (klass / "stubonly").mkdir()
    (klass / "stubonly" / "level1_numpy.py").write_text((ROOT / "assignments" / "level1_numpy.py").read_text())
    (klass / "empty").mkdir()
    students = find_class([klass])
    assert sorted(n for n, _ in students) == ["empty", "inner", "stubonly", "sub", "top", "zipped"]
    result = similarity.compare(students, [1])
    copies = {"inner", "sub", "top", "zipped"}
    assert {frozenset(p) for p in result.pair_scores} == {frozenset(p) for p in itertools.combinations(copies, 2)}
    assert {frozenset((m.a, m.b)) for m in result.flagged} == {frozenset(p) for p in itertools.combinations(copies, 2)}
    assert result.not_compared == ["empty", "stubonly"]
    notes = "\n".join(result.notes)
    assert "empty: not compared at level 1 (level1_numpy.py is missing" in notes
    assert "stubonly: not compared at level 1 (nothing of their own beyond the stub's code)" in notes
    from autograder.render.similarity_html import similarity_page

    page = similarity_page(result)
    assert "Not compared" in page and "stubonly: not compared" in page


def test_fingerprints_are_copydetects_without_its_report_writer(tmp_path):
    """The winnowing is copydetect's own, loaded without the package's __init__ (which imports
    matplotlib.pyplot for plots the kit never draws: 1.5 s of every similarity run): the same
    fingerprints as ``copydetect.utils.winnow``, and neither matplotlib nor copydetect imported."""
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import numpy as np
from autograder.instructor import similarity
from autograder.core.submission import LevelSource
source = open({str(ROOT / "solutions" / "level3_autograd.py")!r}).read()
lp = similarity.fingerprint("a", LevelSource(3, "level3_autograd", "level3_autograd.py", source), similarity.Options())
assert lp.cover, "no fingerprints"
assert "matplotlib" not in sys.modules and "copydetect" not in sys.modules, "imported"
ours = similarity._copydetect_utils()
import copydetect.utils as theirs
hashes = (np.arange(500, dtype=np.uint64) * np.uint64(2654435761)) % np.uint64(10007)
a, b = ours.winnow(hashes, 9), theirs.winnow(hashes, 9)
assert all(np.array_equal(x, y) for x, y in zip(a, b)) and len(a) == len(b), "winnow differs"
print("ok", len(lp.cover))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stderr[-2000:]
