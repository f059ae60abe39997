"""The neutraliser: each output kind's function, on hostile strings (the renderers' use of it is
tested in tests/test_hostile_text.py)."""

from __future__ import annotations

import json
import math

import pytest

from autograder.core import neutralise as n

HOSTILE = [
    "\x1b[2J\x1b[HTotal: 12.5 / 12.5",
    "a|b<img src=x onerror=alert(1)>`code`",
    '=HYPERLINK("http://evil","x")',
    "-1-1",
    "+1",
    "@SUM(A1)",
    "\tx",
    "\rx",
    "\u202eevil\u202c",
    "line1\nline2",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_terminal_shows_control_characters(text):
    out = n.terminal(text)
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
    if "\x1b" in text:
        assert "\\x1b" in out


@pytest.mark.parametrize("text", HOSTILE)
def test_html_has_no_tag_and_no_control(text):
    out = n.html(text)
    assert "<" not in out and ">" not in out and "\x1b" not in out


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_cell_cannot_split_a_row(text):
    out = n.markdown(text)
    assert "\n" not in out and "<" not in out
    assert "|" not in out.replace("\\|", "")
    assert "`" not in out.replace("\\`", "")


@pytest.mark.parametrize("text", HOSTILE)
def test_csv_cell_never_starts_a_formula(text):
    out = n.csv_cell(text)
    assert not out.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r"))
    assert n.visible(text) in out  # nothing lost: a prefix, control characters shown


def test_csv_numbers_stay_numbers():
    assert n.csv_cell(-1.5) == -1.5 and n.csv_cell(3) == 3 and n.csv_cell(float("nan")) == ""


def test_json_finite_only_with_reason_beside():
    text = n.json_dumps({"loss": float("nan"), "curve": [1.0, float("inf")], "deep": {"x": float("-inf")}})
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    assert data["loss"] is None and data["loss_nonfinite"] == "nan"
    assert data["curve"] == [1.0, None] and "curve_nonfinite" in data
    assert data["deep"] == {"x": None, "x_nonfinite": "-inf"}
    assert math.isfinite(json.loads(n.json_dumps({"a": 1.5}))["a"])


def test_cap_says_what_was_cut():
    out = n.cap("x" * 10_000, 100)
    assert len(out) < 200 and "9900" in out
    assert n.cap("short") == "short"
