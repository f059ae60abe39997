"""The child's confinement, applied by itself before it runs student code: its own network and
mount namespaces, private temporary directories, hidden paths, an unprivileged user (each where
the machine allows; ``confine`` says which held), and death with its parent."""
from __future__ import annotations

import os
import signal
import sys

import numpy as np
import torch

_CLONE_NEWNS = 0x00020000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 8, 4096, 0x4000, 1 << 18


def _blocked_ancestor(path: str):
    """The highest directory above path that other users cannot traverse (None if all can)."""
    parts = os.path.abspath(path).split(os.sep)
    for i in range(2, len(parts)):
        anc = os.sep.join(parts[:i]) or os.sep
        try:
            if not os.stat(anc).st_mode & 0o001:
                return anc
        except OSError:
            return None
    return None


def _outermost(paths) -> list[str]:
    """The paths that lie inside no other one of them."""
    paths = sorted({os.path.abspath(p) for p in paths})
    return [p for p in paths if not any(q != p and p.startswith(q.rstrip(os.sep) + os.sep) for q in paths)]


def _expose(libc, paths, workdir) -> bool:
    """Inside our own mount namespace, make the Python installation reachable by another user.

    When Python lives under a private directory (e.g. a venv in /root made from a pyenv Python that
    is also under /root), an unprivileged child could not import anything. Bind every private part
    of the installation aside first, then lay an empty world-traversable tmpfs over each private
    ancestor (which also hides the rest of it), then bind every part back in place. (All are set
    aside before any ancestor is covered: several trees may share one private ancestor.)
    """
    private = [(p, _blocked_ancestor(p)) for p in _outermost(paths) if os.path.isdir(p)]
    private = [(p, blocked) for p, blocked in private if blocked is not None]
    staged = []
    for i, (path, _) in enumerate(private):
        staging = os.path.join(workdir, f".expose-{i}")  # removed with the scratch directory
        os.makedirs(staging, exist_ok=True)
        if libc.mount(path.encode(), staging.encode(), None, _MS_BIND | _MS_REC, None) != 0:
            return False
        staged.append((path, staging))
    for blocked in _outermost(b for _, b in private):
        if libc.mount(b"tmpfs", blocked.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=64k,mode=0755") != 0:
            return False
    for path, staging in staged:
        os.makedirs(path, exist_ok=True)
        if libc.mount(staging.encode(), path.encode(), None, _MS_BIND | _MS_REC, None) != 0:
            return False
    return True


def _private_tmp(libc, scratch) -> bool:
    """Lay empty tmpfs over /tmp, /var/tmp and /dev/shm, so nothing written there outlives the
    child, keeping the scratch directory reachable at its own path (through a bind mount)."""
    ok, staging = True, None
    flags = _MS_NOSUID | _MS_NODEV
    if os.path.isdir("/dev/shm") and libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", flags, b"size=64m,mode=1777") == 0:
        if scratch and os.path.isdir(scratch):
            staging = "/dev/shm/.kit-scratch"
            os.makedirs(staging, exist_ok=True)
            ok = libc.mount(scratch.encode(), staging.encode(), None, _MS_BIND, None) == 0
    else:
        ok = False
    for d in ("/tmp", "/var/tmp"):
        if os.path.isdir(d):
            ok &= libc.mount(b"tmpfs", d.encode(), b"tmpfs", flags, b"size=256m,mode=1777") == 0
    if staging and ok:
        os.makedirs(scratch, exist_ok=True)
        ok = libc.mount(staging.encode(), scratch.encode(), None, _MS_BIND, None) == 0
    return bool(ok)


def _libc():
    """The C library, with errno, or None where there is none to ask (Windows: ctypes.CDLL(None)
    fails there)."""
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True)
    except (OSError, TypeError, AttributeError):
        return None


def _has(libc, name: str) -> bool:
    """Whether the C library has ``name`` (macOS's has no unshare, nor prctl)."""
    try:
        return libc is not None and getattr(libc, name) is not None
    except AttributeError:
        return False


def _errno_text() -> str:
    import ctypes
    return os.strerror(ctypes.get_errno())


def _namespaces(libc, held: dict) -> bool:
    """An empty network namespace, and a mount namespace of our own if we may: whether the latter held."""
    if not (_has(libc, "unshare") and _has(libc, "mount")):
        held["network"] = "not isolated (no unshare on this platform)"
        return False
    if libc.unshare(_CLONE_NEWNET | _CLONE_NEWNS) == 0:
        held["network"] = "isolated (empty network namespace)"
        return libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) == 0
    if libc.unshare(_CLONE_NEWNET) == 0:
        held["network"] = "isolated (empty network namespace)"
    else:
        held["network"] = f"not isolated (unshare: {_errno_text()})"
    return False


def _hide(libc, config: dict, held: dict, private_ns: bool) -> None:
    """Lay empty tmpfs over what the child must not see (only inside a mount namespace of its own)."""
    if not config.get("hide"):
        held["hidden_paths"] = "nothing to hide"
    if private_ns:
        held["temp_dirs"] = "private" if _private_tmp(libc, config.get("scratch")) else "shared"
    hide = [p for p in config.get("hide", []) if os.path.isdir(p)]  # (what was under /tmp is gone already)
    if private_ns and config.get("hide") and held.get("temp_dirs") == "private" and not hide:
        held["hidden_paths"] = "hidden"  # everything to hide lay under the private temporary directories
    if private_ns and hide:
        ok = all(libc.mount(b"tmpfs", p.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
                            b"size=64k,mode=0555") == 0 for p in hide)
        held["hidden_paths"] = "hidden" if ok else "partly hidden"


def installation_paths() -> list[str]:
    """Every directory the child must be able to read to run Python and the kit's libraries: the
    environment and its base interpreter's prefix (through symlinks too), and where torch and
    numpy live."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable),
             os.path.dirname(os.path.dirname(torch.__file__)), os.path.dirname(os.path.dirname(np.__file__))}
    paths |= {os.path.realpath(p) for p in list(paths)}
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(p for p in paths if p and os.path.isdir(p))


def _switch_user(libc, config: dict, held: dict, private_ns: bool) -> None:
    """As root, become an unprivileged user of our own, once the installation is reachable for it."""
    uid = config.get("uid")
    if uid is None or not hasattr(os, "setuid") or os.getuid() != 0:
        return
    install = installation_paths()
    reachable = all(_blocked_ancestor(p) is None for p in install) or (
        private_ns and bool(config.get("scratch")) and _expose(libc, install, config["scratch"]))
    if not reachable:
        held["user"] = "same user as the grader (the Python installation is private and could not be exposed)"
        return
    uid = int(uid) + os.getpid() % 100_000
    try:
        for path in (config.get("scratch"), config.get("output")):
            if path and os.path.exists(path):
                os.chown(path, uid, uid)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    except OSError as exc:
        held["user"] = f"same user as the grader (could not switch: {exc.strerror})"
        return
    held["user"] = f"uid {uid} (unprivileged)"
    held["uid"] = uid


def confine(config: dict) -> dict:
    """Apply the protections the machine allows; say which ones held (the grader reports them).
    Each is tried only where the platform has it, and one that fails leaves the child running
    with the weaker protections, said in what this returns."""
    held = {"network": "not isolated", "hidden_paths": "not hidden", "user": "same user as the grader"}
    libc = _libc()
    private_ns = _namespaces(libc, held) if config.get("isolate", True) else False
    _hide(libc, config, held, private_ns)
    _switch_user(libc, config, held, private_ns)
    return held


def die_with_parent() -> None:
    """Be killed when the parent dies (set after any change of user, which clears it)."""
    libc = _libc()
    if _has(libc, "prctl") and hasattr(signal, "SIGKILL"):
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
