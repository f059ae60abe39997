"""The child's confinement, applied by itself before it runs student code: its own network and
mount namespaces, private temporary directories, hidden paths, an unprivileged user (each where
the machine allows; ``confine`` says which held), and death with its parent."""
from __future__ import annotations

import os
import signal
import sys

import numpy as np

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


def _expose(libc, paths, workdir) -> bool:
    """Inside our own mount namespace, make the Python installation reachable by another user.

    When Python lives under a private directory (e.g. /root/.pyenv), an unprivileged child could
    not import anything. Bind the installation aside, lay an empty world-traversable tmpfs over the
    private directory (which also hides the rest of it), and bind the installation back in place.
    """
    for i, path in enumerate(paths):
        blocked = _blocked_ancestor(path)
        if blocked is None or not os.path.isdir(path):
            continue
        staging = os.path.join(workdir, f".expose-{i}")  # removed with the scratch directory
        os.makedirs(staging, exist_ok=True)
        if libc.mount(path.encode(), staging.encode(), None, _MS_BIND | _MS_REC, None) != 0:
            return False
        if libc.mount(b"tmpfs", blocked.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=64k,mode=0755") != 0:
            return False
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


def confine(config: dict) -> dict:
    """Apply the protections the machine allows; say which ones held (the grader reports them)."""
    import ctypes
    held = {"network": "not isolated", "hidden_paths": "not hidden", "user": "same user as the grader"}
    libc = ctypes.CDLL(None, use_errno=True)
    private_ns = False
    if config.get("isolate", True):
        if libc.unshare(_CLONE_NEWNET | _CLONE_NEWNS) == 0:
            held["network"] = "isolated (empty network namespace)"
            private_ns = libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) == 0
        elif libc.unshare(_CLONE_NEWNET) == 0:
            held["network"] = "isolated (empty network namespace)"
        else:
            held["network"] = f"not isolated (unshare: {os.strerror(ctypes.get_errno())})"
    if private_ns:
        held["temp_dirs"] = "private" if _private_tmp(libc, config.get("scratch")) else "shared"
    hide = [p for p in config.get("hide", []) if os.path.isdir(p)]  # (what was under /tmp is gone already)
    if private_ns and config.get("hide") and held.get("temp_dirs") == "private" and not hide:
        held["hidden_paths"] = "hidden"  # everything to hide lay under the private temporary directories
    if private_ns and hide:
        ok = all(libc.mount(b"tmpfs", p.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
                            b"size=64k,mode=0555") == 0 for p in hide)
        held["hidden_paths"] = "hidden" if ok else "partly hidden"
    uid = config.get("uid")
    if uid is not None and os.getuid() == 0:
        install = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(np.__file__))}
        torch = sys.modules.get("torch")  # (not in the numpy-only child)
        if getattr(torch, "__file__", None):
            install.add(os.path.dirname(os.path.dirname(torch.__file__)))
        reachable = all(_blocked_ancestor(p) is None for p in install) or (private_ns and bool(config.get("scratch"))
                                                                        and _expose(libc, sorted(install), config["scratch"]))
        if reachable:
            uid = int(uid) + os.getpid() % 100_000
            for path in (config.get("scratch"), config.get("output")):
                if path and os.path.exists(path):
                    os.chown(path, uid, uid)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            held["user"] = f"uid {uid} (unprivileged)"
            held["uid"] = uid
        else:
            held["user"] = "same user as the grader (the Python installation is private and could not be exposed)"
    return held


def die_with_parent() -> None:
    """Be killed when the parent dies (set after any change of user, which clears it)."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
