"""The pools children come from (``Zygote``, ``Spawner``, ``Portable``), how one is chosen
(``start_pool``) and shared (``shared_pool``), and official grading's isolation probe."""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from ..core import machine, trace, wire
from ..core.curriculum import LEVELS
from .channels import Channel, PipeChannel
from .environment import _child_config, _handshake, child_command, clean_env, unusable_reason
from .errors import ChildGone, SandboxFailure
from .gpu import accelerator_visible
from .limits import Limits, isolation_refusal, isolation_shortfall
from .processes import (
    _descendants,
    _kill_group,
    _own_process_group,
    _write_oom_score_adj,
    available_memory,
    cpu_seconds,
    kill_tree,
)

#: How a new pool decides whether a GPU is visible (a test may put its own probe here).
GPU_PROBE = accelerator_visible


def probe_isolation(pool: ChildPool, limits: Limits, hide: list[str] | None = None) -> str | None:
    """Official grading's test, before any student code runs: one child that runs nothing, confined
    as the run's children will be. The refusal (isolation_refusal) where it was not fully confined,
    else None. (Each child of the run is checked again as it starts: GradingContext.)"""
    with tempfile.TemporaryDirectory(prefix="kit-probe-") as tmp:
        os.chmod(tmp, 0o711)  # the sandbox user may pass through to its scratch
        scratch = Path(tmp) / "probe"
        scratch.mkdir()
        channel = pool.fork(scratch, limits, hide=hide)
        protections = dict(channel.protections)
        channel.close()
    missing = isolation_shortfall(protections)
    return isolation_refusal(missing) if missing else None


class ChildPool:
    """Where sandboxed children come from: a ``Zygote`` (forks them from a warm interpreter), a
    ``Spawner`` (starts a fresh interpreter for each, over a passed socket) or a ``Portable`` pool (a
    fresh interpreter for each, over its standard input and output: every platform). ``start_pool``
    picks the kind."""

    start_method = ""  # "fork", "spawn" or "portable", reported with the protections
    #: A cold pool's choice for a run on the CPU: whether each level's convergence run gets a fresh
    #: interpreter of its own beside the level's main one, else it follows the level's other checks
    #: in the main one. ``expect_run`` decides it for the portable pool from the run's levels
    #: (``both_lanes_fit``); the spawn pool keeps one (it starts nothing ahead, so the convergence
    #: lanes asked for before the checks would start one after another, an import each); the warm
    #: pool's children cost a fork, and ``converge_lane`` decides there.
    converge_lanes = False

    def fork(
        self,
        scratch: Path,
        limits: Limits,
        hide: list[str] | None = None,
        device: str = "cpu",
        hello_timeout: float = 120.0,
        numpy_only: bool = False,
    ) -> Channel:
        """A fresh child, confined and bounded by ``limits``, connected by its own channel.
        ``numpy_only``: a child of the numpy-only flavour, where torch cannot be imported."""
        raise NotImplementedError

    def alive(self) -> bool:
        """Whether the pool can still give children."""
        raise NotImplementedError

    def set_oom_score_adj(self, value: int) -> None:
        """Make the kernel's OOM killer pick the children first."""
        raise NotImplementedError

    def close(self) -> None:
        """End the pool (its children are ended by their channels)."""


class Zygote(ChildPool):
    """A warm interpreter (torch imported, no student code) that forks one child per request."""

    start_method = "fork"

    def __init__(self, numpy_only: bool = False, gpu: bool | None = None):
        """``gpu``: whether a GPU is visible here (default: ``GPU_PROBE()``). Where one is, the zygote's
        warm-up only imports: a backward pass would start autograd's device threads, and any CUDA
        call the CUDA runtime, and no child forked after either can run a backward pass or CUDA."""
        self.numpy_only = numpy_only
        self.gpu = GPU_PROBE() if gpu is None else gpu
        self._numpy: Zygote | None = None  # the numpy-only companion, started when first needed
        self._traced: set[str] = set()  # the zygote's start events already in the trace
        self._fork_lock = threading.Lock()
        self._ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        flags = (["--numpy-only"] if numpy_only else []) + (["--imports-only"] if self.gpu else [])
        self.proc = subprocess.Popen(
            child_command("--zygote", str(theirs.fileno()), *flags),
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=clean_env(),
            cwd=tempfile.gettempdir(),
            start_new_session=True,
        )
        theirs.close()

    def fork(
        self,
        scratch: Path,
        limits: Limits,
        hide: list[str] | None = None,
        device: str = "cpu",
        hello_timeout: float = 120.0,
        numpy_only: bool = False,
    ) -> Channel:
        """A fresh child. ``numpy_only``: forked from a second zygote that has imported numpy and
        never torch."""
        if numpy_only and not self.numpy_only:
            self.start_numpy_only()
            return self._numpy.fork(scratch, limits, hide, device, hello_timeout, numpy_only=True)
        ours, theirs = socket.socketpair()
        config, lease = _child_config(scratch, limits, hide, device, self.numpy_only)
        try:
            with self._fork_lock:  # one request and its answer at a time (children may be started on threads)
                socket.send_fds(self._ctrl, [json.dumps(config).encode()], [theirs.fileno()])
                self._ctrl.settimeout(hello_timeout)
                answer = json.loads(self._ctrl.recv(1 << 16))
                pid = answer["pid"]
                self._trace_start(answer.get("started"))
        except (OSError, ValueError, KeyError) as exc:
            if lease is not None:
                lease.release()
            raise SandboxFailure(f"the sandbox could not start a child: {exc}") from None
        finally:
            theirs.close()
        return _handshake(ours, pid, config, scratch, limits, hello_timeout, lease=lease)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _trace_start(self, started) -> None:
        """Put the zygote's own start (its imports, its warm-up) into the trace, once each."""
        if not trace.enabled() or not isinstance(started, dict):
            return
        for what, at in started.items():
            if what not in self._traced and isinstance(at, float):
                trace.mark(what + (" (numpy only)" if self.numpy_only else ""), at=at)
                self._traced.add(what)

    def start_numpy_only(self) -> None:
        """Start the numpy-only companion now, ahead of the first numpy-level child."""
        if not self.numpy_only and (self._numpy is None or not self._numpy.alive()):
            if self._numpy is not None:
                self._numpy.close()
            self._numpy = Zygote(numpy_only=True, gpu=self.gpu)

    def set_oom_score_adj(self, value: int) -> None:
        """Make the kernel's OOM killer pick the children first (they inherit it from the zygote)."""
        _write_oom_score_adj(self.proc.pid, value)

    def close(self) -> None:
        """End the zygote at once (it holds no state worth a graceful exit: its children are ended by
        their channels), then any orphan of student code that was reparented to it (a subreaper)."""
        if self._numpy is not None:
            self._numpy.close()
        if trace.enabled():
            trace.mark("zygote ends", numpy_only=self.numpy_only, cpu=cpu_seconds(self.proc.pid))
        orphans = _descendants(self.proc.pid)
        try:
            self._ctrl.close()
        finally:
            _kill_group(self.proc.pid)
            self.proc.wait()
            for pid in orphans:
                _kill_group(pid)


class Spawner(ChildPool):
    """The cold path: a fresh ``python -I child/entry.py --child`` interpreter for every child.

    For platforms where a process that has imported torch must not fork (macOS, whose system
    frameworks are not fork-safe; anywhere without os.fork). Each child pays its own ``import
    torch`` (about a second here); the confinement, limits and wire are the zygote's children's.
    Same interface as ``Zygote``.
    """

    start_method = "spawn"

    def __init__(self):
        self.oom_score_adj: int | None = None

    def alive(self) -> bool:
        return True

    def set_oom_score_adj(self, value: int) -> None:
        """Make the kernel's OOM killer pick the children first (set on each as it starts)."""
        self.oom_score_adj = value

    def fork(
        self,
        scratch: Path,
        limits: Limits,
        hide: list[str] | None = None,
        device: str = "cpu",
        hello_timeout: float = 120.0,
        numpy_only: bool = False,
    ) -> Channel:
        ours, theirs = socket.socketpair()
        config, lease = _child_config(scratch, limits, hide, device, numpy_only)
        try:
            proc = subprocess.Popen(
                child_command("--child", str(theirs.fileno())) + (["--numpy-only"] if numpy_only else []),
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=clean_env(),
                cwd=tempfile.gettempdir(),
                start_new_session=True,
            )
        except OSError as exc:
            if lease is not None:
                lease.release()
            raise SandboxFailure(f"the sandbox could not start a child: {exc}") from None
        finally:
            theirs.close()
        if self.oom_score_adj is not None:
            _write_oom_score_adj(proc.pid, self.oom_score_adj)
        try:
            ours.settimeout(hello_timeout)
            wire.send_message(ours, config)
        except OSError as exc:
            _kill_group(proc.pid)
            proc.wait()
            if lease is not None:
                lease.release()
            raise SandboxFailure(f"the sandbox child did not take its configuration: {exc}") from None
        return _handshake(ours, proc.pid, config, scratch, limits, hello_timeout, proc=proc, lease=lease)

    def close(self) -> None:
        """Nothing to end: each child is ended (and reaped) by its channel."""


def fork_is_safe() -> bool:
    """Whether children may be forked from a warm interpreter here: Linux and other Unixes, not
    macOS (fork without exec is unsafe once its system frameworks are loaded), nor a platform
    without os.fork or descriptor passing."""
    return hasattr(os, "fork") and hasattr(socket, "send_fds") and sys.platform != "darwin"


START_METHODS = ("auto", "fork", "spawn", "portable")


def start_method(method: str | None = None) -> str:
    """ "fork", "spawn" or "portable": ``method`` or $KIT_SANDBOX_START ("auto", the default, picks
    the warm pool where forking is safe, Linux; the portable pipe transport elsewhere, macOS and
    Windows: one cold path for both, which needs neither fork nor descriptor passing). ValueError,
    with a message for the user, on anything else."""
    method = method or os.environ.get("KIT_SANDBOX_START") or "auto"
    if method not in START_METHODS:
        raise ValueError(f"KIT_SANDBOX_START must be one of {', '.join(START_METHODS)}, not {method!r}")
    if method == "auto":
        method = "fork" if fork_is_safe() else "portable"
    return method


def start_pool(method: str | None = None, levels: list[int] | None = None) -> ChildPool:
    """The source of sandboxed children: a ``Zygote`` (fork, warm) where forking is safe, else a
    ``Spawner`` (spawn, cold) or a ``Portable`` pool (cold, over pipes); see start_method.
    ``levels``: what the pool will grade, if known (the zygote may then prepare for it at once)."""
    pool = {"fork": Zygote, "spawn": Spawner, "portable": Portable}[start_method(method)]()
    trace.mark("pool started", method=pool.start_method)
    if levels and any(LEVELS[lv].numpy for lv in levels if lv in LEVELS) and isinstance(pool, Zygote):
        pool.start_numpy_only()  # its start (numpy only: a fraction of torch's) overlaps the grader's
    if levels:
        expect_run(pool, levels)  # (the portable pool's first children's imports overlap the grader's)
    return pool


def expect_run(pool: ChildPool, levels: list[int]) -> None:
    """Tell ``pool`` the run it grades next, of ``levels``: a cold pool chooses its lanes for it
    (``both_lanes_fit``), and the portable pool starts the interpreters with torch the run will take
    (``Portable.start_ahead``). ``start_pool`` tells it of the first run; a caller that grades again
    with the same pool (``check --watch``, between saves) tells it of the next."""
    if isinstance(pool, Portable):
        pool.converge_lanes = both_lanes_fit(levels)
        lanes = 2 if pool.converge_lanes else 1
        torch_levels, numpy_levels = _torch_and_numpy_levels(levels)
        pool.start_ahead(torch_levels * lanes, numpy_only=numpy_levels * lanes)


def _torch_and_numpy_levels(levels: list[int]) -> tuple[int, int]:
    """How many of ``levels`` (those that exist) take children with torch, and how many numpy-only."""
    known = [lv for lv in levels if lv in LEVELS]
    numpy_levels = sum(1 for lv in known if LEVELS[lv].numpy)
    return len(known) - numpy_levels, numpy_levels


def both_lanes_fit(levels: list[int]) -> bool:
    """Whether the portable pool's run of ``levels`` gives each level's convergence run an interpreter
    of its own: only where every torch interpreter it then takes (two per torch level) has a usable
    core of its own beside the grader's, and half the available memory holds them (``SPARE_BYTES``
    each). Their imports then run side by side at no cost in time, and each level's run trains while
    its other checks are answered, not after them: on sixteen cores a ``check`` of all eight, on
    four a ``check`` of one. Where the cores are fewer (two to eight, grading all eight levels) each
    interpreter is an ``import torch`` that waits for a core, which costs more than the run: one per
    level (docs/speed.md, "The cold path"; on two cores ``check 3`` took 1.77 s with both lanes
    against 1.38 s with one). A numpy level's interpreters import numpy alone (a tenth of torch's
    import) and are not counted: ``check 1`` took 1.34 s with both against 1.38 s on two cores."""
    torch_levels, numpy_levels = _torch_and_numpy_levels(levels)
    torch_interpreters = 2 * torch_levels
    fits_cores = torch_interpreters <= machine.usable_cores() - 1
    fits_memory = torch_interpreters * Portable.SPARE_BYTES <= available_memory() // 2
    return torch_levels + numpy_levels > 0 and fits_cores and fits_memory


_SHARED: dict = {"pool": None, "at_exit": False}
_SHARED_LOCK = threading.Lock()


def shared_pool(oom_score_adj: int | None = None) -> ChildPool:
    """This process's one pool, for callers that grade many submissions (a batch worker, an nbgrader
    process, Gradescope's run): started on first use, started again if it ended (a level may manage
    to end its zygote), closed at exit. ``oom_score_adj``: applied when the pool starts."""
    with _SHARED_LOCK:
        pool = _SHARED["pool"]
        if pool is None or not pool.alive():
            if pool is not None:
                pool.close()
            pool = _SHARED["pool"] = start_pool()
            if oom_score_adj is not None:
                pool.set_oom_score_adj(oom_score_adj)
            if not _SHARED["at_exit"]:
                atexit.register(close_shared_pool)
                _SHARED["at_exit"] = True
        return pool


def close_shared_pool() -> None:
    """End the shared pool now, if there is one (the next shared_pool() starts a fresh one)."""
    with _SHARED_LOCK:
        pool, _SHARED["pool"] = _SHARED["pool"], None
    if pool is not None:
        pool.close()


# ------------------------------------------------------------------------- the portable transport


class Portable(ChildPool):
    """A fresh ``python -I child/entry.py --pipe`` interpreter per child, talking the same wire over
    its standard input and output: what every platform has (Windows and macOS included; no fork,
    no descriptor passing, no process groups needed). The time limits are enforced from here, and
    the child is ended with its whole process tree. On Linux it takes the same protections as the
    other pools' children (``KIT_SANDBOX_START=portable`` tests this path there).

    Interpreters are kept started ahead (each imports torch, then waits for its configuration), so
    that the next children's start-up overlaps the grader's work instead of following it: at least
    ``SPARES``, two, so that a level graded faster than an interpreter starts does not leave the
    next one waiting (the grader grades the levels one after another), and the imports of two run
    side by side on two cores. Where the run says how many it will take (``start_ahead``), up to one
    per usable core but the grader's: on a laptop of eight cores the seven torch levels' imports all
    run at once, not two at a time (``_wanted``), as long as half the memory available holds them."""

    SPARES = 2
    #: What one interpreter started ahead may hold once torch is imported (about 200 MB resident,
    #: with room): ``_wanted`` never starts more than half the available memory holds.
    SPARE_BYTES = 400 * 2**20

    start_method = "portable"

    def __init__(self, gpu: bool | None = None):
        """``gpu``: whether a GPU may be visible here (default: ``GPU_PROBE()``). Each interpreter
        runs the zygote's warm-up while it waits for its configuration (a backward pass, optimizer
        steps), except where one may be: a backward pass before the child hides the devices it does
        not use would start torch's device threads with the GPUs in view (``--imports-only``)."""
        self.gpu = GPU_PROBE() if gpu is None else gpu
        self.oom_score_adj: int | None = None
        self._spares: list[subprocess.Popen] = []  # started ahead, oldest first
        self._expected: int | None = None  # children with torch the run will still take (None: unknown)
        self._numpy_spares: list[subprocess.Popen] = []  # numpy-only ones (the numpy level's), likewise
        self._expected_numpy: int | None = None
        self._lock = threading.Lock()

    def alive(self) -> bool:
        return True

    def set_oom_score_adj(self, value: int) -> None:
        self.oom_score_adj = value

    def _start_interpreter(self, numpy_only: bool = False) -> subprocess.Popen:
        args = ["--pipe"] + (["--numpy-only"] if numpy_only else []) + (["--imports-only"] if self.gpu else [])
        return subprocess.Popen(
            child_command(*args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=clean_env(),
            cwd=tempfile.gettempdir(),
            **_own_process_group(),
        )

    def _take_interpreter(self, numpy_only: bool = False) -> subprocess.Popen:
        """The oldest interpreter of the flavour started ahead that is still alive, else a new one;
        then start the next ones."""
        with self._lock:
            spares = self._numpy_spares if numpy_only else self._spares
            proc = None
            while spares and proc is None:
                candidate = spares.pop(0)
                proc = candidate if candidate.poll() is None else None
            if proc is None:
                proc = self._start_interpreter(numpy_only=numpy_only)
            if numpy_only and self._expected_numpy is not None:
                self._expected_numpy = max(0, self._expected_numpy - 1)
            elif not numpy_only and self._expected is not None:
                self._expected = max(0, self._expected - 1)
            self._start_spares()
        return proc

    def start_ahead(self, count: int, numpy_only: int = 0) -> None:
        """The run will take ``count`` children with torch and ``numpy_only`` of the numpy-only
        flavour: start the first of them now, so that their imports run while the grader's own
        does, and never start more than it will take."""
        with self._lock:
            self._expected, self._expected_numpy = count, numpy_only
            self._start_spares()

    def _wanted(self) -> int:
        """How many interpreters to keep started ahead. ``SPARES`` where the run's size is unknown (a
        batch worker's pool, which lives on beside the other workers'); else as many as the run will
        still take, up to one per usable core but the grader's (at least ``SPARES``), and no more
        than half the memory available now holds (at least one)."""
        if self._expected is None:
            return self.SPARES
        cores = max(self.SPARES, machine.usable_cores() - 1)
        return min(self._expected, cores, max(1, available_memory() // 2 // self.SPARE_BYTES))

    def _wanted_numpy_only(self) -> int:
        """How many numpy-only interpreters to keep started ahead: as many as the run will still take
        (the numpy level's one, or two with its convergence lane), one where its use is unknown.
        Each imports numpy alone (about a tenth of torch's import and of its memory), so neither the
        cores nor the memory bound them; started first, the numpy level graded first finds its
        ready (it waited 0.1 s for its start after the grader's import, on two cores)."""
        return 1 if self._expected_numpy is None else self._expected_numpy

    def _start_spares(self) -> None:
        """Start interpreters ahead until ``_wanted_numpy_only`` and ``_wanted`` are (call with the
        lock held)."""
        self._numpy_spares = [p for p in self._numpy_spares if p.poll() is None]
        while len(self._numpy_spares) < self._wanted_numpy_only():
            try:
                self._numpy_spares.append(self._start_interpreter(numpy_only=True))
            except OSError:
                break
        self._spares = [p for p in self._spares if p.poll() is None]
        wanted = self._wanted()
        while len(self._spares) < wanted:
            try:
                self._spares.append(self._start_interpreter())
            except OSError:
                return

    def fork(
        self,
        scratch: Path,
        limits: Limits,
        hide: list[str] | None = None,
        device: str = "cpu",
        hello_timeout: float = 120.0,
        numpy_only: bool = False,
    ) -> Channel:
        config, lease = _child_config(scratch, limits, hide, device, numpy_only)
        try:
            proc = self._take_interpreter(numpy_only=numpy_only)
        except OSError as exc:
            if lease is not None:
                lease.release()
            raise SandboxFailure(f"the sandbox could not start a child: {exc}") from None
        if self.oom_score_adj is not None:
            _write_oom_score_adj(proc.pid, self.oom_score_adj)
        channel = PipeChannel(None, proc.pid, scratch, limits, proc=proc, uid_lease=lease)
        try:
            channel.start(config, timeout=hello_timeout)
            hello, _ = channel.finish()
        except ChildGone as exc:
            raise SandboxFailure(f"the sandbox child did not start: {exc.reason}") from None
        if hello.get("hello") != config["nonce"]:
            channel.kill("wrong nonce")
            raise SandboxFailure("the sandbox child answered with the wrong nonce")
        if hello.get("unusable"):
            channel.kill("unusable")
            raise SandboxFailure(unusable_reason(hello))
        channel.protections = hello.get("protections", {})
        channel.uid = channel.protections.get("uid")
        channel.spent = 0.0
        return channel

    def close(self) -> None:
        """End the interpreters started ahead (the children are ended by their channels)."""
        with self._lock:
            spares, self._spares, self._numpy_spares = self._spares + self._numpy_spares, [], []
        for proc in spares:
            kill_tree(proc.pid)
        for proc in spares:
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            proc.wait()
