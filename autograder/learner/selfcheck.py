"""The self-check a student runs inside a notebook (the grade cells call ``check(level, stage)``).

It runs the same checks as ``python -m autograder grade``, on the functions defined in the
notebook's kernel, in-process (through ``InProcessChannel``: convenient, not isolated). The
official grade always comes from the isolated grader; on honest work the two agree.

What the student sees. Under IPython (a Jupyter kernel: JupyterLab, nbgrader, nbclient) the
result is one rich output: an HTML panel (the stage's checks, passed or failed, each failure's
message with expected against got and the hint, what to fix first, and the loss curve of
``train`` against the reference's where the train stage runs), with the plain-text table as its
``text/plain`` alternative. Elsewhere (a script, a terminal) it prints the terminal table.

When a check fails it raises ``SelfCheckFailed`` (an ``AssertionError``), so "Run All" stops
there and nbgrader's Validate button and ``nbgrader autograde`` see a failing cell. IPython shows
that exception as one line (``_render_traceback_``), not a traceback: the table above it says
what is wrong. A stub that still raises ``NotImplementedError`` reads "not implemented yet".

The HTML panel carries its result in data attributes (``data-level``, ``data-stage``,
``data-score``, ``data-max-score``, ``data-passed``) for tools and tests that read a rendered
notebook.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import uuid

from ..core import neutralise
from ..core.curriculum import LEVELS, STAGES
from ..core.report import Report
from ..core.settings import default_seed

#: The stages whose checks run a training loop: the panel shows their loss curve.
CURVE_STAGES = (None, "train")

#: Set (to "1") in the environment of the kernel that ``nbgrader autograde`` runs a submission in
#: (``SafeExecute``). There each test cell's outputs are replaced by the official result of the
#: kit's isolated grader after execution (``SetOfficialGrades``), so a self-check would be seen by
#: no one: ``check`` says where the grade comes from and runs none (1.7 CPU-seconds a notebook at
#: level 3; a class's autograde pays it for every notebook). A student who sets it only switches
#: off their own self-checks; no grade is read from a kernel.
AUTOGRADE_KERNEL = "KIT_AUTOGRADE_KERNEL"
AUTOGRADE_NOTE = (
    "nbgrader autograde: no self-check runs in this kernel; this cell's points are the official "
    "grade, written after execution by the kit's isolated grader"
)


def hint(level: int, stage: str | None = None):
    """The next hint for ``stage`` of ``level`` (or its first failing stage): see ``hints.hint``."""
    from .hints import hint as show_hint

    return show_hint(level, stage)


class SelfCheckFailed(AssertionError):
    """A self-check found a failing check. IPython shows it as one line (see the table above it)."""

    def __init__(self, message: str, report: Report | None = None):
        super().__init__(message)
        self.report = report

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of formatting a traceback: the table is the explanation. Bold,
        # not red: JupyterLab draws ANSI red on its pink error background at 2.7:1 (AA needs 4.5),
        # and the name already says that the check failed.
        return [f"\x1b[1m{type(self).__name__}\x1b[0m: {self}"]


def run(
    level: int, stage: str | None = None, namespace: dict | None = None, seed: int | None = None, curves: bool = False
) -> Report:
    """Grade one level (or one stage of it) on the functions in ``namespace``."""
    from ..grading.run import grade

    if level not in LEVELS:
        raise ValueError(f"no level {level}")
    if stage is not None and stage not in STAGES:
        raise ValueError(f"no stage {stage!r}; stages are {', '.join(STAGES)}")
    if namespace is None:
        namespace = sys._getframe(1).f_globals  # the caller's: the notebook's globals
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    try:
        # One BLAS thread while checking, as in the sandbox: small matrices only lose to thread contention.
        with threadpool_limits(limits=1):
            return grade(
                None,
                [level],
                default_seed() if seed is None else seed,
                "cpu",
                in_process={level: dict(namespace)},
                stage=stage,
                curves=curves,
            )
    finally:
        # grade() pins torch to one thread for the grader's process: here that process is the
        # student's kernel, which should keep its own setting after the check.
        torch.set_num_threads(threads)


def check(level: int, stage: str | None = None, namespace: dict | None = None) -> Report | None:
    """Run the checks, show the result, and raise ``SelfCheckFailed`` when one fails (a grade cell's body).

    Returns the Report outside IPython; under IPython it returns None, so that the cell shows
    the panel rather than the Report's repr (call ``run`` for the Report).
    """
    if os.environ.get(AUTOGRADE_KERNEL) == "1":
        print(AUTOGRADE_NOTE)
        return None
    if namespace is None:
        namespace = sys._getframe(1).f_globals  # the caller's: the notebook's globals
    # nbgrader fails a grade cell with any output on stderr. The student's own output is already
    # captured by the runtime; whatever else reaches stderr while the checks run (a library's
    # warning) is shown in the panel instead.
    with contextlib.redirect_stderr(io.StringIO()) as err:
        report = run(level, stage, namespace, curves=stage in CURVE_STAGES)
    from .hints import record_check

    record_check(report, stage=stage)  # in the kernel's working directory: the notebook's folder
    shell = _ipython()
    show(report, stage, shell=shell, stderr=err.getvalue())
    failed = [c for c in report.checks if not c.passed]
    if failed:
        raise SelfCheckFailed(
            f"level {level}{f', stage {stage}' if stage else ''}: {_verdict(report)} "
            # "of", not "/": JupyterLab's text output turns a lone "/" into an empty link
            f"({report.score:g} of {report.max_score:g} points); see the table above",
            report,
        )
    return None if shell is not None else report


def _verdict(report: Report) -> str:
    failed = [c for c in report.checks if not c.passed]
    if not failed:
        return "the check passed" if len(report.checks) == 1 else f"all {len(report.checks)} checks passed"
    if any(c.error for c in failed):
        return "the grader failed (not your fault: tell your instructor)"
    if all(_todo(c) for c in failed):
        return "not implemented yet"
    return f"{len(failed)} of {len(report.checks)} checks failed"


def _todo(c) -> bool:
    return c.message.startswith("not implemented")


def _ipython():
    """The running IPython shell (a Jupyter kernel or a terminal IPython), or None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def show(report: Report, stage: str | None = None, shell=None, stderr: str = "") -> None:
    """Show the report: a rich HTML panel (with plain text beside it) under IPython, else the table.

    ``stderr``: what the checked code wrote to stderr, shown after the table.
    """
    if shell is None:
        shell = _ipython()
    note = _stderr_note(stderr)
    if shell is None:
        from rich.console import Console

        from ..render.terminal import render

        render(report, Console(width=100))
        if note:
            print(note)
        return
    from IPython.display import display

    text = text_table(report) + (note + "\n" if note else "")
    display({"text/plain": text, "text/html": html_panel(report, stage, stderr)}, raw=True)


STDERR_SHOWN = 2000  # characters of the checked code's stderr shown


def _stderr_note(stderr: str) -> str:
    stderr = stderr.strip()
    if not stderr:
        return ""
    if len(stderr) > STDERR_SHOWN:
        stderr = stderr[:STDERR_SHOWN] + " ..."
    return f"Your code wrote this to stderr while it was checked (allowed; shown here):\n{neutralise.terminal(stderr)}"


def text_table(report: Report) -> str:
    """The terminal table as plain text (no colours): the panel's text/plain alternative."""
    from rich.console import Console

    from ..render.terminal import render

    buffer = io.StringIO()
    console = Console(
        file=buffer, width=100, color_system=None, force_terminal=False, force_jupyter=False, highlight=False
    )
    render(report, console)
    return buffer.getvalue().rstrip() + "\n"


# --- the HTML panel -------------------------------------------------------------------------------
# The panel is the template templates/selfcheck_panel.html.j2 (escaped by default); this side hands
# it plain text, with control characters shown.


def _kind(c) -> str:
    if c.error:
        return "err"
    if c.passed:
        return "pass"
    return "todo" if _todo(c) else "fail"


def _overall(report: Report) -> str:
    kinds = {_kind(c) for c in report.checks}
    for kind in ("err", "fail", "todo"):
        if kind in kinds:
            return kind
    return "pass"


_HINT = re.compile(r"(Hint:)")


def _message_parts(message: str) -> list[tuple[str, bool]]:
    """The message as (text, bold) pieces: "Hint:" stands out, the rest is plain (escaped) text."""
    return [(piece, piece == "Hint:") for piece in _HINT.split(neutralise.visible(message)) if piece]


def html_panel(report: Report, stage: str | None = None, stderr: str = "") -> str:
    """The notebook output of one self-check: a self-contained, scoped HTML fragment."""
    from ..course.hints import switched_off as hints_switched_off
    from ..render import pages
    from ..render.terminal import fix_first

    shown = neutralise.visible
    level = report.levels[0] if report.levels else 0
    overall = _overall(report)
    checks = []
    shown_todo: set[str] = set()
    for c in sorted(report.checks, key=lambda c: (c.level, STAGES.index(c.stage))):
        kind = _kind(c)
        message: list[tuple[str, bool]] = []
        if c.message and not c.passed and not (kind == "todo" and c.message in shown_todo):
            message = _message_parts(c.message)
            shown_todo.add(c.message)
        checks.append(
            {
                "stage": shown(c.stage),
                "name": shown(c.name),
                "message": message,
                "diagnosis": shown(c.diagnosis.replace("_", " ")) if c.diagnosis else "",
                "kind": kind,
                "score": c.score,
                "max_score": c.max_score,
            }
        )
    note = _stderr_note(stderr)
    stderr_head, _, stderr_body = note.partition("\n")
    fix = fix_first(report)
    return pages.render(
        "selfcheck_panel.html.j2",
        id=f"kit-{level}-{uuid.uuid4().hex[:8]}",  # unique in the notebook, however often a cell runs
        level=level,
        stage=shown(stage or "all"),
        score=report.score,
        max_score=report.max_score,
        passed=all(c.passed for c in report.checks),
        overall=overall,
        symbol={"pass": "✓", "fail": "✗", "todo": "·", "err": "!"}[overall],
        what=(
            f"stage {shown(stage)}"
            if stage
            else f"{LEVELS[level].module} ({LEVELS[level].title})"
            if level in LEVELS
            else ""
        ),
        verdict=_verdict(report),
        note=shown(report.level_notes[level]) if level in report.level_notes else "",
        checks=checks,
        fix=shown(fix) if fix else "",
        hint_call=(f'hint({level}, "{stage}")' if stage else f"hint({level})")
        if overall in ("fail", "todo") and not hints_switched_off()
        else "",
        curve=_curve_view(report, level),
        stderr_head=stderr_head,
        stderr_body=stderr_body,
        n_errors=len(report.errors),
        seed=report.seed,
    )


def _curve_view(report: Report, level: int) -> dict | None:
    """The train stage's loss curve: the figure, its words (``curve_text``) and its numbers."""
    curve = report.curves.get(level)
    if not curve:
        return None
    from ..render.curve_text import describe
    from ..render.html import loss_plot

    try:
        img = loss_plot(level, curve)
    except Exception:  # noqa: BLE001 - a plot that cannot be drawn must not hide the table
        return None
    if not img:
        return None
    text = describe(level, curve)
    caption = (
        "your train()'s loss (dashed) against the reference's"
        if curve.get("student")
        else "the reference's loss: what your train() should do once it is written"
    )
    return {"src": img, "alt": text.alt, "caption": caption, "columns": text.columns, "rows": text.rows}
