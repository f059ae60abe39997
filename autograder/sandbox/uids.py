"""Sandbox uids: the range children run as when the grader is root, and the leases that keep one
uid to one live child across grader processes."""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
from pathlib import Path

from .errors import SandboxFailure
from .processes import processes_of

SANDBOX_UID_BASE = 200_000  # children run as uids SANDBOX_UID_BASE .. + SANDBOX_UID_COUNT when the grader is root
SANDBOX_UID_COUNT = 100_000


class UidLease:
    """A sandbox uid that no other live child holds, on this host, across grader processes.

    Each uid has a lock file in a root-only directory; the lease holds an exclusive ``flock`` on it
    until every process of the uid is gone (the kernel drops it if the grader dies). A uid that
    still has processes (a daemon that outlived a crashed grader) is skipped.
    """

    def __init__(self, uid: int, fd: int):
        self.uid, self._fd = uid, fd

    @classmethod
    def acquire(cls, directory: Path | None = None) -> UidLease:
        import fcntl

        directory = Path(directory or Path(tempfile.gettempdir()) / "kit-sandbox-uids")
        directory.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(directory)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
            raise SandboxFailure(f"{directory} is not a private directory of the grader's user")
        start = secrets.randbelow(SANDBOX_UID_COUNT)
        for i in range(SANDBOX_UID_COUNT):
            uid = SANDBOX_UID_BASE + (start + i) % SANDBOX_UID_COUNT
            fd = os.open(directory / str(uid), os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            if processes_of(uid=uid):
                os.close(fd)
                continue
            _HELD_UIDS.add(uid)
            return cls(uid, fd)
        raise SandboxFailure("no free sandbox uid")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # (closing drops the flock)
            self._fd = None
            _HELD_UIDS.discard(self.uid)


#: The sandbox uids this process holds a lease on now (a leak check counts only its own children:
#: other graders on the machine hold theirs).
_HELD_UIDS: set[int] = set()


def held_uids() -> set[int]:
    return set(_HELD_UIDS)
