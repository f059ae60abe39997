"""What holds the course seed or the hidden checks is the instructor's only (issue 29: nbgrader's
``autograded/<student>/*.ipynb`` were 0444 in 0755 folders, readable by every user)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from autograder.instructor import course_file

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in [root, *root.rglob("*")]}


def test_private_tree_takes_the_group_and_others_away(tmp_path):
    tree = tmp_path / "autograded"
    (tree / "alice" / "level1").mkdir(parents=True)
    nb = tree / "alice" / "level1" / "level1_numpy.ipynb"
    nb.write_text("{}")
    os.chmod(nb, 0o444)  # as nbgrader autograde leaves it
    for d in (tree, tree / "alice", tree / "alice" / "level1"):
        os.chmod(d, 0o755)
    course_file.private_tree(tree)
    assert modes(tree) == {".": 0o700, "alice": 0o700, "alice/level1": 0o700, "alice/level1/level1_numpy.ipynb": 0o400}


@pytest.mark.slow
def test_a_new_course_keeps_autograded_and_its_logs_private(tmp_path):
    from autograder.integrations.nbgrader.course import init_course

    course = tmp_path / "course"
    init_course(course, levels=[1], seed=914053, generate=False)
    for name in ("autograded", ".kit-logs"):
        assert stat.S_IMODE((course / name).stat().st_mode) == 0o700, name
    for name in ("nbgrader_config.py", "gradebook.db", ".kit-course.json"):
        assert stat.S_IMODE((course / name).stat().st_mode) == 0o600, name
