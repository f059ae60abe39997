"""The bounds on one child: ``Limits`` (its rlimits and the watches kept from outside), what official
grading requires of its confinement, and the caps on what a reply may carry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core import neutralise, wire
from ..core.submission import read_regular


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
