"""Channels: one request to a child and its reply under the wall-clock and memory limits, over a
socket (``Channel``), the child's standard input and output (``PipeChannel``), or a ``Runtime``
in this very process (``InProcessChannel``)."""

from __future__ import annotations

import json
import os
import queue
import select
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core import wire
from .errors import ChildGone
from .limits import Limits, cap_strings, max_reply_bytes, read_regular_capped
from .processes import _kill_group, _tree_rss, kill_tree, kill_users, processes_of, resident_bytes
from .uids import UidLease


def reap_all(channels) -> None:
    """Wait (a bounded while, killing again) until no process of any of the channels' sandbox users
    is left, then free their uids for other children; and reap each spawned child. One pass over
    /proc a round covers every user (``kill_users``). Channels without a sandbox user (an ordinary
    user's grading, a notebook's in-process channel) only have their spawned child reaped."""
    uids = {c.uid for c in channels if getattr(c, "uid", None) is not None}
    left = kill_users(uids) if uids else set()
    for c in channels:
        wait = getattr(c, "_wait_proc", None)
        if wait is not None:
            wait()
        lease = getattr(c, "uid_lease", None)
        if lease is not None and lease.uid not in left:
            lease.release()
            c.uid_lease = None


@dataclass
class Channel:
    sock: socket.socket
    pid: int
    scratch: Path
    limits: Limits
    uid: int | None = None
    protections: dict = field(default_factory=dict)
    dead: str | None = None
    spent: float = 0.0
    peak_rss: int = 0
    proc: subprocess.Popen | None = None  # a spawned child (the cold path): ours to reap
    uid_lease: UidLease | None = None  # held until every process of the uid is gone
    _pending: tuple = (0.0, 0.0, 0.0)
    _max_reply: int = wire.MAX_BUFFER_BYTES

    def _members(self) -> list[int]:
        return processes_of(uid=self.uid) if self.uid is not None else processes_of(pgrp=self.pid)

    def request(self, header: dict, buffers: list[bytes] | None = None, timeout: float | None = None):
        self.start(header, buffers, timeout)
        return self.finish()

    def start(self, header: dict, buffers: list[bytes] | None = None, timeout: float | None = None) -> None:
        """Send a request; finish() waits for its reply (so the grader can do other work meanwhile)."""
        if self.dead:
            raise ChildGone(self.dead, "crash")
        timeout = self.limits.call_seconds if timeout is None else timeout
        t0 = time.monotonic()
        self._pending = (t0, t0 + timeout, timeout)
        self._max_reply = max_reply_bytes(header, buffers, self.limits)
        try:
            self.sock.settimeout(timeout)
            wire.send_message(self.sock, header, buffers)
        except TimeoutError:
            self.kill(f"did not take its request within {timeout:g} s")
            raise ChildGone(self.dead, "timeout") from None
        except OSError as exc:
            self.kill(self._death_reason(exc))
            raise ChildGone(self.dead, "crash") from None

    def finish(self):
        t0, deadline, timeout = self._pending
        try:
            while True:  # wait for the reply, watching the clock and the memory
                remaining = deadline - time.monotonic()
                # A reply already there is taken even past the deadline: the grader may collect a
                # call long after starting it (the convergence runs start ahead of their checks, a
                # few at a time, and are collected level by level), and its own delay is no
                # student's timeout.
                ready, _, _ = select.select([self.sock], [], [], max(0.0, min(0.1, remaining)))
                if ready:
                    break
                if remaining <= 0:
                    raise TimeoutError()
                rss = resident_bytes(self._members())
                self.peak_rss = max(self.peak_rss, rss)
                if self.limits.memory_bytes and rss > self.limits.memory_bytes:
                    self.kill(f"used more than {self.limits.memory_bytes / 2**30:.3g} GiB of memory and was stopped")
                    raise ChildGone(self.dead, "memory")
            # one deadline for the whole reply (not per read: a byte a second is cut off), and no more
            # bytes than the request can return (refused before any is read)
            header, buffers = wire.recv_message(
                self.sock, deadline=max(deadline, time.monotonic() + 1.0), max_buffers=self._max_reply
            )
            reply = (cap_strings(header), buffers)
        except TimeoutError:
            self.kill(f"did not finish within {timeout:g} s (wall clock)")
            raise ChildGone(self.dead, "timeout") from None
        except (OSError, wire.WireError) as exc:
            time.sleep(0.05)
            self.kill(self._death_reason(exc))
            raise ChildGone(self.dead, "crash") from None
        finally:
            self.spent += time.monotonic() - t0
        return reply

    def reply_ready(self) -> bool:
        """Whether a reply (or the child's end) waits to be read: asks, never waits."""
        if self.dead:
            return True
        try:
            return bool(select.select([self.sock], [], [], 0)[0])
        except (OSError, ValueError):  # (a closed socket: gone)
            return True

    def _death_reason(self, exc) -> str:
        if isinstance(exc, wire.WireError) and "closed" not in str(exc):
            return f"the student's process sent an unreadable reply ({exc})"
        return "the student's process ended abruptly (it exited, was killed, or ran out of a resource)"

    def output(self) -> str:
        """What the student's code printed (capped), for the report. Opened without following a link
        and without blocking (the student may have swapped the file for a named pipe)."""
        try:
            data = read_regular_capped(self.scratch / ".output", self.limits.output_bytes)
        except OSError:
            return ""
        return data.decode("utf-8", "replace")

    def kill(self, reason: str, wait: bool = True) -> None:
        """End the child and everything it started. wait=False signals its process group only, and
        leaves the rest of the sandbox user's processes and the wait until every one is gone to
        reap() or reap_all(), which must follow (closing many channels, the grader signals all of
        them first, and waits for all together)."""
        if not self.dead:
            self.dead = reason
        _kill_group(self.pid)
        try:
            self.sock.close()
        except OSError:
            pass
        if wait:
            reap_all([self])

    def reap(self) -> None:
        """Wait (a bounded while, killing again) until no process of the child's sandbox user is left;
        then its uid may go to another child."""
        reap_all([self])

    def _wait_proc(self) -> None:
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def high_water_rss(self) -> int:
        """The child's own peak resident memory (VmHWM), read before it ends."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def close(self, wait: bool = True) -> None:
        self.peak_rss = max(self.peak_rss, self.high_water_rss())
        if not self.dead:
            try:
                self.sock.settimeout(1.0)
                wire.send_message(self.sock, {"op": "exit"})
            except OSError:
                pass
        self.kill(self.dead or "closed", wait=wait)


class InProcessChannel:
    """The same request/response, answered by a Runtime in this process (no isolation)."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.dead = None
        self.spent = 0.0

    def start(self, header, buffers=None, timeout=None):
        self._reply = self.request(header, buffers, timeout)

    def reply_ready(self) -> bool:
        return True  # (answered within start)

    def finish(self):
        return self._reply

    def request(self, header, buffers=None, timeout=None):
        # Round-trip through the wire encoding so values are copied exactly as across a process.
        header = json.loads(json.dumps(dict(header, buffers=[len(b) for b in buffers or []])))
        reply, out = self.runtime.handle(header, [bytes(b) for b in buffers or []])
        reply = json.loads(json.dumps(reply))
        return reply, out

    def output(self):
        return ""

    def kill(self, reason, wait=True):
        self.dead = reason

    def close(self, wait=True):
        pass

    def reap(self):
        pass


@dataclass
class PipeChannel(Channel):
    """A ``Channel`` over a child's standard input and output. A reader thread assembles whole
    replies; ``finish`` waits for one under the call's deadline (one deadline for the whole message:
    a child that dribbles its reply is killed like one that never answers). Requests are written on
    a thread too, so a child that never reads cannot block the grader."""

    def __post_init__(self):
        self._replies: queue.Queue = queue.Queue()
        self._expected: queue.Queue = queue.Queue()  # per request sent: the most buffer bytes its reply may carry
        self._ends = wire.PipeEnds(self.proc.stdout.fileno(), self.proc.stdin.fileno())
        threading.Thread(target=self._read_replies, daemon=True, name=f"kit-child-{self.pid}").start()

    def reply_ready(self) -> bool:
        return bool(self.dead) or not self._replies.empty()

    def _read_replies(self) -> None:
        """One reply per request, each refused before it is read if it announces more than its
        request can return (as the socket channel does); unsolicited bytes wait unread."""
        while True:
            cap = self._expected.get()
            if cap is None:  # killed
                break
            try:
                header, buffers = wire.recv_message(self._ends, max_buffers=cap)
                self._replies.put(("reply", (cap_strings(header), buffers)))
            except (OSError, ValueError, wire.WireError) as exc:
                self._replies.put(("error", exc))
                break
        try:  # closed here, not by kill(): a descriptor closed under a blocked read could be reused
            self.proc.stdout.close()
        except OSError:
            pass

    def _members(self) -> list[int]:
        if os.path.isdir("/proc"):
            return super()._members()
        return []

    def _rss(self) -> int:
        return resident_bytes(self._members()) if os.path.isdir("/proc") else _tree_rss(self.pid)

    def start(self, header: dict, buffers: list[bytes] | None = None, timeout: float | None = None) -> None:
        if self.dead:
            raise ChildGone(self.dead, "crash")
        timeout = self.limits.call_seconds if timeout is None else timeout
        t0 = time.monotonic()
        self._pending = (t0, t0 + timeout, timeout)
        self._expected.put(max_reply_bytes(header, buffers, self.limits))
        failed: list[BaseException] = []

        def write():
            try:
                wire.send_message(self._ends, header, buffers)
            except (OSError, ValueError) as exc:
                failed.append(exc)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(timeout)
        if writer.is_alive():
            self.kill(f"did not take its request within {timeout:g} s")
            raise ChildGone(self.dead, "timeout")
        if failed:
            self.kill(self._death_reason(failed[0]))
            raise ChildGone(self.dead, "crash")

    def finish(self):
        t0, deadline, timeout = self._pending
        try:
            while True:
                remaining = deadline - time.monotonic()
                try:  # (a reply already there is taken even past the deadline: see Channel.finish)
                    kind, value = self._replies.get(timeout=max(0.0, min(0.1, remaining)))
                    break
                except queue.Empty:
                    pass
                if remaining <= 0:
                    self.kill(f"did not finish within {timeout:g} s (wall clock)")
                    raise ChildGone(self.dead, "timeout")
                rss = self._rss()
                self.peak_rss = max(self.peak_rss, rss)
                if self.limits.memory_bytes and rss > self.limits.memory_bytes:
                    self.kill(f"used more than {self.limits.memory_bytes / 2**30:.3g} GiB of memory and was stopped")
                    raise ChildGone(self.dead, "memory")
            if kind == "error":
                time.sleep(0.05)
                self.kill(self._death_reason(value))
                raise ChildGone(self.dead, "crash")
            return value
        finally:
            self.spent += time.monotonic() - t0

    def kill(self, reason: str, wait: bool = True) -> None:
        if not self.dead:
            self.dead = reason
        kill_tree(self.pid)  # before the group: the tree is found through the child, while it lives
        _kill_group(self.pid)
        self._expected.put(None)  # (the reader, if it waits for a request, ends)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if wait:  # (else reap() or reap_all(), which must follow)
            reap_all([self])

    def close(self, wait: bool = True) -> None:
        self.peak_rss = max(self.peak_rss, self.high_water_rss())
        self.kill(self.dead or "closed", wait=wait)
