"""Running the real nbgrader CLI from this interpreter: its scripts directory on PATH, and the kit of
this checkout on PYTHONPATH, so that nbgrader's kernels and preprocessors grade with this code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

# ----------------------------------------------------------------------------------- nbgrader CLI


def nbgrader(
    course: Path, *args: str, check: bool = False, quiet: bool = False, env_extra: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the real nbgrader CLI in the course directory (where it finds nbgrader_config.py)."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    if not quiet:
        print("$ nbgrader " + " ".join(_quote(a) for a in args), file=sys.stderr, flush=True)
    # An autograde kernel is no learner: its self-checks keep no self-study record (history.py).
    env = {**beside_interpreter_env(), "KIT_HISTORY": "off", **(env_extra or {})}
    proc = subprocess.run(cmd, cwd=course, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise RuntimeError(f"nbgrader {' '.join(args)} failed with status {proc.returncode}")
    return proc


def _scripts_dirs() -> list[str]:
    """Where the commands of this interpreter's packages are: beside it (a venv's bin/), then its base
    installation's (a venv made with --system-site-packages uses the base's packages, and commands)."""
    sub = "Scripts" if os.name == "nt" else "bin"
    found = []
    for d in (
        os.path.dirname(sys.executable),
        os.path.join(sys.prefix, sub),
        os.path.dirname(os.path.realpath(sys.executable)),
        os.path.join(sys.base_prefix, sub),
    ):
        if os.path.isdir(d) and d not in found:
            found.append(d)
    return found


def beside_interpreter_env() -> dict:
    """This environment with the running interpreter's scripts directory first on PATH: what
    nbgrader starts by name (``alembic``, ``jupyter``) is then the one installed beside
    sys.executable, also from a virtual environment that was never activated (cron, systemd, IDEs)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([*_scripts_dirs(), env.get("PATH", "")])
    # nbgrader imports the kit's preprocessors from the course's config: the same kit as this
    # command's, also when it runs from a source checkout that another installation shadows
    # (an editable install of another clone would otherwise grade with that clone's code).
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").is_file():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(checkout), env.get("PYTHONPATH", "")) if p)
    return env


def put_scripts_on_path() -> None:
    """The same for this process (nbgrader's Gradebook runs ``alembic`` by name when it creates a
    gradebook)."""
    current = os.environ.get("PATH", "").split(os.pathsep)
    missing = [d for d in _scripts_dirs() if d not in current]
    if missing:
        os.environ["PATH"] = os.pathsep.join([*missing, *current])


def _quote(arg: str) -> str:
    return arg if re.fullmatch(r"[\w./=:@,+-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"
