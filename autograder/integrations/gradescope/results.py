"""``results.json``, what Gradescope shows the student: one test per check, the summary, and a
writer that writes the file exactly once, whoever asks first (the run, the watchdog, the crash handler).
"""

from __future__ import annotations

import fnmatch
import re
import threading
from pathlib import Path

from ...core import neutralise
from ...core.curriculum import LEVELS, checks_for
from ...core.report import CheckResult, write_atomic
from .staging import Found


# ============================================================================ results.json
def code(text: str) -> str:
    """A student-chosen name (a path, a zip member) as Markdown text: no pipe can split a table cell,
    no tag, code span, link or emphasis forms (``neutralise.markdown``)."""
    return neutralise.markdown(text)


def md_text(text: str) -> str:
    """Grader messages as Markdown: `code spans` kept, everything else escaped.

    Messages can quote student strings (an exception's text, a line of code); escaping keeps those
    from turning into links, images, HTML or formatting in Gradescope's rendering.
    """
    out = []
    for i, part in enumerate(re.split(r"(`[^`\n]+`)", neutralise.visible(text))):
        if i % 2:
            out.append(part)
        else:
            out.append(re.sub(r"([\\`*_\[\]<>|#~!])", r"\\\1", part).replace("\n", "  \n"))
    return "".join(out)


def _check_number(spec_id: str, level: int) -> str:
    ids = [c.id for c in checks_for(level)]
    return f"{level}.{ids.index(spec_id) + 1}"


def is_hidden(check_id: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(check_id, p) for p in patterns)


def gradescope_test(c: CheckResult, config: dict) -> dict:
    """One Gradescope test for one check: the score, and the message as Markdown."""
    spec_id = c.id.split("[")[0]
    if c.passed:
        body = "Passed."
    else:
        body = md_text(c.message[:4000] or "failed")
        if c.diagnosis:
            body += f"\n\nLikely mistake: {code(c.diagnosis)}"
    body += (
        f"\n\nCheck `{spec_id}` (stage `{c.stage}`); to try it on your own machine: "
        f"`python -m autograder check {c.level}`"
    )
    hidden = is_hidden(spec_id, config.get("hidden", []))
    return {
        "name": neutralise.visible(f"Level {c.level} {c.stage}: {c.name}"),  # (shown as plain text)
        "number": _check_number(spec_id, c.level),
        "score": float(c.score),
        "max_score": float(c.max_score),
        "status": "passed" if c.passed else "failed",
        "tags": [c.stage],
        "output": body,
        "output_format": "md",
        "visibility": config.get("hidden_visibility", "after_published") if hidden else "visible",
        "extra_data": {"id": spec_id, "level": c.level, "stage": c.stage, "seconds": c.seconds},
    }


def not_graded(levels: list[int], reason: str) -> list[CheckResult]:
    return [
        CheckResult(s.id, lv, s.stage, s.name, 0.0, s.points, False, reason) for lv in levels for s in checks_for(lv)
    ]


def results_json(
    checks: list[CheckResult],
    config: dict,
    found: Found | None,
    seconds: float,
    problems: list[str],
    notes: dict[int, str],
) -> dict:
    """Gradescope's results.json from the graded checks (the schema: docs/gradescope.md)."""
    checks = sorted(checks, key=lambda c: c.level)  # (stable: the curriculum's order within a level)
    tests = [gradescope_test(c, config) for c in checks]
    score = round(sum(c.score for c in checks), 4)
    return {
        "score": score,
        "execution_time": round(seconds, 2),
        "output": summary_md(checks, config, found, problems, notes),
        "output_format": "md",
        "test_output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {
            "kit_version": config.get("kit_version"),
            "levels": config["levels"],
            "max_score": round(sum(c.max_score for c in checks), 4),
            "graded_files": found.graded if found else {},
            "grader_errors": problems[:20],
        },
        "tests": tests,
    }


def summary_md(checks, config, found, problems, notes) -> str:
    """The text above the tests: which file was graded per level, and (unless hidden) the scores."""
    hidden = [
        c
        for c in checks
        if is_hidden(c.id.split("[")[0], config.get("hidden", [])) and config.get("hidden_visibility") != "visible"
    ]
    lines = []
    if problems:
        lines += [
            "**The autograder itself ran into a problem**, so some checks below scored 0 for a reason "
            "that is not yours. Your instructor can see the details and regrade.",
            "",
        ]
    lines += [
        "| Level | File graded | Score |" if not hidden else "| Level | File graded |",
        "|---|---|---|" if not hidden else "|---|---|",
    ]
    for lv in config["levels"]:
        module = LEVELS[lv].module
        graded = found.graded if found else {}
        name = f"{module}.py" if f"{module}.py" in graded else f"{module}.ipynb"
        where = (
            code(graded[name])
            if name in graded
            else "two different copies: see below"
            if found and lv in found.problems
            else "missing"
        )
        if lv in notes and name in graded:
            where += " (could not be read)"
        cs = [c for c in checks if c.level == lv]
        cell = f" {sum(c.score for c in cs):g} / {sum(c.max_score for c in cs):g} |" if not hidden else ""
        lines.append(f"| {lv} | {where} |{cell}")
    if not hidden:
        lines += ["", f"**Total: {sum(c.score for c in checks):g} / {sum(c.max_score for c in checks):g}**"]
    else:
        lines += [
            "",
            f"{len(hidden)} of the {len(checks)} checks are hidden until your instructor publishes "
            "the grades; so is the total.",
        ]
    for note in (found.notes if found else [])[:10]:
        lines.append(f"- {md_text(note)}")
    return "\n".join(lines)


class ResultsWriter:
    """Writes results.json exactly once, whoever asks first (the run, the watchdog, the crash handler)."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.written = False

    def write(self, make) -> bool:
        with self.lock:
            if self.written:
                return False
            write_atomic(self.path, neutralise.json_dumps(make(), indent=2) + "\n")
            self.written = True
            return True
