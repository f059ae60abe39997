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
import re
import sys

from . import neutralise
from .curriculum import LEVELS, STAGES
from .report import Report
from .settings import default_seed

#: The stages whose checks run a training loop: the panel shows their loss curve.
CURVE_STAGES = (None, "train")


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
        # IPython calls this instead of formatting a traceback: the table is the explanation.
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


def run(
    level: int, stage: str | None = None, namespace: dict | None = None, seed: int | None = None, curves: bool = False
) -> Report:
    """Grade one level (or one stage of it) on the functions in ``namespace``."""
    from .grading import grade

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
            f"({report.score:g} / {report.max_score:g}); see the table above",
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

        from .render_terminal import render

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

    from .render_terminal import render

    buffer = io.StringIO()
    console = Console(
        file=buffer, width=100, color_system=None, force_terminal=False, force_jupyter=False, highlight=False
    )
    render(report, console)
    return buffer.getvalue().rstrip() + "\n"


# --- the HTML panel -------------------------------------------------------------------------------

#: Scoped to the panel (a notebook page must not be restyled by an output). JupyterLab's sanitizer
#: drops <style> in outputs it does not trust (a notebook reopened later): the inline styles on
#: the marks keep the colours there.
PANEL_CSS = """
.kit-selfcheck{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;line-height:1.4;
  border:1px solid #e5e7eb;border-radius:.5rem;padding:.6rem .8rem;margin:.2rem 0;max-width:56rem;color:#1d1d1f;
  background:#fff}
.kit-selfcheck .kit-head{font-size:1.05rem;font-weight:600;margin:0 0 .4rem}
.kit-selfcheck .kit-scroll{overflow-x:auto}
.kit-selfcheck table{border-collapse:collapse;width:100%;font-size:.9rem;margin:0;table-layout:auto}
.kit-selfcheck th,.kit-selfcheck td{text-align:left;vertical-align:top;padding:.3rem .5rem;
  border:0;border-bottom:1px solid #e5e7eb;white-space:normal}
.kit-selfcheck th{background:#f9fafb;font-weight:600}
.kit-selfcheck td.pts{text-align:right;white-space:nowrap}
.kit-selfcheck .msg{color:#374151;font-size:.86rem;margin-top:.2rem;white-space:pre-wrap;font-family:inherit}
.kit-selfcheck .diag{color:#92400e;font-size:.86rem}
.kit-selfcheck .fix{border-left:4px solid #b45309;padding:.35rem .7rem;background:#fffbeb;margin:.6rem 0 0}
.kit-selfcheck .curve{margin:.6rem 0 0} .kit-selfcheck .curve img{max-width:100%;height:auto}
.kit-selfcheck .note{color:#6b7280;font-size:.8rem;margin:.5rem 0 0}
"""

_COLOURS = {"pass": "#15803d", "fail": "#b91c1c", "todo": "#a16207", "err": "#7e22ce"}
_HEAD_BG = {"pass": "#f0fdf4", "fail": "#fef2f2", "todo": "#fefce8", "err": "#faf5ff"}


def _kind(c) -> str:
    if c.error:
        return "err"
    if c.passed:
        return "pass"
    return "todo" if _todo(c) else "fail"


def _mark(kind: str) -> str:
    label = {"pass": "✓ pass", "fail": "✗ fail", "todo": "· todo", "err": "! error"}[kind]
    return f'<span class="{kind}" style="color:{_COLOURS[kind]};font-weight:600;white-space:nowrap">{label}</span>'


def _overall(report: Report) -> str:
    kinds = {_kind(c) for c in report.checks}
    for kind in ("err", "fail", "todo"):
        if kind in kinds:
            return kind
    return "pass"


def html_panel(report: Report, stage: str | None = None, stderr: str = "") -> str:
    """The notebook output of one self-check: a self-contained, scoped HTML fragment."""
    from .hints import switched_off as hints_switched_off
    from .render_terminal import fix_first

    esc = neutralise.html
    level = report.levels[0] if report.levels else 0
    overall = _overall(report)
    symbol = {"pass": "✓", "fail": "✗", "todo": "·", "err": "!"}[overall]
    what = f"stage {stage}" if stage else f"{LEVELS[level].module} ({LEVELS[level].title})" if level in LEVELS else ""
    passed = all(c.passed for c in report.checks)
    parts = [
        f'<div class="kit-selfcheck" data-level="{level}" data-stage="{esc(stage or "all")}" '
        f'data-score="{report.score:g}" data-max-score="{report.max_score:g}" '
        f'data-passed="{str(passed).lower()}">',
        f"<style>{PANEL_CSS}</style>",
        f'<div class="kit-head" style="color:{_COLOURS[overall]};background:{_HEAD_BG[overall]};'
        f'padding:.3rem .5rem;border-radius:.3rem">{symbol} Level {level} · {esc(what)}: '
        f'{esc(_verdict(report))} — <span class="kit-score">{report.score:g} / {report.max_score:g}</span>'
        "</div>",
    ]
    if level in report.level_notes:
        parts.append(f'<div class="fix">{esc(report.level_notes[level])}</div>')
    left = ' style="text-align:left;vertical-align:top"'  # inline: JupyterLab right-aligns table cells
    parts.append(
        f'<div class="kit-scroll"><table><thead><tr><th{left}>stage</th><th{left}>check</th>'
        f'<th{left}>result</th><th style="text-align:right">points</th></tr></thead><tbody>'
    )
    checks = sorted(report.checks, key=lambda c: (c.level, STAGES.index(c.stage)))
    shown_todo: set[str] = set()
    for c in checks:
        kind = _kind(c)
        msg = ""
        if c.message and not c.passed and not (kind == "todo" and c.message in shown_todo):
            msg = f'<div class="msg">{_message_html(c.message)}</div>'
            shown_todo.add(c.message)
        diag = f'<div class="diag">diagnosis: {esc(c.diagnosis.replace("_", " "))}</div>' if c.diagnosis else ""
        parts.append(
            f"<tr><td{left}>{esc(c.stage)}</td><td{left}>{esc(c.name)}{msg}{diag}</td>"
            f"<td{left}>{_mark(kind)}</td>"
            f'<td class="pts" style="text-align:right;vertical-align:top;white-space:nowrap">'
            f"{c.score:g} / {c.max_score:g}</td></tr>"
        )
    parts.append("</tbody></table></div>")
    fix = fix_first(report)
    if fix and overall != "todo":
        parts.append(f'<div class="fix"><b>What to fix first:</b> {esc(fix)}</div>')
    elif overall == "todo":
        parts.append(
            '<div class="fix">Replace the <code>raise NotImplementedError(...)</code> line of each '
            "function named above with your code, run its cell, then run this cell again.</div>"
        )
    if overall in ("fail", "todo") and not hints_switched_off():
        call = f'hint({level}, "{stage}")' if stage else f"hint({level})"
        parts.append(f'<p class="note">Stuck? Run <code>{esc(call)}</code> in a new cell: one hint more each time.</p>')
    parts.append(_curve_html(report, level))
    note = _stderr_note(stderr)
    if note:
        head, _, body = note.partition("\n")
        parts.append(
            f'<div class="note">{esc(head)}</div><pre class="msg" style="white-space:pre-wrap;'
            f'max-height:12rem;overflow:auto;margin:.2rem 0 0">{esc(body)}</pre>'
        )
    if report.errors:
        parts.append(
            f'<div class="fix" style="border-color:{_COLOURS["err"]}">{len(report.errors)} grader '
            "error(s): these are not your fault; report them to your instructor.</div>"
        )
    parts.append(
        f'<p class="note">Self-check in this kernel (seed {report.seed}). The official grade comes '
        "from the grader, which runs your code in isolation on its own data.</p></div>"
    )
    return "".join(parts)


_HINT = re.compile(r"(Hint:)")


def _message_html(message: str) -> str:
    text = neutralise.html(message)
    return _HINT.sub(r"<b>\1</b>", text)


def _curve_html(report: Report, level: int) -> str:
    curve = report.curves.get(level)
    if not curve:
        return ""
    from .render_html import loss_plot

    try:
        img = loss_plot(level, curve)
    except Exception:  # noqa: BLE001 - a plot that cannot be drawn must not hide the table
        return ""
    if not img:
        return ""
    caption = (
        "your train()'s loss (dashed) against the reference's"
        if curve.get("student")
        else "the reference's loss: what your train() should do once it is written"
    )
    caption = neutralise.html(caption)
    return (
        f'<figure class="curve"><img class="kit-loss-curve" alt="Level {level} loss curve: {caption}" '
        f'src="{img}"><figcaption class="note">Loss curve: {caption}.</figcaption></figure>'
    )
