"""How many cores grading may keep busy (autograder/core/machine.py): the process's CPU affinity,
capped by its control group's CPU quota (a container's, a JupyterHub pod's `cpu_limit`), read from
cgroup v2 and v1 file trees built here as the kernel lays them out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder.core import machine


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _own(tmp_path: Path, text: str) -> Path:
    own = tmp_path / "proc-self-cgroup"
    own.write_text(text)
    return own


def test_cgroup_v2_takes_the_tightest_quota_of_the_group_and_those_above_it(tmp_path):
    root = tmp_path / "cgroup"
    _write(root / "kubepods" / "pod1" / "ctr" / "cpu.max", "max 100000\n")  # the container: no quota of its own
    _write(root / "kubepods" / "pod1" / "cpu.max", "150000 100000\n")  # the pod: 1.5 cores
    _write(root / "kubepods" / "cpu.max", "800000 100000\n")
    own = _own(tmp_path, "0::/kubepods/pod1/ctr\n")
    assert machine.cgroup_cpu_limit(root, own) == 1.5


def test_cgroup_v2_in_its_own_namespace_reads_the_root(tmp_path):
    root = tmp_path / "cgroup"
    _write(root / "cpu.max", "100000 100000\n")
    assert machine.cgroup_cpu_limit(root, _own(tmp_path, "0::/\n")) == 1.0


@pytest.mark.parametrize("cpu_max", ["max 100000\n", "", "garbage\n"])
def test_no_quota_or_an_unreadable_one_is_no_limit(tmp_path, cpu_max):
    root = tmp_path / "cgroup"
    if cpu_max:
        _write(root / "user.slice" / "cpu.max", cpu_max)
    assert machine.cgroup_cpu_limit(root, _own(tmp_path, "0::/user.slice\n")) is None
    assert machine.cgroup_cpu_limit(root, tmp_path / "no-such-file") is None  # (not Linux)


def test_cgroup_v1_reads_cfs_quota_over_period_where_the_container_sees_it(tmp_path):
    root = tmp_path / "cgroup"
    # the host's path in /proc/self/cgroup, the container's own group at the mount itself
    _write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "50000\n")
    _write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")
    own = _own(tmp_path, "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n")
    assert machine.cgroup_cpu_limit(root, own) == 0.5
    _write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "-1\n")  # no quota
    assert machine.cgroup_cpu_limit(root, own) is None


def test_usable_cores_are_the_affinity_capped_by_the_quota_rounded_up(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(machine, "cgroup_cpu_limit", lambda: 1.5)
    assert machine.usable_cores() == 2
    monkeypatch.setattr(machine, "cgroup_cpu_limit", lambda: 0.25)
    assert machine.usable_cores() == 1 and not machine.core_to_spare(1)
    monkeypatch.setattr(machine, "cgroup_cpu_limit", lambda: None)
    assert machine.usable_cores() == 4 and machine.core_to_spare(3) and not machine.core_to_spare(4)


def test_the_machines_own_answer_is_sane():
    assert 1 <= machine.usable_cores() <= (os.cpu_count() or 1)
