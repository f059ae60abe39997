"""``check --watch``: grade again each time a level's file is saved, with the grader kept warm.

The first check pays for ``import torch`` (here and in the sandbox's zygote); every later one
forks fresh children from the same zygote, so a student's edit-and-check loop costs the checks
alone. Files are polled (four times a second), so it works the same on every platform and filesystem.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..core.curriculum import LEVELS

POLL_SECONDS = 0.25
SETTLE_SECONDS = 0.1  # an editor's save can come in several writes


def snapshot(directory: Path, levels: list[int]) -> dict:
    """What identifies the current contents of the levels' files (size and modification time)."""
    state = {}
    for level in levels:
        for suffix in (".py", ".ipynb"):
            path = directory / f"{LEVELS[level].module}{suffix}"
            try:
                st = path.stat()
            except OSError:
                continue
            state[path.name] = (st.st_mtime_ns, st.st_size)
    return state


def wait_for_change(directory: Path, levels: list[int], before: dict) -> None:
    while snapshot(directory, levels) == before:
        time.sleep(POLL_SECONDS)
    time.sleep(SETTLE_SECONDS)


def watch(directory: Path, levels: list[int], check_once: Callable) -> int:
    """Run check_once(pool) now and after every change, until Ctrl-C."""
    import signal

    from ..sandbox import expect_run, start_pool

    # A stop that comes while a check runs takes effect when the check is done (its children
    # closed, its record written): interrupted halfway, that clean-up could be left waiting on a
    # child for good. A second stop during the same check does not wait.
    checking, stop_asked = False, False

    def interrupt(signum, frame):
        nonlocal stop_asked
        if checking and not stop_asked:
            stop_asked = True
            return
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)  # stopped by a tool rather than Ctrl-C: clean up alike
    pool = start_pool(levels=levels)
    try:
        while True:
            state = snapshot(directory, levels)
            if not pool.alive():
                pool = start_pool(levels=levels)  # the zygote is gone (killed from outside): start another
            t0 = time.monotonic()
            checking = True
            check_once(pool)
            checking = False
            # A cold pool's interpreters for the next check start now and import torch while the
            # student edits: else each check after a save waited for an import per level.
            expect_run(pool, levels)
            names = ", ".join(sorted(state)) or "no level files yet"
            print(
                f"checked in {time.monotonic() - t0:.1f} s; watching {directory} ({names}) for changes, Ctrl-C to stop",
                file=sys.stderr,
                flush=True,
            )
            sys.stdout.flush()
            if stop_asked:
                raise KeyboardInterrupt
            wait_for_change(directory, levels, state)
    except KeyboardInterrupt:
        return 0
    finally:
        pool.close()
