"""The cold path: one fresh interpreter per child (sandbox.Spawner), for platforms where a warm
interpreter must not fork. Chosen automatically there; forced here to test it on Linux."""

from __future__ import annotations

import os
import re
import sys

import pytest

from attack_corpus import ATTACKS, ROOT
from autograder import sandbox
from autograder.grading import grade
from conftest import SEED
from test_attacks import expect_contained

# Every test starts cold (spawned) children: 20-70 s each, about 480 s in all (pytest --durations=0).
pytestmark = pytest.mark.slow
COLD_ATTACKS = [
    "os_exit_in_call",
    "patch_the_grader",
    "read_the_solution",
    "write_outside_scratch",
    "hang_ignoring_signals",
    "memory_grab",
    "fork_bomb",
    "orphans_and_daemons",
    "network",
]


@pytest.fixture(scope="module")
def spawner():
    pool = sandbox.Spawner()
    yield pool
    pool.close()


def test_auto_forks_on_linux_and_spawns_where_forking_is_unsafe(monkeypatch):
    monkeypatch.delenv("KIT_SANDBOX_START", raising=False)
    pool = sandbox.start_pool()
    try:
        assert isinstance(pool, sandbox.Zygote) and pool.start_method == "fork"
    finally:
        pool.close()
    monkeypatch.setattr(sys, "platform", "darwin")
    assert isinstance(sandbox.start_pool(), sandbox.Portable)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delattr(os, "fork")
    assert isinstance(sandbox.start_pool(), sandbox.Portable)


def test_the_start_method_can_be_forced_and_a_wrong_one_is_named(monkeypatch):
    monkeypatch.setenv("KIT_SANDBOX_START", "spawn")
    assert isinstance(sandbox.start_pool(), sandbox.Spawner)
    monkeypatch.setenv("KIT_SANDBOX_START", "portable")
    assert isinstance(sandbox.start_pool(), sandbox.Portable)
    monkeypatch.setenv("KIT_SANDBOX_START", "vfork")
    with pytest.raises(ValueError, match="auto, fork, spawn, portable"):
        sandbox.start_pool()


@pytest.mark.parametrize("level", [1, 4, 8])
def test_cold_children_grade_exactly_as_forked_ones(level, spawner, zygote):
    cold = grade(ROOT / "solutions", [level], SEED, pool=spawner)
    warm = grade(ROOT / "solutions", [level], SEED, pool=zygote)
    assert cold.errors == [] and cold.score == cold.max_score == 12.5
    assert [(c.id, c.score, c.message) for c in cold.checks] == [(c.id, c.score, c.message) for c in warm.checks]
    assert cold.sandbox["start"] == "spawn" and warm.sandbox["start"] == "fork"
    held = lambda r: {k: re.sub(r"\d+", "N", v) for k, v in r.sandbox.items() if k != "start"}  # noqa: E731
    assert held(cold) == held(warm)  # the same protections held (each child has a uid of its own)


def test_cold_stubs_score_zero_with_not_implemented(spawner):
    r = grade(ROOT / "assignments", [3], SEED, pool=spawner)
    assert r.errors == [] and r.score == 0.0
    assert all("not implemented" in c.message for c in r.checks)


@pytest.mark.parametrize("name", COLD_ATTACKS)
def test_attacks_are_contained_on_the_cold_path(name, spawner, tmp_path, listener):
    expect_contained(next(a for a in ATTACKS if a.name == name), spawner, tmp_path, listener)


def test_both_pools_make_their_children_the_oom_killers_first_choice(spawner, tmp_path):
    """Gradescope's setting (oom_score_adj 1000) reaches a child on either path."""
    from autograder.sandbox import Limits, Zygote

    for pool in (Zygote(), sandbox.Spawner()):
        try:
            pool.set_oom_score_adj(1000)
            scratch = tmp_path / pool.start_method
            scratch.mkdir()
            channel = pool.fork(scratch, Limits())
            try:
                assert open(f"/proc/{channel.pid}/oom_score_adj").read().strip() == "1000"
            finally:
                channel.close()
        finally:
            pool.close()
