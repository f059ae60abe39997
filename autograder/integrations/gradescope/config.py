"""The Gradescope autograder's configuration, ``kit_gradescope.json`` in the bundle: its name, the
limits for Gradescope's default container, and reading it at run time (``load_config``).
"""

from __future__ import annotations

import json
from pathlib import Path

from ...core.curriculum import LEVELS

CONFIG_NAME = "kit_gradescope.json"
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


#: Limits for Gradescope's default container (½ vCPU, 768 MB, 600 s); docs/gradescope.md has the
#: measurements behind them. Eight hanging levels take 8 × 45 = 360 s of student time, which leaves
#: the grader's own work well inside ``run_seconds``; the watchdog fires ``grace_seconds`` later.
DEFAULT_LIMITS = {
    "call_seconds": 20.0,  # one call of student code (the reference's slowest check: under 4 s at ½ vCPU)
    "level_seconds": 45.0,  # all the student calls of one level, restarts included
    "run_seconds": 480.0,  # a level starts only while this much of the run is not used up
    "grace_seconds": 60.0,  # then the watchdog writes what was graded: results by 540 s
    "memory_bytes": 450 * 1024**2,  # resident memory of one child, shared torch pages included (~250 MB)
    "address_space_bytes": 2 * 1024**3,  # a huge allocation fails at once (a child maps ~660 MB at rest)
}


def load_config(path: Path) -> dict:
    config = json.loads(path.read_text())
    config["levels"] = sorted(int(lv) for lv in config.get("levels") or LEVELS)
    config["limits"] = {**DEFAULT_LIMITS, **config.get("limits", {})}
    return config
