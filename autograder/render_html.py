"""HTML renderings: a student's feedback page and a class's summary page.

Both are single self-contained files (styles inline, plots embedded as PNG data URIs), readable
on a phone (a fluid layout, tables that scroll sideways rather than overflow). Plots are made
with matplotlib: per level, the student's loss curve against the reference's on a log scale;
for a class, the score distribution.
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

from . import neutralise
from .curriculum import LEVELS, STAGES
from .report import Report

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;
color:#1d1d1f;line-height:1.45}
h1{font-size:1.5rem;margin:.2rem 0} h2{font-size:1.15rem;margin:1.6rem 0 .4rem}
.summary{font-size:1.1rem;padding:.6rem .8rem;background:#f3f4f6;border-radius:.4rem}
.fix{border-left:4px solid #b45309;padding:.4rem .8rem;background:#fffbeb;margin:.8rem 0}
.scroll{overflow-x:auto} table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid #e5e7eb}
th{background:#f9fafb} td.pts{text-align:right;white-space:nowrap}
.pass{color:#15803d;font-weight:600;white-space:nowrap} .fail{color:#b91c1c;font-weight:600;white-space:nowrap}
.todo{color:#a16207;font-weight:600;white-space:nowrap} .err{color:#7e22ce;font-weight:600;white-space:nowrap}
.msg{color:#374151;font-size:.88rem;margin-top:.2rem} .diag{color:#92400e;font-size:.88rem}
img{max-width:100%;height:auto} .meta{color:#6b7280;font-size:.8rem;margin-top:2rem}
"""


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
    from .settings import repo_root

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


def _result_cell(c) -> str:
    if c.error:
        return '<span class="err">! error</span>'
    if c.passed:
        return '<span class="pass">✓ pass</span>'
    if c.message.startswith("not implemented"):
        return '<span class="todo">· todo</span>'
    return '<span class="fail">✗ fail</span>'


def feedback_page(report: Report, title: str = "Your feedback") -> str:
    """A student's page. It says nothing of the grading machine: no seed (the instructor's secret:
    with it, the hidden inputs can be regenerated), no absolute path (``scrub_paths``)."""
    from .render_terminal import fix_first

    def esc(text) -> str:  # student-derived text: escaped, control characters shown, no instructor path
        return neutralise.html(scrub_paths(str(text), report.submission))

    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p class='summary'>Total: <b>{report.score:g} / {report.max_score:g}</b> — "
        f"{sum(c.passed for c in report.checks)} of {len(report.checks)} checks passed</p>",
    ]
    fix = fix_first(report)
    if fix:
        parts.append(f"<div class='fix'><b>What to fix first:</b> {esc(fix)}</div>")
    for lv in report.levels:
        got, out_of = report.level_score(lv)
        parts.append(
            f"<h2 id='level{lv}'>Level {lv} — {esc(LEVELS[lv].module)} ({esc(LEVELS[lv].title)}): "
            f"{got:g} / {out_of:g}</h2>"
        )
        if lv in report.level_notes:
            parts.append(f"<p class='fix'>{esc(report.level_notes[lv])}</p>")
        parts.append(
            "<div class='scroll'><table><thead><tr><th>stage</th><th>check</th><th>result</th>"
            "<th>points</th></tr></thead><tbody>"
        )
        checks = sorted((c for c in report.checks if c.level == lv), key=lambda c: STAGES.index(c.stage))
        for c in checks:
            msg = f"<div class='msg'>{esc(c.message)}</div>" if c.message and not c.passed else ""
            diag = f"<div class='diag'>diagnosis: {esc(c.diagnosis.replace('_', ' '))}</div>" if c.diagnosis else ""
            parts.append(
                f"<tr><td>{esc(c.stage)}</td><td>{esc(c.name)}{msg}{diag}</td><td>{_result_cell(c)}</td>"
                f"<td class='pts'>{c.score:g} / {c.max_score:g}</td></tr>"
            )
        parts.append("</tbody></table></div>")
        curve = report.curves.get(lv)
        img = loss_plot(lv, curve) if curve else None
        if img and curve:
            parts.append(
                f"<figure><img alt='Level {lv} loss curve: yours against the reference' src='{img}'>"
                f"<figcaption class='msg'>{esc(curve_caption(lv, curve))}</figcaption></figure>"
            )
    parts.append(
        f"<p class='meta'>device {esc(report.device)} · "
        f"torch {esc(str(report.versions.get('torch', '')))} · submission sha256 "
        f"{esc(report.submission_hash[:12])}</p></body></html>"
    )
    return "\n".join(parts)


def class_page(summary: dict, diagnoses: dict | None = None) -> str:
    """The instructor's page: the distribution, the checks and the diagnosed mistakes most often hit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    esc = neutralise.html  # student-derived text: escaped, control characters shown
    fig, ax = plt.subplots(figsize=(6, 3))
    labels = list(summary["distribution"])
    ax.bar(range(len(labels)), [summary["distribution"][k] for k in labels], color="#2563eb")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_ylabel("students")
    ax.set_title("Score distribution: students per band of % of the points graded")
    img = _png(fig)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Class summary</title><style>{STYLE}</style></head><body>",
        f"<h1>Class summary — {summary['n_students']} students</h1>",
        f"<p class='summary'>Mean {summary['mean']}, median {summary['median']}"
        + (f" · seed {summary['seed']}" if "seed" in summary else "")
        + "</p>",
        f"<p><img alt='Score distribution' src='{img}'></p>",
    ]
    if summary.get("per_level"):
        parts.append(
            "<h2>Who handed in what, per level</h2><div class='scroll'><table><thead><tr><th>level</th>"
            "<th>attempted</th><th>full marks</th><th>stub only</th><th>missing</th></tr></thead><tbody>"
        )
        for lv, v in summary["per_level"].items():
            parts.append(
                f"<tr><td>{esc(lv)}</td>"
                + "".join(f"<td class='pts'>{v[k]}</td>" for k in ("attempted", "full_marks", "stub_only", "missing"))
                + "</tr>"
            )
        parts.append("</tbody></table></div>")
    parts.append(
        "<h2>Checks failed most often, among those who attempted them</h2><div class='scroll'><table>"
        "<thead><tr><th>check</th><th>what it checks</th><th>failed</th><th>attempted</th><th>share</th>"
        "</tr></thead><tbody>"
    )
    for m in summary["most_failed"]:
        parts.append(
            f"<tr><td>{esc(m['check'])}</td><td>{esc(m['name'])}</td><td class='pts'>{m['students']}</td>"
            f"<td class='pts'>{m.get('attempted', '')}</td><td class='pts'>{m['share']:.0%}</td></tr>"
        )
    parts.append("</tbody></table></div>")
    if diagnoses:
        parts.append(
            "<h2>Diagnosed mistakes, by level</h2><div class='scroll'><table><thead><tr><th>level</th>"
            "<th>mistake</th><th>students</th></tr></thead><tbody>"
        )
        for (lv, mistake), k in sorted(diagnoses.items(), key=lambda kv: (-kv[1], kv[0])):
            parts.append(f"<tr><td>{lv}</td><td>{esc(mistake.replace('_', ' '))}</td><td class='pts'>{k}</td></tr>")
        parts.append("</tbody></table></div>")
    if summary.get("grader_errors"):
        parts.append(f"<p class='fix'>Grader errors (regrade these): {esc(', '.join(summary['grader_errors']))}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
