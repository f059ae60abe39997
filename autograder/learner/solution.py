"""``python -m autograder solution LEVEL STAGE``: the worked solution, for self-study only.

It shows the reference code of the stage (the definitions whose solution regions carry that
stage's hints), each with its explanation (the text above it in ``solutions/``, which is also the
notebook's markdown, and its docstring), after asking the learner to confirm, and records that it
was shown. ``--yes`` confirms for scripts.

It reads ``solutions/`` beside the installed package, which only a clone of the kit has. A class
release (an nbgrader ``release/`` folder, the Gradescope bundle, an installed wheel) holds no
solutions, so there the command says so and shows nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..core.curriculum import LEVELS, STAGES


class NoSolutions(Exception):
    """The worked solution cannot be shown here; the message says why."""


def solutions_dir() -> Path:
    from ..core.settings import repo_root

    return repo_root() / "solutions"


def worked_solution(level: int, stage: str, directory: Path | None = None) -> list[tuple[str, str, str]]:
    """``[(heading, explanation, code)]`` for the stage: each definition that holds its regions."""
    from ..course import build

    directory = solutions_dir() if directory is None else Path(directory)
    if level not in LEVELS:
        raise ValueError(f"no level {level} (levels are 1 to 8)")
    from ..core.curriculum import stages_of

    if stage not in stages_of(level):
        raise ValueError(f"level {level} has no stage {stage!r}; its stages are {', '.join(stages_of(level))}")
    path = directory / f"{LEVELS[level].module}.py"
    if not path.is_file():
        raise NoSolutions(
            "the worked solutions are not here: they come only with a clone of the kit, for "
            "self-study (a class release holds none). Ask your instructor."
        )
    solution = build.load_solution(level, directory)
    shown = []
    for segment in solution.segments:
        if segment.kind != "definition":
            continue
        regions = solution.regions_in(segment)
        if any(r.stage == stage or any(h.stage == stage for h in r.hints) for r in regions):
            code = "\n".join(solution.render(segment.start, segment.end, with_solutions=True))
            code = "\n".join(
                line for line in code.splitlines() if line.strip() not in (build.BEGIN_SOLUTION, build.END_SOLUTION)
            )
            shown.append((segment.heading, segment.text, code))
    return shown


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "solution",
        help="the worked solution of a stage (self-study; asks first)",
        description="Show the reference code of one stage with its explanation. For "
        "self-study: try the hints first (python -m autograder hint LEVEL STAGE).",
    )
    p.add_argument("level", type=int)
    p.add_argument("stage", choices=STAGES)
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    p.add_argument("--dir", default=None, help="your work, where the record is kept (default: assignments/)")
    p.set_defaults(func=cmd_solution)


def cmd_solution(args) -> int:
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.rule import Rule
    from rich.syntax import Syntax
    from rich.text import Text

    from ..core.settings import repo_root
    from . import history

    err = Console(stderr=True, highlight=False)
    try:
        parts = worked_solution(args.level, args.stage)
    except NoSolutions as exc:
        err.print(Text(f"autograder solution: {exc}"))
        return 2
    except ValueError as exc:
        err.print(Text(f"autograder solution: {exc}"))
        return 2
    if not args.yes:
        if not sys.stdin.isatty():
            err.print(
                Text(
                    "autograder solution: this shows the worked solution; confirm by running it in a "
                    "terminal, or pass --yes"
                )
            )
            return 1
        answer = input(
            f"Show the worked solution of level {args.level}, stage {args.stage}? It is for "
            "self-study; the hints may get you there first (python -m autograder hint "
            f"{args.level} {args.stage}). [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            err.print(Text("Not shown."))
            return 1
    console = Console(highlight=False)
    console.print(Rule(Text(f"Level {args.level} · {args.stage}: the worked solution")))
    for heading, explanation, code in parts:
        console.print(Text(heading.strip("`"), style="bold"))
        if explanation:
            console.print(Markdown(explanation))  # the kit's own text (solutions/), not the learner's
        console.print(Syntax(code, "python", theme="ansi_dark", line_numbers=False, word_wrap=True))
    history.append(
        {"event": "solution", "level": args.level, "stage": args.stage},
        Path(args.dir) if args.dir else repo_root() / "assignments",
    )
    return 0
