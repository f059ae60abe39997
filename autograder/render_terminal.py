"""The terminal rendering of a Report: a table per level and stage, a summary, what to fix first.

Uses rich; every student-derived text goes through ``neutralise.terminal`` (escape sequences are
shown, never interpreted) and into a ``rich.text.Text`` (which never parses markup). Symbols
(✓ ✗ !) carry the meaning, so the table also reads without colour, and rich falls back to plain
text when the output is not a terminal.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .curriculum import LEVELS, STAGES
from .neutralise import terminal as shown
from .report import Report


def _mark(c) -> Text:
    if c.error:
        return Text("! error", style="bold magenta")
    if c.passed:
        return Text("✓ pass", style="green")
    if c.message.startswith("not implemented"):
        return Text("· todo", style="yellow")
    return Text("✗ FAIL", style="bold red")


def render(report: Report, console: Console | None = None, verbose: bool = False) -> None:
    console = console or Console(stderr=False, highlight=False)
    for lv in report.levels:
        got, out_of = report.level_score(lv)
        title = Text(f"Level {lv} — {LEVELS[lv].module} ({LEVELS[lv].title}): {got:g} / {out_of:g}")
        if lv in report.level_notes:
            title.append("\n" + shown(report.level_notes[lv]))
        table = Table(title=title, title_justify="left", show_lines=False, expand=False)
        table.add_column("stage", no_wrap=True)
        table.add_column("check")
        table.add_column("result", no_wrap=True)
        table.add_column("points", justify="right", no_wrap=True)
        checks = sorted((c for c in report.checks if c.level == lv), key=lambda c: STAGES.index(c.stage))
        for c in checks:
            name = Text(shown(c.name) + (f" [{shown(c.device)}]" if "," in report.device else ""))
            if (
                not c.passed
                and c.message
                and (verbose or not c.message.startswith("not implemented") or c is _first_todo(checks))
            ):
                name.append("\n" + shown(c.message), style="dim" if c.passed else "")
            table.add_row(Text(shown(c.stage)), name, _mark(c), f"{c.score:g}/{c.max_score:g}")
        console.print(table)
    console.print(summary_line(report))
    fix = fix_first(report)
    if fix:
        console.print(Text("What to fix first: ", style="bold") + Text(shown(fix)))
    if report.errors:
        console.print(
            Text(
                f"{len(report.errors)} grader error(s): these are not your fault; report them to your instructor.",
                style="bold magenta",
            )
        )


def _first_todo(checks):
    return next((c for c in checks if not c.passed), None)


def summary_line(report: Report) -> Text:
    passed = sum(c.passed for c in report.checks)
    t = Text(f"Total: {report.score:g} / {report.max_score:g}", style="bold")
    t.append(f"   ({passed} of {len(report.checks)} checks passed; seed {report.seed}; device {shown(report.device)})")
    return t


def fix_first(report: Report) -> str | None:
    """The earliest failing stage of the earliest level: later stages often depend on it."""
    failing = [c for c in report.checks if not c.passed and not c.error]
    if not failing:
        return None
    c = min(failing, key=lambda c: (c.level, STAGES.index(c.stage)))
    return f"level {c.level}, stage {c.stage} — {c.name}: {c.message}"
