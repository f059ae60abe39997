"""A pytest plugin: the suite fails when it leaves a file in the repository.

Tests write under ``tmp_path``; a test that writes into the checkout instead leaves debris that
ends up committed (a 2.4 MB file called ``on``, from ``KIT_HISTORY=on``, once did). The plugin
notes every file of the working tree when the session starts and, when it ends, names each file
that is new or changed and sets the exit status to "tests failed". Caches that Python and the
tools keep (``__pycache__``, ``.pytest_cache``...) do not count.

``conftest.py`` loads it for the whole suite; ``KIT_TREE_GUARD_ROOT`` points it at another folder
(its own test does, to see it fail).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Folders that tools fill as a matter of course (bytecode, caches, an editable install's metadata).
CACHES = frozenset(
    {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv", "venv", "node_modules"}
)


def watched_root() -> Path:
    return Path(os.environ.get("KIT_TREE_GUARD_ROOT") or Path(__file__).resolve().parent.parent)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (caches left out): its size and modification time."""
    files: dict[str, tuple[int, int]] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in CACHES and not d.endswith(".egg-info")]
        for name in names:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            files[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return files


def leftovers(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """The files that are new or changed since ``before``."""
    return sorted(p for p, stamp in after.items() if before.get(p) != stamp)


_before: dict[str, tuple[int, int]] | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _before
    _before = snapshot(watched_root())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _before is None:
        return
    root = watched_root()
    left = leftovers(_before, snapshot(root))
    if not left:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"the tests wrote into the working tree {root} (write under tmp_path instead):"]
    lines += [f"  {p}" for p in left[:50]] + ([f"  ... and {len(left) - 50} more"] if len(left) > 50 else [])
    for line in lines:
        if reporter is not None:
            reporter.write_line(line, red=True)
        else:
            print(line)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
