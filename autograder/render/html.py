"""HTML renderings: a student's feedback page and a class's summary page.

Both are single self-contained files (styles inline, plots embedded as PNG data URIs), readable
on a phone (a fluid layout, tables that scroll sideways rather than overflow), with a screen reader
and from the keyboard (docs/accessibility.md). Plots are made with matplotlib: per level, the
student's loss curve against the reference's on a log scale; for a class, the score distribution.
Each says what it shows in its alternative text and has its numbers in a table beside it.

The markup is in ``templates/feedback.html.j2`` and ``templates/summary.html.j2`` (autoescaped,
see ``pages``): this module gathers plain values for them.
"""

from __future__ import annotations

import base64
import io
import math
import os
import re
import sys
import tempfile
from pathlib import Path

from ..core import neutralise
from ..core.curriculum import LEVELS, STAGES
from ..core.report import Report


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _finite(values) -> list[float]:
    return [v if isinstance(v, (int, float)) and math.isfinite(v) and v > 0 else float("nan") for v in values or []]


def curve_caption(level: int, curve: dict) -> str:
    """What the chart compares, in words: the same sentence under every chart of a level."""
    what = (
        "the reference's loss for each of the 4 possible depths at every step (the band) and for the depth "
        "drawn at each step by the same random draws as your run (line)"
        if curve.get("band")
        else "the reference's loss (line)"
    )
    scale = (
        "Both are the tutorial's sum of squared errors. "
        if not curve.get("student_scale")
        else f"Your losses look like a {curve['student_scale']} of squared errors; the reference is the tutorial's "
        "sum, so your curve is drawn rescaled to a sum (×N) to compare shapes, and the checks still expect "
        "the sum. "
    )
    return (
        f"Level {level}: your train()'s loss at each iteration (dashed) against {what}, on the same "
        f"problem, starting weights and learning rate. {scale}Log scale."
    )


def loss_plot(level: int, curve: dict) -> str | None:
    """The student's losses against the reference's, log scale; None when there is nothing to draw.

    Level 8 draws a random depth per call, so one reference line cannot match every correct run:
    when the curve carries a ``band`` (the reference's loss at each of the depths, per step), the
    band is drawn behind the line, and a correct run stays inside it whatever its draws.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref, student = _finite(curve.get("reference")), _finite(curve.get("student"))
    band = curve.get("band") or []
    factor = curve.get("student_factor") or 1.0
    student = [v * factor for v in student]
    positive = [v for v in ref + student if v == v]
    if not positive:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.2))
    if band:
        lo = [min(_finite(b)) for b in band]
        hi = [max(_finite(b)) for b in band]
        ax.fill_between(range(len(band)), lo, hi, color="#93c5fd", alpha=0.45, label="reference, any depth")
    if ref:
        ax.plot(range(len(ref)), ref, label="reference (sum of squares)", color="#2563eb", linewidth=2)
    if student:
        label = "your train()" + (f" (×{factor:g}: mean → sum)" if factor != 1.0 else "")
        ax.plot(range(len(student)), student, label=label, color="#dc2626", linestyle="--", linewidth=1.6)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (log scale)")
    ax.set_title(f"Level {level}: your loss against the reference's, same problem")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return _png(fig)


def _instructor_paths() -> list[str]:
    """Directories of the grading machine that must not reach a student's page, longest first."""
    from ..core.settings import repo_root

    roots = {str(repo_root()), sys.prefix, sys.base_prefix, tempfile.gettempdir(), os.path.expanduser("~"), os.getcwd()}
    return sorted((r for r in roots if r and r not in ("/", "~") and len(r) > 1), key=len, reverse=True)


_ABS_PATH = re.compile(r"(?:(?<=[\s'\"(=])|^)(?:[A-Za-z]:\\|/)(?:[^\s'\"()<>:]+[/\\])+")


def scrub_paths(text: str, submission: str = "") -> str:
    """A student-facing text without the instructor's absolute paths: the submission's folder becomes
    nothing (names stay relative to it), other absolute directories are dropped, file names stay."""
    if not text:
        return text
    for root in ([submission, str(Path(submission).resolve())] if submission else []) + _instructor_paths():
        if root and len(root) > 1:
            text = text.replace(root.rstrip("/\\") + "/", "").replace(root.rstrip("/\\"), "…")
    return _ABS_PATH.sub("", text)


def result_kind(c) -> str:
    """pass, fail, todo (a stub's "not implemented") or err: the page shows each by symbol, word and colour."""
    if c.error:
        return "err"
    if c.passed:
        return "pass"
    if c.message.startswith("not implemented"):
        return "todo"
    return "fail"


def levels_text(levels) -> str:
    """``level 3``, ``levels 1, 3`` or ``levels 1–8``: which levels a page is about, for its title."""
    levels = sorted(levels)
    if not levels:
        return "no level"
    if len(levels) == 1:
        return f"level {levels[0]}"
    if levels == list(range(levels[0], levels[-1] + 1)):
        return f"levels {levels[0]}–{levels[-1]}"
    return "levels " + ", ".join(map(str, levels))


def _curve_view(level: int, curve: dict, shown) -> dict | None:
    """What the page shows of a level's curve: the figure, its words and the numbers behind it."""
    from .curve_text import describe

    img = loss_plot(level, curve)
    if not img:
        return None
    text = describe(level, curve)
    return {
        "src": img,
        "alt": text.alt,
        "caption": shown(curve_caption(level, curve)),
        "columns": text.columns,
        "rows": text.rows,
    }


def feedback_page(report: Report, title: str = "Your feedback") -> str:
    """A student's page. It says nothing of the grading machine: no seed (the instructor's secret:
    with it, the hidden inputs can be regenerated), no absolute path (``scrub_paths``)."""
    from . import pages
    from .terminal import fix_first

    def shown(text) -> str:  # student-derived text: control characters shown, no instructor path
        return neutralise.visible(scrub_paths(str(text), report.submission))  # (the template escapes it)

    levels = []
    for lv in report.levels:
        got, out_of = report.level_score(lv)
        checks = sorted((c for c in report.checks if c.level == lv), key=lambda c: STAGES.index(c.stage))
        curve = report.curves.get(lv)
        levels.append(
            {
                "number": lv,
                "module": LEVELS[lv].module,
                "title": LEVELS[lv].title,
                "got": got,
                "out_of": out_of,
                "note": shown(report.level_notes[lv]) if lv in report.level_notes else "",
                "checks": [
                    {
                        "stage": shown(c.stage),
                        "name": shown(c.name),
                        "message": shown(c.message) if c.message and not c.passed else "",
                        "diagnosis": shown(c.diagnosis.replace("_", " ")) if c.diagnosis else "",
                        "kind": result_kind(c),
                        "score": c.score,
                        "max_score": c.max_score,
                    }
                    for c in checks
                ],
                "curve": _curve_view(lv, curve, shown) if curve else None,
            }
        )
    heading = f"{shown(title)}: {levels_text(report.levels)}"
    fix = fix_first(report)
    return pages.render(
        "feedback.html.j2",
        title=heading,
        heading=heading,
        score=report.score,
        max_score=report.max_score,
        passed=sum(c.passed for c in report.checks),
        n_checks=len(report.checks),
        fix=shown(fix) if fix else "",
        levels=levels,
        device=shown(report.device),
        torch=shown(str(report.versions.get("torch", ""))),
        sha=shown(report.submission_hash[:12]),
    )


def distribution_text(distribution: dict) -> str:
    """The score distribution's chart in words: how many students in each band."""
    bands = "; ".join(f"{band} %: {n} student{'s' if n != 1 else ''}" for band, n in distribution.items())
    return f"Bar chart of the score distribution, students per band of % of the points graded. {bands}."


def class_page(summary: dict, diagnoses: dict | None = None) -> str:
    """The instructor's page: the distribution, the checks and the diagnosed mistakes most often hit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import pages

    shown = neutralise.visible  # student-derived text: control characters shown (the template escapes it)
    fig, ax = plt.subplots(figsize=(6, 3))
    labels = list(summary["distribution"])
    ax.bar(range(len(labels)), [summary["distribution"][k] for k in labels], color="#2563eb")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_ylabel("students")
    ax.set_title("Score distribution: students per band of % of the points graded")
    img = _png(fig)
    per_level = [
        [shown(lv)] + [str(v[k]) for k in ("attempted", "full_marks", "stub_only", "missing")]
        for lv, v in (summary.get("per_level") or {}).items()
    ]
    most_failed = [
        [shown(m["check"]), shown(m["name"]), str(m["students"]), str(m.get("attempted", "")), f"{m['share']:.0%}"]
        for m in summary["most_failed"]
    ]
    mistakes = [
        [str(lv), shown(mistake.replace("_", " ")), str(k)]
        for (lv, mistake), k in sorted((diagnoses or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    title = f"Class summary — {summary['n_students']} students"
    return pages.render(
        "summary.html.j2",
        title=title,
        heading=title,
        mean=summary["mean"],
        median=summary["median"],
        seed=summary.get("seed"),
        chart={
            "src": img,
            "alt": distribution_text(summary["distribution"]),
            "rows": [[shown(band), str(n)] for band, n in summary["distribution"].items()],
        },
        per_level=per_level,
        most_failed=most_failed,
        mistakes=mistakes,
        grader_errors=", ".join(shown(e) for e in summary.get("grader_errors") or []),
    )
