"""The kernel that `nbgrader autograde` runs a submission in grades nothing: each test cell's outputs
are replaced by the official grade after execution (``SetOfficialGrades``), so its self-checks would
be seen by no one. ``SafeExecute`` says so to the kernel it starts (``selfcheck.AUTOGRADE_KERNEL``)
and ``check`` then runs none (about a second of CPU a notebook: docs/nbgrader.md, "What it costs")."""

from __future__ import annotations

import os

import pytest

from autograder.learner import selfcheck
from autograder.learner.selfcheck import AUTOGRADE_KERNEL, AUTOGRADE_NOTE


def test_check_in_an_autograde_kernel_grades_nothing_and_says_where_the_grade_comes_from(monkeypatch, capsys):
    def no_grading(*args, **kwargs):
        raise AssertionError("the self-check graded in an autograde kernel")

    monkeypatch.setattr(selfcheck, "run", no_grading)
    monkeypatch.setenv(AUTOGRADE_KERNEL, "1")
    assert selfcheck.check(3, "forward", {}) is None  # (nothing defined: it would fail if it graded)
    assert capsys.readouterr().out == AUTOGRADE_NOTE + "\n"
    monkeypatch.setenv(AUTOGRADE_KERNEL, "0")  # any other value: the self-check runs as ever
    with pytest.raises(AssertionError, match="graded in an autograde kernel"):
        selfcheck.check(3, "forward", {})


@pytest.mark.slow
def test_safe_execute_tells_its_kernel_and_only_its_kernel(monkeypatch, tmp_path):
    """A real kernel, started by the kit's ``SafeExecute``: its check cell prints the note (no failed
    self-check for the missing functions), and the variable is gone from this process afterwards."""
    pytest.importorskip("nbgrader")
    from nbformat import v4

    from autograder.integrations.nbgrader.preprocessors import SafeExecute

    monkeypatch.delenv(AUTOGRADE_KERNEL, raising=False)
    monkeypatch.setenv("KIT_HISTORY", "off")
    nb = v4.new_notebook(
        cells=[
            v4.new_code_cell("import os\nprint(os.environ.get('KIT_AUTOGRADE_KERNEL'))"),
            v4.new_code_cell("from autograder.selfcheck import check\ncheck(3, 'forward')"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    executed, _ = SafeExecute(timeout=120, startup_timeout=120).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    outputs = [[o.get("text", o.get("ename")) for o in cell.outputs] for cell in executed.cells]
    assert outputs == [["1\n"], [AUTOGRADE_NOTE + "\n"]]
    assert AUTOGRADE_KERNEL not in os.environ
