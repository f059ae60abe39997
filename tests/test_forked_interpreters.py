"""The test helper that gives tests/test_lazy_modules.py a process where torch was imported and
nothing else done (tests/forked_interpreters.py): each script runs as ``python -c`` would run it,
and nothing one script does is seen by the next."""

from __future__ import annotations

import json
import subprocess

import psutil
import pytest

import forked_interpreters
from forked_interpreters import TorchForks

pytestmark = pytest.mark.slow  # (with test_lazy_modules, the helper's one user)

SCRIPT = """
import json, sys
print(json.dumps({"name": __name__, "torch": "torch" in sys.modules, "mark": "kit_mark" in sys.modules,
                  "sympy": "sympy" in sys.modules, "dynamo": "torch._dynamo" in sys.modules,
                  "main_vars": sorted(k for k in vars(sys.modules["__main__"]) if not k.startswith("__"))}))
sys.modules["kit_mark"] = sys  # (traces the next script must not find)
import torch.fx.experimental.symbolic_shapes
"""


@pytest.fixture(scope="module")
def server():
    forks = TorchForks()
    if forks._server is None:
        pytest.skip("no os.fork on this platform")
    yield forks
    forks.close()


@pytest.fixture(params=["fork", "interpreter"])
def forks(request, monkeypatch):
    if request.param == "fork":
        yield request.getfixturevalue("server")
        return
    monkeypatch.delattr(forked_interpreters.os, "fork", raising=False)  # (as on Windows)
    forks = TorchForks()
    yield forks
    forks.close()


def test_each_script_starts_where_torch_is_imported_and_nothing_else(forks):
    first, second = (json.loads(forks.run(SCRIPT).stdout) for _ in range(2))
    fresh = {"name": "__main__", "torch": True, "mark": False, "sympy": False, "dynamo": False}
    assert first == second == {**fresh, "main_vars": ["json", "sys"]}


def test_output_errors_and_exit_status_are_the_scripts(server):
    forks = server
    out = forks.run("import sys\nprint('to out')\nprint('to err', file=sys.stderr)\nsys.exit(3)")
    assert (out.returncode, out.stdout, out.stderr) == (3, "to out\n", "to err\n")
    out = forks.run("raise ValueError('told')")
    assert out.returncode == 1 and out.stdout == "" and "ValueError: told" in out.stderr
    out = forks.run("import os\nos._exit(0)")  # (unflushed nothing, a clean status)
    assert (out.returncode, out.stdout) == (0, "")
    assert forks.run("print('after')").stdout == "after\n"


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_script_past_its_timeout_ends_with_the_server_and_leaves_nothing(tmp_path):
    forks = TorchForks()
    try:
        if forks._server is None:
            pytest.skip("no os.fork on this platform")
        server = forks._server.pid
        forks.run("pass")  # (the server's import of torch done: the timeout below is the script's)
        pid_file = tmp_path / "pid"
        sleeper = f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)"
        with pytest.raises(subprocess.TimeoutExpired):
            forks.run(sleeper, timeout=1)
        script = int(pid_file.read_text())
        assert script != server
        psutil.wait_procs([psutil.Process(script)] if psutil.pid_exists(script) else [], timeout=5)
        assert _gone(server) and _gone(script)
        # afterwards each script runs in a new interpreter
        assert forks.run("print(1 + 1)").stdout == "2\n"
    finally:
        forks.close()
