"""Build what students receive from the reference solutions, the single source of truth.

Each level is written once, in ``solutions/<module>.py``, as model code with nbgrader's
delimiters around the parts a student writes::

    def forward(x, w1, w2):
        \"\"\"Docstring: stays in the stub.\"\"\"
        # TODO: what to write (becomes the stub's error message)
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

From it this module generates, for every level:

- ``assignments/<module>.py``, the stub. Each region is replaced by ``# YOUR CODE HERE`` and a
  short ``raise NotImplementedError("<function>: see the TODO above; stuck? hint(...)")`` (the
  TODO comment above it stays and says what to write), and everything else is kept.
- ``assignments/<module>.ipynb``, the notebook in nbgrader's *release* form. It has a markdown
  introduction (the module docstring), an imports cell, one markdown cell and one solution cell
  per function or class (the comment block above the definition becomes the markdown), locked
  grade cells worth ``curriculum.stage_points`` that run the self-check for one stage, the
  module's demo as an optional cell, and a last cell that sums up the learner's progress.

And ``assignments/hints.json``: the hint ladders of every level and stage, parsed from the
``# hint STAGE: ...`` block that opens each region (``hints.py``). Nothing else of a region leaves
the build: the stubs and notebooks replace it, and the nbgrader source form keeps its code but
drops the hint block.

``build_notebook(level, with_solutions=True)`` gives the nbgrader *source* form of the same
notebook: the solution regions are kept between their delimiters, which is what an instructor
puts in an nbgrader course's ``source/`` folder.

The outputs are committed, so that nobody needs to run the build to use the kit. That makes
the build deterministic byte for byte (fixed cell ids, sorted JSON, no outputs), and
``--check`` (run by the tests) fails as soon as a committed file differs from a fresh build.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import v4

from ..core import curriculum
from . import hints as hints_mod

REPO_ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS_DIR = REPO_ROOT / "solutions"
ASSIGNMENTS_DIR = REPO_ROOT / "assignments"

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
TODO_PREFIX = "# TODO:"
YOUR_CODE_HERE = "# YOUR CODE HERE"
BUILD_COMMAND = "python -m autograder build"

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class BuildError(Exception):
    """A solution file breaks the conventions the build relies on."""


@dataclass(frozen=True)
class Region:
    """One ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block of a solution file."""

    begin: int  # index (0-based) of the BEGIN line; the TODO comment is the line before it
    end: int  # index of the END line
    indent: str
    todo: str  # the TODO comment's text, without "# TODO:"
    owner: str  # the function it sits in: "forward", "MyReLU.backward"
    level: int = 0
    hints: tuple[hints_mod.Rung, ...] = ()  # the hint block at the top of the region
    code_start: int = 0  # index of the region's first line after its hint block

    @property
    def stage(self) -> str:
        """The stage the region's hints start with: the one its stub points ``hint`` at."""
        return self.hints[0].stage if self.hints else ""

    @property
    def message(self) -> str:
        """The stub's NotImplementedError message: short (the TODO comment above it says what to
        write), naming the function and where more help is."""
        return f"{self.owner}: see the TODO; stuck? hint({self.level}, '{self.stage}')"

    @property
    def message_without_hints(self) -> str:
        """The same for a course that switched hints off (``nbgrader init --no-hints``): no pointer
        to a helper that would only answer that hints are off."""
        return f"{self.owner}: see the TODO"

    def stub_lines(self, hints: bool = True) -> list[str]:
        message = self.message if hints else self.message_without_hints
        return [
            f"{self.indent}{YOUR_CODE_HERE}",
            f"{self.indent}raise NotImplementedError({_python_string(message)})",
        ]


@dataclass(frozen=True)
class Segment:
    """A top-level piece of a solution file, which becomes one notebook code cell."""

    kind: str  # "imports", "definition" or "demo"
    start: int  # index of its first code line
    end: int  # index one past its last line
    name: str = ""  # the function or class name, for definitions
    heading: str = ""  # markdown heading, for definitions and the demo
    text: str = ""  # the comment block above it, as markdown


@dataclass(frozen=True)
class Solution:
    """A parsed ``solutions/<module>.py``: its lines, regions and top-level segments."""

    level: curriculum.Level
    path: Path
    lines: tuple[str, ...]
    title: str  # the module docstring's first line
    intro: str  # the rest of the module docstring
    regions: tuple[Region, ...]
    segments: tuple[Segment, ...]

    def render(self, start: int, end: int, *, with_solutions: bool, hints: bool = True) -> list[str]:
        """Lines ``start:end`` of the file, each region stubbed unless ``with_solutions`` (its
        message pointing to ``hint`` unless ``hints`` is False)."""
        regions = {r.begin: r for r in self.regions}
        out: list[str] = []
        i = start
        while i < end:
            region = regions.get(i)
            if region is None:
                out.append(self.lines[i])
                i += 1
            elif with_solutions:  # the code, without the hint block (that ships in hints.json)
                out.append(self.lines[region.begin])
                out.extend(self.lines[region.code_start : region.end + 1])
                i = region.end + 1
            else:
                out.extend(region.stub_lines(hints))
                i = region.end + 1
        return out

    def regions_in(self, segment: Segment) -> list[Region]:
        return [r for r in self.regions if segment.start <= r.begin < segment.end]


# --- parsing the single source -----------------------------------------------------------------


def solution_path(level: int, directory: Path | None = None) -> Path:
    return (SOLUTIONS_DIR if directory is None else Path(directory)) / f"{curriculum.LEVELS[level].module}.py"


def load_solution(level: int, directory: Path | None = None) -> Solution:
    """Parse and validate the reference solution of ``level`` (from ``directory``, default solutions/)."""
    path = solution_path(level, directory)
    if not path.is_file():
        raise BuildError(f"{path}: missing reference solution of level {level}")
    text = path.read_text(encoding="utf-8")
    lines = tuple(text.splitlines())
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise BuildError(f"{path}:{exc.lineno}: {exc.msg}") from exc

    docstring = ast.get_docstring(tree, clean=True)
    if not docstring:
        raise BuildError(f"{path}: the module docstring (the notebook's introduction) is missing")
    title, _, intro = docstring.partition("\n")
    solution = Solution(
        level=curriculum.LEVELS[level],
        path=path,
        lines=lines,
        title=title.strip().rstrip("."),
        intro=intro.strip(),
        regions=tuple(_find_regions(path, lines, tree, level)),
        segments=tuple(_find_segments(path, lines, tree)),
    )
    _check_solution(solution)
    return solution


def _find_regions(path: Path, lines: tuple[str, ...], tree: ast.Module, level: int) -> list[Region]:
    functions = _functions(tree)
    regions = []
    begin: int | None = None
    for i, line in enumerate(lines):
        where = f"{path}:{i + 1}"
        # nbgrader's ClearSolutions treats any line that *contains* a delimiter as one, so a
        # delimiter quoted in a docstring or comment would break the nbgrader pipeline.
        if "BEGIN SOLUTION" in line:
            if line.strip() != BEGIN_SOLUTION:
                raise BuildError(f"{where}: '{BEGIN_SOLUTION}' must stand alone on its line")
            if begin is not None:
                raise BuildError(f"{where}: nested '{BEGIN_SOLUTION}'")
            begin = i
        elif "END SOLUTION" in line:
            if line.strip() != END_SOLUTION:
                raise BuildError(f"{where}: '{END_SOLUTION}' must stand alone on its line")
            if begin is None:
                raise BuildError(f"{where}: '{END_SOLUTION}' without a '{BEGIN_SOLUTION}'")
            regions.append(_make_region(path, lines, functions, begin, i, level))
            begin = None
    if begin is not None:
        raise BuildError(f"{path}:{begin + 1}: '{BEGIN_SOLUTION}' is never closed")
    return regions


def _make_region(path, lines, functions, begin: int, end: int, level: int) -> Region:
    where = f"{path}:{begin + 1}"
    indent = _indent(lines[begin])
    if _indent(lines[end]) != indent:
        raise BuildError(f"{path}:{end + 1}: '{END_SOLUTION}' is not aligned with its BEGIN line")
    todo_line = lines[begin - 1] if begin > 0 else ""
    if _indent(todo_line) != indent or not todo_line.strip().startswith(TODO_PREFIX):
        raise BuildError(
            f"{where}: the line before '{BEGIN_SOLUTION}' must be a "
            f"'{TODO_PREFIX} <what to write>' comment at the same indentation"
        )
    todo = todo_line.strip()[len(TODO_PREFIX) :].strip()
    if not todo:
        raise BuildError(f"{path}:{begin}: the TODO comment says nothing")
    try:
        rungs, code_start = hints_mod.parse_block(lines[:end], begin + 1)
    except hints_mod.HintSyntaxError as exc:
        raise BuildError(f"{where}: {exc}") from exc
    if not rungs:
        raise BuildError(
            f"{where}: the region starts without hints: write `# hint STAGE: ...` lines right "
            f"after '{BEGIN_SOLUTION}' (autograder/course/hints.py)"
        )
    body = [line for line in lines[code_start:end] if line.strip()]
    if not body:
        raise BuildError(f"{where}: empty solution region")
    if any(not line.startswith(indent) for line in body):
        raise BuildError(f"{where}: the region's code is indented less than its delimiters")

    # The innermost function whose body holds the TODO line; its docstring stays in the stub.
    owners = [(name, node) for name, node in functions if node.lineno < begin <= (node.end_lineno or node.lineno)]
    if not owners:
        raise BuildError(f"{where}: solution regions must sit inside a function or method body")
    owner, node = max(owners, key=lambda item: item[1].lineno)
    doc = node.body[0]
    if (
        isinstance(doc, ast.Expr)
        and isinstance(doc.value, ast.Constant)
        and isinstance(doc.value.value, str)
        and begin <= (doc.end_lineno or doc.lineno)
    ):
        raise BuildError(f"{where}: the region of {owner} must start after its docstring")
    return Region(
        begin=begin,
        end=end,
        indent=indent,
        todo=todo,
        owner=owner,
        level=level,
        hints=tuple(rungs),
        code_start=code_start,
    )


def _functions(tree: ast.Module) -> list[tuple[str, ast.AST]]:
    """Every function and method of the module with its qualified name (``MyReLU.forward``)."""
    found: list[tuple[str, ast.AST]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((prefix + child.name, child))
                visit(child, f"{prefix}{child.name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _find_segments(path: Path, lines: tuple[str, ...], tree: ast.Module) -> list[Segment]:
    """Split the module into imports, definitions and the demo, with their comment blocks.

    Every line must land somewhere: a comment that is not directly above a statement (or part
    of the imports) is an error rather than silently missing from the notebook.
    """
    segments: list[Segment] = []
    previous_end = tree.body[0].end_lineno or 1  # the docstring (the parser always sets end_lineno)
    for node in tree.body[1:]:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        comment_start = start
        while comment_start > previous_end and lines[comment_start - 1].lstrip().startswith("#"):
            comment_start -= 1
        end = _extend_over_trailing_comments(lines, node.end_lineno or node.lineno)
        where = f"{path}:{node.lineno}"

        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if segments and segments[-1].kind == "imports" and segments[-1] is segments[0]:
                segments[-1] = Segment("imports", segments[-1].start, end)  # comments included
                previous_end = end
                continue
            if segments:
                raise BuildError(f"{where}: put every import at the top of the module")
            _check_gap(path, lines, previous_end, comment_start)
            segments.append(Segment("imports", comment_start, end))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            _check_gap(path, lines, previous_end, comment_start)
            text = _comment_text(lines[comment_start:start])
            if not text:
                raise BuildError(
                    f"{where}: write a comment block directly above {node.name}: "
                    "it becomes the notebook's markdown cell that explains it"
                )
            segments.append(Segment("definition", start, end, name=node.name, heading=_heading(node), text=text))
        elif _is_main_guard(node):
            _check_gap(path, lines, previous_end, comment_start)
            segments.append(
                Segment(
                    "demo",
                    start,
                    end,
                    heading="Demo (optional, not graded)",
                    text=_comment_text(lines[comment_start:start]),
                )
            )
        else:
            raise BuildError(
                f"{where}: unsupported top-level statement (only imports, functions, "
                'classes and an `if __name__ == "__main__":` demo)'
            )
        previous_end = end

    _check_gap(path, lines, previous_end, len(lines))
    if any(s.kind == "demo" for s in segments[:-1]):
        raise BuildError(f'{path}: the `if __name__ == "__main__":` demo must come last')
    return segments


def _extend_over_trailing_comments(lines: tuple[str, ...], end: int) -> int:
    """Move ``end`` past the indented comments that close a block (``### END SOLUTION``).

    The syntax tree ends a function at its last statement; comments after it that are indented
    still belong to its body.
    """
    i = end
    while i < len(lines) and (not lines[i].strip() or (lines[i][:1].isspace() and lines[i].lstrip().startswith("#"))):
        i += 1
        if lines[i - 1].strip():
            end = i
    return end


def _check_gap(path: Path, lines: tuple[str, ...], start: int, end: int) -> None:
    for i in range(start, end):
        if lines[i].strip():
            raise BuildError(
                f"{path}:{i + 1}: stray line between top-level statements "
                "(a comment block must sit directly above what it explains)"
            )


def _comment_text(lines) -> str:
    text = []
    for line in lines:
        body = line.strip()[1:]
        text.append(body[1:] if body.startswith(" ") else body)
    return "\n".join(text).strip()


def _heading(node: ast.FunctionDef | ast.ClassDef) -> str:
    if isinstance(node, ast.ClassDef):
        bases = ", ".join(ast.unparse(b) for b in node.bases)
        return f"`class {node.name}({bases})`" if bases else f"`class {node.name}`"
    a = node.args
    params = [p.arg for p in a.posonlyargs + a.args]
    if a.vararg:
        params.append("*" + a.vararg.arg)
    params += [p.arg for p in a.kwonlyargs]
    if a.kwarg:
        params.append("**" + a.kwarg.arg)
    return f"`{node.name}({', '.join(params)})`"


def _is_main_guard(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.If)
        and not node.orelse
        and ast.unparse(node.test) in ("__name__ == '__main__'", "'__main__' == __name__")
    )


def _check_solution(solution: Solution) -> None:
    path = solution.path
    definitions = {s.name: s for s in solution.segments if s.kind == "definition"}
    if not any(s.kind == "imports" for s in solution.segments):
        raise BuildError(f"{path}: no imports: the notebook's first code cell would be empty")
    for name in solution.level.names:
        if name not in definitions:
            raise BuildError(f"{path}: {name} (CONTRACT.md) is not defined at the top level")
        if not solution.regions_in(definitions[name]):
            raise BuildError(f"{path}: {name} has no solution region for students to write")
    for region in solution.regions:
        if not any(s.start <= region.begin < s.end for s in definitions.values()):
            raise BuildError(f"{path}:{region.begin + 1}: region outside a top-level definition")
    problems = hints_mod.validate(solution.level.number, [r for region in solution.regions for r in region.hints])
    if problems:
        raise BuildError(f"{path}: hints: " + "; ".join(problems))
    anchors = solution.level.grade_cells_after
    stages = curriculum.stages_of(solution.level.number)
    for stage, name in anchors.items():
        if stage not in stages:
            raise BuildError(f"level {solution.level.number}'s grade_cells_after: it has no stage {stage!r}")
        if name not in definitions:
            raise BuildError(f"level {solution.level.number}'s grade_cells_after: {path} defines no {name}")


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _python_string(text: str) -> str:
    """A double-quoted Python literal for ``text`` (the stubs' NotImplementedError message)."""
    literal = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert ast.literal_eval(literal) == text
    return literal


# --- the outputs ---------------------------------------------------------------------------------


def build_stub(level: int) -> str:
    """The student's ``.py`` of ``level``: the solution with every region stubbed."""
    solution = load_solution(level)
    text = "\n".join(solution.render(0, len(solution.lines), with_solutions=False)) + "\n"
    try:
        compile(text, f"assignments/{solution.level.module}.py", "exec")
    except SyntaxError as exc:
        raise BuildError(f"the stub of level {level} does not compile: {exc}") from exc
    return text


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


def build_hints(levels=None) -> dict:
    """hints.json's content for ``levels`` (default: all): the hint ladders, no solution code."""
    table = {}
    for number in sorted(levels or curriculum.LEVELS):
        solution = load_solution(number)
        table[number] = hints_mod.table_of(number, [r for region in solution.regions for r in region.hints])
    return hints_mod.hints_document(table)


def build_all(install_from: str | None = None) -> dict[str, bytes]:
    """Every generated file, by its name inside ``assignments/``, with its exact bytes."""
    outputs: dict[str, bytes] = {}
    for number, level in sorted(curriculum.LEVELS.items()):
        outputs[f"{level.module}.py"] = build_stub(number).encode("utf-8")
        outputs[f"{level.module}.ipynb"] = notebook_bytes(build_notebook(number, False, install_from))
    outputs[hints_mod.HINTS_FILE] = hints_mod.hints_bytes(build_hints())
    return outputs


def recorded_install_from(out_dir: Path) -> str | None:
    """The ``--install-from`` source that the notebooks in ``out_dir`` were built with (their
    install cell's ``KIT_SOURCE``), or None. A build remembers it in what it wrote, so that
    ``build --check`` (and a rebuild) need not be told again: after ``build --install-from URL``,
    a plain ``--check`` once called all eight notebooks stale."""
    for level in sorted(curriculum.LEVELS):
        path = Path(out_dir) / f"{curriculum.LEVELS[level].module}.ipynb"
        try:
            nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for line in cell.source.splitlines():
                if line.strip().startswith("KIT_SOURCE = "):
                    try:
                        value = ast.literal_eval(line.split("=", 1)[1].split("#", 1)[0].strip())
                    except (ValueError, SyntaxError):
                        return None
                    return value if isinstance(value, str) and value else None
            break  # only the first code cell is the install cell
    return None


def stale_files(out_dir: Path, outputs: dict[str, bytes] | None = None) -> list[Path]:
    """The generated files under ``out_dir`` that are missing or differ from a fresh build."""
    outputs = build_all() if outputs is None else outputs
    stale = []
    for name, content in outputs.items():
        path = out_dir / name
        if not path.is_file() or path.read_bytes() != content:
            stale.append(path)
    return stale


def write_outputs(out_dir: Path, outputs: dict[str, bytes]) -> list[Path]:
    """Write the files that changed (atomically), and return them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in outputs.items():
        path = out_dir / name
        if path.is_file() and path.read_bytes() == content:
            continue
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(path)
    return written


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def register(subparsers) -> None:
    """``python -m autograder build [--check] [--out DIR]``: main() below parses the options."""
    p = subparsers.add_parser(
        "build", help="generate assignments/ (stubs and notebooks) from solutions/", add_help=False
    )
    p.set_defaults(func=lambda args: main(args.rest), takes_rest=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=BUILD_COMMAND, description="Generate the student stubs and notebooks in assignments/ from solutions/."
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and list the files that differ from a fresh build (stale or missing)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ASSIGNMENTS_DIR,
        metavar="DIR",
        help="the output folder (default: the repository's assignments/)",
    )
    parser.add_argument(
        "--install-from",
        metavar="URL",
        default=None,
        help="where each notebook's first cell installs the kit from when it is opened by "
        "itself (Colab, Kaggle): a pip requirement such as git+https://host/kit.git or "
        "a wheel's URL (default: the source the notebooks in --out were built with, if any; "
        "`none` drops it: the cell then says how to install)",
    )
    args = parser.parse_args(argv)

    install_from = args.install_from
    if install_from is None:
        install_from = recorded_install_from(args.out)
        if install_from:
            print(
                f"build: the notebooks in {_shown(args.out)} install the kit from {install_from!r} "
                "(as built; --install-from none drops it)",
                file=sys.stderr,
            )
    elif install_from.lower() == "none":
        install_from = None
    try:
        outputs = build_all(install_from)
    except BuildError as exc:
        print(f"build: error: {exc}", file=sys.stderr)
        return 2

    if args.check:
        stale = stale_files(args.out, outputs)
        for path in stale:
            print(_shown(path))
        if stale:
            print(f"{len(stale)} generated file(s) are stale: run `{BUILD_COMMAND}`", file=sys.stderr)
            return 1
        return 0

    written = write_outputs(args.out, outputs)
    print(f"built {len(outputs)} files in {_shown(args.out)} ({len(written)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
