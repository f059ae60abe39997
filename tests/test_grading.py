"""End to end: the reference scores full marks, the stubs score zero, the report keeps its contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.core.curriculum import CHECKS, LEVEL_POINTS, LEVELS, STAGES, checks_for, stages_of
from autograder.grading import grade
from conftest import SEED

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def reference_report(zygote):
    return grade(ROOT / "solutions", sorted(LEVELS), SEED, pool=zygote)


@pytest.fixture(scope="module")
def stub_report(zygote):
    return grade(ROOT / "assignments", sorted(LEVELS), SEED, pool=zygote)


def test_curriculum_points_add_up():
    for level in LEVELS:
        assert sum(c.points for c in checks_for(level)) == LEVEL_POINTS, level
        assert set(stages_of(level)) <= set(STAGES)
    assert len({c.id for c in CHECKS.values()}) == len(CHECKS)


def test_reference_scores_full_marks(reference_report):
    failed = [(c.id, c.message) for c in reference_report.checks if not c.passed]
    assert failed == []
    assert reference_report.score == reference_report.max_score == 100.0
    assert reference_report.errors == []


def test_stubs_score_zero_with_not_implemented(stub_report):
    assert stub_report.score == 0.0
    assert stub_report.max_score == 100.0
    for c in stub_report.checks:
        assert not c.error, (c.id, c.message)
        assert c.message.startswith("not implemented yet"), (c.id, c.message)


def test_a_failed_check_costs_no_traceback_rendering(zygote, monkeypatch):
    """pytest's long tracebacks read, parse and walk the source of every frame of every failure
    (about 0.15 CPU-seconds a failed check); grading words each verdict itself and throws pytest's
    output away, so no failure's source is ever read, and the verdicts are still the kit's own."""
    from _pytest._code import code

    read = []
    real = code.FormattedExcinfo._getentrysource

    def spy(self, entry):
        read.append(entry)
        return real(self, entry)

    monkeypatch.setattr(code.FormattedExcinfo, "_getentrysource", spy)
    report = grade(ROOT / "assignments", [2], SEED, pool=zygote)
    assert report.score == 0.0 and report.checks
    assert all(c.message.startswith("not implemented yet") for c in report.checks)
    assert read == []


def test_a_report_carries_plain_data_only(reference_report):
    """What a class grader's worker hands its main process (the report's JSON form, pickled) can be
    read without torch: a TorchVersion in ``versions`` once made that process import torch (2.5 s of
    every class graded) only to unpickle it."""
    import pickle

    data = pickle.dumps(reference_report.as_json())
    code = (
        "import pickle, sys; pickle.loads(sys.stdin.buffer.read()); "
        "print(sorted({'torch', 'numpy'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, timeout=60)
    assert out.returncode == 0 and out.stdout.decode().strip() == "[]", (out.stdout, out.stderr[-1000:])


def test_every_check_reports(reference_report):
    assert sorted(c.id for c in reference_report.checks) == sorted(CHECKS)


def test_json_report_follows_the_contract(zygote, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(ROOT / "assignments"),
            "--format",
            "json",
            "--level",
            "2",
            "--level",
            "5",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # stdout holds the JSON object and nothing else
    assert {"score", "max_score", "checks", "seed", "device", "versions"} <= set(data)
    assert data["max_score"] == 25.0 and data["score"] == 0.0
    assert {c["level"] for c in data["checks"]} == {2, 5}
    for c in data["checks"]:
        assert {"level", "stage", "name", "score", "max_score", "passed", "message"} <= set(c)
        assert c["stage"] in STAGES
        assert isinstance(c["score"], float) and isinstance(c["passed"], bool)
    assert data["versions"]["torch"]


def test_same_seed_same_report_and_seed_changes_inputs(zygote):
    a = grade(ROOT / "solutions", [1, 8], 7, pool=zygote).as_json()
    b = grade(ROOT / "solutions", [1, 8], 7, pool=zygote).as_json()
    strip = lambda r: [{k: v for k, v in c.items() if k != "seconds"} for c in r["checks"]]  # noqa: E731
    assert strip(a) == strip(b)
    assert a["submission_sha256"] == b["submission_sha256"] and a["seed"] == 7


def test_sizes_vary_with_the_seed_and_are_never_all_equal():
    from autograder.core.problems import unit_sizes

    seen = set()
    for seed in range(50):
        s = unit_sizes(seed, 1)
        assert len({s.N, s.D_in, s.H, s.D_out}) == 4
        seen.add((s.N, s.D_in, s.H, s.D_out))
    assert len(seen) > 30


def test_plain_pytest_runs_the_checks_on_a_directory():
    """The checks are pytest tests: pytest can run them directly against a submission (README)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(ROOT / "autograder" / "checks"),
            "--submission",
            str(ROOT / "solutions"),
            "--ag-level",
            "4",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-2000:]
    assert "7 passed" in out.stdout and "7 skipped" in out.stdout  # the CUDA variants skip without a GPU


def test_check_command_shows_the_table_and_what_to_fix_first():
    out = subprocess.run(
        [sys.executable, "-m", "autograder", "check", "1"], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "Level 1" in out.stdout and "What to fix first" in out.stdout and "not implemented yet" in out.stdout
