"""A child's start: its command line and environment, the configuration it is sent, and the
handshake that checks its hello and wraps it in a ``Channel``."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..core import neutralise, wire
from .channels import Channel
from .errors import SandboxFailure
from .limits import Limits, cap_strings
from .processes import _kill_group, _kill_uid
from .uids import UidLease

#: The child's entry script, run as ``python -I RUNTIME_PATH --zygote FD``, ``--child FD`` or ``--pipe``.
RUNTIME_PATH = Path(__file__).resolve().parent.parent / "child" / "entry.py"

#: Scripts run before the entry script (``python -I PRELUDE... entry.py ...``): empty, except where a
#: test simulates another platform (tests/platform_sim.py takes away what Windows or macOS lack).
CHILD_PRELUDE: list[str] = []


def child_command(*args: str) -> list[str]:
    """The command line of a sandbox interpreter."""
    return [sys.executable, "-I", *CHILD_PRELUDE, str(RUNTIME_PATH), *args]


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
    scratch: Path, limits: Limits, hide, device: str, numpy_only: bool = False
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
