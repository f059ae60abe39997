"""Fresh interpreters in milliseconds for tests that need torch imported and nothing else done yet.

A test of what happens *after* ``import torch`` (tests/test_lazy_modules.py: a stand-in must be in
place before anything imports its module) needs a process in which torch was imported and nothing
else happened. A new interpreter gives one for a second and a half of ``import torch``;
``TorchForks`` imports torch once, in a server process, and forks a child per script from there,
which starts in that same state. Each script runs as ``python -c`` runs it: as ``__main__``, in a
module of its own, with its output and exit status its own.

The server only imports torch (no thread pool started, no backward pass, no device touched), which
is the state the kit's own zygote forks from. Where ``os.fork`` is missing (Windows), or the server
cannot start, each script runs in a new interpreter instead: slower, the same results.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

#: The server: import torch, then per request line fork a child that runs the script as __main__.
SERVER = r"""
import json, os, sys, traceback, types
import torch

def run_script(code, out, err):
    fd_out = os.open(out, os.O_WRONLY | os.O_TRUNC)
    fd_err = os.open(err, os.O_WRONLY | os.O_TRUNC)
    os.dup2(fd_out, 1)
    os.dup2(fd_err, 2)
    sys.stdin = open(os.devnull)
    main = types.ModuleType("__main__")  # (as `python -c`: a __main__ of the script's own)
    main.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = main
    sys.argv = ["-c"]
    status = 0
    try:
        exec(compile(code, "<string>", "exec"), main.__dict__)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(status)

for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        run_script(request["code"], request["out"], request["err"])
    _, wait_status = os.waitpid(pid, 0)
    print(json.dumps({"returncode": os.waitstatus_to_exitcode(wait_status)}), flush=True)
"""


class TorchForks:
    """Run scripts, each in a child forked from one interpreter that imported torch; ``close()`` ends
    the server, and a script past its timeout ends with it."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="kit-forks-")
        self._server = None
        if hasattr(os, "fork"):
            self._server = subprocess.Popen(
                [sys.executable, "-c", SERVER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,  # (its children share its process group: one kill ends all)
            )

    def run(self, code: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """What ``subprocess.run([python, "-c", code], capture_output=True, text=True)`` would give."""
        if self._server is None or self._server.poll() is not None:
            code = '__import__("torch")\n' + code  # (the same start: torch imported, no name bound)
            return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
        out, err = Path(self._dir.name, "out"), Path(self._dir.name, "err")
        out.write_text("")
        err.write_text("")
        self._server.stdin.write(json.dumps({"code": code, "out": str(out), "err": str(err)}) + "\n")
        self._server.stdin.flush()
        ready, _, _ = select.select([self._server.stdout], [], [], timeout)
        if not ready:
            self.close(kill=True)
            raise subprocess.TimeoutExpired("a forked script", timeout)
        reply = self._server.stdout.readline()
        if not reply:  # (the server died: say so with what the child left)
            raise RuntimeError(f"the fork server ended: {err.read_text(errors='replace')[-2000:]}")
        returncode = json.loads(reply)["returncode"]
        stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
        return subprocess.CompletedProcess(["<forked>", "-c", code], returncode, stdout, stderr)

    def close(self, kill: bool = False) -> None:
        """End the server: at once with ``kill`` (and a child still running with it: its process
        group), otherwise when it has read to the end of its input."""
        server, self._server = self._server, None
        if server is not None:
            if not kill:
                server.stdin.close()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    kill = True
            if kill:
                try:
                    os.killpg(server.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                server.wait()
            for pipe in (server.stdin, server.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
        self._dir.cleanup()
