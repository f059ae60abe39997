"""What this machine gives grading: how many cores, and so whether a level's convergence run may
have a child of its own. Imports nothing heavy: the batch grader's main process asks it."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the platform tells (a container or
    a job scheduler may give it fewer than the machine has), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # (macOS, Windows)
        return os.cpu_count() or 1


def core_to_spare(graders: int) -> bool:
    """Whether a level's convergence run has a core of its own when ``graders`` submissions are
    graded side by side on this machine: only with fewer graders than cores. Where every core already
    has a grader (a class graded with as many jobs as cores), a second child per level adds its start
    and contends with the others for the same cores; the run is then cheaper in the level's one child,
    after its other checks (docs/speed.md, "A class")."""
    return graders < usable_cores()
