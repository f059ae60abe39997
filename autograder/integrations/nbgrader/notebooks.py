"""The notebooks of an nbgrader course: which assignment and file each level is, the source
notebooks (each test cell bound to its official check by a hidden region), filling a release
notebook with a module's code, and the official outputs of a test cell."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ...core import curriculum

if TYPE_CHECKING:
    import nbformat

#: nbgrader's delimiters of a hidden-tests region (stripped from release/ and from feedback).
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"

RESOURCE_KEY = "autograder_official"  # where IsolatedGrades leaves the report for SetOfficialGrades
_OFFICIAL_CALL = re.compile(r"^official_grade\((\d+),\s*[\"'](\w+)[\"']\)\s*$", re.M)
_KIT_GRADE_ID = re.compile(r"^level(\d+)_(\w+)$")


# ----------------------------------------------------------------------------------- the layout


def assignment_id(level: int) -> str:
    """The nbgrader assignment of a level: one assignment per level, named ``levelN``."""
    return f"level{level}"


def assignments_pattern(levels: list[int]) -> str:
    """One nbgrader command's assignment argument for several levels: nbgrader reads it as a glob of
    ``source/``, ``submitted/`` or ``autograded/`` (``level[135]``), so that one command, with one
    start-up of nbgrader (two seconds), does what one command per level did. A level alone is its
    own name."""
    levels = sorted(set(levels))
    if len(levels) == 1:
        return assignment_id(levels[0])
    if not all(0 <= lv <= 9 for lv in levels):  # (a character class holds one digit per level)
        raise ValueError(f"levels {levels} cannot share one nbgrader command")
    return "level[" + "".join(str(lv) for lv in levels) + "]"


def notebook_name(level: int) -> str:
    """The notebook's file name, the kit's submission file name (``level1_numpy.ipynb``)."""
    return f"{curriculum.LEVELS[level].module}.ipynb"


def level_of_notebook(notebook_id: str) -> int | None:
    for number, level in curriculum.LEVELS.items():
        if level.module == notebook_id:
            return number
    return None


def course_levels(course: Path) -> list[int]:
    """The levels that have an assignment in ``source/``."""
    found = []
    for number in curriculum.LEVELS:
        if (course / "source" / assignment_id(number) / notebook_name(number)).is_file():
            found.append(number)
    return found


def hidden_region(level: int, stage: str) -> list[str]:
    return [
        BEGIN_HIDDEN,
        "# The points of this cell are the official grade of the stage, set after execution by the",
        "# kit's isolated grader (IsolatedGrades in nbgrader_config.py); nothing run here counts.",
        "from autograder.integrations.nbgrader.course import official_grade",
        f'official_grade({level}, "{stage}")',
        END_HIDDEN,
    ]


def source_notebook(level: int, hints: bool = True) -> nbformat.NotebookNode:
    """The nbgrader *source* notebook of a level: the kit's source form plus, in each test cell, the
    hidden region that binds it to its official check. ``hints=False``: a course without hints
    (no pointer to ``hint`` anywhere in it)."""
    import nbformat

    from ...course.build import build_notebook

    nb = build_notebook(level, with_solutions=True, hints=hints)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        match = _KIT_GRADE_ID.match(meta.get("grade_id", ""))
        if not match or int(match.group(1)) != level or match.group(2) not in curriculum.STAGES:
            raise ValueError(f"level {level}: unexpected test cell {meta.get('grade_id')!r}")
        # `check(...)` returns its Report: without the `;` the release cell would display the
        # Report's repr, which nbgrader's Validate warns it cannot read as a score ("treating as full
        # credit, but future releases may treat as error"). With it, the cell prints the table and
        # passes, or raises.
        public = [
            line + ";" if re.fullmatch(r'check\(\d+, "\w+"\)', line.strip()) else line
            for line in cell.source.rstrip("\n").splitlines()
        ]
        cell.source = "\n".join(public + hidden_region(level, match.group(2)))
    nbformat.validate(nb)
    return nb


def fill_notebook(release: nbformat.NotebookNode, module_source: str) -> nbformat.NotebookNode:
    """A copy of a release notebook whose code cells hold a module's code, as a student who wrote
    that module would have filled them in (tests, benchmarks, converting a ``.py`` submission).

    Each code cell that defines functions or classes gets the module's definitions of those names,
    the imports cell gets the module's imports, test cells and the demo stay as they are. Lines that
    are nbgrader delimiters are dropped.
    """
    import ast
    import copy

    lines = [ln for ln in module_source.splitlines() if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
    text = "\n".join(lines) + "\n"
    tree = ast.parse(text)
    imports, defs = [], {}
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        segment = "\n".join(lines[start - 1 : node.end_lineno])
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(segment)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs[node.name] = segment
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or (meta.get("grade") and not meta.get("solution")):
            continue
        body = ast.parse(cell.source).body
        names = [n.name for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        if names:
            cell.source = "\n\n\n".join(defs[n] for n in names if n in defs)
        elif body and all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in body):
            cell.source = "\n".join(imports)
    return nb


def official_grade(level: int, stage: str) -> None:
    """Kernel side of a hidden region: says where the cell's points come from (and nothing else)."""
    print(
        f"[official] level {level}, stage {stage}: the points of this cell are set by the kit's "
        "isolated grader after execution"
    )


# ----------------------------------------------------------------------------------- preprocessors


class IsolatedGraderError(RuntimeError):
    """The kit's grader failed (not the student): the submission is left ungraded."""


def stage_outputs(report, level: int, stage: str, points: float) -> tuple[list, float]:
    """The outputs of a test cell: the stage's official checks, then its points as a float."""
    from nbformat import v4

    checks = [c for c in report.checks if c.level == level and c.stage == stage]
    got = float(sum(float(c.score) for c in checks))
    full = float(sum(float(c.max_score) for c in checks))
    if full <= 0:
        score = 0.0
    elif abs(full - points) < 1e-9:
        score = got
    else:  # the instructor changed the cell's points: keep the stage's share
        score = points * got / full
    score = float(min(points, max(0.0, round(score, 6))))
    # No seed here: these lines reach the students' feedback, and a course may keep its seed private.
    lines = [
        f"Official grade, level {level} stage {stage}: {score:g} / {points:g} "
        "(from the kit's isolated grader; the in-kernel self-check is not the grade)"
    ]
    for c in checks:
        mark = "ok  " if c.passed else "FAIL"
        lines.append(f"  {mark} {float(c.score):g}/{float(c.max_score):g}  {c.name}")
        if not c.passed and c.message:
            lines.append(f"         {c.message.splitlines()[0][:300]}")
    text = "\n".join(lines) + "\n"
    return [
        v4.new_output("stream", name="stdout", text=text),
        v4.new_output("execute_result", data={"text/plain": repr(score)}, execution_count=None),
    ], score
