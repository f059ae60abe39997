"""The self-study record: what each ``check``, ``hint`` and ``solution`` did, as JSON lines.

One file, ``.kit-history.jsonl``, in the folder where the learner works (the ``--dir`` of
``python -m autograder check``, which defaults to ``assignments/``; a notebook kernel's working
directory, which is the notebook's folder). It is git-ignored. ``KIT_HISTORY`` overrides it: a
path, or ``off`` to record nothing (the nbgrader course's own runs set it: an autograde kernel
is no learner); anything else is refused (see ``setting``).

Why lines, and how they stay whole. Every event is one line, written with a single ``write`` of
the whole line on a file opened for appending, then ``fsync``: on POSIX an append-mode write
lands at the end as one piece, so two notebooks recording at once do not interleave, and a
crash or a full disk can at worst leave the *last* line incomplete. Reading skips any line that
does not parse (a torn last line, or a line edited by hand): the record loses that one event,
never the rest. The next append starts on a fresh line when the file does not end with one.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

FILE_NAME = ".kit-history.jsonl"
FORMAT = 1
#: A history past this size is not read further (a hostile or runaway file must not stall a hint).
MAX_BYTES = 8 * 1024 * 1024
MAX_LINE = 64 * 1024


class SettingRefused(ValueError):
    """``KIT_HISTORY`` holds neither ``off`` nor a path."""


def setting() -> Path | None:
    """What ``$KIT_HISTORY`` asks for: ``None`` (unset: the default folder's record), the path of
    the record, or ``OFF``. Anything else is refused with the reason: ``KIT_HISTORY=on`` once
    wrote 2.4 MB to a file called ``on`` in the current folder (a boolean-looking word read as a
    file name). A path is recognised by a folder part, a leading ``~`` or a suffix (``.jsonl``);
    an existing folder gets the record inside it."""
    chosen = os.environ.get("KIT_HISTORY", "").strip()
    if not chosen:
        return None
    if chosen.lower() == "off":
        return OFF
    if not (any(sep in chosen for sep in ("/", "\\")) or chosen.startswith("~") or Path(chosen).suffix):
        raise SettingRefused(
            f"KIT_HISTORY={chosen!r} is refused: it takes `off` (keep no record) or a path, with a folder "
            f"or a suffix (`./{chosen}.jsonl`, `~/kit-history.jsonl`); a bare word such as `on` or `1` "
            "would be taken for a file of that name in the current folder"
        )
    path = Path(chosen).expanduser()
    return path / FILE_NAME if path.is_dir() else path


#: ``setting()`` when recording is off.
OFF = Path(os.devnull)


def history_path(directory: Path | str | None = None) -> Path | None:
    """Where events go: ``$KIT_HISTORY``, else ``directory`` (default: the working directory);
    ``None`` when it is off. Raises ``SettingRefused`` for a value that is neither."""
    chosen = setting()
    if chosen is OFF:
        return None
    if chosen is not None:
        return chosen
    return Path(directory if directory is not None else Path.cwd()) / FILE_NAME


def append(event: dict, directory: Path | str | None = None) -> bool:
    """Append one event (a JSON object) as one line; False when recording is off or impossible.

    Recording is a convenience: a read-only folder or a full disk never stops a check or a hint.
    """
    path = history_path(directory)
    if path is None:
        return False
    record = {"v": FORMAT, "t": round(time.time(), 3), **event}
    line = json.dumps(record, sort_keys=True, allow_nan=False, separators=(",", ":")) + "\n"
    data = line.encode("utf-8")
    if len(data) > MAX_LINE:
        return False
    try:
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o644)
    except OSError:
        return False
    try:
        _lock(fd)  # the end check and the write as one step (closing the descriptor unlocks)
        if not _ends_with_newline(fd):
            data = b"\n" + data  # a torn line before us stays alone on its line
        os.write(fd, data)
        os.fsync(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _lock(fd: int) -> None:
    """Hold the record exclusively while appending, where the platform has ``flock``: without it,
    another writer's append seen half-way (its size grows page by page) looks like a torn line and
    costs a blank line. (Windows: no lock; a blank line is all a race can cost, and reading skips it.)"""
    try:
        import fcntl
    except ImportError:
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def _ends_with_newline(fd: int) -> bool:
    """Whether the file ends a line (when unsure: no, and a blank line, which reading skips, is written)."""
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return True
        return os.pread(fd, 1, size - 1) == b"\n" if hasattr(os, "pread") else False
    except OSError:
        return False


def read(directory: Path | str | None = None) -> list[dict]:
    """Every whole event, oldest first; lines that do not parse are skipped."""
    path = history_path(directory)
    if path is None:
        return []
    try:
        if not path.is_file():
            return []
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES)
    except OSError:
        return []
    events = []
    for line in raw.split(b"\n"):
        if not line.strip() or len(line) > MAX_LINE:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(event, dict)
            and event.get("v") == FORMAT
            and isinstance(event.get("event"), str)
            and isinstance(event.get("t"), (int, float))
            and isinstance(event.get("level"), int)
        ):
            events.append(event)
    return events
