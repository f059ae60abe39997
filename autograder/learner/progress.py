"""How far a self-study learner has come, from the record of checks, hints and solutions.

``python -m autograder progress`` prints, per level: the best score reached, the stages done, the
hints and worked solutions used, the number of checks, and the time from the first check to full
marks. ``--html DIR`` also writes ``DIR/progress.html`` with a chart (matplotlib) of the score
after each check. The generated notebooks end with a cell that shows the same summary.

A level's score after a check is the sum, over its stages, of each stage's latest result: a
notebook checks one stage per cell, the command line every stage at once, and both add up the same.
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.curriculum import LEVELS, STAGES, stage_points, stages_of
from . import history


@dataclass
class LevelProgress:
    level: int
    max_score: float
    best: float = 0.0
    checks: int = 0
    stages_done: list[str] = field(default_factory=list)
    hints: int = 0
    solutions: list[str] = field(default_factory=list)
    first_check: float | None = None
    full_marks_at: float | None = None
    scores: list[float] = field(default_factory=list)  # the level's score after each check

    @property
    def time_to_full_marks(self) -> float | None:
        if self.first_check is None or self.full_marks_at is None:
            return None
        return max(0.0, self.full_marks_at - self.first_check)


def summarize(events: list[dict]) -> dict[int, LevelProgress]:
    """Per level, what the record says (levels without any event are left out)."""
    out: dict[int, LevelProgress] = {}
    latest: dict[int, dict[str, float]] = {}
    done: dict[int, set[str]] = {}
    for e in events:
        level = e.get("level")
        if level not in LEVELS:
            continue
        p = out.setdefault(level, LevelProgress(level, sum(stage_points(level, s) for s in stages_of(level))))
        kind = e.get("event")
        if kind == "check" and isinstance(e.get("stages"), dict):
            stages = latest.setdefault(level, {})
            for stage, r in e["stages"].items():
                if stage in STAGES and isinstance(r, dict) and isinstance(r.get("score"), (int, float)):
                    stages[stage] = min(float(r["score"]), stage_points(level, stage))
                    if r.get("passed"):
                        done.setdefault(level, set()).add(stage)
            score = round(sum(stages.values()), 4)
            p.checks += 1
            p.scores.append(score)
            p.best = max(p.best, score)
            if p.first_check is None:
                p.first_check = float(e["t"])
            if p.full_marks_at is None and score >= p.max_score - 1e-9:
                p.full_marks_at = float(e["t"])
        elif kind == "hint":
            p.hints += 1
        elif kind == "solution" and e.get("stage") in STAGES and e["stage"] not in p.solutions:
            p.solutions.append(e["stage"])
    for level, passed in done.items():
        out[level].stages_done = [s for s in stages_of(level) if s in passed]
    return out


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days"


def rows(summary: dict[int, LevelProgress]) -> list[dict[str, str]]:
    """One row per level (all eight, so the road ahead shows too), as display strings."""
    out = []
    for level in sorted(LEVELS):
        p = summary.get(level)
        stages = stages_of(level)
        if p is None:
            out.append(
                {
                    "level": str(level),
                    "best": "—",
                    "stages": f"0/{len(stages)}",
                    "hints": "0",
                    "solutions": "—",
                    "checks": "0",
                    "to full marks": "—",
                }
            )
            continue
        to_full = duration(p.time_to_full_marks) if p.full_marks_at is not None else "not yet"
        out.append(
            {
                "level": str(level),
                "best": f"{p.best:g} / {p.max_score:g}",
                "stages": f"{len(p.stages_done)}/{len(stages)}",
                "hints": str(p.hints),
                "solutions": ", ".join(p.solutions) or "—",
                "checks": str(p.checks),
                "to full marks": to_full,
            }
        )
    return out


COLUMNS = ("level", "best", "stages", "hints", "solutions", "checks", "to full marks")
#: "stages": how many of the level's stages passed a check at least once


def render_terminal(summary: dict[int, LevelProgress], console=None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console(highlight=False)
    table = Table(title="Your progress", title_justify="left")
    for column in COLUMNS:
        table.add_column(
            column, justify="right" if column in ("hints", "checks") else "left", no_wrap=column != "solutions"
        )
    for row in rows(summary):
        table.add_row(*(Text(row[c]) for c in COLUMNS))  # Text: nothing is read as markup
    console.print(table)
    full = sum(1 for p in summary.values() if p.full_marks_at is not None)
    console.print(Text(f"{full} of {len(LEVELS)} levels at full marks."))


def render_text(summary: dict[int, LevelProgress]) -> str:
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer, width=110, color_system=None, force_terminal=False, force_jupyter=False, highlight=False
    )
    render_terminal(summary, console)
    return buffer.getvalue()


def chart_png(summary: dict[int, LevelProgress]) -> bytes | None:
    """Score (percent of the level) after each check, one line per level; None without checks."""
    if not any(p.scores for p in summary.values()):
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.6), dpi=100)
    ax = fig.add_subplot()
    for level, p in sorted(summary.items()):
        if p.scores:
            xs = list(range(1, len(p.scores) + 1))
            ax.plot(xs, [100 * s / p.max_score for s in p.scores], marker="o", markersize=3, label=f"level {level}")
    ax.set_xlabel("check")
    ax.set_ylabel("score (% of the level)")
    ax.set_ylim(-5, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncols=2)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def chart_text(summary: dict[int, LevelProgress]) -> str:
    """The chart in words: each level's score after its first and its last check."""
    parts = [
        f"level {level} from {100 * p.scores[0] / p.max_score:.0f}% to {100 * p.scores[-1] / p.max_score:.0f}% "
        f"over {len(p.scores)} check{'s' if len(p.scores) != 1 else ''}"
        for level, p in sorted(summary.items())
        if p.scores
    ]
    return "Line chart of each level's score, as a % of the level, after each check: " + "; ".join(parts) + "."


def _fragment_context(summary: dict[int, LevelProgress], chart: bool) -> dict:
    png = chart_png(summary) if chart else None
    return {
        "full": sum(1 for p in summary.values() if p.full_marks_at is not None),
        "n_levels": len(LEVELS),
        "columns": COLUMNS,
        "rows": rows(summary),
        "chart": {
            "src": "data:image/png;base64," + base64.b64encode(png).decode(),
            "alt": chart_text(summary),
            "rows": [
                [str(level), str(i), f"{s:g} / {p.max_score:g} ({100 * s / p.max_score:.0f}%)"]
                for level, p in sorted(summary.items())
                for i, s in enumerate(p.scores, start=1)
            ],
        }
        if png
        else None,
    }


def render_html(summary: dict[int, LevelProgress], chart: bool = True) -> str:
    """A self-contained fragment (``templates/_progress.html.j2``): the table, escaped, and the chart
    as a data URL with its words and numbers."""
    from ..render import pages

    return pages.render("_progress.html.j2", **_fragment_context(summary, chart))


def html_page(summary: dict[int, LevelProgress]) -> str:
    from ..render import pages
    from ..render.html import levels_text

    title = f"Your progress: {levels_text(LEVELS)}"
    return pages.render(
        "progress.html.j2",
        title=title,
        heading=title,
        stamp=time.strftime("%Y-%m-%d %H:%M"),
        record=history.FILE_NAME,
        **_fragment_context(summary, True),
    )


def show_progress(directory: Path | str | None = None) -> None:
    """The notebooks' last cell: the summary as HTML under IPython, as a table elsewhere."""
    summary = summarize(history.read(directory))
    from .hints import _ipython

    if _ipython() is None:
        render_terminal(summary)
        return
    from IPython.display import display

    display({"text/plain": render_text(summary), "text/html": render_html(summary)}, raw=True)


def register(subparsers) -> None:
    from ..core.settings import repo_root

    p = subparsers.add_parser(
        "progress",
        help="your progress per level: best score, stages, hints, time to full marks",
        description="Sum up the record of your checks, hints and solutions, per level.",
    )
    p.add_argument(
        "--dir",
        default=str(repo_root() / "assignments"),
        help="your work, where the record is kept (default: assignments/)",
    )
    p.add_argument("--html", metavar="DIR", default=None, help="also write DIR/progress.html with a chart")
    p.set_defaults(func=cmd_progress)


def cmd_progress(args) -> int:
    import sys

    from ..core.report import write_atomic

    summary = summarize(history.read(args.dir))
    render_terminal(summary)
    if not summary:
        print(f"(no checks recorded in {args.dir} yet: run `python -m autograder check`)", file=sys.stderr)
    if args.html:
        path = Path(args.html) / "progress.html"
        write_atomic(path, html_page(summary))
        print(f"progress page: {path}", file=sys.stderr)
    return 0
