"""Reading the single source: a reference solution in ``solutions/<module>.py``, parsed into its
solution regions (each with its TODO and its hint block) and its segments (imports, one per top-level
definition, the demo), and checked against the conventions the build relies on (``build.py``'s
docstring describes them). ``Solution.render`` writes any span of it back, with its regions kept or
stubbed: the stubs and the notebooks (``notebooks.py``) are made of that.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from ..core import curriculum
from . import hints as hints_mod

REPO_ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS_DIR = REPO_ROOT / "solutions"

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
TODO_PREFIX = "# TODO:"
YOUR_CODE_HERE = "# YOUR CODE HERE"


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
