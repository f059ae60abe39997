"""The notebook of one level, in nbgrader's release form (what students receive) or its source form
(the regions kept, for an nbgrader course's ``source/`` folder), as ``build.py``'s docstring
describes it: the cells, the install cell, the introduction, the grade cells and the progress cell.
"""

from __future__ import annotations

import nbformat
from nbformat import v4

from ..core import curriculum
from .source import BuildError, Solution, load_solution

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def install_cell(source: str | None) -> list[str]:
    """The notebook's first code cell: it installs the kit where it is missing (a notebook opened by
    itself in Colab or Kaggle: no clone on disk), from ``source`` (a Git URL or a wheel's URL that
    the instructor gives at build time), and does nothing where the kit is installed. Without a
    source it only says, where the kit is missing, how to install it. Guarded like the progress
    cell: the grader loads a notebook's code cells as a module, where it must do nothing (the kit
    is not importable in the sandbox)."""
    lines = [
        "# The grading kit: installed here if it is missing (Colab, Kaggle); nothing happens where it is.",
        'if __name__ == "__main__":',
        "    import importlib, importlib.util, subprocess, sys",
    ]
    if source:
        lines += [
            f"    KIT_SOURCE = {source!r}  # set when these notebooks were built",
            '    if importlib.util.find_spec("autograder") is None:',
            '        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", KIT_SOURCE])',
            "        importlib.invalidate_caches()",
        ]
    else:
        lines += [
            '    if importlib.util.find_spec("autograder") is None:',
            '        raise ModuleNotFoundError("the grading kit is not installed here: see the quick start in the '
            'README (pip install it, or ask for the notebooks built with --install-from)")',
        ]
    return lines


def build_notebook(
    level: int, with_solutions: bool, install_from: str | None = None, hints: bool = True
) -> nbformat.NotebookNode:
    """The notebook of ``level``. ``install_from``: where its first cell installs the kit from
    where it is missing (see install_cell). ``hints=False``: for a course without hints
    (``nbgrader init --no-hints``): no "stuck? hint(...)" in the stubs, the introduction or the
    grade cells' imports.

    ``with_solutions=False`` is the release form that students receive: regions stubbed, cells
    locked and checksummed as ``nbgrader generate_assignment`` leaves them.
    ``with_solutions=True`` is the nbgrader source form: regions kept between their delimiters,
    ready for an nbgrader course's ``source/`` folder.
    """
    solution = load_solution(level)
    number = solution.level.number
    cells: list[nbformat.NotebookNode] = []

    def cell_id() -> str:
        return f"level{number}-cell-{len(cells):02d}"

    def markdown(text: str) -> None:
        cells.append(v4.new_markdown_cell(text, id=cell_id()))

    def code(source: list[str], nbgrader: dict | None = None) -> None:
        metadata = {"nbgrader": {"schema_version": 3, "task": False, **nbgrader}} if nbgrader else {}
        cells.append(
            v4.new_code_cell("\n".join(source).strip("\n"), id=cell_id(), metadata=nbformat.from_dict(metadata))
        )

    def grade_cell(stage: str) -> None:
        code(
            [f"from autograder.selfcheck import {'check, hint' if hints else 'check'}", f'check({number}, "{stage}")'],
            {
                "grade": True,
                "solution": False,
                "locked": True,
                "points": curriculum.stage_points(number, stage),
                "grade_id": f"level{number}_{stage}",
            },
        )

    anchors = solution.level.grade_cells_after
    stages = curriculum.stages_of(number)
    markdown(_introduction(solution, hints))
    code(install_cell(install_from))
    for segment in solution.segments:
        source = solution.render(segment.start, segment.end, with_solutions=with_solutions, hints=hints)
        if segment.kind == "imports":
            code(source)
        elif segment.kind == "definition":
            markdown(f"## {segment.heading}\n\n{segment.text}")
            if solution.regions_in(segment):
                code(
                    source,
                    {
                        "grade": False,
                        "solution": True,
                        "locked": False,
                        "grade_id": f"level{number}_solution_{segment.name}",
                    },
                )
            else:
                code(source)
            for stage in stages:
                if anchors.get(stage) == segment.name:
                    grade_cell(stage)
    for stage in stages:
        if stage not in anchors:
            grade_cell(stage)
    for segment in solution.segments:
        if segment.kind == "demo":
            text = segment.text or "Train the network on random data at the seed's sizes."
            markdown(f"## {segment.heading}\n\n{text}")
            code(solution.render(segment.start, segment.end, with_solutions=with_solutions, hints=hints))
    markdown(PROGRESS_MARKDOWN)
    code(PROGRESS_CELL)

    nb = v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": dict(KERNELSPEC),
            "language_info": {"name": "python"},
        },
    )
    if not with_solutions:
        _release(nb)
    nbformat.validate(nb)
    _validate_nbgrader(nb)
    return nb


def _introduction(solution: Solution, hints: bool = True) -> str:
    level = solution.level
    points = [(stage, curriculum.stage_points(level.number, stage)) for stage in curriculum.stages_of(level.number)]
    table = "\n".join(f"| {stage} | {p:g} |" for stage, p in points)
    total = sum(p for _, p in points)
    return f"""\
# {solution.title}

{solution.intro}

## How to work through this notebook

Fill in every cell that says `# YOUR CODE HERE`: replace its `raise NotImplementedError(...)`
line with your code, and keep the names and signatures, because the grader calls them. Run the
cells from the top. Each locked cell that calls `check(...)` runs the self-check for one stage:
it prints what passed and what failed, with a hint when something is wrong, and fails if any
check fails. The official grade is computed separately, with the grader's own data, by running
your code in isolation.

Submit either this notebook or `{level.module}.py`, not both: when a submission holds both,
the grader uses the `.py` file.

| stage | points |
|---|---|
{table}
| **total** | **{total:g}** |
""" + (
        f"""
**Stuck?** In a new cell, `hint({level.number}, "forward")` shows a hint for that stage (any stage
above), one step further each time you run it; `hint({level.number})` picks the first stage that
failed. A mistake the check named gets its own hint first."""
        if hints
        else ""
    )


#: The notebooks' last cell: the learner's record (history.py). It only calls a kit helper, so the
#: grader leaves it out of the graded module like a test cell (submission.HELPERS): a kit cell must
#: cost no point (a guarded import of `autograder.progress` once read as autograd use at level 2).
PROGRESS_MARKDOWN = """\
## Your progress (optional, not graded)

Every self-check above is recorded in this folder (`.kit-history.jsonl`). This cell sums it up per
level: the best score, the stages done, the hints and solutions used, and the time from the
first attempt to full marks."""
PROGRESS_CELL = [
    "from autograder.progress import show_progress",
    "show_progress()",
]


def _release(nb: nbformat.NotebookNode) -> None:
    """Lock and checksum the cells as ``nbgrader generate_assignment`` does for a release."""
    from nbgrader.preprocessors import ComputeChecksums, LockCells

    for preprocessor in (LockCells(), ComputeChecksums()):
        preprocessor.preprocess(nb, {})


def _validate_nbgrader(nb: nbformat.NotebookNode) -> None:
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError

    try:
        MetadataValidator().validate_nb(nb)
    except ValidationError as exc:
        raise BuildError(f"nbgrader rejects the notebook's metadata: {exc}") from exc


def notebook_bytes(nb: nbformat.NotebookNode) -> bytes:
    text = nbformat.writes(nb, version=4)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")
