"""Feedback that teaches: the terminal table, the HTML page (seen in a real headless Chromium)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import conftest
from autograder.grading import grade
from autograder.render.html import class_page, feedback_page
from autograder.render.terminal import fix_first
from conftest import SEED

ROOT = Path(__file__).resolve().parent.parent

ARTIFACTS = conftest.ARTIFACTS / "feedback"  # (never in the checkout: tree_guard.py)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def broken_level7(tmp_path: Path) -> Path:
    """Level 7 with the gradients never zeroed: a diagnosed mistake."""
    src = (ROOT / "solutions" / "level7_module.py").read_text()
    lines = [ln for ln in src.splitlines() if "zero_grad()" not in ln or ln.strip().startswith("#")]
    d = tmp_path / "broken"
    d.mkdir()
    (d / "level7_module.py").write_text("\n".join(lines) + "\n")
    return d


@pytest.fixture(scope="module")
def reports(zygote, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fb")
    return {
        "reference": grade(ROOT / "solutions", [1, 7], SEED, pool=zygote, curves=True),
        "stub": grade(ROOT / "assignments", [1, 7], SEED, pool=zygote, curves=True),
        "broken": grade(broken_level7(tmp), [7], SEED, pool=zygote, curves=True),
    }


@pytest.mark.slow
def test_the_diagnosis_names_the_mistake_and_its_stage(reports):
    broken = reports["broken"]
    zero = next(c for c in broken.checks if c.id == "7.zero_grad.train")
    assert not zero.passed and zero.diagnosis == "no_zero_grad"
    assert "zero the gradients" in zero.message.lower()
    assert next(c for c in broken.checks if c.id == "7.forward.values").passed  # neighbours untouched
    assert all(c.diagnosis is None for c in reports["reference"].checks)


def test_failing_checks_show_expected_against_got(zygote, tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    src = (
        (ROOT / "solutions" / "level1_numpy.py")
        .read_text()
        .replace("grad_y_pred = 2.0 * (y_pred - y)", "grad_y_pred = (y_pred - y)")
    )
    assert "grad_y_pred = (y_pred - y)" in src
    (d / "level1_numpy.py").write_text(src)
    r = grade(d, [1], SEED, pool=zygote)
    c = next(c for c in r.checks if c.id == "1.backward.values")
    assert not c.passed
    assert (
        re.search(r"expected \[.*\], got \[.*\]", c.message) and "Hint:" in c.message and "2·(y_pred - y)" in c.message
    )
    assert len(c.message) < 600  # compact: a few values, not a wall of numbers
    assert "level 1, stage backward" in fix_first(r)


def test_html_page_is_self_contained_and_has_table_and_plot(reports):
    page = feedback_page(reports["reference"], "Reference")
    # per level: its checks, and the numbers behind its loss curve (the figure's text equivalent)
    assert page.count("<table") == 4 and page.count("<img") == 2 and page.count("<details>") == 2
    assert "http://" not in page and "https://" not in page  # nothing to fetch: readable offline
    assert "width=device-width" in page
    stub = feedback_page(reports["stub"], "Stub")
    assert "not implemented yet" in stub and "What to fix first" in stub


@pytest.mark.slow
def test_class_page(reports):
    summary = {
        "n_students": 3,
        "mean": 40.0,
        "median": 25.0,
        "distribution": {f"{b}-{b + 10}": int(b == 0) for b in range(0, 100, 10)},
        "most_failed": [
            {"check": "7.zero_grad.train", "name": "train zeroes the gradients", "students": 2, "share": 0.67}
        ],
        "grader_errors": [],
    }
    page = class_page(summary, {(7, "no_zero_grad"): 2})
    assert "no zero grad" in page and "<img" in page and "7.zero_grad.train" in page


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("which", ["reference", "stub", "broken"])
@pytest.mark.slow
def test_html_page_renders_in_headless_chromium(reports, which, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = tmp_path / f"{which}.html"
    page.write_text(feedback_page(reports[which], f"Feedback: {which}"))
    shot = ARTIFACTS / f"{which}.png"
    shot.unlink(missing_ok=True)
    profile = tmp_path / "profile"
    run = subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=412,1800",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.is_file() and shot.stat().st_size > 5000, run.stderr[-2000:]
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)
    assert pixels.std() > 0.01  # not a blank page
    dom = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "<table" in dom and "Total:" in dom
    if which != "stub":
        assert "<img" in dom and "data:image/png;base64," in dom
