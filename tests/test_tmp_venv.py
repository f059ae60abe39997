"""The installation is whole in the child wherever it lives: a venv under /tmp (issue 26).

The child lays private, empty file systems over /tmp, /var/tmp and /dev/shm. torch imports parts
of itself lazily (torch._dynamo at the first optimizer, torch.fx's symbolic shapes in autograd
paths), after that point, so a venv under /tmp whose private copy covered it lost those imports:
the reference scored 11 / 12.5 at level 3 and 8.5 / 12.5 at level 4 through fork, and 11 / 25 at
levels 3 and 6 through spawn and portable. The venv here holds torch, numpy and their requirements
itself (hard-linked into its own site-packages, under /tmp); a venv that only sees the base's
packages (``--system-site-packages``) would prove nothing, and the test checks that it does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from envs import make_venv

ROOT = Path(__file__).resolve().parent.parent
LINUX = sys.platform.startswith("linux")
IS_ROOT = hasattr(os, "getuid") and os.getuid() == 0
pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("tmp_venv"),  # one venv for the whole file
    pytest.mark.skipif(not (LINUX and IS_ROOT), reason="private /tmp mounts are root's on Linux (CI, Gradescope)"),
]


@pytest.fixture(scope="module")
def tmp_venv():
    base = Path(tempfile.mkdtemp(prefix="kit-tmp-venv-", dir="/tmp"))  # /tmp itself, not $TMPDIR
    python = make_venv(base / "venv", own=("torch", "numpy"))
    found = subprocess.run(
        [str(python), "-I", "-c", "import torch, numpy, sympy; print(torch.__file__, numpy.__file__, sympy.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    real = [os.path.realpath(f) for f in found]
    assert all(f.startswith(str(base) + "/") for f in real), f"the venv must hold its own packages: {real}"
    yield python
    import shutil

    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("start", ["fork", "spawn", "portable"])
def test_the_reference_gets_full_marks_from_a_venv_under_tmp(tmp_venv, start):
    levels = [3, 4] if start == "fork" else [3, 4, 6]  # (the fork pool imports torch._dynamo for 6-8)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "KIT_HISTORY": "off",
        "KIT_SANDBOX_START": start,
    }
    args = [a for lv in levels for a in ("--level", str(lv))]
    proc = subprocess.run(
        [str(tmp_venv), "-m", "autograder", "grade", str(ROOT / "solutions"), *args, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["sandbox"]["temp_dirs"] == "private", report["sandbox"]  # (else nothing was covered)
    assert report["sandbox"].get("start") == start, report["sandbox"]
    failed = {c["level"]: c["message"][:300] for c in report["checks"] if not c["passed"]}
    assert not failed and not report["errors"], (failed, report["errors"])
    assert report["score"] == report["max_score"] == 12.5 * len(levels)
