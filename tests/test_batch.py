"""Batch grading of a class: 30+ mixed submissions, parallel, resumable after a kill."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attack_corpus import ATTACKS
from test_attacks import sandbox_processes

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "broken"
HOSTILE = [
    "os_exit_in_call",
    "hang_ignoring_signals",
    "memory_grab",
    "output_flood",
    "forged_stdout",
    "write_outside_scratch",
    "orphans_and_daemons",
    "keyboard_interrupt",
    "always_equal",
    "exit_at_import",
]


def make_class(tmp_path: Path) -> tuple[Path, dict]:
    cls = tmp_path / "class"
    expected = {}
    for i in range(12):  # correct work
        d = cls / f"correct-{i:02d}"
        d.mkdir(parents=True)
        (d / "level1_numpy.py").write_text((ROOT / "solutions" / "level1_numpy.py").read_text())
        expected[d.name] = 12.5
    broken = sorted(p for p in CORPUS.iterdir() if (p / "level1_numpy.py").is_file())[:10]
    for p in broken:  # realistic mistakes
        d = cls / f"broken-{p.name}"
        d.mkdir()
        (d / "level1_numpy.py").write_text((p / "level1_numpy.py").read_text())
        expected[d.name] = None  # below full marks
    for name in HOSTILE:  # hostile code
        a = next(x for x in ATTACKS if x.name == name)
        d = cls / f"hostile-{name}"
        d.mkdir()
        (d / "level1_numpy.py").write_text(a.source())
        expected[d.name] = None
    (cls / "empty-handed").mkdir()  # nothing submitted
    expected["empty-handed"] = 0.0
    return cls, expected


def run(cls: Path, out: Path, **popen) -> subprocess.Popen:
    cmd = [
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
        "2",
        "--call-timeout",
        "4",
        "--timeout",
        "30",
    ]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **popen
    )


@pytest.mark.slow
def test_a_class_grades_resumes_after_a_kill_and_isolates_students(tmp_path):
    cls, expected = make_class(tmp_path)
    assert len(expected) >= 30
    out = tmp_path / "grades"
    reports = out / "reports"

    first = run(cls, out)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(reports.glob("*.json"))) < 6:
        time.sleep(0.2)
        assert first.poll() is None, first.communicate()
    os.killpg(first.pid, signal.SIGKILL)  # the instructor's laptop dies midway
    first.wait()
    done = {p.name: p.stat().st_mtime_ns for p in reports.glob("*.json")}
    assert 6 <= len(done) < len(expected)
    for p in reports.glob("*.json"):
        json.loads(p.read_text())  # written atomically: never half a report
    time.sleep(1.0)
    assert sandbox_processes(checkout_wide=True) == []  # children of the killed grader die with it

    second = run(cls, out)
    stdout, stderr = second.communicate(timeout=900)
    assert second.returncode == 0, stderr[-3000:]
    final = {p.stem: json.loads(p.read_text()) for p in reports.glob("*.json")}
    assert sorted(final) == sorted(expected)
    for name, mtime in done.items():  # finished students were not regraded
        assert (reports / name).stat().st_mtime_ns == mtime
    for name, want in expected.items():
        report = final[name]
        assert report["errors"] == [], (name, report["errors"])
        if want is None:
            assert report["score"] < 12.5, name
        else:
            assert report["score"] == want, (name, report["score"])
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert len(rows) == len(expected) and {"student", "level1", "total"} <= set(rows[0])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_students"] == len(expected) and summary["most_failed"]
    assert (out / "summary.md").read_text().startswith("# Class summary")
    assert sandbox_processes(checkout_wide=True) == []
