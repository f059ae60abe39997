"""Imports made with the garbage collector paused, then frozen (autograder/core/long_lived.py and
child/entry.py): what torch made is out of every collection's walk, the collector is on again
afterwards, a student's notebook kernel is never touched, and student code runs with the collector
on, as ever."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.grading import grade
from autograder.sandbox import start_pool

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240601


def _fresh(code: str) -> dict:
    """Run ``code`` in a fresh interpreter (nothing imported yet); it prints one JSON line."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_graders_import_freezes_what_torch_made_and_turns_the_collector_back_on():
    got = _fresh(
        """
        import gc, json, sys
        from autograder.core.long_lived import import_long_lived
        before = gc.get_freeze_count()
        import_long_lived()
        after = gc.get_freeze_count()
        walked = len(gc.get_objects())  # what a full collection would walk now
        import_long_lived()  # a second call: nothing more
        print(json.dumps(dict(before=before, after=after, walked=walked, again=gc.get_freeze_count(),
                              torch="torch" in sys.modules)))
        """
    )
    assert got["torch"] and got["before"] == 0
    assert got["after"] > 100_000  # (about 250,000: torch's modules, functions, types)
    assert got["walked"] < 5_000  # what is left for the collector to walk: almost nothing
    assert got["again"] == got["after"]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_it_was_found(enabled):
    got = _fresh(
        f"""
        import gc, json
        from autograder.core.long_lived import import_long_lived
        {"gc.enable()" if enabled else "gc.disable()"}
        import_long_lived()
        print(json.dumps(dict(enabled=gc.isenabled())))
        """
    )
    assert got["enabled"] is enabled


def test_a_students_kernel_is_never_frozen():
    """The notebook self-check imports the grading package into the student's own kernel: that
    import must leave the kernel's collector as it was (nothing frozen)."""
    got = _fresh(
        """
        import gc, json
        import autograder.learner.selfcheck, autograder.grading.run, autograder.grading
        print(json.dumps(dict(frozen=gc.get_freeze_count(), enabled=gc.isenabled())))
        """
    )
    assert got == {"frozen": 0, "enabled": True}


def test_check_runs_no_full_collection_over_torchs_objects():
    """The grader of a `check`: every full collection it runs walks only what was made after torch's
    import (before: three, one of 67 ms in the middle of the checks)."""
    got = _fresh(
        """
        import gc, json, sys, time
        walks = []
        def seen(phase, info):
            if phase == "start" and info["generation"] == 2:
                walks.append(len(gc.get_objects()))
        gc.callbacks.append(seen)
        sys.argv = ["autograder", "check", "2", "--dir", "solutions"]
        from autograder.cli.main import main
        import contextlib, io
        with contextlib.redirect_stdout(io.StringIO()):
            code = main()
        print(json.dumps(dict(code=code, walks=walks)))
        """
    )
    assert got["code"] == 0
    assert all(n < 100_000 for n in got["walks"]), got["walks"]


# A level 2 whose forward is right only where student code runs with the collector on, and torch's
# objects (made before the student's module was loaded) are frozen.
COLLECTOR_PROBE = """
import gc


def _collector_as_expected():
    return gc.isenabled() and gc.get_freeze_count() > 100_000
"""


def _probing_submission(tmp_path: Path) -> Path:
    src = (ROOT / "solutions" / "level2_tensors.py").read_text()
    head, sep, tail = src.partition("\ndef forward(x, w1, w2):\n")
    assert sep
    probe = "    assert _collector_as_expected(), (gc.isenabled(), gc.get_freeze_count())\n"
    src = head + COLLECTOR_PROBE + sep + probe + tail
    d = tmp_path / "s"
    d.mkdir()
    (d / "level2_tensors.py").write_text(src)
    return d


def _forward_checks(report):
    return [c for c in report.checks if c.level == 2 and c.stage == "forward"]


def test_student_code_runs_with_the_collector_on_and_torch_frozen_in_a_forked_child(tmp_path, zygote):
    report = grade(_probing_submission(tmp_path), [2], SEED, pool=zygote, stage="forward")
    checks = _forward_checks(report)
    assert checks and all(c.passed for c in checks), [(c.id, c.message) for c in checks]


@pytest.mark.slow  # (a cold interpreter: `make test` runs it, `make test-fast` not)
def test_student_code_runs_with_the_collector_on_and_torch_frozen_in_a_cold_child(tmp_path):
    pool = start_pool("portable")
    try:
        report = grade(_probing_submission(tmp_path), [2], SEED, pool=pool, stage="forward")
    finally:
        pool.close()
    checks = _forward_checks(report)
    assert checks and all(c.passed for c in checks), [(c.id, c.message) for c in checks]


def test_the_probe_fails_where_the_collector_is_off(tmp_path, zygote):
    """The probe above can fail: with the collector off in the student's code, forward fails."""
    d = _probing_submission(tmp_path)
    path = d / "level2_tensors.py"
    path.write_text(path.read_text().replace("import gc\n", "import gc\ngc.disable()\n", 1))
    report = grade(d, [2], SEED, pool=zygote, stage="forward")
    assert not any(c.passed for c in _forward_checks(report) if c.id.endswith("values"))
