"""The suite fails when it leaves a file in the repository (tests/tree_guard.py, issue 29)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_guarded(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    """A one-test session under the guard, watching ``tmp_path/repo`` as if it were the checkout."""
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "sub" / "kept.txt").write_text("committed\n")
    (tmp_path / "test_one.py").write_text(
        f"from pathlib import Path\nREPO = Path({str(repo)!r})\n\ndef test_it():\n{body}"
    )
    env = {**os.environ, "KIT_TREE_GUARD_ROOT": str(repo), "PYTHONPATH": str(HERE)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tree_guard",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            str(tmp_path / "test_one.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_file_left_in_the_checkout_fails_the_suite(tmp_path):
    proc = run_guarded(tmp_path, "    (REPO / 'on').write_text('x' * 100)\n")
    assert proc.returncode == 1, proc.stdout
    assert "1 passed" in proc.stdout and "wrote into the working tree" in proc.stdout and "  on" in proc.stdout


def test_a_changed_file_fails_the_suite_and_a_cache_does_not(tmp_path):
    proc = run_guarded(tmp_path, "    (REPO / 'sub' / 'kept.txt').write_text('edited, longer\\n')\n")
    assert proc.returncode == 1 and "sub/kept.txt" in proc.stdout, proc.stdout
    clean = run_guarded(
        tmp_path / "2", "    (REPO / '__pycache__').mkdir()\n    (REPO / '__pycache__' / 'x.pyc').write_bytes(b'')\n"
    )
    assert clean.returncode == 0, clean.stdout


def test_this_suite_runs_under_the_guard():
    import conftest

    assert conftest.pytest_sessionfinish.__module__ == "tree_guard"
