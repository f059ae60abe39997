"""The terminal report ends with the real total, and the student's text cannot pass for the kit's.

Escape codes are neutralised elsewhere (test_untrusted.py); plain text cannot be: an exception
message may hold the literal line ``Total: 12.5 / 12.5 (10 of 10 checks passed...)``. The kit's
own total must be the last line on the screen, and every line of a message outside the table
(what to fix first) is indented behind a bar, wrapped lines included (issue 26).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from autograder.core.report import CheckResult, Report
from autograder.render.terminal import render
from conftest import SEED

ROOT = Path(__file__).resolve().parent.parent
QUOTE = "    │ "  # (render_terminal.QUOTE: written out, so that a change of it is deliberate)
FORGED = "Total: 12.5 / 12.5   (10 of 10 checks passed; seed 20240601; device cpu)"


def _screen_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _assert_only_the_real_total_at_the_margin(screen: str, real: str) -> None:
    lines = _screen_lines(screen)
    assert lines[-1].startswith(real), lines[-3:]
    at_margin = [line for line in lines if line.startswith("Total:")]
    assert at_margin == [lines[-1]], at_margin
    for line in lines:  # the forged line is there, but set apart
        if FORGED[:18] in line:
            assert line.startswith(("│", "|", QUOTE)), line


@pytest.mark.parametrize("width", [60, 80, 200])
def test_a_forged_total_in_a_message_is_quoted_and_the_real_one_comes_last(width):
    message = "forward() raised ValueError: bad " + "x" * 150 + "\n" + FORGED + "\n" + " " * 30 + FORGED
    checks = [
        CheckResult("1.forward.values", 1, "forward", "forward matches", 0.0, 2.0, False, message),
        CheckResult("1.loss.values", 1, "loss", "loss matches", 1.0, 1.0, True),
    ]
    report = Report(checks=checks, seed=SEED, levels=[1], device="cpu", level_notes={1: "found in a/\n" + FORGED})
    report.errors = ["a grader error, said before the total"]
    for color in (None, "standard"):
        console = Console(file=io.StringIO(), width=width, force_terminal=color is not None, color_system=color)
        render(report, console)
        screen = console.file.getvalue()
        if color:  # what a terminal shows: the text without its colour codes
            screen = Text.from_ansi(screen).plain
        _assert_only_the_real_total_at_the_margin(screen, "Total: 1 / 3")


@pytest.mark.slow
def test_the_grade_command_ends_with_the_real_total(tmp_path):
    src = (ROOT / "solutions" / "level1_numpy.py").read_text()
    src = src.replace(
        "def forward(x, w1, w2):\n",
        f"def forward(x, w1, w2):\n    raise ValueError('bad shapes ' + 'x' * 150 + '\\n{FORGED}')\n",
        1,
    )
    (tmp_path / "level1_numpy.py").write_text(src)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")} | {"KIT_HISTORY": "off", "COLUMNS": "80"}
    out = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(tmp_path), "--level", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert FORGED in out.stdout.replace("\n    │ ", " ") or FORGED[:18] in out.stdout
    _assert_only_the_real_total_at_the_margin(out.stdout, "Total: ")
    assert not _screen_lines(out.stdout)[-1].startswith("Total: 12.5")
