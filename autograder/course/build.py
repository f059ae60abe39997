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

This module is the build command and the files it writes; ``source.py`` reads and checks a
solution file (its regions and segments), and ``notebooks.py`` makes a level's notebook.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
from pathlib import Path

import nbformat

from ..core import curriculum
from . import hints as hints_mod
from .notebooks import build_notebook, install_cell, notebook_bytes
from .source import BEGIN_SOLUTION, END_SOLUTION, REPO_ROOT, SOLUTIONS_DIR, BuildError, load_solution, solution_path

#: The build's names, those of source.py and notebooks.py that callers reach through this module
#: included (learner/solution.py, the nbgrader integration, the tests use ``build.load_solution``...).
__all__ = [
    "ASSIGNMENTS_DIR",
    "BEGIN_SOLUTION",
    "BUILD_COMMAND",
    "END_SOLUTION",
    "SOLUTIONS_DIR",
    "BuildError",
    "build_all",
    "build_hints",
    "build_notebook",
    "build_stub",
    "install_cell",
    "load_solution",
    "main",
    "notebook_bytes",
    "recorded_install_from",
    "register",
    "solution_path",
    "stale_files",
    "write_outputs",
]

ASSIGNMENTS_DIR = REPO_ROOT / "assignments"
BUILD_COMMAND = "python -m autograder build"


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
