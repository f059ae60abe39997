"""``python -m autograder lab``: JupyterLab on the assignments, and where to begin.

Students who never open a terminal start here (docs/jupyterlab.md): JupyterLab opens on the
assignments folder at level 1's notebook, whose locked grade cells self-check each stage.

What the command sets up:

- JupyterLab on ``--dir`` (default ``assignments/``), on localhost, with a token; the browser
  opens level 1's notebook (``--no-browser``: the command prints the address instead).
- Kernels run with one BLAS/OpenMP thread (``OMP_NUM_THREADS`` and friends, unless already set),
  as the grader's sandbox does: the small problems of the kit run faster that way, and a busy
  laptop's self-check of level 1's training loop takes seconds instead of tens of seconds.
- nbgrader's Validate button (notebook toolbar; nbgrader 0.9 ships its JupyterLab extension and
  its server extension): it runs the notebook in a fresh kernel and lists the cells that fail.
  Validate reads ``nbgrader_config.py`` from the server's working directory. With ``--course``
  (an nbgrader course, ``python -m autograder nbgrader init``) that directory is the course;
  otherwise the current directory when it holds an ``nbgrader_config.py``; otherwise a temporary
  one whose config gives each cell ``settings.DEFAULT_CELL_TIMEOUT`` seconds (nbgrader's
  default, 30 s, is short for a training loop's self-check on a slow machine).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from ..core.curriculum import LEVELS
from ..core.settings import repo_root

#: Set in the kernels' environment unless the user set them (the sandbox's child sets the same).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
DEFAULT_PORT = 8888


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lab",
        help="open the notebooks in JupyterLab, at level 1 (start here)",
        description="Open JupyterLab on the assignments folder, at level 1's notebook.",
    )
    p.add_argument(
        "--dir", default=str(repo_root() / "assignments"), help="the folder of notebooks (default: assignments/)"
    )
    p.add_argument(
        "--port", type=int, default=None, help=f"the port (default: {DEFAULT_PORT}, or a free one when it is taken)"
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser; print the address")
    p.add_argument(
        "--course",
        default=None,
        metavar="COURSE_DIR",
        help="an nbgrader course directory: the Validate button uses its nbgrader_config.py",
    )
    p.add_argument("--dry-run", action="store_true", help="print what would run, and exit")
    p.set_defaults(func=cmd_lab)


def notebooks(directory: Path) -> list[tuple[int, Path]]:
    """The level notebooks found in ``directory`` (directly, or one folder down as nbgrader releases them)."""
    found = []
    for number, level in sorted(LEVELS.items()):
        name = f"{level.module}.ipynb"
        hits = [directory / name] + sorted(directory.glob(f"*/{name}"))
        hit = next((h for h in hits if h.is_file()), None)
        if hit is not None:
            found.append((number, hit))
    return found


def kernel_env(base: dict | None = None) -> dict:
    """The server's (and so its kernels') environment: one BLAS thread unless the user chose."""
    env = dict(os.environ if base is None else base)
    for name in THREAD_VARIABLES:
        env.setdefault(name, "1")
    return env


def free_port(preferred: int | None = DEFAULT_PORT, host: str = "127.0.0.1") -> int:
    """``preferred`` when nothing listens there, else a port the system says is free."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


def lab_command(directory: Path, port: int, token: str, open_browser: bool, first: Path | None) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={directory}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI run as root; JupyterLab refuses it otherwise
    if not open_browser:
        cmd.append("--no-browser")
    if first is not None:
        cmd.append(str(first))  # the file to open: level 1's notebook
    return cmd


def welcome(directory: Path, found: list[tuple[int, Path]], url: str | None) -> str:
    lines = [f"JupyterLab on {directory}", ""]
    if found:
        number, path = found[0]
        rel = path.relative_to(directory)
        lines += [
            f"Where to begin: {rel} (level {number}: {LEVELS[number].title}); the levels go up to "
            f"{found[-1][1].relative_to(directory)}.",
            "",
            "In each notebook, a short text introduces each function; the cell below it says",
            "`# YOUR CODE HERE`: replace its `raise NotImplementedError(...)` with your code. The locked",
            f'cells `check({number}, "forward")` and so on self-check one stage each when they run: a table of',
            "what passed and what failed (expected against got, and a hint), and the loss curve of your",
            "training loop. Run > Run All Cells runs from the top and stops at the first stage that does",
            "not pass yet. The Validate button (notebook toolbar) runs the whole notebook in a fresh kernel.",
            f'Stuck? hint({number}, "forward") in a new cell gives a hint, one step further each time you run it.',
            "The official grade comes from the grader, which runs your code in isolation.",
        ]
    else:
        lines.append("(no level notebooks here: run `python -m autograder build` to make them)")
    if url:
        lines += ["", f"Open: {url}"]
    lines += ["Stop: Ctrl+C in this terminal (twice), or File > Shut Down in JupyterLab.", ""]
    return "\n".join(lines)


NBGRADER_CONFIG = """\
# Written by `python -m autograder lab` for nbgrader's Validate button (read from the server's cwd).
c = get_config()  # noqa: F821
c.Execute.timeout = {timeout}
"""


def _validate_dir(args) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """Where the server runs: the directory whose nbgrader_config.py the Validate button reads."""
    if args.course:
        course = Path(args.course).resolve()
        if not (course / "nbgrader_config.py").is_file():
            raise SystemExit(f"autograder lab: {course} has no nbgrader_config.py (not an nbgrader course)")
        return course, None
    if (Path.cwd() / "nbgrader_config.py").is_file():
        return Path.cwd(), None
    from ..core.settings import DEFAULT_CELL_TIMEOUT

    tmp = tempfile.TemporaryDirectory(prefix="kit-lab-")
    (Path(tmp.name) / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(timeout=DEFAULT_CELL_TIMEOUT))
    return Path(tmp.name), tmp


def cmd_lab(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    if not directory.is_dir():
        print(f"autograder lab: {directory} is not a directory", file=sys.stderr)
        return 2
    if shutil.which("jupyter-lab") is None and _missing("jupyterlab"):
        print("autograder lab: JupyterLab is not installed (pip install jupyterlab)", file=sys.stderr)
        return 2
    found = notebooks(directory)
    first = found[0][1] if found else None
    port = args.port or free_port()
    token = secrets.token_hex(16)
    path = f"/lab/tree/{first.relative_to(directory).as_posix()}" if first else "/lab"
    url = f"http://127.0.0.1:{port}{path}?token={token}"
    cmd = lab_command(directory, port, token, not args.no_browser, first)
    print(welcome(directory, found, url), flush=True)
    if _missing("nbgrader"):
        print("(nbgrader is not installed: no Validate button; the self-check cells work without it)")
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    cwd, tmp = _validate_dir(args)
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=kernel_env())
        # Ctrl+C belongs to the server (it asks, then stops its kernels); this process waits for it.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return proc.wait()
        finally:
            signal.signal(signal.SIGINT, previous)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None
