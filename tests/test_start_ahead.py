"""What a run starts ahead of its checks, and how many processes it starts (docs/speed.md): the
convergence runs before pytest is imported, the portable pool's interpreters before they are asked
for and never more than the run takes, one cold interpreter per level where each costs an
``import torch``, one child per level where every core already grades a submission (a class with
as many jobs as cores), no pause after the last signal when a run ends its children, the
convergence runs yielding the CPU to the grader and the main lanes, whose checks the run waits on,
and no more of them training at once than there are cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.core import machine, trace
from autograder.grading import context, grade
from autograder.instructor import batch
from autograder.sandbox import Portable, pools, processes, start_pool
from conftest import SEED

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Interpreter:
    """What Portable keeps of an interpreter it started ahead: alive until killed."""

    started = 0  # with torch
    numpy_started = 0

    def __init__(self, numpy_only=False):
        if numpy_only:
            type(self).numpy_started += 1
        else:
            type(self).started += 1
        self.pid = -1

    def poll(self):
        return None


def _forget(pool):
    """Drop a counted pool's interpreters (nothing real to end)."""
    pool._spares, pool._numpy_spares = [], []


@pytest.fixture
def counted_portable(monkeypatch):
    """A portable pool whose interpreters are counted, not started, on two cores with memory to spare
    (what this project's machine has; a CI runner may have more cores: pinned here)."""
    _Interpreter.started = _Interpreter.numpy_started = 0
    monkeypatch.setattr(Portable, "_start_interpreter", lambda self, numpy_only=False: _Interpreter(numpy_only))
    monkeypatch.setattr(machine, "usable_cores", lambda: 2)
    monkeypatch.setattr(pools, "available_memory", lambda: 64 << 30)
    pool = Portable()
    yield pool
    _forget(pool)  # (nothing real to end)


def test_the_portable_pool_starts_what_the_run_will_take_and_no_more(counted_portable):
    pool = counted_portable
    pool.start_ahead(3)  # three levels with torch
    assert len(pool._spares) == 2 and _Interpreter.started == 2  # two ahead (SPARES), their imports side by side
    taken = [pool._take_interpreter() for _ in range(3)]
    assert len(set(map(id, taken))) == 3 and pool._spares == []
    assert _Interpreter.started == 3  # the third started when the first was taken; none after the last


def test_the_portable_pool_for_one_level_starts_one_interpreter(counted_portable):
    counted_portable.start_ahead(1)
    counted_portable._take_interpreter()
    assert _Interpreter.started == 1 and counted_portable._spares == []


def test_a_portable_pool_of_unknown_use_keeps_two_started_ahead(counted_portable):
    counted_portable._take_interpreter()  # a batch worker's pool: no run told it what it will take
    counted_portable._take_interpreter()
    assert len(counted_portable._spares) == Portable.SPARES and _Interpreter.started == 2 + Portable.SPARES


def test_the_numpy_level_takes_a_numpy_only_interpreter_started_ahead_and_no_more_start(counted_portable):
    pool = counted_portable
    pool.start_ahead(1, numpy_only=1)  # levels 1 and 2
    assert _Interpreter.numpy_started == 1 and _Interpreter.started == 1
    ready = pool._numpy_spares[0]
    assert pool._take_interpreter(numpy_only=True) is ready  # the numpy level's, without a wait
    assert pool._numpy_spares == [] and _Interpreter.numpy_started == 1  # none after the last
    assert pool._take_interpreter() is not ready and _Interpreter.started == 1  # the torch level's


def test_a_pool_of_unknown_use_keeps_one_numpy_only_interpreter_started_ahead(counted_portable):
    counted_portable._take_interpreter(numpy_only=True)
    counted_portable._take_interpreter(numpy_only=True)
    assert len(counted_portable._numpy_spares) == 1 and _Interpreter.numpy_started == 3


def test_a_numpy_levels_two_lanes_take_two_numpy_only_interpreters(counted_portable, monkeypatch):
    monkeypatch.setenv("KIT_SANDBOX_START", "portable")
    pool = start_pool(levels=[1])  # both lanes on two cores: numpy interpreters are not counted
    try:
        assert pool.converge_lanes and len(pool._numpy_spares) == 2 and pool._spares == []
    finally:
        _forget(pool)


def test_on_more_cores_every_torch_levels_interpreter_starts_at_once(counted_portable, monkeypatch):
    """Eight cores: the seven torch levels' interpreters import side by side from the start, one
    core left to the grader; four cores: three at a time, each taken one replaced."""
    monkeypatch.setattr(machine, "usable_cores", lambda: 8)
    counted_portable.start_ahead(7)
    assert len(counted_portable._spares) == 7 and _Interpreter.started == 7
    for _ in range(7):
        counted_portable._take_interpreter()
    assert _Interpreter.started == 7  # none after the last
    _Interpreter.started = 0
    monkeypatch.setattr(machine, "usable_cores", lambda: 4)
    four = Portable()
    four.start_ahead(7)
    assert len(four._spares) == 3
    four._take_interpreter()
    assert len(four._spares) == 3 and _Interpreter.started == 4
    _forget(four)


def test_interpreters_started_ahead_never_take_more_than_half_the_available_memory(counted_portable, monkeypatch):
    monkeypatch.setattr(machine, "usable_cores", lambda: 16)
    monkeypatch.setattr(pools, "available_memory", lambda: 6 * Portable.SPARE_BYTES + 1)
    counted_portable.start_ahead(7)
    assert len(counted_portable._spares) == 3  # half of six interpreters' worth
    monkeypatch.setattr(pools, "available_memory", lambda: 0)
    small = Portable()
    small.start_ahead(7)
    assert len(small._spares) == 1  # (always one: the run needs its next child anyway)
    _forget(small)


def test_a_pool_of_unknown_use_keeps_two_started_ahead_on_any_machine(counted_portable, monkeypatch):
    """A batch worker's pool lives on beside the other workers': it never takes a core each."""
    monkeypatch.setattr(machine, "usable_cores", lambda: 16)
    counted_portable._take_interpreter()
    assert len(counted_portable._spares) == Portable.SPARES


def test_start_pool_starts_a_portable_pools_first_interpreters_for_its_torch_levels(counted_portable, monkeypatch):
    monkeypatch.setenv("KIT_SANDBOX_START", "portable")
    pool = start_pool(levels=[1, 2])  # the numpy level takes a numpy-only interpreter, not one of these
    try:
        assert isinstance(pool, Portable) and len(pool._spares) == 1 and pool._expected == 1
        assert len(pool._numpy_spares) == 1 and _Interpreter.numpy_started == 1  # (numpy alone: cheap)
    finally:
        _forget(pool)


@pytest.mark.parametrize(
    "cores, levels, both",
    [
        (16, list(range(1, 9)), True),  # fourteen torch interpreters, fifteen cores beside the grader's
        (15, list(range(1, 9)), True),
        (14, list(range(1, 9)), False),
        (8, list(range(1, 9)), False),  # a laptop grading all eight: one interpreter per level
        (4, [3], True),  # a laptop grading one level: both lanes' imports side by side
        (2, [3], False),  # this project's machine: one interpreter for a torch level
        (2, [1], True),  # the numpy level's interpreters import numpy alone
        (4, [9, 10], False),  # (no such levels: nothing to grade)
    ],
)
def test_a_cold_run_gives_convergence_an_interpreter_only_where_every_one_has_a_core(monkeypatch, cores, levels, both):
    monkeypatch.setattr(machine, "usable_cores", lambda: cores)
    monkeypatch.setattr(pools, "available_memory", lambda: 64 << 30)
    assert pools.both_lanes_fit(levels) is both


def test_a_cold_run_gives_convergence_an_interpreter_only_where_half_the_memory_holds_them(monkeypatch):
    monkeypatch.setattr(machine, "usable_cores", lambda: 16)
    monkeypatch.setattr(pools, "available_memory", lambda: 2 * 14 * Portable.SPARE_BYTES)
    assert pools.both_lanes_fit(list(range(1, 9)))  # fourteen torch interpreters (the numpy level's are small)
    monkeypatch.setattr(pools, "available_memory", lambda: 2 * 14 * Portable.SPARE_BYTES - 1)
    assert not pools.both_lanes_fit(list(range(1, 9)))


def test_start_pool_tells_the_portable_pool_its_lanes_and_starts_what_both_take(counted_portable, monkeypatch):
    monkeypatch.setenv("KIT_SANDBOX_START", "portable")
    monkeypatch.setattr(machine, "usable_cores", lambda: 16)
    pool = start_pool(levels=list(range(1, 9)))
    try:  # two per torch level, all at once: a core each; the numpy level's two
        assert pool.converge_lanes and pool._expected == 14 and len(pool._spares) == 14
        assert len(pool._numpy_spares) == 2
    finally:
        _forget(pool)
    monkeypatch.setattr(machine, "usable_cores", lambda: 8)
    pool = start_pool(levels=list(range(1, 9)))
    try:
        assert not pool.converge_lanes and pool._expected == 7 and len(pool._numpy_spares) == 1
    finally:
        _forget(pool)


def test_the_spawn_pool_keeps_one_interpreter_per_level_on_any_machine(monkeypatch):
    """It starts nothing ahead: convergence lanes asked for before the checks would start one after
    another, an import each, before the first check."""
    monkeypatch.setenv("KIT_SANDBOX_START", "spawn")
    monkeypatch.setattr(machine, "usable_cores", lambda: 64)
    pool = start_pool(levels=list(range(1, 9)))
    try:
        assert pool.start_method == "spawn" and not pool.converge_lanes
    finally:
        pool.close()


class _CountingPool:
    """A pool that counts the children asked of it."""

    def __init__(self, pool):
        self.pool, self.forks = pool, 0
        self.start_method = pool.start_method

    def fork(self, *args, **kwargs):
        self.forks += 1
        return self.pool.fork(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.pool, name)


@pytest.mark.slow  # (a cold interpreter: seconds)
def test_the_warm_pool_gives_a_level_two_children_and_a_cold_pool_one(zygote):
    warm = _CountingPool(zygote)
    assert grade(os.path.join(ROOT, "solutions"), [2], SEED, pool=warm).score == 12.5
    assert warm.forks == 2  # the convergence run in a child of its own, beside the main lane's checks
    cold = _CountingPool(Portable())
    try:
        report = grade(os.path.join(ROOT, "solutions"), [2], SEED, pool=cold)
    finally:
        cold.pool.close()
    assert report.score == 12.5 and report.errors == []
    assert cold.forks == 1  # each is an `import torch`: the convergence run follows the level's checks


@pytest.mark.slow  # (four cold interpreters: seconds)
@pytest.mark.parametrize(
    "folder, levels",
    [("solutions", [1, 2]), ("tests/corpus/broken/l2_train_loss_after_update", [2])],  # a pass, a training failure
)
def test_a_cold_pool_whose_cores_hold_both_lanes_gives_a_level_two_interpreters_with_the_same_verdicts(folder, levels):
    """Where both_lanes_fit (many cores), each level's convergence run trains in an interpreter of
    its own, the numpy level's a numpy-only one: every score and message as with one per level."""
    reports, forks = {}, {}
    for both in (True, False):
        cold = _CountingPool(Portable())
        cold.pool.converge_lanes = both
        try:
            reports[both] = grade(os.path.join(ROOT, folder), levels, SEED, pool=cold)
        finally:
            cold.pool.close()
        forks[both] = cold.forks
    assert forks == {True: 2 * len(levels), False: len(levels)}
    two, one = ({c.id: (c.score, c.passed, c.error, c.message) for c in reports[k].checks} for k in (True, False))
    assert two == one and reports[True].errors == reports[False].errors == []
    assert all(passed for _, passed, _, _ in two.values()) is (folder == "solutions")
    assert two["2.train.converges"][1] is (folder == "solutions")


@pytest.mark.parametrize(
    "folder, level",
    [("solutions", 2), ("tests/corpus/broken/l3_train_ascent", 3)],  # a pass, and a convergence failure
)
def test_with_no_core_to_spare_a_level_is_graded_in_one_child_with_the_same_verdicts(zygote, folder, level):
    """converge_lane=False (a class graded with as many jobs as cores): the convergence run follows
    the level's other checks in its one child. Every score and message is the same as with two."""
    reports = {}
    for lane in (True, False):
        counted = _CountingPool(zygote)
        reports[lane] = grade(os.path.join(ROOT, folder), [level], SEED, pool=counted, converge_lane=lane)
        assert counted.forks == (2 if lane else 1)
    two, one = ({c.id: (c.score, c.passed, c.error, c.message) for c in reports[k].checks} for k in (True, False))
    assert two == one and reports[True].errors == reports[False].errors == []
    converges = two[f"{level}.train.converges"]
    assert converges[1] is (folder == "solutions")  # (the corpus case fails it, and only it here)


def test_a_single_grading_takes_a_convergence_lane_only_where_a_core_is_free_for_it(zygote, monkeypatch):
    """grade()'s default: two children per level where the machine has a second core; in a one-core
    container (a JupyterHub pod's CPU limit, say) one, with the same verdicts."""
    forks = {}
    for cores in (2, 1):
        monkeypatch.setattr(machine, "usable_cores", lambda cores=cores: cores)
        counted = _CountingPool(zygote)
        assert grade(os.path.join(ROOT, "solutions"), [2], SEED, pool=counted).score == 12.5
        forks[cores] = counted.forks
    assert forks == {2: 2, 1: 1}


def test_a_core_to_spare_means_fewer_graders_than_usable_cores(monkeypatch):
    monkeypatch.setattr(machine, "usable_cores", lambda: 2)
    assert machine.core_to_spare(1) and not machine.core_to_spare(2) and not machine.core_to_spare(3)
    monkeypatch.undo()
    assert machine.usable_cores() >= 1
    monkeypatch.setattr(machine, "cgroup_cpu_limit", lambda: None)  # (tests/test_machine.py: the quota)
    if hasattr(os, "sched_getaffinity"):  # (Linux) the affinity, which a container may narrow
        assert machine.usable_cores() == len(os.sched_getaffinity(0))
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # macOS, Windows: the machine's count
    assert machine.usable_cores() == (os.cpu_count() or 1)


@pytest.mark.slow  # (a class: spawned workers, each imports torch)
def test_a_class_with_a_grader_on_every_core_gives_each_level_one_child(tmp_path, monkeypatch):
    """grade_class decides from its workers (never more than the students): with no core to spare,
    the workers' runs take no convergence lane (read from the trace the workers write)."""
    asked = []
    monkeypatch.setattr(batch, "core_to_spare", lambda graders: asked.append(graders) or False)
    trace_file = tmp_path / "trace.jsonl"
    monkeypatch.setenv("KIT_TRACE", str(trace_file))  # (the spawned workers inherit it)
    summary = batch.grade_class([Path(ROOT) / "solutions"], tmp_path / "out", [2, 3], SEED, jobs=4, progress=False)
    assert asked == [1]  # one student: one worker, whatever --jobs says
    assert len(summary["students"]) == 1
    lanes = [json.loads(line).get("lane") for line in trace_file.read_text().splitlines()]
    assert "main" in lanes and "converge" not in lanes
    report = json.loads(next((tmp_path / "out" / "reports").glob("*.json")).read_text())
    assert report["score"] == report["max_score"] == 25


def test_grading_starts_the_convergence_runs_before_it_imports_pytest(tmp_path):
    """The runs are a level's longest work: they train while pytest is imported and collects."""
    path = tmp_path / "trace.jsonl"
    code = (
        "import sys, autograder.grading.run as run\n"
        "assert 'pytest' not in sys.modules, 'grading imported pytest before the convergence runs'\n"
        "real = run.run_checks\n"
        "def spy(ctx, **kw):\n"
        "    from autograder.core import trace\n"
        "    trace.mark('pytest about to be imported', before='pytest' in sys.modules)\n"
        "    return real(ctx, **kw)\n"
        "run.run_checks = spy\n"
        f"r = run.grade({os.path.join(ROOT, 'solutions')!r}, [2, 3], {SEED})\n"
        "assert r.score == 25, r.errors\n"
    )
    env = dict(os.environ, KIT_TRACE=str(path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    records = [json.loads(line) for line in path.read_text().splitlines()]
    events = [r["what"] for r in records]
    first_pytest = events.index("pytest about to be imported")
    assert events[:first_pytest].count("convergence run sent") == 2
    # the trace's CPU accounting (bench/trace_check.py): every child's, read before it ends
    ended = sorted((r["level"], r["lane"]) for r in records if r["what"] == "child ends" and r["cpu"] > 0)
    assert ended == [(2, "converge"), (2, "main"), (3, "converge"), (3, "main")]


def test_check_starts_its_pool_before_it_imports_anything_of_the_instructors():
    """`check`'s pool (its zygote imports torch) starts as the command starts: the class mode's
    similarity and LMS modules, the grade command's options, were imported first (18 ms)."""
    code = (
        "import sys, autograder.sandbox as sandbox\n"
        "real = sandbox.start_pool\n"
        "def spy(*a, **kw):\n"
        "    early = sorted(m for m in sys.modules if m.startswith('autograder.instructor'))\n"
        "    assert not early, early\n"
        "    return real(*a, **kw)\n"
        "sandbox.start_pool = spy\n"
        "from autograder.cli.main import main\n"
        f"sys.exit(main(['check', '3', '--dir', {os.path.join(ROOT, 'solutions')!r}]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Total: 12.5 / 12.5" in out.stdout


class _Run:
    """A sent convergence run, as GradingContext.pump sees it: a reply there or not."""

    def __init__(self):
        self.replied = False

    def reply_ready(self) -> bool:
        return self.replied


def _waiting(monkeypatch, levels, device="cpu", cores=2):
    """A context whose convergence runs for ``levels`` wait for a place (their children ready)."""
    monkeypatch.setattr(machine, "usable_cores", lambda: cores)
    monkeypatch.setattr(context, "start_convergence", lambda sub, level, seed: f"run {level}")
    ctx = context.GradingContext(None, list(levels), SEED, [device])
    runs = {lv: _Run() for lv in levels}
    ctx._waiting_runs = [(lv, device, runs[lv]) for lv in levels]
    return ctx, runs


def _sent(ctx):
    return sorted(level for level, _ in ctx.converging)


def test_at_most_one_convergence_run_per_core_trains_and_the_next_goes_as_one_ends(monkeypatch):
    """More runs than cores only share the cores out in slices, each switch to a run whose tensors are
    out of the cache (docs/speed.md): the runs go in level order, the next as a place comes free."""
    ctx, runs = _waiting(monkeypatch, [1, 2, 3, 4, 5])
    ctx.pump()
    assert _sent(ctx) == [1, 2]
    ctx.pump()
    assert _sent(ctx) == [1, 2]  # (nothing ended: nothing more)
    runs[1].replied = True  # its reply is there
    ctx.pump()
    assert _sent(ctx) == [1, 2, 3]
    ctx.converging.pop((2, "cpu"))  # its check took it (and waits for it): its place goes on
    ctx.pump()
    assert _sent(ctx) == [1, 3, 4]
    ctx.pump(need=5)  # a check that wants its run now gets it, whatever trains
    assert _sent(ctx) == [1, 3, 4, 5] and ctx._waiting_runs == []


def test_a_run_that_trains_past_its_turn_gives_up_its_place(monkeypatch):
    """A hanging level holds another's run back by SLOT_SECONDS at most (and a run's own limit starts
    only when it is sent: no run is started before it has its place)."""
    clock = [1000.0]
    monkeypatch.setattr(context.time, "monotonic", lambda: clock[0])
    ctx, runs = _waiting(monkeypatch, [2, 3], cores=1)
    ctx.pump()
    assert _sent(ctx) == [2]
    clock[0] += context.SLOT_SECONDS / 2
    ctx.pump()
    assert _sent(ctx) == [2]
    clock[0] += context.SLOT_SECONDS
    ctx.pump()
    assert _sent(ctx) == [2, 3]


def test_a_channel_tells_whether_a_reply_waits_without_waiting(tmp_path):
    import socket

    from autograder.sandbox import Limits
    from autograder.sandbox.channels import Channel

    ours, theirs = socket.socketpair()
    channel = Channel(ours, pid=-1, scratch=tmp_path, limits=Limits())
    try:
        assert not channel.reply_ready()
        theirs.sendall(b"\0")  # (the first byte of a reply)
        assert channel.reply_ready()
        channel.dead = "closed"
        assert channel.reply_ready()  # (a child that is gone has nothing more to wait for)
    finally:
        ours.close()
        theirs.close()


def test_on_cuda_every_convergence_run_goes_at_once(monkeypatch):
    ctx, _ = _waiting(monkeypatch, [2, 3, 4, 5, 6], device="cuda", cores=1)
    ctx.pump()
    assert _sent(ctx) == [2, 3, 4, 5, 6]


def test_a_check_of_all_levels_trains_one_run_per_core_with_full_marks(zygote, monkeypatch, tmp_path):
    """Through the warm pool, on a two-core machine: every run sent in level order, each (but one a
    check asked for at once) while fewer than two trained; the reference keeps full marks."""
    monkeypatch.setattr(machine, "usable_cores", lambda: 2)
    path = tmp_path / "trace.jsonl"
    monkeypatch.setattr(trace, "_PATH", str(path))
    report = grade(os.path.join(ROOT, "solutions"), list(range(1, 9)), SEED, pool=zygote)
    assert report.score == report.max_score == 100 and report.errors == []
    events = [json.loads(line) for line in path.read_text().splitlines()]
    sent = [e for e in events if e["what"] == "convergence run sent"]
    assert [e["level"] for e in sent] == list(range(1, 9))
    assert all(e["training"] < 2 for e in sent if not e["asked"])
    # the first runs train while the later levels' children start
    order = [(e["level"], e.get("lane")) for e in events if e["what"] in ("child asked for", "convergence run sent")]
    assert order.index((2, None)) < order.index((3, "converge"))


def test_ending_a_childs_processes_once_does_not_pause(monkeypatch):
    """Closing a run signals each child's processes once (16 children for eight levels): no sleep
    after that round; waiting for them to go is reap()'s, for all of them together."""
    naps = []
    monkeypatch.setattr(processes, "processes_of_users", lambda uids: {u: [os.getpid() + 10**7] for u in uids})
    monkeypatch.setattr(processes, "await_exit", lambda pids, timeout: naps.append(timeout))
    processes._kill_uid(12345, rounds=1)
    assert naps == []
    processes._kill_uid(12345, rounds=3)
    assert naps == [processes.EXIT_PAUSE] * 2  # between rounds, not after the last


def test_the_zygote_does_once_what_each_child_would_do_again():
    """Before it forks, the zygote walks the packages' metadata for what confinement keeps visible
    and reads into linecache the sources torch.manual_seed's stack formatting reads (each call a
    child serves starts with it); the random state its children start from is the one they started
    from before it did so. (In an interpreter of its own: the warm-up's stand-ins are the child's.)"""
    script = """
import linecache, torch
from autograder.child import confine, entry
torch.random.default_generator.manual_seed(7)
linecache.clearcache()
entry.prepare_children()
assert confine.install_paths.cache_info().currsize == 1, "install_paths not found ahead"
assert torch.random.__file__ in linecache.cache, "manual_seed's sources not read ahead"
children_start_from = torch.random.get_rng_state()
torch.manual_seed = lambda seed: None
torch.random.default_generator.manual_seed(7)
entry.prepare_children()  # the warm-up's own draws alone
assert torch.equal(torch.random.get_rng_state(), children_start_from), "the random state moved"
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def _nice_and_autogroup(pid: int) -> tuple[int, str | None]:
    """The process's nice value and its autogroup's, or None where it has none: no file without
    autogroup scheduling, an empty one for a process in a cgroup of its own (a container, a CI
    runner), whose share the kernel decides by the cgroup instead."""
    try:
        with open(f"/proc/{pid}/autogroup") as f:
            group = (f.read().split() or [None])[-1]  # "/autogroup-N nice K": K
    except OSError:
        group = None
    return os.getpriority(os.PRIO_PROCESS, pid), group


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no nice values on this platform")
def test_a_background_child_yields_the_cpu_without_privilege():
    """run_in_background raises the child's nice value and, where the kernel schedules sessions as
    groups (Linux's autogroup: every child is a session of its own), its session's."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        before = _nice_and_autogroup(child.pid)
        done = processes.run_in_background(child.pid)
        after = _nice_and_autogroup(child.pid)
    finally:
        child.kill()
        child.wait()
    assert "nice" in done and after[0] == processes.BACKGROUND_NICE > before[0]
    if before[1] is not None:  # (a kernel with autogroup scheduling)
        assert "autogroup" in done and after[1] == str(processes.BACKGROUND_NICE)
    # never lowered (which would raise a priority, where the grader may: as root)
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=lambda: os.nice(12), start_new_session=True
    )
    try:
        assert "nice" not in processes.run_in_background(child.pid)
        assert _nice_and_autogroup(child.pid)[0] == 12
    finally:
        child.kill()
        child.wait()


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no nice values on this platform")
def test_a_child_in_the_graders_own_session_leaves_the_sessions_autogroup_alone():
    """An autogroup belongs to a session: a child that did not start one of its own shares the
    grader's (and the terminal's), whose priority must stay as it was; the child's own nice value
    is still raised."""
    ours = _nice_and_autogroup(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert processes.run_in_background(child.pid) == (["nice"] if ours[0] < processes.BACKGROUND_NICE else [])
        assert _nice_and_autogroup(child.pid)[0] == max(ours[0], processes.BACKGROUND_NICE)
    finally:
        child.kill()
        child.wait()
    assert _nice_and_autogroup(os.getpid()) == ours


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no nice values on this platform")
def test_a_child_outside_any_autogroup_is_backgrounded_by_its_nice_value_alone(monkeypatch, tmp_path):
    """In a container or on a CI runner each process sits in a cgroup and its /proc/PID/autogroup
    reads empty: the child's nice value is still raised, the autogroup left alone, nothing raised."""
    real_open = open
    written = tmp_path / "autogroup"
    written.write_text("")

    def cgroup_open(path, *args, **kwargs):  # (what such a kernel shows)
        if str(path).endswith("/autogroup"):
            return real_open(written, *args, **kwargs)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(processes, "open", cgroup_open, raising=False)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        assert processes.run_in_background(child.pid) == ["nice"]
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == processes.BACKGROUND_NICE
    finally:
        child.kill()
        child.wait()
    assert written.read_text() == ""


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no nice values on this platform")
def test_the_convergence_lane_trains_in_the_background_and_the_main_lane_does_not(zygote, monkeypatch):
    """While the convergence run trains, the grader and the level's main lane (which answer the other
    checks, one after the other) go first; the run takes what they leave. Same verdicts."""
    seen = {}

    class Watching(_CountingPool):
        def fork(self, scratch, *args, **kwargs):
            channel = super().fork(scratch, *args, **kwargs)
            real_close = channel.close

            def close(*a, **k):  # (the child's priority, read while it still lives)
                seen.setdefault(Path(scratch).name, _nice_and_autogroup(channel.pid))
                return real_close(*a, **k)

            channel.close = close
            return channel

    monkeypatch.setattr(machine, "usable_cores", lambda: 2)
    report = grade(os.path.join(ROOT, "solutions"), [2], SEED, pool=Watching(zygote))
    assert report.score == 12.5 and report.errors == []
    ours = _nice_and_autogroup(os.getpid())[0]
    assert seen["level2-converge"][0] == max(ours, processes.BACKGROUND_NICE)
    assert seen["level2"][0] == ours
    if seen["level2"][1] is not None:
        assert seen["level2-converge"][1] == str(processes.BACKGROUND_NICE) and seen["level2"][1] == "0"
