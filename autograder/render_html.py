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


def loss_plot(level: int, curve: dict) -> str | None:
    """The student's losses against the reference's, log scale; None when there is nothing to draw."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ref, student = curve.get("reference") or [], curve.get("student") or []
    positive = [v for v in ref + student if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]
    if not positive:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.2))
    if ref:
        ax.plot(range(len(ref)), ref, label="reference", color="#2563eb", linewidth=2)
    if student:
        clean = [v if isinstance(v, (int, float)) and math.isfinite(v) and v > 0 else float("nan") for v in student]
        ax.plot(range(len(clean)), clean, label="your train()", color="#dc2626", linestyle="--", linewidth=1.6)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (log scale)")
    ax.set_title(f"Level {level}: loss on the seed's problem")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return _png(fig)


def _result_cell(c) -> str:
    if c.error:
        return '<span class="err">! error</span>'
    if c.passed:
        return '<span class="pass">✓ pass</span>'
    if c.message.startswith("not implemented"):
        return '<span class="todo">· todo</span>'
    return '<span class="fail">✗ fail</span>'


def feedback_page(report: Report, title: str = "Your feedback") -> str:
    from .render_terminal import fix_first
    esc = neutralise.html  # student-derived text: escaped, control characters shown
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{esc(title)}</h1>",
             f"<p class='summary'>Total: <b>{report.score:g} / {report.max_score:g}</b> — "
             f"{sum(c.passed for c in report.checks)} of {len(report.checks)} checks passed</p>"]
    fix = fix_first(report)
    if fix:
        parts.append(f"<div class='fix'><b>What to fix first:</b> {esc(fix)}</div>")
    for lv in report.levels:
        got, out_of = report.level_score(lv)
        parts.append(f"<h2 id='level{lv}'>Level {lv} — {esc(LEVELS[lv].module)} ({esc(LEVELS[lv].title)}): "
                     f"{got:g} / {out_of:g}</h2>")
        if lv in report.level_notes:
            parts.append(f"<p class='fix'>{esc(report.level_notes[lv])}</p>")
        parts.append("<div class='scroll'><table><thead><tr><th>stage</th><th>check</th><th>result</th>"
                     "<th>points</th></tr></thead><tbody>")
        checks = sorted((c for c in report.checks if c.level == lv), key=lambda c: STAGES.index(c.stage))
        for c in checks:
            msg = f"<div class='msg'>{esc(c.message)}</div>" if c.message and not c.passed else ""
            diag = f"<div class='diag'>diagnosis: {esc(c.diagnosis.replace('_', ' '))}</div>" if c.diagnosis else ""
            parts.append(f"<tr><td>{esc(c.stage)}</td><td>{esc(c.name)}{msg}{diag}</td><td>{_result_cell(c)}</td>"
                         f"<td class='pts'>{c.score:g} / {c.max_score:g}</td></tr>")
        parts.append("</tbody></table></div>")
        curve = report.curves.get(lv)
        img = loss_plot(lv, curve) if curve else None
        if img:
            parts.append(f"<p><img alt='Level {lv} loss curve: yours against the reference' src='{img}'></p>")
    parts.append(f"<p class='meta'>seed {report.seed} · device {esc(report.device)} · "
                 f"torch {esc(str(report.versions.get('torch', '')))} · submission sha256 "
                 f"{esc(report.submission_hash[:12])}</p></body></html>")
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
    ax.set_title("Score distribution (% of the points graded)")
    img = _png(fig)
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>Class summary</title><style>{STYLE}</style></head><body>",
             f"<h1>Class summary — {summary['n_students']} students</h1>",
             f"<p class='summary'>Mean {summary['mean']}, median {summary['median']}</p>",
             f"<p><img alt='Score distribution' src='{img}'></p>",
             "<h2>Checks failed most often</h2><div class='scroll'><table><thead><tr><th>check</th>"
             "<th>what it checks</th><th>students</th><th>share</th></tr></thead><tbody>"]
    for m in summary["most_failed"]:
        parts.append(f"<tr><td>{esc(m['check'])}</td><td>{esc(m['name'])}</td><td class='pts'>{m['students']}</td>"
                     f"<td class='pts'>{m['share']:.0%}</td></tr>")
    parts.append("</tbody></table></div>")
    if diagnoses:
        parts.append("<h2>Diagnosed mistakes, by level</h2><div class='scroll'><table><thead><tr><th>level</th>"
                     "<th>mistake</th><th>students</th></tr></thead><tbody>")
        for (lv, mistake), k in sorted(diagnoses.items(), key=lambda kv: (-kv[1], kv[0])):
            parts.append(f"<tr><td>{lv}</td><td>{esc(mistake.replace('_', ' '))}</td><td class='pts'>{k}</td></tr>")
        parts.append("</tbody></table></div>")
    if summary.get("grader_errors"):
        parts.append(f"<p class='fix'>Grader errors (regrade these): {esc(', '.join(summary['grader_errors']))}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
