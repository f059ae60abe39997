"""Students on every machine (issue 14): the kit grades the same from a venv that was never
activated, from a venv inside a private directory as root, as an ordinary user, and on simulated
platforms that lack what Windows and macOS lack (tests/platform_sim.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

import envs
from autograder.child.confine import _blocked_ancestor

ROOT = Path(__file__).resolve().parents[1]
SIM = ROOT / "tests" / "platform_sim.py"
IS_ROOT = hasattr(os, "getuid") and os.getuid() == 0
pytestmark = pytest.mark.slow  # each test starts graders and cold children (20-90 s each)


def grade_json(python: str, directory: Path, levels: list[int], env: dict | None = None, prefix=()):
    """``python -m autograder grade DIR --format json`` (through ``prefix``: a platform simulation)."""
    args = [a for lv in levels for a in ("--level", str(lv))]
    cmd = [python, *prefix, "-m", "autograder", "grade", str(directory), *args, "--format", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout)


def kit_env(**extra) -> dict:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": tempfile.gettempdir(), "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def assert_full_marks(report: dict) -> None:
    assert report["errors"] == [], report["errors"]
    failed = [c["message"] for c in report["checks"] if not c["passed"]]
    assert not failed, failed
    assert report["score"] == report["max_score"] > 0


def make_venv(where: Path, own_packages: bool = False) -> Path:
    """A venv that has the running suite's packages (tests/envs.py: never ``--system-site-packages``
    from ``sys.executable``, whose base lacks them when the suite runs in a venv); ``own_packages``:
    torch, numpy and their requirements are files of the venv itself (imported through its path)."""
    return envs.make_venv(where, own=("torch", "numpy") if own_packages else ())


# ----------------------------------------------------------------------------- virtual environments


@pytest.mark.skipif(not IS_ROOT, reason="the case is root's: its sandbox user must be able to import the installation")
@pytest.mark.skipif(
    _blocked_ancestor(sys.base_prefix) is None,
    reason="this Python does not live under a private directory (nothing to reproduce)",
)
def test_root_grades_from_a_venv_beside_its_private_base_interpreter(tmp_path):
    """A venv inside the same private (mode 700) directory as the Python it was made from (as in a
    Docker image with pyenv and a venv in /root): the sandbox user must reach both trees. This gave
    a grader error on every check ("the sandbox child did not start")."""
    private = Path(_blocked_ancestor(sys.base_prefix))
    home = Path(tempfile.mkdtemp(prefix="kit-venv-", dir=private))
    try:
        os.chmod(home, 0o700)
        python = make_venv(home / "venv", own_packages=True)
        for start in ("fork", "portable"):
            env = kit_env(KIT_SANDBOX_START=start)
            full = grade_json(str(python), ROOT / "solutions", [1, 6], env)
            assert_full_marks(full)
            assert full["sandbox"]["user"].startswith("uid "), full["sandbox"]  # the unprivileged user held
            stub = grade_json(str(python), ROOT / "assignments", [3], env)
            assert stub["errors"] == [] and stub["score"] == 0
            assert all("not implemented" in c["message"] for c in stub["checks"])
    finally:
        shutil.rmtree(home)


def test_nbgrader_init_through_an_unactivated_venv(tmp_path):
    """``/path/to/venv/bin/python -m autograder nbgrader init`` with nothing of the venv (nor of
    the Python it was made from) on PATH: cron, systemd units and IDEs run it so. nbgrader runs
    ``alembic`` by name; it was looked up on PATH only (FileNotFoundError)."""
    python = make_venv(tmp_path / "venv")
    env = kit_env()
    assert shutil.which("alembic", path=env["PATH"]) is None  # (else this would prove nothing)
    course = tmp_path / "course"
    proc = subprocess.run(
        [str(python), "-m", "autograder", "nbgrader", "init", str(course), "--levels", "1", "--no-generate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (course / "gradebook.db").is_file()


@pytest.mark.skipif(not IS_ROOT or not shutil.which("useradd"), reason="creating a user needs root and useradd")
def test_check_as_an_ordinary_user_from_a_venv_in_their_home(tmp_path):
    """A student's account: not root, a venv in their own home directory, their work there too."""
    name = f"kitstu{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--create-home", "--home-dir", f"/home/{name}", name], check=True)
    try:
        home = Path(f"/home/{name}")
        shutil.copytree(ROOT / "solutions", home / "work")
        subprocess.run(["chown", "-R", f"{name}:{name}", str(home / "work")], check=True)
        make_venv(home / "venv")  # (the running suite's packages, linked: a venv's too)
        subprocess.run(["chown", "-R", "--no-dereference", f"{name}:{name}", str(home / "venv")], check=True)
        script = f"cd ~ && PYTHONPATH={shlex_quote(str(ROOT))} ~/venv/bin/python -m autograder check --dir ~/work 1 3"
        proc = subprocess.run(
            _as_user(name, script),
            capture_output=True,
            text=True,
            timeout=600,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "Total: 25 / 25" in proc.stdout, proc.stdout[-3000:]
        assert "grader error" not in proc.stdout
    finally:
        subprocess.run(["userdel", "--remove", name], capture_output=True)


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _as_user(name: str, script: str) -> list[str]:
    """``script`` run by ``name``. Where this Python lives under a private directory (root's home
    here), the user could not even start it: then a mount namespace of the test's own lays the
    installation open for them, as a machine whose Python everyone may use would be."""
    run = [
        "setpriv",
        f"--reuid={name}",
        f"--regid={name}",
        "--init-groups",
        "--reset-env",
        "sh",
        "-c",
        f"HOME=/home/{name}; export HOME; {script}",
    ]
    private = _blocked_ancestor(sys.base_prefix)
    if private is None:
        return run
    base = os.path.realpath(sys.base_prefix)
    stage = tempfile.mkdtemp(prefix="kit-stage-")
    expose = (
        f"mount --bind {shlex_quote(base)} {stage} && mount -t tmpfs -o mode=755 tmpfs {shlex_quote(private)} "
        f'&& mkdir -p {shlex_quote(base)} && mount --bind {stage} {shlex_quote(base)} && exec "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", expose, "sh", *run]


# ----------------------------------------------------------------------------- simulated platforms


@pytest.mark.parametrize("platform,start", [("windows", "auto"), ("macos", "portable"), ("macos", "fork")])
def test_a_platform_without_linux_protections_grades_the_reference_to_full_marks(platform, start):
    """The grader and its children without what Windows lacks (resource, fcntl, fork, setsid,
    killpg, SIGKILL, descriptor passing, the C library) or what macOS lacks (unshare, prctl). On
    macOS the child died of an AttributeError (libc.unshare), and on Windows nothing imported."""
    env = kit_env(KIT_SANDBOX_START=start)
    report = grade_json(sys.executable, ROOT / "solutions", [1, 6], env, prefix=[str(SIM), platform])
    assert_full_marks(report)
    assert report["sandbox"]["network"].startswith("not isolated")  # said, not fatal
    assert report["sandbox"]["start"] == ("portable" if start == "auto" else start)
    if platform == "windows":
        assert "RLIMIT_CPU" in report["sandbox"]["limits_failed"]


def test_official_grading_refuses_where_the_sandbox_cannot_isolate():
    """``grade --require-isolation`` on a platform without the protections (simulated macOS): refused
    before any student code runs, exit status 2, no report and no score."""
    env = kit_env(KIT_SANDBOX_START="portable")
    cmd = [
        sys.executable,
        str(SIM),
        "macos",
        "-m",
        "autograder",
        "grade",
        str(ROOT / "solutions"),
        "--level",
        "1",
        "--format",
        "json",
        "--require-isolation",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout == "" and "refused, nothing was graded: isolation is required" in proc.stderr
    assert "network: not isolated" in proc.stderr and "user:" in proc.stderr


def test_official_grading_proceeds_where_the_sandbox_isolates(zygote, tmp_path):
    from autograder.grading import grade
    from autograder.sandbox import Limits, isolation_shortfall
    from conftest import SEED

    report = grade(ROOT / "solutions", [1], SEED, pool=zygote, limits=Limits(require_isolation=True))
    if isolation_shortfall(report.sandbox):
        pytest.skip(f"this machine cannot isolate: {report.sandbox}")
    assert report.errors == [] and report.score == report.max_score


SELF_CHECK = """
import importlib.util, json, sys
from autograder.grading import grade
spec = importlib.util.spec_from_file_location("level3_autograd", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
report = grade(None, [3], 1, in_process={3: vars(module)})
print(json.dumps({"score": report.score, "max_score": report.max_score, "errors": report.errors}))
"""


@pytest.mark.parametrize("platform", ["windows", "macos"])
def test_the_notebook_self_check_grades_on_a_platform_without_linux_protections(platform):
    """The in-kernel self-check (what a notebook's check cells run): on Windows it did not even
    import (grading imported resource)."""
    proc = subprocess.run(
        [sys.executable, str(SIM), platform, "-c", SELF_CHECK, str(ROOT / "solutions" / "level3_autograd.py")],
        capture_output=True,
        text=True,
        timeout=600,
        env=kit_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["errors"] == [] and report["score"] == report["max_score"] == 12.5


def test_the_platform_smoke_suite_passes_here_through_the_portable_transport():
    """The script that .github/workflows/platforms.yml runs on macOS and Windows, run here on the
    transport those runners take (so the workflow's one step is known to work where it can be run)."""
    env = dict(os.environ, KIT_SANDBOX_START="portable", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "platform_smoke.py")],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "platform smoke suite: all passed" in proc.stdout
