"""Run Python as on a platform that lacks what Windows or macOS lack, to test the portable core here.

    python tests/platform_sim.py windows -m autograder grade ...   (the grader; or -c PROGRAM)
    python -I tests/platform_sim.py windows-child entry.py --pipe   (its children: sandbox.environment.CHILD_PRELUDE)

"windows": no resource, fcntl, os.fork, os.setsid, os.killpg, os.getuid (the grader only; see NO_USER),
signal.SIGKILL, descriptor passing
(socket.send_fds/recv_fds), and no C library to ask for unshare, mount or prctl (ctypes.CDLL(None)
fails as it does on Windows). "macos": the C library has no unshare and no prctl. Standard library
only: the child runs it under ``python -I``.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import socket
import sys

MISSING_SYMBOLS = {"windows": {"unshare", "prctl", "mount"}, "macos": {"unshare", "prctl"}}


# A Windows user has no uid. Taken from the grader only: torch, believing itself on Linux, asks for
# the uid in the child (its cache directories); the grader without one asks the child for no switch.
NO_USER = ("getuid", "geteuid", "getgid", "setuid", "setgid", "setgroups", "chown")


def take_away(platform: str, grader: bool = False) -> None:
    missing = MISSING_SYMBOLS[platform]
    base = ctypes.CDLL

    class CDLL(base):
        def __init__(self, name, *args, **kwargs):
            if name is None and platform == "windows":
                raise TypeError("LoadLibrary() argument 1 must be str, not None")
            super().__init__(name, *args, **kwargs)

        def __getattr__(self, name):
            if name in missing:
                raise AttributeError(f"symbol {name} not found")
            return super().__getattr__(name)

        def __getitem__(self, name):
            if name in missing:
                raise AttributeError(f"symbol {name} not found")
            return super().__getitem__(name)

    ctypes.CDLL = CDLL
    if platform == "windows":
        for module in ("resource", "fcntl"):
            sys.modules[module] = None  # import raises ImportError, as there
        for owner, names in (
            (os, ("fork", "setsid", "killpg")),
            (signal, ("SIGKILL",)),
            (socket, ("send_fds", "recv_fds")),
        ):
            for name in names:
                if hasattr(owner, name):
                    delattr(owner, name)
        for name in NO_USER if grader else ():
            if hasattr(os, name):
                delattr(os, name)


def main() -> None:
    platform, args = sys.argv[1], sys.argv[2:]
    if platform.endswith("-child"):  # a sandbox child: run the entry script as __main__
        take_away(platform.removesuffix("-child"))
        sys.argv = args
        runpy.run_path(args[0], run_name="__main__")
        return
    take_away(platform, grader=True)
    from autograder import sandbox

    sandbox.environment.CHILD_PRELUDE[:] = [os.path.abspath(__file__), f"{platform}-child"]
    if args[0] == "-c":  # a program given as text, as python -c runs it
        sys.argv = ["-c", *args[2:]]
        exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})
        return
    assert args[0] == "-m"
    sys.argv = [args[1], *args[2:]]
    runpy.run_module(args[1], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
