"""Where the time of one run goes: timestamped events, appended to the file ``$KIT_TRACE`` names.

Off unless ``KIT_TRACE`` is set (each ``mark`` is then one check of a module global). Only the
trusted side writes here: the grader process, and what the zygote reports about itself before it
forks any child; student code never sees the variable (children start from a clean environment).
``bench/trace_check.py`` runs a ``check`` with it set and prints the timeline for docs/speed.md.

Each line is JSON: ``{"t": <time.time()>, "pid": ..., "what": "...", ...fields}``.
"""

from __future__ import annotations

import json
import os
import time

_PATH = os.environ.get("KIT_TRACE") or None


def enabled() -> bool:
    return _PATH is not None


def mark(what: str, at: float | None = None, **fields) -> None:
    """Record ``what`` happening now (or at ``at``, a time.time() value measured elsewhere)."""
    if _PATH is None:
        return
    line = json.dumps({"t": time.time() if at is None else at, "pid": os.getpid(), "what": what, **fields})
    try:
        with open(_PATH, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError:  # a trace is a convenience: it never stops a run
        pass
