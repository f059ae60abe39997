"""Pages every student can use: WCAG 2.1 A and AA, checked in a real browser.

Every HTML page the kit writes is built here from real grading (a class of three: a student with a
wrong gradient and its hint, a diagnosed loop mistake, a stub level and every loss curve; a copied
classmate; a stub) and opened in Debian's Chromium, where axe-core runs its WCAG 2.1 A/AA rules in
the light and the dark theme (``prefers-color-scheme``): any violation fails. Planted violations (an
image without alternative text, a status colour without contrast) must fail the same check, or it
proves nothing. Screenshots of each page in both themes and axe's summary go to
``$KIT_TEST_ARTIFACTS/accessibility/`` (default: the temporary folder's
``kit-test-artifacts/``); docs/accessibility.md quotes the summary.

What automated rules cannot see is tested without them: headings in order, tables with captions
and header cells, titles that name the student and the levels, every control reached with Tab, the
similarity report's side-by-side view opened from the keyboard, and no page assembled from HTML in
Python strings.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import time
import tokenize
from html.parser import HTMLParser
from pathlib import Path

import pytest

import axe_check
from autograder.grading import grade
from autograder.instructor import batch, similarity
from autograder.learner import progress
from conftest import ARTIFACTS as TEST_ARTIFACTS
from conftest import SEED

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = TEST_ARTIFACTS / "accessibility"  # (never the checkout: tree_guard.py)
THEMES = ("light", "dark")
pytestmark = pytest.mark.xdist_group("accessibility")  # the pages are built once for the whole file


def _class(tmp: Path) -> dict[str, Path]:
    """alice: levels 1-8 (a wrong gradient at level 1, no zero_grad at level 7, the stub of level 8);
    bob: alice's levels 1-3, copied; carol: the stubs of levels 1-3."""
    solutions, stubs = ROOT / "solutions", ROOT / "assignments"
    alice, bob, carol = (tmp / "class" / n for n in ("alice", "bob", "carol"))
    for d in (alice, bob, carol):
        d.mkdir(parents=True)
    for n in range(2, 7):
        module = f"{batch.LEVELS[n].module}.py"
        shutil.copy(solutions / module, alice / module)
    level1 = (solutions / "level1_numpy.py").read_text()
    wrong = level1.replace("grad_y_pred = 2.0 * (y_pred - y)", "grad_y_pred = (y_pred - y)")
    assert wrong != level1
    (alice / "level1_numpy.py").write_text(wrong)
    level7 = (solutions / "level7_module.py").read_text().splitlines()
    (alice / "level7_module.py").write_text(
        "\n".join(ln for ln in level7 if "zero_grad()" not in ln or ln.strip().startswith("#")) + "\n"
    )
    shutil.copy(stubs / "level8_dynamic.py", alice / "level8_dynamic.py")
    for n in (1, 2, 3):
        module = f"{batch.LEVELS[n].module}.py"
        shutil.copy(alice / module, bob / module)
        shutil.copy(stubs / module, carol / module)
    return {"alice": alice, "bob": bob, "carol": carol}


@pytest.fixture(scope="module")
def pages(zygote, tmp_path_factory) -> dict[str, Path]:
    """Every page the kit writes for a class, written by the kit's own commands' code."""
    tmp = tmp_path_factory.mktemp("a11y")
    dirs = _class(tmp)
    out = tmp / "out"
    students = batch.student_names(list(dirs.values()))
    for s in students:  # every level for everyone, as the class grader does (a missing file scores 0)
        report = grade(s.path, list(range(1, 9)), SEED, pool=zygote, curves=True)
        batch.save_report(out, s, json.loads(report.to_json()), html=True)
    batch.finish_class(
        students, out, list(range(1, 9)), time.monotonic(), html=True, similarity=similarity.Options(), seed=SEED
    )
    events = [
        {"event": "check", "level": 1, "t": 100.0, "stages": {"forward": {"score": 2.0, "passed": True}}},
        {"event": "hint", "level": 1, "t": 110.0, "stage": "backward", "rung": 1},
        {"event": "solution", "level": 1, "t": 120.0, "stage": "backward"},
        {"event": "check", "level": 3, "t": 300.0, "stages": {"forward": {"score": 0.0, "passed": False}}},
        {"event": "check", "level": 3, "t": 400.0, "stages": {"forward": {"score": 2.0, "passed": True}}},
    ]
    (out / "progress.html").write_text(progress.html_page(progress.summarize(events)))
    found = {
        "feedback": out / "feedback" / "alice.html",
        "summary": out / "summary.html",
        "similarity": out / "similarity.html",
        "progress": out / "progress.html",
    }
    assert all(p.is_file() for p in found.values()), found
    return found


# --- structure, read from the HTML (no browser) ------------------------------------------------------


class Outline(HTMLParser):
    """What a screen reader's outline is made of: the language, the title, the headings, the tables."""

    def __init__(self):
        super().__init__()
        self.lang, self.title, self.headings, self.tables = None, "", [], []
        self.images: list[dict] = []
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "img":
            self.images.append(a)
        if tag == "table":
            self.tables.append({"caption": "", "th": 0})
        if tag == "th" and self.tables:
            self.tables[-1]["th"] += 1
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append([int(tag[1]), ""])
        self._in.append(tag)

    def handle_endtag(self, tag):
        while self._in and self._in.pop() != tag:
            pass

    def handle_data(self, data):
        if "title" in self._in:
            self.title += data
        if "caption" in self._in and self.tables:
            self.tables[-1]["caption"] += data
        if self._in and re.fullmatch(r"h[1-6]", self._in[-1]) and self.headings:
            self.headings[-1][1] += data


def outline(html: str) -> Outline:
    o = Outline()
    o.feed(html)
    return o


def headings_in_order(levels: list[int]) -> bool:
    """One h1 first; no heading deeper than one below the one before it."""
    steps = zip(levels, levels[1:])
    return bool(levels) and levels[0] == 1 and levels.count(1) == 1 and all(b <= a + 1 for a, b in steps)


def test_heading_rule_catches_a_skip():
    assert headings_in_order([1, 2, 3, 2, 2, 3])
    assert not headings_in_order([1, 3]) and not headings_in_order([2, 3]) and not headings_in_order([1, 2, 1])


@pytest.mark.slow
def test_every_page_has_a_language_a_title_an_outline_and_captioned_tables(pages):
    titles = {}
    for name, path in pages.items():
        o = outline(path.read_text())
        assert o.lang == "en", name
        assert headings_in_order([h for h, _ in o.headings]), (name, o.headings)
        assert o.tables and all(t["caption"].strip() and t["th"] for t in o.tables), (name, o.tables)
        assert all(len(i.get("alt", "")) > 40 for i in o.images), (name, o.images)  # words, not a label
        assert o.images or name == "similarity"
        titles[name] = " ".join(o.title.split())
    assert titles["feedback"] == "Feedback for alice: levels 1–8", titles
    assert titles["similarity"] == "Similarity report: 3 students, levels 1–8", titles
    assert titles["summary"].startswith("Class summary — 3 students") and titles["progress"].startswith("Your progress")


@pytest.mark.slow
def test_each_loss_curve_says_what_it_shows_and_has_its_numbers(pages):
    page = pages["feedback"].read_text()
    o = outline(page)
    curves = [i["alt"] for i in o.images]
    assert len(curves) == 8
    assert re.search(r"They part at iteration \d+: yours [\d.e+-]+, the reference [\d.e+-]+", curves[6]), curves[6]
    assert "agree (within 1%) at every one of the 300 iterations" in curves[1]
    assert all("Final loss:" in alt and "the reference" in alt for alt in curves)
    assert "gave no losses to draw" in curves[7]  # the stub's train() returns nothing
    curves_graded = json.loads((pages["feedback"].parent.parent / "reports" / "alice.json").read_text())["curves"]
    for n in range(1, 8):
        section = page.split(f'id="level{n}"')[1].split("<section")[0]
        cell = r'<td class="num">([^<]*)</td>'
        rows = re.findall(r'<tr><th scope="row">(\d+)</th>' + cell + cell, section)
        assert [int(i) for i, _, _ in rows] == list(range(300)), n  # every iteration drawn is in the table
        graded = curves_graded[str(n)]
        assert [y for _, y, _ in rows] == [f"{v:.4g}" for v in graded["student"]], n  # the same numbers
        assert [r for _, _, r in rows] == [f"{v:.4g}" for v in graded["reference"]], n


# --- axe in Chromium -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    reason = axe_check.missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=axe_check.CHROMIUM, args=axe_check.CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def audit(browser, path: Path, theme: str, shot: Path | None = None) -> dict:
    page = browser.new_page(viewport={"width": 1100, "height": 900}, color_scheme=theme)
    try:
        page.goto(path.as_uri())
        results = axe_check.run_axe(page)
        if shot:
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
        return results
    finally:
        page.close()


@pytest.mark.slow
def test_every_page_passes_axe_wcag21_aa_in_both_themes(browser, pages):
    summary = {}
    failures = []
    for name, path in pages.items():
        for theme in THEMES:
            shot = ARTIFACTS / f"{name}-{theme}.png"
            shot.unlink(missing_ok=True)
            results = audit(browser, path, theme, shot)
            assert shot.is_file() and shot.stat().st_size > 10_000
            rules = axe_check.rules_run(results)
            summary[f"{name} ({theme})"] = {
                "rules_run": len(rules),
                "passed": len(results["passes"]),
                "inapplicable": len(results["inapplicable"]),
                "incomplete": [r["id"] for r in results["incomplete"]],
                "violations": [r["id"] for r in results["violations"]],
            }
            if results["violations"]:
                failures.append(f"{name} ({theme}):\n{axe_check.describe(results['violations'])}")
            if results["incomplete"]:  # what axe could not decide on our own pages is a layout to fix
                failures.append(f"{name} ({theme}), undecided:\n{axe_check.describe(results['incomplete'])}")
            engine = results["testEngine"]["version"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "axe-summary.json").write_text(
        json.dumps({"axe-core": engine, "tags": axe_check.TAGS, "pages": summary}, indent=2)
    )
    assert not failures, "\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize(
    "plant, rule",
    [
        (lambda html: re.sub(r'<img src="([^"]*)" alt="[^"]*">', r'<img src="\1">', html, count=1), "image-alt"),
        (lambda html: html.replace("--pass:#15803d", "--pass:#86efac"), "color-contrast"),
    ],
    ids=["image-without-alt", "low-contrast-status"],
)
def test_planted_violations_fail_the_audit(browser, pages, tmp_path, plant, rule):
    page = pages["feedback"].read_text()
    planted = plant(page)
    assert planted != page
    path = tmp_path / "planted.html"
    path.write_text(planted)
    found = [v["id"] for v in audit(browser, path, "light")["violations"]]
    assert rule in found, found


# --- the keyboard ----------------------------------------------------------------------------------------


#: what a keyboard user must be able to reach: links, the disclosure of each figure's numbers, and
#: every region that scrolls (tables, code); inside a closed <details>, only its summary shows
REACHABLE = """() => Array.from(document.querySelectorAll('a[href], summary, [tabindex="0"]')).filter(e => {
    const d = e.closest('details'); return !d || d.open || (e.tagName === 'SUMMARY' && e.parentElement === d); })"""


def _tab_through(page, limit: int = 600) -> tuple[list[int], int]:
    """Number every element a keyboard user must reach, press Tab until the focus comes back round;
    the numbers reached, in order, and how many there are."""
    wanted = page.evaluate(f"() => ({REACHABLE})().map((e, i) => e.dataset.kitTab = i).length")
    reached: list[int] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        here = page.evaluate("() => document.activeElement.dataset.kitTab")
        if here is not None and reached and int(here) == reached[0]:
            break
        if here is not None:
            reached.append(int(here))
    return reached, wanted


@pytest.mark.slow
def test_every_control_is_reached_and_used_from_the_keyboard(browser, pages):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        for name, path in pages.items():
            page.goto(path.as_uri())
            reached, wanted = _tab_through(page)
            assert wanted and reached == list(range(wanted)), (name, reached, wanted)  # all, in reading order
        # the similarity report: from the flagged table to the side-by-side view and back, keys only
        page.goto(pages["similarity"].as_uri())
        page.keyboard.press("Tab")  # the flagged table's scrolling region
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.getAttribute('href')") == "#m0"
        page.keyboard.press("Enter")
        assert page.evaluate("() => location.hash") == "#m0"
        page.keyboard.press("Tab")  # the view's "back" link, then each file's code, which scrolls by arrow keys
        assert page.evaluate("() => document.activeElement.getAttribute('href')") == "#flagged"
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.tagName") == "PRE"
        # the feedback page: a curve's numbers open with Enter, and their table is then reached too
        page.goto(pages["feedback"].as_uri())
        while page.evaluate("() => document.activeElement.tagName") != "SUMMARY":
            page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.parentElement.open") is True
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.getAttribute('aria-labelledby')") == "level1-curve"
    finally:
        page.close()


# --- templates only ----------------------------------------------------------------------------------------

#: an HTML element's tag, opening or closing (placeholders such as ``<module>`` or ``(?P<name>`` are not)
TAG = re.compile(
    r"</?(?:html|head|body|main|section|div|span|p|a|img|figure|figcaption|details|summary|table|caption|thead|"
    r"tbody|tr|th|td|h[1-6]|ul|ol|li|pre|code|b|i|em|strong|br|style|script|meta|title|link|svg)(?=[\s/>])",
    re.IGNORECASE,
)


def html_in_strings(source: str) -> list[str]:
    """String literals (docstrings aside) that hold an HTML tag."""
    found = []
    previous = None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)) and TAG.search(tok.string):
            docstring = previous in (None, tokenize.INDENT, tokenize.NEWLINE, tokenize.DEDENT)
            if not docstring:
                found.append(f"{tok.start[0]}: {tok.string[:80]}")
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            previous = tok.type
    return found


def test_the_grep_finds_html_in_a_python_string():
    assert html_in_strings('x = 1\nparts.append(f"<td>{x}</td>")\n')
    assert html_in_strings("y = '<img src=x>'\n")
    assert not html_in_strings('def f():\n    """Writes a <table>."""\n    return a < b > c\n')
    assert not html_in_strings('msg = "a <what to write> comment"\nrx = r"(?P<name>x)"\n')


def test_no_page_is_assembled_from_html_in_python_strings():
    """Markup lives in autograder/render/templates/ (autoescaped): no module of the package writes a tag."""
    modules = sorted((ROOT / "autograder").rglob("*.py"))
    assert len(modules) > 30 and ROOT / "autograder" / "render" / "html.py" in modules
    found = {str(m.relative_to(ROOT)): hits for m in modules if (hits := html_in_strings(m.read_text()))}
    assert not found, found


def test_templates_escape_by_default_and_ship_with_the_package():
    import tomllib

    from autograder.render import pages

    hostile = "<img src=x onerror=alert(1)>\x1b[2J"
    page = pages.render("hint_missing.html.j2", reason=hostile)
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page and "\x1b" not in page
    with pytest.raises(Exception, match="undefined"):  # a missing value is an error, never an empty cell
        pages.render("hint_missing.html.j2")
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "render/templates/*.j2" in data["tool"]["setuptools"]["package-data"]["autograder"]
    templates = sorted(p.name for p in (ROOT / "autograder" / "render" / "templates").iterdir())
    assert templates and all(name.endswith(".j2") for name in templates)


# --- the notebooks -------------------------------------------------------------------------------------------


def markdown_headings(source: str) -> list[int]:
    """The levels of a Markdown cell's ATX headings (``# ...``), fenced code left out."""
    levels, fenced = [], False
    for line in source.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"^(#{1,6})\s+\S", line)):
            levels.append(len(m.group(1)))
    return levels


@pytest.mark.parametrize("notebook", sorted((ROOT / "assignments").glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_have_headings_in_order_and_images_with_alt_text(notebook):
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    levels = [h for source in markdown for h in markdown_headings(source)]
    assert headings_in_order(levels), levels
    assert levels.count(2) >= 3  # each function the student writes is a section of its own
    for source in markdown:
        assert not re.search(r"!\[\s*\]\(", source)  # a Markdown image says what it shows
        assert all(image.get("alt") for image in outline(source).images)  # and so does an HTML one


def test_check_output_is_readable_as_text(monkeypatch):
    """The self-check's output carries a plain-text table beside the HTML panel, with each result in
    words and symbols (a screen reader, a terminal, nbconvert's text all read it)."""
    import IPython.display

    from autograder.core.report import CheckResult, Report
    from autograder.learner import selfcheck

    shown: list[dict] = []
    monkeypatch.setattr(IPython.display, "display", lambda bundle, raw: shown.append(bundle))
    report = Report(
        checks=[
            CheckResult("1.forward.values", 1, "forward", "forward matches the reference", 2.0, 2.0, True, ""),
            CheckResult("1.loss.values", 1, "loss", "loss_fn is the sum of squared errors", 0.0, 1.5, False, "x"),
            CheckResult("1.backward.values", 1, "backward", "gradients", 0.0, 2.0, False, "not implemented yet"),
        ],
        seed=SEED,
        levels=[1],
        device="cpu",
    )
    selfcheck.show(report, None, shell=object())
    text = shown[0]["text/plain"]
    assert "✓ pass" in text and "✗ FAIL" in text and "· todo" in text and "Total: 2 / 5.5" in text
    assert "\x1b[" not in text  # no colour codes: the words carry it
