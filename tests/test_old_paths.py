"""What was handed out before the package was grouped by role keeps working (issue 25): the import
paths that released notebooks, nbgrader courses' configs and source notebooks, and Gradescope
bundles' scripts name. Each old path is the new module itself (``sys.modules``), not a copy."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from traitlets.config import Config

from autograder.integrations.nbgrader.new_course import config_text

ROOT = Path(__file__).resolve().parent.parent


def _run_config(text: str, course: Path) -> Config:
    """The config as nbgrader runs it, without leaving what it sets (an environment variable, warning
    filters) in this process."""
    config = Config()
    path = course / "nbgrader_config.py"
    path.write_text(text)
    saved = dict(os.environ)
    try:
        with warnings.catch_warnings():
            exec(compile(text, str(path), "exec"), {"get_config": lambda: config, "__file__": str(path)})
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return config


def test_a_course_config_written_before_the_folders_names_the_same_preprocessors(tmp_path):
    new = config_text("pt2026", 914053)
    assert "from autograder.integrations.nbgrader.preprocessors import" in new
    old = new.replace("autograder.integrations.nbgrader.preprocessors", "autograder.nbgrader_preprocessors")
    history = os.environ.get("KIT_HISTORY")
    before, now = _run_config(old, tmp_path), _run_config(new, tmp_path)
    assert os.environ.get("KIT_HISTORY") == history  # (the config sets it for nbgrader's kernels only)
    assert before.Autograde.autograde_preprocessors == now.Autograde.autograde_preprocessors
    assert before.GenerateAssignment.preprocessors == now.GenerateAssignment.preprocessors
    names = {p.__module__ + "." + p.__name__ for p in before.Autograde.autograde_preprocessors}
    assert "autograder.integrations.nbgrader.preprocessors.IsolatedGrades" in names


def test_the_cells_of_notebooks_handed_out_before_still_import():
    from autograder.integrations.nbgrader.notebooks import official_grade
    from autograder.learner import progress, selfcheck

    namespace: dict = {}
    exec(
        "from autograder.nbgrader_course import official_grade\n"  # an existing course's source notebook
        "from autograder.selfcheck import check, hint\n"  # a released notebook's grade cells
        "from autograder.progress import show_progress\n",  # ...and its progress cell
        namespace,
    )
    assert namespace["official_grade"] is official_grade
    assert (namespace["check"], namespace["hint"]) == (selfcheck.check, selfcheck.hint)
    assert namespace["show_progress"] is progress.show_progress
    import autograder

    assert (autograder.check, autograder.hint) == (selfcheck.check, selfcheck.hint)  # the notebook's entry point


def test_a_gradescope_bundles_command_still_runs():
    """Bundles built before run ``python -m autograder.gradescope run ...`` (they carry their own
    wheel, but a course may install the kit beside them): the old module path is still a command."""
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.gradescope", "run", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--root" in proc.stdout
