"""Process-tree utilities: find a child's processes (by group, user or descent) and their memory,
and kill them, through /proc where there is one and psutil (or the platform's own tools) elsewhere."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path


def _write_oom_score_adj(pid: int, value: int) -> None:
    try:  # raising it needs no privilege
        Path(f"/proc/{pid}/oom_score_adj").write_text(str(value))
    except OSError:
        pass


#: How much a background child yields the CPU (a nice value): enough that the grader and the child
#: answering its checks go first while it trains, little enough that a busy machine still gives it
#: a fair part of a core (its calls' wall-clock limits run meanwhile).
BACKGROUND_NICE = 5


def run_in_background(pid: int, nice: int = BACKGROUND_NICE) -> list[str]:
    """Let a child's work (a level's convergence run) wait for the grader's own, which the rest of
    the run waits on: the child's nice value and, on Linux with autogroup scheduling, its session's
    (each child is a session of its own, and the kernel shares the CPU between sessions before it
    looks at a process's nice value). Either is only ever raised (which needs no privilege: a
    grader run under ``nice`` leaves its children no higher); what could not be set is left as it
    was. Returns what was set."""
    done = []
    if hasattr(os, "setpriority"):  # (not on Windows, whose cold children run no second lane)
        try:
            if os.getpriority(os.PRIO_PROCESS, pid) < nice:
                os.setpriority(os.PRIO_PROCESS, pid, nice)
                done.append("nice")
        except OSError:
            pass
    if not _leads_a_session_of_its_own(pid):  # (an autogroup is a session's: the grader's own would
        return done  # be the one reniced, and every process of the user's terminal with it)
    try:  # (absent where the kernel has no autogroup scheduling, or it is switched off)
        with open(f"/proc/{pid}/autogroup", "r+") as f:
            if int(f.read().split()[-1]) < nice:  # ("/autogroup-N nice K")
                f.seek(0)
                f.write(str(nice))
                done.append("autogroup")
    except (OSError, ValueError, IndexError):
        pass
    return done


def _leads_a_session_of_its_own(pid: int) -> bool:
    """Whether ``pid`` started a session (setsid) apart from this process's."""
    try:
        return os.getsid(pid) == pid != os.getsid(0)
    except (OSError, AttributeError):  # (gone; or no sessions: Windows)
        return False


def _proc_stat(pid: str):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(")") + 2 :].split()
    return fields  # fields[0] = state, [1] = ppid, [2] = pgrp, [21] = rss (pages)


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user and system) a live process has used so far, from /proc; None without it
    (macOS, Windows) or once the process is gone. For the grader's trace only."""
    st = _proc_stat(str(pid))
    if st is None:
        return None
    try:
        return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
    except (ValueError, IndexError, OSError):
        return None


def _pids():
    try:
        return [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return []


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for p in _pids():
        st = _proc_stat(p)
        if st:
            children.setdefault(int(st[1]), []).append(int(p))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def processes_of(pgrp: int | None = None, uid: int | None = None) -> list[int]:
    """Live processes in a process group, or of a user."""
    if uid is not None:
        return processes_of_users({uid}).get(uid, [])
    found = []
    for p in _pids():
        st = _proc_stat(p)
        if st is None or st[0] == "Z":
            continue
        if pgrp is not None and int(st[2]) != pgrp:
            continue
        found.append(int(p))
    return found


def processes_of_users(uids: set[int] | frozenset[int]) -> dict[int, list[int]]:
    """The live processes of each of ``uids`` that has any, in one pass over /proc (ending a run's
    sixteen children took a pass per child, three times each)."""
    found: dict[int, list[int]] = {}
    if not uids:
        return found
    for p in _pids():
        try:
            owner = os.stat(f"/proc/{p}").st_uid
        except OSError:
            continue
        if owner not in uids:
            continue
        st = _proc_stat(p)
        if st is None or st[0] == "Z":
            continue
        found.setdefault(owner, []).append(int(p))
    return found


def available_memory() -> int:
    """Bytes of memory available to new processes now (psutil: the kernel's MemAvailable on Linux,
    the free and inactive pages on macOS, the available physical memory on Windows); a large number
    where it cannot be read, so that nothing is held back for want of a figure."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - (no psutil, or a platform it cannot read)
        return 1 << 50


def resident_bytes(pids: list[int]) -> int:
    if not pids:
        return 0
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for p in pids:
        st = _proc_stat(str(p))
        if st:
            total += int(st[21]) * page
    return total


def _kill_uid(uid: int, rounds: int = 50) -> None:
    """Kill every process of a sandbox user (escaped daemons included); repeat until none is left."""
    kill_users({uid}, rounds)


def kill_users(uids: set[int], rounds: int = 50) -> set[int]:
    """Kill every process of each sandbox user in ``uids`` (escaped daemons included), one pass over
    /proc a round for all of them; repeat, waiting a moment for the killed ones to go, until none is
    left or ``rounds`` passes are spent. Returns the users that still had processes at the last pass."""
    found: dict[int, list[int]] = {}
    for round_ in range(rounds):
        found = processes_of_users(uids)
        if not found:
            return set()
        pids = [p for ps in found.values() for p in ps]
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if round_ < rounds - 1:  # (no pause after the last: closing a run signals each child once, 16 of them)
            await_exit(pids, EXIT_PAUSE)
    return set(found)


#: How long a round of ``kill_users`` waits for the processes it killed before it looks again.
EXIT_PAUSE = 0.01


def await_exit(pids: list[int], timeout: float) -> None:
    """Wait until every one of ``pids`` has exited, for at most ``timeout`` seconds: on a pidfd each
    where the platform has them (Linux 5.3 and later: readable once its process has exited, whoever
    its parent), else the whole ``timeout``. A killed process with torch's memory takes a few
    milliseconds to go; a fixed pause took the full 10 ms each round."""
    if not hasattr(os, "pidfd_open") or not hasattr(select, "poll"):
        time.sleep(timeout)
        return
    fds: list[int] = []
    try:
        for p in pids:
            try:
                fds.append(os.pidfd_open(p))
            except ProcessLookupError:  # (gone already)
                continue
            except OSError:  # (no pidfds in this kernel or container, or no descriptor left)
                time.sleep(timeout)
                return
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        pending, deadline = len(fds), time.monotonic() + timeout
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for fd, _event in poller.poll(left * 1000):
                poller.unregister(fd)
                pending -= 1
    finally:
        for fd in fds:
            os.close(fd)


def _kill_group(pid: int) -> None:
    """Kill a child's process group (its session: it was started with one of its own), or, where
    there are no process groups (Windows), its whole process tree."""
    if not hasattr(os, "killpg") or not hasattr(signal, "SIGKILL"):
        kill_tree(pid)
        return
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


def kill_tree(pid: int) -> None:
    """Kill a process and every descendant of it, on any platform (psutil); where psutil cannot
    see them, Windows' own ``taskkill /T /F``."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            root = psutil.Process(pid)
            procs = [*root.children(recursive=True), root]
        except psutil.Error:
            procs = []
        for proc in procs:
            try:
                proc.kill()
            except psutil.Error:
                pass
        return
    if os.name == "nt":
        subprocess.run(["taskkill", "/T", "/F", "/PID", str(pid)], capture_output=True, check=False)
    else:
        try:
            os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _own_process_group() -> dict:
    """Popen arguments that give the child a process group of its own, so that it and what it
    starts can be ended together (a new session on POSIX; a new process group on Windows)."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and its descendants, where /proc is absent (psutil)."""
    try:
        import psutil

        root = psutil.Process(pid)
        total = 0
        for proc in (root, *root.children(recursive=True)):
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total
    except (ImportError, Exception):  # noqa: BLE001  (psutil absent, or the process gone)
        return 0
