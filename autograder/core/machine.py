"""What this machine gives grading: how many cores, and so whether a level's convergence run may
have a child of its own. Imports nothing heavy: the batch grader's main process asks it."""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def usable_cores() -> int:
    """The cores this process may keep busy: its CPU affinity where the platform tells (a job
    scheduler may give it fewer than the machine has), else the machine's count, and no more than its
    control group's CPU quota (a container's or a JupyterHub pod's CPU limit), rounded up."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # (macOS, Windows)
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_limit()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def core_to_spare(graders: int) -> bool:
    """Whether a level's convergence run has a core of its own when ``graders`` submissions are
    graded side by side on this machine: only with fewer graders than cores. Where every core already
    has a grader (a class graded with as many jobs as cores, or a single ``check`` in a one-core
    container), a second child per level adds its start and contends with the others for the same
    cores; the run is then cheaper in the level's one child, after its other checks (docs/speed.md,
    "A class")."""
    return graders < usable_cores()


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, own: Path = PROC_CGROUP) -> float | None:
    """The CPU time this process's control group may use, in cores (the tightest quota of its cgroup
    and those above it), or None where none is set or none can be read (not Linux, no cgroup fs)."""
    try:
        lines = own.read_text().splitlines()
    except OSError:
        return None
    limits: list[float] = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        relative = path.strip().strip("/")
        if hierarchy == "0" and controllers == "":  # cgroup v2: "cpu.max" holds "QUOTA PERIOD" or "max PERIOD"
            own_group = root / relative
            for folder in [own_group, *(p for p in own_group.parents if p == root or root in p.parents)]:
                limits += _quota(folder / "cpu.max")
        elif "cpu" in controllers.split(","):  # cgroup v1: cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us
            for mount in (root / "cpu", root / "cpu,cpuacct", root / controllers):
                for folder in {mount / relative, mount}:  # (a container sees its own group at the mount)
                    limits += _quota(folder / "cpu.cfs_quota_us", folder / "cpu.cfs_period_us")
    return min(limits) if limits else None


def _quota(quota_file: Path, period_file: Path | None = None) -> list[float]:
    """[quota / period] from one cgroup's files, or [] where unlimited or unreadable."""
    try:
        words = quota_file.read_text().split()
        if period_file is not None:
            words += period_file.read_text().split()
        quota, period = float(words[0]), float(words[1])
    except (OSError, ValueError, IndexError):  # ("max": no quota)
        return []
    return [quota / period] if quota > 0 and period > 0 else []
