"""Processes that run student code, seen from the trusted side.

A ``ChildPool`` is where children come from, of two kinds. A ``Zygote`` is a ``python -I``
interpreter that has imported torch and numpy and nothing else; ``Zygote.fork`` asks it for a fresh
child connected to us by its own socket. Where forking is unsafe a ``Spawner`` starts a fresh
interpreter per child instead (``start_pool`` chooses; ``shared_pool`` keeps one per process). A
``Channel`` sends one request to a child and waits for the reply under a wall-clock limit; when
the limit passes, or the child dies, the child's whole process group is killed and the channel
reports why. ``InProcessChannel`` has the same interface over a ``Runtime`` in this very process (the
notebook self-check).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import secrets
import select
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core import neutralise, wire
from ..core.curriculum import LEVELS, dynamo_first
from ..core.submission import read_regular

#: The child's entry script, run as ``python -I RUNTIME_PATH --zygote FD``, ``--child FD`` or ``--pipe``.
RUNTIME_PATH = Path(__file__).resolve().parent.parent / "child" / "entry.py"

#: Scripts run before the entry script (``python -I PRELUDE... entry.py ...``): empty, except where a
#: test simulates another platform (tests/platform_sim.py takes away what Windows or macOS lack).
CHILD_PRELUDE: list[str] = []


def child_command(*args: str) -> list[str]:
    """The command line of a sandbox interpreter."""
    return [sys.executable, "-I", *CHILD_PRELUDE, str(RUNTIME_PATH), *args]


class SandboxFailure(RuntimeError):
    """The sandbox could not give a child that can run the grader's work (it did not start, or it
    cannot run torch: CUDA cannot initialise there, autograd refuses after a fork). No student code
    has run in it: a grader error, never the student's failure (``proxy.Submission`` says so)."""


#: The device nodes through which torch reaches a GPU: NVIDIA's, AMD's (ROCm), WSL2's.
GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def _torch_build_has_gpu() -> bool:
    """Whether the installed torch was built for CUDA, ROCm or XPU, read from ``torch/version.py``
    as text: importing torch here would delay the pool's start by its whole import."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False
    try:
        text = (Path(list(spec.submodule_search_locations)[0]) / "version.py").read_text()
    except OSError:
        return True  # cannot tell: assume the careful case (a warm-up that never forks after device work)
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if name.split(":")[0].strip() in ("cuda", "hip", "rocm", "xpu") and value.strip() not in ("None", ""):
            return True
    return False


def accelerator_visible() -> bool:
    """Whether torch may see a GPU here, decided without initialising CUDA (a process that has
    initialised it, or run a backward pass while a GPU is visible, can no longer fork children that
    use torch): a torch built for a GPU, and a GPU's device node. ``KIT_ASSUME_GPU=1`` (or ``0``)
    decides instead: the tests use it to grade as on a machine with a GPU."""
    forced = os.environ.get("KIT_ASSUME_GPU", "")
    if forced in ("0", "1"):
        return forced == "1"
    return any(os.path.exists(p) for p in GPU_DEVICE_NODES) and _torch_build_has_gpu()


#: How a new pool decides whether a GPU is visible (a test may put its own probe here).
GPU_PROBE = accelerator_visible


@dataclass
class Limits:
    """Bounds on one child. Wall-clock time and memory are watched from outside (the child is
    killed with its whole process group, or every process of its user); the rest are rlimits."""

    call_seconds: float = 60.0
    submission_seconds: float = 600.0
    cpu_seconds: int = 900
    memory_bytes: int = 3 * 1024**3  # resident memory of all the child's processes (RSS, not address space)
    address_space_bytes: int | None = 16 * 1024**3  # a backstop on CPU only: an address-space cap breaks CUDA
    file_bytes: int = 16 * 1024 * 1024
    open_files: int = 256
    processes: int = 64  # per sandbox user (threads count)
    output_bytes: int = 256 * 1024
    reply_bytes: int = 32 * 1024 * 1024  # a reply's buffers beyond 4 x the request's (max_reply_bytes)
    scratch_bytes: int = 64 * 1024 * 1024  # the child's scratch directory: a tmpfs of this size, where possible
    isolate: bool = True  # network namespace, hidden paths, an unprivileged user when root
    require_isolation: bool = False  # official grading: refuse to grade where the child is not fully confined

    def rlimits(self, device: str = "cpu") -> dict:
        limits = {
            "RLIMIT_CPU": self.cpu_seconds,
            "RLIMIT_FSIZE": self.file_bytes,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_CORE": 0,
            "RLIMIT_NPROC": self.processes,
        }
        if self.address_space_bytes and device == "cpu":
            limits["RLIMIT_AS"] = self.address_space_bytes
        return limits


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


#: The rlimits an official grade needs (the others are backstops behind the grader's own watch).
REQUIRED_RLIMITS = ("RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE")


def isolation_shortfall(protections: dict) -> list[str]:
    """What official grading needs and this child did not get: hiding by allow-list, a user of its
    own, no network, the rlimits (empty when fully confined)."""
    missing = []
    failed = [name for name in REQUIRED_RLIMITS if name in protections.get("limits_failed", [])]
    if failed:
        missing.append(f"limits: {', '.join(failed)} could not be set")
    if not str(protections.get("hidden_paths", "")).startswith("hidden (allow-list"):
        missing.append(f"hidden_paths: {protections.get('hidden_paths', 'unknown')}")
    if not str(protections.get("user", "")).startswith("uid "):
        missing.append(f"user: {protections.get('user', 'unknown')}")
    if not str(protections.get("network", "")).startswith("isolated"):
        missing.append(f"network: {protections.get('network', 'unknown')}")
    return missing


def isolation_refusal(missing: list[str]) -> str:
    """Official grading's refusal, naming what did not hold (see isolation_shortfall)."""
    return (
        "isolation is required (--require-isolation) but this machine could not give it: "
        + "; ".join(missing)
        + " (grade as root on Linux: docs/sandbox.md)"
    )


def probe_isolation(pool: ChildPool, limits: Limits, hide: list[str] | None = None) -> str | None:
    """Official grading's test, before any student code runs: one child that runs nothing, confined
    as the run's children will be. The refusal (isolation_refusal) where it was not fully confined,
    else None. (Each child of the run is checked again as it starts: GradingContext.)"""
    with tempfile.TemporaryDirectory(prefix="kit-probe-") as tmp:
        os.chmod(tmp, 0o711)  # the sandbox user may pass through to its scratch
        scratch = Path(tmp) / "probe"
        scratch.mkdir()
        channel = pool.fork(scratch, limits, hide=hide, dynamo=False)
        protections = dict(channel.protections)
        channel.close()
    missing = isolation_shortfall(protections)
    return isolation_refusal(missing) if missing else None


def max_reply_bytes(header: dict, buffers: list | None, limits: Limits) -> int:
    """The most buffer bytes a reply to this request may carry: what was sent (a value comes back at
    most a few times over) plus a fixed allowance. A child that answers with more is cut off before
    the grader reads (or allocates) any of it."""
    sent = sum(len(b) for b in buffers or [])
    return min(wire.MAX_BUFFER_BYTES, 4 * sent + limits.reply_bytes)


def cap_strings(value, limit: int = neutralise.MAX_TEXT):
    """Every string in a child's reply header cut to ``limit`` characters (type names, messages,
    frame names, reprs), before anything of it enters a result."""
    if isinstance(value, str):
        return neutralise.cap(value, limit)
    if isinstance(value, dict):
        return {neutralise.cap(k, 200) if isinstance(k, str) else k: cap_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [cap_strings(v, limit) for v in value]
    return value


def read_regular_capped(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of a regular file, never through a link, never blocking on a pipe."""
    return read_regular(path, limit)[:limit]


class ChildGone(Exception):
    """The child cannot answer: it timed out, crashed, or broke the protocol."""

    def __init__(self, reason: str, kind: str):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # "timeout" | "crash" | "protocol"


def clean_env() -> dict:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": tempfile.gettempdir(),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
        # torch.cuda.is_available() through NVML, not the CUDA runtime: whatever the zygote's imports
        # (torch._dynamo among them) ask, it stays a process that may fork CUDA-using children
        "PYTORCH_NVML_BASED_CUDA_CHECK": "1",
    }
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
        if key in os.environ:
            env[key] = os.environ[key]
    if os.name == "nt":  # Python cannot start without SYSTEMROOT there; torch finds its DLLs on PATH
        for key in ("SYSTEMROOT", "WINDIR", "TEMP", "TMP", "PATH", "PATHEXT", "COMSPEC"):
            if key in os.environ:
                env[key] = os.environ[key]
    return env


def _torch_dir() -> str | None:
    """Where torch is installed (hidden from the numpy-only child), found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    return os.path.dirname(spec.origin) if spec is not None and spec.origin else None


def _child_config(
    scratch: Path, limits: Limits, hide, device: str, dynamo: bool, numpy_only: bool = False
) -> tuple[dict, UidLease | None]:
    """The child's configuration, and the lease of its sandbox uid (root only) that its channel holds.
    ``numpy_only``: torch's directory is hidden too, a layer under the child's own refusal to import
    torch (entry.py)."""
    output = scratch / ".output"
    if os.path.lexists(output):  # a level restarted: never reuse what a child may have swapped in
        os.unlink(output)
    os.close(os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600))
    hide = list(hide or [])
    torch_dir = _torch_dir() if numpy_only else None
    if torch_dir:
        hide.append(torch_dir)
    os.chmod(scratch, 0o700)  # (its parent must let the sandbox user pass: see GradingContext)
    config = {
        "scratch": str(scratch),
        "output": str(output),
        "nonce": secrets.token_hex(8),
        "limits": limits.rlimits(device),
        "isolate": limits.isolate,
        "hide": hide,
        "dynamo": dynamo,
        "scratch_bytes": limits.scratch_bytes,
        "numpy_only": numpy_only,
        "device": device,  # the child tests, before any student code, that torch runs there
    }
    lease = None
    if limits.isolate and hasattr(os, "getuid") and os.getuid() == 0:
        lease = UidLease.acquire()
        config["uid"] = lease.uid
    return config, lease


def unusable_reason(hello: dict) -> str:
    """Why a child that started cannot run the grader's work (its self-test failed, before any
    student code): the message a grader error carries."""
    return "the sandbox child cannot run torch here: " + neutralise.cap(str(hello.get("unusable")), 500)


def _handshake(
    ours: socket.socket,
    pid: int,
    config: dict,
    scratch: Path,
    limits: Limits,
    hello_timeout: float,
    proc: subprocess.Popen | None = None,
    lease: UidLease | None = None,
) -> Channel:
    """Wait for the new child's hello (its nonce, and the protections that held) and wrap it in a Channel."""
    ours.settimeout(hello_timeout)

    def fail(why: str):
        _kill_group(pid)
        if lease is not None:
            _kill_uid(lease.uid)
            lease.release()
        if proc is not None:
            proc.wait()
        return SandboxFailure(why)

    try:
        hello, _ = wire.recv_message(ours, deadline=time.monotonic() + hello_timeout, max_buffers=0)
    except (OSError, wire.WireError) as exc:
        raise fail(f"the sandbox child did not start: {exc}") from None
    if hello.get("hello") != config["nonce"]:
        raise fail("the sandbox child answered with the wrong nonce")
    if hello.get("unusable"):
        raise fail(unusable_reason(hello))
    protections = cap_strings(hello.get("protections", {}))
    uid = protections.get("uid")
    if lease is not None and uid is None:  # it kept our uid after all (the installation was private)
        lease.release()
        lease = None
    return Channel(ours, pid, scratch, limits, uid=uid, protections=protections, proc=proc, uid_lease=lease)


class ChildPool:
    """Where sandboxed children come from: a ``Zygote`` (forks them from a warm interpreter), a
    ``Spawner`` (starts a fresh interpreter for each, over a passed socket) or a ``Portable`` pool (a
    fresh interpreter for each, over its standard input and output: every platform). ``start_pool``
    picks the kind."""

    start_method = ""  # "fork", "spawn" or "portable", reported with the protections

    def fork(
        self,
        scratch: Path,
        limits: Limits,
        hide: list[str] | None = None,
        device: str = "cpu",
        hello_timeout: float = 120.0,
        dynamo: bool = True,
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

    def warm_dynamo(self) -> None:
        """Prepare torch._dynamo ahead of the children that will need it (where that helps)."""

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
        dynamo: bool = True,
        numpy_only: bool = False,
    ) -> Channel:
        """A fresh child. ``dynamo``: the child will use torch.optim or the meta device, whose first
        use imports torch._dynamo; the zygote does that once, before this child, rather than in
        every child (children that do not need it are not kept waiting for it). ``numpy_only``:
        forked from a second zygote that has imported numpy and never torch."""
        if numpy_only and not self.numpy_only:
            self.start_numpy_only()
            return self._numpy.fork(scratch, limits, hide, device, hello_timeout, dynamo=False, numpy_only=True)
        ours, theirs = socket.socketpair()
        config, lease = _child_config(scratch, limits, hide, device, dynamo and not self.numpy_only, self.numpy_only)
        try:
            with self._fork_lock:  # one request and its answer at a time (children may be started on threads)
                socket.send_fds(self._ctrl, [json.dumps(config).encode()], [theirs.fileno()])
                self._ctrl.settimeout(hello_timeout)
                pid = json.loads(self._ctrl.recv(1 << 16))["pid"]
        except (OSError, ValueError, KeyError) as exc:
            if lease is not None:
                lease.release()
            raise SandboxFailure(f"the sandbox could not start a child: {exc}") from None
        finally:
            theirs.close()
        return _handshake(ours, pid, config, scratch, limits, hello_timeout, lease=lease)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def start_numpy_only(self) -> None:
        """Start the numpy-only companion now, ahead of the first numpy-level child."""
        if not self.numpy_only and (self._numpy is None or not self._numpy.alive()):
            if self._numpy is not None:
                self._numpy.close()
            self._numpy = Zygote(numpy_only=True, gpu=self.gpu)

    def set_oom_score_adj(self, value: int) -> None:
        """Make the kernel's OOM killer pick the children first (they inherit it from the zygote)."""
        _write_oom_score_adj(self.proc.pid, value)

    def warm_dynamo(self) -> None:
        """Have the zygote import torch._dynamo as soon as it can (right after torch), before any
        request: for a run whose every child will need it, this overlaps the grader's own imports."""
        try:
            self._ctrl.send(json.dumps({"warm": "dynamo"}).encode())
        except OSError:
            pass

    def close(self) -> None:
        """End the zygote at once (it holds no state worth a graceful exit: its children are ended by
        their channels), then any orphan of student code that was reparented to it (a subreaper)."""
        if self._numpy is not None:
            self._numpy.close()
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
        dynamo: bool = True,
        numpy_only: bool = False,
    ) -> Channel:
        ours, theirs = socket.socketpair()
        config, lease = _child_config(scratch, limits, hide, device, dynamo, numpy_only)
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

    def warm_dynamo(self) -> None:
        """Nothing to warm: each child is a fresh interpreter."""

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
    if levels and dynamo_first(levels):
        pool.warm_dynamo()
    if levels and any(LEVELS[lv].numpy for lv in levels if lv in LEVELS) and isinstance(pool, Zygote):
        pool.start_numpy_only()  # its start (numpy only: a fraction of torch's) overlaps the grader's
    return pool


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


def _write_oom_score_adj(pid: int, value: int) -> None:
    try:  # raising it needs no privilege
        Path(f"/proc/{pid}/oom_score_adj").write_text(str(value))
    except OSError:
        pass


def _proc_stat(pid: str):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(")") + 2 :].split()
    return fields  # fields[0] = state, [1] = ppid, [2] = pgrp, [21] = rss (pages)


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
    found = []
    for p in _pids():
        if uid is not None:
            try:
                if os.stat(f"/proc/{p}").st_uid != uid:
                    continue
            except OSError:
                continue
        st = _proc_stat(p)
        if st is None or st[0] == "Z":
            continue
        if pgrp is not None and uid is None and int(st[2]) != pgrp:
            continue
        found.append(int(p))
    return found


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
    for _ in range(rounds):
        pids = processes_of(uid=uid)
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)


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
                # call long after starting it (the convergence runs of every level start together,
                # and are collected level by level), and its own delay is no student's timeout.
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
        """End the child and everything it started. wait=False signals them without waiting until
        every process of the sandbox user is gone: then reap() must follow (closing many channels,
        the grader signals all of them first, and waits for all together)."""
        if not self.dead:
            self.dead = reason
        _kill_group(self.pid)
        if self.uid is not None:
            _kill_uid(self.uid, rounds=50 if wait else 1)
        try:
            self.sock.close()
        except OSError:
            pass
        if wait:
            self._wait_proc()
            if self.uid_lease is not None and not processes_of(uid=self.uid_lease.uid):
                self.uid_lease.release()
                self.uid_lease = None

    def reap(self) -> None:
        """Wait (a bounded while, killing again) until no process of the child's sandbox user is left;
        then its uid may go to another child."""
        if self.uid is not None:
            _kill_uid(self.uid)
        self._wait_proc()
        if self.uid_lease is not None and not processes_of(uid=self.uid_lease.uid):
            self.uid_lease.release()
            self.uid_lease = None

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


# ------------------------------------------------------------------------- the portable transport


class Portable(ChildPool):
    """A fresh ``python -I child/entry.py --pipe`` interpreter per child, talking the same wire over
    its standard input and output: what every platform has (Windows and macOS included; no fork,
    no descriptor passing, no process groups needed). The time limits are enforced from here, and
    the child is ended with its whole process tree. On Linux it takes the same protections as the
    other pools' children (``KIT_SANDBOX_START=portable`` tests this path there).

    One interpreter is kept started ahead (it imports torch, then waits for its configuration), so
    that the next child's start-up overlaps the grader's work instead of following it."""

    start_method = "portable"

    def __init__(self):
        self.oom_score_adj: int | None = None
        self._spare: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def alive(self) -> bool:
        return True

    def set_oom_score_adj(self, value: int) -> None:
        self.oom_score_adj = value

    def _start_interpreter(self, numpy_only: bool = False) -> subprocess.Popen:
        args = ["--pipe", "--numpy-only"] if numpy_only else ["--pipe"]
        return subprocess.Popen(
            child_command(*args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=clean_env(),
            cwd=tempfile.gettempdir(),
            **_own_process_group(),
        )

    def _take_interpreter(self) -> subprocess.Popen:
        """The interpreter started ahead if it is still alive, else a new one; then start the next."""
        with self._lock:
            proc, self._spare = self._spare, None
            if proc is None or proc.poll() is not None:
                proc = self._start_interpreter()
            try:
                self._spare = self._start_interpreter()
            except OSError:
                self._spare = None
        return proc

    def fork(
        self,
        scratch: Path,
        limits: Limits,
        hide: list[str] | None = None,
        device: str = "cpu",
        hello_timeout: float = 120.0,
        dynamo: bool = True,
        numpy_only: bool = False,
    ) -> Channel:
        config, lease = _child_config(scratch, limits, hide, device, dynamo, numpy_only)
        try:
            # the numpy-only child never imports torch: a fresh one, not the spare (which has torch)
            proc = self._start_interpreter(numpy_only=True) if numpy_only else self._take_interpreter()
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
        """End the interpreter started ahead (the children are ended by their channels)."""
        with self._lock:
            proc, self._spare = self._spare, None
        if proc is not None:
            kill_tree(proc.pid)
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            proc.wait()


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
        if self.uid is not None:
            _kill_uid(self.uid, rounds=50 if wait else 1)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if wait:
            self._wait_proc()
            if self.uid_lease is not None and not processes_of(uid=self.uid_lease.uid):
                self.uid_lease.release()
                self.uid_lease = None

    def close(self, wait: bool = True) -> None:
        self.peak_rss = max(self.peak_rss, self.high_water_rss())
        self.kill(self.dead or "closed", wait=wait)
