"""Ending a run's children (autograder/sandbox/processes.py, channels.reap_all): every process of
each sandbox user is killed in one pass over /proc a round, the wait for the killed ones ends when
they are gone (pidfds) or after its pause, and a uid is freed only when none of its processes is left."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from autograder.sandbox import channels, processes

ROOT_USER = os.getuid() == 0
#: uids no one on this machine uses (the sandbox's own start elsewhere: uids.SANDBOX_UID_BASE). Each
#: test has its own: the tests of this file may run at once on two xdist workers, and each counts
#: (and kills) every process of its uids; sharing them, one test's sleepers were the other's.
UID_A, UID_B, UID_C = 64_771, 64_772, 64_773
UID_STUCK, UID_FREE = 64_774, 64_775


def _sleeper(uid: int | None = None) -> subprocess.Popen:
    def become():
        os.setsid()
        if uid is not None:
            os.setgid(uid)
            os.setuid(uid)

    return subprocess.Popen(["sleep", "60"], preexec_fn=become, cwd="/")


def _alive(proc: subprocess.Popen) -> bool:
    """Running, not a zombie (what processes_of counts)."""
    return proc.pid in processes.processes_of()


@pytest.fixture
def sleepers():
    started: list[subprocess.Popen] = []

    def start(uid=None):
        started.append(_sleeper(uid))
        return started[-1]

    yield start
    for p in started:
        p.kill()
        p.wait()


def test_await_exit_returns_once_the_killed_processes_are_gone(sleepers):
    procs = [sleepers() for _ in range(3)]
    for p in procs:
        p.kill()
    t0 = time.monotonic()
    processes.await_exit([p.pid for p in procs], timeout=20.0)
    assert time.monotonic() - t0 < 10.0  # (gone within milliseconds; the wait is not its pause)
    assert not any(_alive(p) for p in procs)


def test_await_exit_waits_out_its_pause_for_a_process_that_lives_on(sleepers):
    p = sleepers()
    t0 = time.monotonic()
    processes.await_exit([p.pid], timeout=0.3)
    assert time.monotonic() - t0 >= 0.3
    assert _alive(p)


def test_await_exit_without_pidfds_pauses(sleepers, monkeypatch):
    """Where the platform has no pidfds (macOS, an old kernel), the whole pause, as before."""
    p = sleepers()
    p.kill()
    p.wait()
    monkeypatch.delattr(processes.os, "pidfd_open", raising=False)
    t0 = time.monotonic()
    processes.await_exit([p.pid], timeout=0.2)
    assert time.monotonic() - t0 >= 0.2


@pytest.mark.skipif(not ROOT_USER, reason="needs root: processes of other users")
def test_kill_users_ends_every_process_of_each_user_and_no_other(sleepers, monkeypatch):
    a1, a2, b, c = sleepers(UID_A), sleepers(UID_A), sleepers(UID_B), sleepers(UID_C)
    time.sleep(0.2)  # (each has become its user)
    assert set(processes.processes_of_users({UID_A, UID_B})) == {UID_A, UID_B}
    passes = []
    real = processes._pids
    monkeypatch.setattr(processes, "_pids", lambda: passes.append(1) or real())
    assert processes.kill_users({UID_A, UID_B}) == set()
    assert len(passes) <= 3  # (one pass a round for both users: kill, then none left)
    assert not any(_alive(p) for p in (a1, a2, b))
    assert _alive(c)


@pytest.mark.skipif(not ROOT_USER, reason="needs root: processes of other users")
def test_a_uid_is_kept_while_a_process_of_it_cannot_be_ended(sleepers, monkeypatch):
    """kill_users gives up after its rounds and names the users left; reap_all frees the others only."""
    sleepers(UID_STUCK)
    time.sleep(0.2)
    monkeypatch.setattr(processes.os, "kill", lambda pid, sig: None)  # (a process no signal ends)

    class Lease:
        def __init__(self, uid):
            self.uid, self.released = uid, False

        def release(self):
            self.released = True

    class Chan:
        def __init__(self, uid):
            self.uid, self.uid_lease = uid, Lease(uid)

    stuck, free = Chan(UID_STUCK), Chan(UID_FREE)
    lease_a, lease_b = stuck.uid_lease, free.uid_lease
    monkeypatch.setattr(processes, "EXIT_PAUSE", 0.001)
    assert processes.kill_users({UID_STUCK, UID_FREE}, rounds=3) == {UID_STUCK}
    channels.reap_all([stuck, free])
    assert not lease_a.released and stuck.uid_lease is lease_a
    assert lease_b.released and free.uid_lease is None
