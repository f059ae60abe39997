"""The portable transport (``KIT_SANDBOX_START=portable``: a fresh ``python -I`` child per level over
its standard input and output) gives the verdicts the warm pool gives, check by check, for the
reference, the stubs, the whole broken corpus and the attack corpus; attacks gain nothing and leave
nothing. Linux CI runs everything through it this way; Windows and macOS use it by default."""

from __future__ import annotations

import json

import pytest

from attack_corpus import ATTACKS, ROOT
from autograder import sandbox
from autograder.core import curriculum
from autograder.grading import grade
from autograder.sandbox import ChildGone, Limits, Portable
from conftest import SEED
from test_attacks import expect_contained
from test_corpus import _case_dir, _params, keep_warm_verdicts, verdicts, warm_verdicts_path

pytestmark = pytest.mark.slow  # every child is a cold interpreter (about 2 s each, more on a busy machine)


@pytest.fixture(scope="module")
def portable():
    pool = Portable()
    yield pool
    pool.close()


def same_verdicts(directory, levels, portable, zygote, folder=None):
    """Grade through both transports and compare check by check. With ``folder`` (warm_verdicts), the
    warm pool's side is read where test_corpus_case has graded it already this run, and kept for
    the other otherwise."""
    cold = grade(directory, levels, SEED, pool=portable)
    path = warm_verdicts_path(folder, directory, levels) if folder is not None else None
    if path is not None and path.is_file():
        warm = json.loads(path.read_text())
    else:
        report = grade(directory, levels, SEED, pool=zygote)
        warm = {"start": report.sandbox.get("start"), "errors": list(report.errors), "verdicts": verdicts(report)}
        if path is not None and warm["start"] == "fork":
            keep_warm_verdicts(folder, directory, levels, report)
    assert cold.sandbox["start"] == "portable" and warm["start"] == "fork"
    assert cold.errors == warm["errors"] == []
    assert verdicts(cold) == warm["verdicts"]
    return cold


# One level per run: all eight at once start sixteen cold interpreters together, which on a shared
# two-core machine can push a convergence run past its 60 s call limit (a machine's verdict, not the
# transport's).
@pytest.mark.parametrize("level", list(curriculum.LEVELS))
def test_the_reference_gets_full_marks_as_through_the_warm_pool(level, portable, zygote):
    report = same_verdicts(ROOT / "solutions", [level], portable, zygote)
    assert report.score == report.max_score == curriculum.LEVEL_POINTS


@pytest.mark.parametrize("level", list(curriculum.LEVELS))
def test_the_stubs_score_zero_as_through_the_warm_pool(level, portable, zygote):
    report = same_verdicts(ROOT / "assignments", [level], portable, zygote)
    assert report.score == 0


@pytest.mark.parametrize("case", list(_params()))
def test_a_broken_case_gets_the_warm_pools_verdicts(case, portable, zygote, warm_verdicts):
    same_verdicts(_case_dir(case), [case["level"]], portable, zygote, warm_verdicts)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_an_attack_gains_nothing_and_leaves_nothing_through_pipes(attack, portable, tmp_path, listener):
    expect_contained(attack, portable, tmp_path, listener)


def test_a_call_past_its_deadline_ends_the_childs_whole_tree(portable, tmp_path):
    """The per-call limit is the parent's: a child that sleeps in a grandchild's company is killed
    with its grandchild when the call's time is up."""
    source = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "time.sleep(120)\n"
    )
    channel = portable.fork(tmp_path, Limits(call_seconds=5))
    try:
        channel.start(
            {"op": "load", "module": "level1_numpy", "filename": "level1_numpy.py", "source": source}, timeout=3.0
        )
        import time

        import psutil

        time.sleep(2.0)
        tree = [p.pid for p in psutil.Process(channel.pid).children(recursive=True)]
        with pytest.raises(ChildGone) as gone:
            channel.finish()
        assert gone.value.kind == "timeout" and "did not finish within 3 s" in gone.value.reason
        assert tree and not any(sandbox._alive(p) for p in [channel.pid, *tree])
    finally:
        channel.close()


@pytest.mark.parametrize("pool_kind", ["portable", "zygote"])
def test_a_reply_collected_after_its_deadline_is_the_students_answer_not_a_timeout(pool_kind, request, tmp_path):
    """The grader starts every level's convergence run at once and collects them level by level: on
    a busy machine it may come for a reply after the call's time is up. A reply that came in time
    is the answer (through spawn and portable, stubs' convergence checks once failed as "timed
    out"); a call that never answers still times out at its deadline."""
    import time

    from autograder.sandbox.proxy import StudentTimeout, Submission

    pool = request.getfixturevalue(pool_kind)
    source = "import time\ndef quick():\n    return 1\ndef hang():\n    time.sleep(60)\n"
    sub = Submission("level1_numpy", source, "level1_numpy.py", lambda: pool.fork(tmp_path, Limits(call_seconds=5)))
    try:
        pending = sub.call("quick", background=True, timeout=1.0)
        time.sleep(2.0)  # the grader busy elsewhere, past the call's 1 s
        assert sub.finish(pending).value == 1
        pending = sub.call("hang", background=True, timeout=1.0)
        t0 = time.monotonic()
        with pytest.raises(StudentTimeout, match="did not finish within 1 s"):
            sub.finish(pending)
        assert time.monotonic() - t0 < 10
    finally:
        sub.close()


def test_a_process_trees_memory_and_its_end_without_proc():
    """What the portable transport uses where there is no /proc (macOS, Windows): a child's memory is
    the sum over its process tree, and ending it ends its descendants too (psutil)."""
    import subprocess
    import sys
    import time

    import psutil

    holder = "import time; b = bytearray(160 * 2**20); b[::4096] = b'1' * len(b[::4096]); time.sleep(120)"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {holder!r}]); time.sleep(120)",
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while sandbox._tree_rss(parent.pid) < 150 * 2**20 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sandbox._tree_rss(parent.pid) >= 150 * 2**20  # (the grandchild's 160 MiB counts)
        tree = psutil.Process(parent.pid).children(recursive=True)
        assert tree
        sandbox.kill_tree(parent.pid)
        parent.wait(timeout=10)
        gone, alive = psutil.wait_procs(tree, timeout=10)
        assert not alive
    finally:
        sandbox.kill_tree(parent.pid)
        parent.wait(timeout=10)


def test_closing_the_pool_ends_every_interpreter_it_started_ahead_of_both_flavours():
    """Interpreters started ahead (torch's and the numpy level's numpy-only ones), those started to
    replace the ones a grading took: none outlives the pool (a batch worker's, of unknown use)."""
    pool = Portable()
    taken = [pool._take_interpreter(numpy_only=True), pool._take_interpreter()]  # (as levels 1 and 2 would)
    ahead = pool._spares + pool._numpy_spares
    try:
        assert len(pool._spares) == Portable.SPARES and len(pool._numpy_spares) == 1
        assert all(p.poll() is None for p in ahead)
        pool.close()
        assert pool._spares == [] and pool._numpy_spares == []
        assert all(p.poll() is not None for p in ahead)  # (close waited for each)
    finally:
        for proc in taken:  # (a level's channel ends its own; nobody configured these)
            proc.kill()
            proc.wait()
            proc.stdin.close()
            proc.stdout.close()
