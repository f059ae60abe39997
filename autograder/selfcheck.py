"""The self-check a student runs inside a notebook (the grade cells call ``check(level, stage)``).

It runs the same checks as ``python -m autograder grade``, on the functions defined in the
notebook's kernel, in-process (through ``InProcessChannel``: convenient, not isolated). The
official grade always comes from the isolated grader; on honest work the two agree.

It prints the level's table and raises ``AssertionError`` when a check fails, so nbgrader's
Validate button and ``nbgrader autograde`` see a failing cell.
"""
from __future__ import annotations

import inspect

from .curriculum import LEVELS, STAGES
from .report import Report


class SelfCheckFailed(AssertionError):
    pass


def run(level: int, stage: str | None = None, namespace: dict | None = None, seed: int | None = None) -> Report:
    """Grade one level (or one stage of it) on the functions in ``namespace``."""
    from .grading import default_seed, grade
    if level not in LEVELS:
        raise ValueError(f"no level {level}")
    if stage is not None and stage not in STAGES:
        raise ValueError(f"no stage {stage!r}; stages are {', '.join(STAGES)}")
    if namespace is None:
        namespace = inspect.currentframe().f_back.f_globals
    return grade(None, [level], default_seed() if seed is None else seed, "cpu",
                 in_process={level: dict(namespace)}, stage=stage)


def check(level: int, stage: str | None = None, namespace: dict | None = None) -> Report:
    """Run the checks, show the table, and raise when one fails (a grade cell's body)."""
    if namespace is None:
        namespace = inspect.currentframe().f_back.f_globals
    report = run(level, stage, namespace)
    show(report)
    failed = [c for c in report.checks if not c.passed]
    if failed:
        todo = all(c.message.startswith("not implemented") for c in failed)
        what = "not implemented yet" if todo else f"{len(failed)} check(s) failed"
        raise SelfCheckFailed(f"level {level}{f', stage {stage}' if stage else ''}: {what} "
                              f"({report.score:g} / {report.max_score:g})")
    return report


def show(report: Report) -> None:
    from rich.console import Console

    from .render_terminal import render
    render(report, Console(width=100))
