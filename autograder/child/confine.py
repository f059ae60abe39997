"""The child's confinement, applied by itself before it runs student code: its own network and
mount namespaces, a new root that holds only what is allowed (the Python installation read-only,
its scratch directory on a size-limited tmpfs, /dev basics, a fresh /proc and private temporary
directories), an unprivileged user (each where the machine allows; ``confine`` says which held),
and death with its parent.

Hiding is by allow-list: as root, the child pivots into a root built from nothing, so the checkout,
its ``.git``, the course directory and the other submissions are not there to be found (nor do they
appear in ``/proc/self/mountinfo``: the old root is detached). Where that cannot be built, the
older deny-list (tmpfs over the grader's own directories) is the fallback, and the report says
"partly hidden (deny-list)"; as an ordinary user nothing can be hidden, and the report says so."""

from __future__ import annotations

import functools
import os
import signal
import sys

import numpy as np

_CLONE_NEWNS = 0x00020000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 8, 4096, 0x4000, 1 << 18
_MS_RDONLY, _MS_REMOUNT = 1, 32
_MNT_DETACH = 2
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}
#: system directories the interpreter's shared libraries come from (read-only in the new root)
_SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
_DEVICES = ("null", "zero", "full", "random", "urandom")


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


#: the directories each child gets empty and private (nothing written there outlives it)
PRIVATE_DIRS = ("/dev/shm", "/tmp", "/var/tmp")


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _held_open(paths) -> list[tuple[str, int]]:
    """A path-only descriptor on each directory: what it names stays reachable through
    ``/proc/self/fd/N`` after a mount covers it."""
    held = []
    for p in paths:
        try:
            held.append((p, os.open(p, os.O_PATH | os.O_DIRECTORY)))
        except OSError:
            continue
    return held


def _bind_back(libc, held) -> bool:
    """Bind each held directory back at its own path, read-only (inside a tmpfs that covered it)."""
    ok = True
    for path, fd in held:
        try:
            ok &= _bind(libc, f"/proc/self/fd/{fd}", path, True)
        finally:
            os.close(fd)
    return ok


def _private_tmp(libc, scratch) -> bool:
    """Lay empty tmpfs over /tmp, /var/tmp and /dev/shm, so nothing written there outlives the
    child, keeping the scratch directory reachable at its own path (through a bind mount), and
    every part of the Python installation that lies under one of them (a venv in /tmp) visible at
    its own path, read-only: torch imports modules lazily (torch._dynamo at the first optimizer),
    after this point, so covering the installation costs the student points it earned."""
    ok, staging = True, None
    flags = _MS_NOSUID | _MS_NODEV
    install = install_paths()
    held = {d: _held_open(p for p in install if _inside(p, d) and p != d) for d in PRIVATE_DIRS}
    if os.path.isdir("/dev/shm") and libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", flags, b"size=64m,mode=1777") == 0:
        ok &= _bind_back(libc, held.pop("/dev/shm"))
        if scratch and os.path.isdir(scratch):
            staging = "/dev/shm/.kit-scratch"
            os.makedirs(staging, exist_ok=True)
            ok &= libc.mount(scratch.encode(), staging.encode(), None, _MS_BIND, None) == 0
    else:
        ok = False
    for d in ("/tmp", "/var/tmp"):
        if os.path.isdir(d):
            covered = libc.mount(b"tmpfs", d.encode(), b"tmpfs", flags, b"size=256m,mode=1777") == 0
            ok &= covered and _bind_back(libc, held.pop(d))
    for rest in held.values():  # (not covered: nothing to bind back)
        for _, fd in rest:
            os.close(fd)
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


@functools.lru_cache(maxsize=1)
def install_paths() -> tuple[str, ...]:
    """Where the Python installation lives: the prefixes, the site-packages directories (the user
    site where it is enabled), and the directories that torch, numpy and every distribution they
    require were imported or will be imported from (an editable install of one of them included),
    but never a ``sys.path`` entry outside these (an editable install's checkout, such as the kit's
    own). torch imports parts of itself and of its requirements (sympy for torch._dynamo) lazily,
    after confinement, so all of them must stay visible."""
    import site

    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    try:
        found.update(site.getsitepackages())
        if site.ENABLE_USER_SITE:
            found.add(site.getusersitepackages())
    except AttributeError:  # (an embedded interpreter's site module may lack them)
        pass
    found.update(_package_dirs())
    found = {os.path.realpath(p) for p in found if p and os.path.isdir(p)}
    # the outermost only (a site-packages inside a prefix is already there)
    return tuple(sorted(p for p in found if not any(q != p and _inside(p, q) for q in found)))


#: the packages the child imports, whose requirements it may import too
_ROOT_DISTRIBUTIONS = ("torch", "numpy")


def _package_dirs() -> set[str]:
    """The directories holding torch, numpy and every distribution they require (transitively):
    where each one's metadata lies, and an editable install's source directory. Read from the
    metadata alone, without importing anything (a few milliseconds)."""
    import importlib.metadata as md
    import json
    import re
    from urllib.parse import unquote, urlparse

    dirs = {os.path.dirname(os.path.dirname(np.__file__))}
    torch = sys.modules.get("torch")  # (not in the numpy-only child)
    if getattr(torch, "__file__", None):
        dirs.add(os.path.dirname(os.path.dirname(torch.__file__)))
    seen: set[str] = set()
    todo = [d for d in _ROOT_DISTRIBUTIONS if d != "torch" or torch is not None]
    while todo and len(seen) < 200:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = md.distribution(name)
            dirs.add(str(dist.locate_file("")))
            direct = json.loads(dist.read_text("direct_url.json") or "{}")
            if direct.get("dir_info", {}).get("editable") and str(direct.get("url", "")).startswith("file:"):
                dirs.add(unquote(urlparse(direct["url"]).path))
            requires = dist.requires or []
        except (md.PackageNotFoundError, ValueError, OSError, AttributeError):
            continue
        todo.extend(re.split(r"[\s;<>=!~\[(]", r, maxsplit=1)[0] for r in requires if "extra ==" not in r)
    return dirs


def _bind(libc, source: str, target: str, read_only: bool) -> bool:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()
    if libc.mount(source.encode(), target.encode(), None, _MS_BIND | _MS_REC, None) != 0:
        return False
    if read_only:  # (a bind mount takes its flags only from a remount)
        flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
        return libc.mount(None, target.encode(), None, flags, None) == 0
    return True


def _tmpfs(libc, target: str, options: str, flags: int = _MS_NOSUID | _MS_NODEV) -> bool:
    os.makedirs(target, exist_ok=True)
    return libc.mount(b"tmpfs", target.encode(), b"tmpfs", flags, options.encode()) == 0


def _pivot(libc, new_root: str) -> bool:
    """Make new_root the root and detach the old one (chroot where pivot_root is unavailable)."""
    import platform

    os.chdir(new_root)
    number = _SYS_PIVOT_ROOT.get(platform.machine())
    if number is not None and libc.syscall(number, b".", b".old-root") == 0:
        os.chdir("/")
        return libc.umount2(b"/.old-root", _MNT_DETACH) == 0
    os.chroot(new_root)
    os.chdir("/")
    return True


def new_root(libc, config: dict, uid: int | None) -> bool:
    """Build a root holding only what the child may see, and move into it (root, in a private mount
    namespace). The scratch directory becomes a tmpfs of ``scratch_bytes`` (a write past it fails
    with ENOSPC, and nothing written there reaches the host's disk)."""
    root = "/tmp/.kit-root"  # (under the private /tmp tmpfs: gone with the namespace)
    if not _tmpfs(libc, root, "size=1m,mode=0755"):
        return False
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    # the private temporary directories first: a part of the installation under one of them (a
    # venv in /tmp) is then bound inside it, not covered by it
    ok = _tmpfs(libc, root + "/dev/shm", "size=64m,mode=1777")
    ok &= _tmpfs(libc, root + "/tmp", "size=256m,mode=1777")
    ok &= all(_bind(libc, p, root + p, True) for p in install_paths())
    ok &= all(_bind(libc, p, root + p, True) for p in _SYSTEM_DIRS if os.path.isdir(p) and not os.path.islink(p))
    for p in _SYSTEM_DIRS:  # /lib -> usr/lib on merged-/usr systems: keep the link
        if os.path.islink(p) and not os.path.lexists(root + p):
            os.symlink(os.readlink(p), root + p)
    ok &= all(_bind(libc, f"/dev/{d}", f"{root}/dev/{d}", False) for d in _DEVICES if os.path.exists(f"/dev/{d}"))
    gpu = sorted(d for d in os.listdir("/dev") if d.startswith("nvidia"))
    for d in gpu:  # a GPU's device nodes, and the /sys that CUDA reads, only where there is a GPU
        ok &= _bind(libc, f"/dev/{d}", f"{root}/dev/{d}", False)
    if gpu and os.path.isdir("/sys"):
        ok &= _bind(libc, "/sys", root + "/sys", True)
    os.makedirs(root + "/proc", exist_ok=True)
    proc_flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    ok &= (
        libc.mount(b"proc", (root + "/proc").encode(), b"proc", proc_flags, b"hidepid=2") == 0
        or libc.mount(b"proc", (root + "/proc").encode(), b"proc", proc_flags, None) == 0
    )
    scratch = config.get("scratch")
    if scratch:
        size = int(config.get("scratch_bytes") or 64 * 1024 * 1024)
        ok &= _tmpfs(libc, root + scratch, f"size={size},mode=0700{owner}")
    for p in config.get("hide", []):  # anything to hide that lies inside what was kept
        if os.path.isdir(root + p):
            ok &= _tmpfs(libc, root + p, "size=64k,mode=0555", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    if not ok:
        libc.umount2(root.encode(), _MNT_DETACH)
        return False
    os.makedirs(root + "/.old-root", exist_ok=True)
    if not _pivot(libc, root):
        return False
    os.rmdir("/.old-root")
    # the root's own tmpfs read-only: nothing can be added beside what was allowed
    libc.mount(None, b"/", None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, b"size=1m,mode=0755")
    return True


def _scratch_tmpfs(libc, config: dict, uid: int | None) -> bool:
    """The scratch directory as a tmpfs of ``scratch_bytes`` (the deny-list fallback's bound)."""
    scratch = config.get("scratch")
    if not scratch:
        return False
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    size = int(config.get("scratch_bytes") or 64 * 1024 * 1024)
    return _tmpfs(libc, scratch, f"size={size},mode=0700{owner}")


def _deny_list(libc, config: dict, held: dict) -> None:
    """The fallback: tmpfs over each of the grader's own directories (the report says partly)."""
    hide = [p for p in config.get("hide", []) if os.path.isdir(p)]  # (what was under /tmp is gone already)
    ok = all(_tmpfs(libc, p, "size=64k,mode=0555", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC) for p in hide)
    held["hidden_paths"] = (
        "partly hidden (deny-list: the grader's directories only; the rest of the disk is visible)"
        if ok
        else "not hidden (the deny-list could not be applied)"
    )


def confine(config: dict) -> dict:
    """Apply the protections the machine allows; say which ones held (the grader reports them)."""
    held = {"network": "not isolated", "hidden_paths": "not hidden", "user": "same user as the grader"}
    libc = _libc()  # (None on Windows; each step below only where the platform has it)
    private_ns = False
    if config.get("isolate", True):
        if not (_has(libc, "unshare") and _has(libc, "mount")):
            held["network"] = "not isolated (no unshare on this platform)"
        elif libc.unshare(_CLONE_NEWNET | _CLONE_NEWNS) == 0:
            held["network"] = "isolated (empty network namespace)"
            private_ns = libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) == 0
        elif libc.unshare(_CLONE_NEWNET) == 0:
            held["network"] = "isolated (empty network namespace)"
        else:
            held["network"] = f"not isolated (unshare: {_errno_text()})"
    root = hasattr(os, "getuid") and os.getuid() == 0
    uid = config.get("uid") if root else None
    if private_ns:
        held["temp_dirs"] = "private" if _private_tmp(libc, config.get("scratch")) else "shared"
    if private_ns and root and new_root(libc, config, uid):
        held["hidden_paths"] = (
            "hidden (allow-list: a new root with the Python installation read-only and the scratch directory)"
        )
        held["scratch"] = f"tmpfs of {int(config.get('scratch_bytes') or 0) // 2**20} MiB"
        reachable = True  # the new root holds the installation under world-traversable directories
    else:
        if private_ns and config.get("hide"):
            _deny_list(libc, config, held)
        elif not root:
            held["hidden_paths"] = "not hidden (ordinary user: no private mount namespace)"
        if private_ns:
            held["scratch"] = (
                f"tmpfs of {int(config.get('scratch_bytes') or 0) // 2**20} MiB"
                if _scratch_tmpfs(libc, config, uid)
                else "host disk (file-size limit only)"
            )
        else:
            held["scratch"] = "host disk (file-size limit only)"
        install = install_paths()
        reachable = uid is not None and (
            all(_blocked_ancestor(p) is None for p in install)
            or (private_ns and bool(config.get("scratch")) and _expose(libc, install, config["scratch"]))
        )
    if uid is not None and hasattr(os, "setuid"):
        if reachable:
            uid = int(uid)
            if config.get("output") and os.path.exists(config["output"]):
                os.chown(config["output"], uid, uid)
            if config.get("scratch") and os.path.isdir(config["scratch"]):
                os.chown(config["scratch"], uid, uid)
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
    libc = _libc()
    if _has(libc, "prctl") and hasattr(signal, "SIGKILL"):
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
