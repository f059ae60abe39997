"""The kit's own suite passes from a venv whose base interpreter has none of the kit's packages
(issue 26), as after the README's quick start in a venv: the tests that build environments build
them from what the running suite has (tests/envs.py).

``tests/test_platforms.py::test_nbgrader_init_through_an_unactivated_venv`` made its venv with
``--system-site-packages`` from ``sys.executable``: from a venv, that is the base interpreter's
packages, and it failed with ``No module named 'nbformat'``. Here a suite venv is made from another
interpreter of this Python version that lacks the kit's packages (a distribution's own
``/usr/bin/python3.X``), given the running suite's packages, and runs the environment-building
tests from there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envs import make_venv

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _bare_interpreter() -> str | None:
    """An interpreter of this Python's version, not this one, without the kit's packages."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    mine = {os.path.realpath(sys.executable), os.path.realpath(getattr(sys, "_base_executable", sys.executable))}
    for directory in ("/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"):
        candidate = shutil.which(version, path=directory)
        if not candidate or os.path.realpath(candidate) in mine:
            continue
        probe = subprocess.run(
            [
                candidate,
                "-I",
                "-c",
                "import venv, importlib.util as u; raise SystemExit(u.find_spec('nbformat') is not None)",
            ],
            capture_output=True,
        )
        if probe.returncode == 0:
            return candidate
    return None


BARE = _bare_interpreter()


@pytest.mark.skipif(BARE is None, reason="no other interpreter of this Python version without the kit's packages")
def test_the_environment_building_tests_pass_from_a_venv(tmp_path):
    suite = make_venv(tmp_path / "suite", base=BARE)
    probe = subprocess.run(
        [str(suite), "-c", "import sys, nbformat; print(sys.base_prefix)"], capture_output=True, text=True
    )
    assert probe.returncode == 0, probe.stderr
    env = {"PATH": f"{suite.parent}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", "KIT_HISTORY": "off"}
    proc = subprocess.run(
        [str(suite), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_platforms.py", "-k", "nbgrader_init"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout[-4000:] + proc.stderr[-2000:]
