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

from ..core.curriculum import LEVELS, STAGES
from ..core.neutralise import terminal as shown
from ..core.report import Report


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
        if lv in report.level_notes:  # (where the file was found: student-named paths, so quoted)
            title.append("\n" + _quoted_lines(report.level_notes[lv]))
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
    # What comes last is the kit's own: the total is the final line. A check's message can carry the
    # student's text (an exception's message, a printed value), which may hold a forged
    # "Total: 12.5 / 12.5" line: every line of it is printed indented behind a bar, and above the total.
    failing = _fix_first_check(report)
    if failing is not None:
        console.print(Text("What to fix first: ", style="bold") + Text(f"level {failing.level}, stage {failing.stage}"))
        _print_quoted(console, f"{failing.name}: {failing.message}")
    if report.errors:
        console.print(
            Text(
                f"{len(report.errors)} grader error(s): these are not your fault; report them to your instructor.",
                style="bold magenta",
            )
        )
    console.print(summary_line(report), soft_wrap=True)  # one line, however narrow the terminal


#: What sets a student-derived text apart: every line of it, wrapped ones included, starts with it.
QUOTE = "    │ "


def _quoted_lines(text: str) -> str:
    return "\n".join(QUOTE + line for line in shown(text).split("\n"))


def _print_quoted(console: Console, text: str) -> None:
    """``text`` wrapped to the console's width, each line behind ``QUOTE`` (a wrapped line too: a
    line the student made long enough to wrap cannot start at the left margin)."""
    width = max(20, console.width - len(QUOTE))
    for line in Text(shown(text)).wrap(console, width):
        line.rstrip()
        console.print(Text(QUOTE, style="dim") + line, soft_wrap=True)


def _first_todo(checks):
    return next((c for c in checks if not c.passed), None)


def summary_line(report: Report) -> Text:
    passed = sum(c.passed for c in report.checks)
    t = Text(f"Total: {report.score:g} / {report.max_score:g}", style="bold")
    t.append(f"   ({passed} of {len(report.checks)} checks passed; seed {report.seed}; device {shown(report.device)})")
    return t


def _fix_first_check(report: Report):
    """The earliest failing stage of the earliest level: later stages often depend on it."""
    failing = [c for c in report.checks if not c.passed and not c.error]
    if not failing:
        return None
    return min(failing, key=lambda c: (c.level, STAGES.index(c.stage)))


def fix_first(report: Report) -> str | None:
    """The earliest failing stage of the earliest level, in one line (the HTML page and the panel)."""
    c = _fix_first_check(report)
    if c is None:
        return None
    return f"level {c.level}, stage {c.stage} — {c.name}: {c.message}"
