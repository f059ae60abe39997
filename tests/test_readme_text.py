"""The README's instructor commands run as written from a virtual environment that is not activated
(issue 29: a bare `nbgrader ...` resolved to another installation; the README says activation is
not needed). Every command starts with `python` (the environment's interpreter: `python -m nbgrader`,
`python -m pip`) or a shell builtin-like tool that no package installs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "## Grading (instructors)", "## How grading works"
#: first words that name no console script of an installed package
PLAIN = {"python", "cd", "mkdir", "cp", "ls", "cat", "echo"}


def commands(text: str) -> list[str]:
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                out += [c.strip() for c in re.split(r"&&|;|\|\|", line) if c.strip()]
    return out


def test_instructor_commands_call_the_environments_python():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(START) : readme.index(END)]
    found = commands(section)
    assert any(c.startswith("python -m nbgrader ") for c in found)
    bare = [c for c in found if c.split()[0] not in PLAIN]
    assert bare == [], f"commands that depend on an activated environment: {bare}"


def test_docs_commands_call_the_environments_python():
    for doc in ("docs/nbgrader.md", "docs/gradescope.md"):
        found = commands((ROOT / doc).read_text())
        assert [c for c in found if c.split()[0] in {"nbgrader", "jupyter", "pip"}] == [], doc
