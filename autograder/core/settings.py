"""Settings and paths that every layer may read: the default seed, the repository root, level parsing.

It sits below everything else in the package (it imports only the curriculum), so the core never
reaches up into the command line for them.
"""

from __future__ import annotations

import os
from pathlib import Path

from .curriculum import LEVELS

#: The seed of a run when neither ``--seed`` nor $KIT_SEED gives one.
DEFAULT_SEED = 20240601

#: Per-cell kernel timeout (s) of a notebook's self-check, in an nbgrader course and in `lab`. A
#: cell of the in-kernel self-check takes seconds on a laptop CPU (level 1's train stage is the
#: slowest, about 15 s on a loaded 2-core machine); a cell that never ends costs this much once,
#: and never a point.
DEFAULT_CELL_TIMEOUT = 120

#: The repository (or installed tree) that holds ``autograder/``, ``solutions/`` and ``assignments/``.
REPO_ROOT = Path(__file__).resolve().parents[2]


def default_seed() -> int:
    """$KIT_SEED when set, else DEFAULT_SEED."""
    return int(os.environ.get("KIT_SEED", DEFAULT_SEED))


def repo_root() -> Path:
    return REPO_ROOT


def parse_levels(values) -> list[int]:
    """The levels asked for (all when none), sorted, each checked against the curriculum."""
    levels = sorted(set(values or LEVELS))
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        raise SystemExit(f"autograder: no level {bad[0]} (levels are 1 to 8)")
    return levels
