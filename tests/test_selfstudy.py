"""Self-study: progressive hints, the worked solution on request, and the record of progress.

What is proven here:
- the hint ladder advances one rung per request, stays on its last rung, and starts again once the
  stage passes a check; the record survives a torn last line and concurrent writers;
- a mistake the real grader diagnosed (a loop that never zeroes the gradients; a backward pass
  without the 2 of the derivative) gets its own rung first, then the ladder;
- ``solution`` refuses where no solutions are installed (a copy of the package alone, as a class
  release or the Gradescope wheel has it) and without confirmation; with ``--yes`` it shows the
  code and records it;
- every text that reaches the terminal or HTML is neutralised;
- ``progress`` sums the record up and draws its chart.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course import build
from autograder.course import hints as ladders
from autograder.learner import hints, history, progress, selfcheck

ROOT = Path(__file__).resolve().parent.parent
TABLE = json.loads((ROOT / "assignments" / "hints.json").read_text())["levels"]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A learner's folder with the shipped hints.json, and no KIT_HISTORY override."""
    monkeypatch.delenv("KIT_HISTORY", raising=False)
    shutil.copy(ROOT / "assignments" / "hints.json", tmp_path / "hints.json")
    return tmp_path


@pytest.mark.slow  # (a whole CLI run: its own pool, its own import of torch)
def test_a_hint_with_no_check_recorded_checks_the_level_first(workdir):
    """`hint N` before any check of N: it checks the level (quietly), records it, and gives the hint
    of the first stage that failed."""
    shutil.copy(ROOT / "assignments" / "level3_autograd.py", workdir / "level3_autograd.py")
    env = {k: v for k, v in os.environ.items() if k != "KIT_HISTORY"}
    out = subprocess.run(
        [sys.executable, "-m", "autograder", "hint", "3", "--dir", str(workdir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "checking level 3 first" in out.stderr
    assert "Level 3 · forward: hint 1 of" in out.stdout
    assert [e["event"] for e in history.read(workdir)] == ["check", "hint"]


def _check_event(level: int, stage: str, passed: bool, mistakes: dict | None = None) -> dict:
    return {
        "event": "check",
        "level": level,
        "stage": stage,
        "stages": {stage: {"score": 1.0 if passed else 0.0, "max": 1.0, "passed": passed, "mistakes": mistakes or {}}},
    }


# --- the ladder ----------------------------------------------------------------------------------


def test_ladder_advances_stays_on_its_last_rung_and_resets_when_the_stage_passes(workdir):
    ladder = TABLE["3"]["zero_grad"]["ladder"]
    history.append(_check_event(3, "zero_grad", passed=False), workdir)
    shown = [hints.next_hint(3, None, workdir) for _ in range(len(ladder) + 1)]
    assert [h.stage for h in shown] == ["zero_grad"] * (len(ladder) + 1)  # the first failing stage
    assert [h.text for h in shown] == ladder + [ladder[-1]]
    assert [h.rung for h in shown] == list(range(1, len(ladder) + 1)) + [len(ladder)]
    assert [h.last for h in shown] == [False] * (len(ladder) - 1) + [True, True]
    assert "python -m autograder solution 3 zero_grad" in hints.footer(shown[-1], notebook=False)

    history.append(_check_event(3, "zero_grad", passed=True), workdir)  # the stage passes: a fresh ladder
    history.append(_check_event(3, "zero_grad", passed=False), workdir)
    again = hints.next_hint(3, "zero_grad", workdir)
    assert (again.rung, again.text) == (1, ladder[0])
    # each stage keeps its own place
    other = hints.next_hint(3, "backward", workdir)
    assert (other.rung, other.text) == (1, TABLE["3"]["backward"]["ladder"][0])


def test_every_stage_of_every_level_has_a_ladder_of_two_to_four_rungs():
    from autograder.core.curriculum import LEVELS, stages_of

    for level in LEVELS:
        assert set(TABLE[str(level)]) == set(stages_of(level))
        for stage, entry in TABLE[str(level)].items():
            assert 2 <= len(entry["ladder"]) <= 4, (level, stage)
        named = {m for entry in TABLE[str(level)].values() for m in entry["mistakes"]}
        assert set(ladders.DIAGNOSES_BY_LEVEL[level]) <= named, level


def test_the_build_refuses_a_stage_without_its_ladder(tmp_path):
    text = (ROOT / "solutions" / "level3_autograd.py").read_text()
    (tmp_path / "level3_autograd.py").write_text(text.replace("# hint zero_grad:", "# hint step:"))
    with pytest.raises(build.BuildError, match="stage zero_grad has 0 hint rungs"):
        build.load_solution(3, tmp_path)
    (tmp_path / "level3_autograd.py").write_text(text.replace("if no_zero_grad:", "if ascent:"))
    with pytest.raises(build.BuildError, match="no_zero_grad"):
        build.load_solution(3, tmp_path)


def test_a_diagnosed_loop_mistake_gets_its_hint_first(workdir, monkeypatch):
    """The real grader on a level-3 loop that never zeroes the gradients."""
    monkeypatch.chdir(workdir)
    src = (ROOT / "solutions" / "level3_autograd.py").read_text()
    assert "        zero_grad(params)\n" in src
    ns = {"__name__": "student"}
    exec(compile(src.replace("        zero_grad(params)\n", ""), "student", "exec"), ns)
    with pytest.raises(selfcheck.SelfCheckFailed):
        selfcheck.check(3, "train", ns)  # records the check in the working directory
    first = hints.next_hint(3, None)
    assert (first.stage, first.mistake) == ("train", "no_zero_grad")
    assert first.text == TABLE["3"]["zero_grad"]["mistakes"]["no_zero_grad"]
    second = hints.next_hint(3, None)
    assert (second.mistake, second.rung, second.text) == (None, 1, TABLE["3"]["train"]["ladder"][0])


def test_a_mistake_named_by_a_unit_check_gets_its_hint_first(workdir):
    ns = runpy.run_path(str(ROOT / "solutions" / "level1_numpy.py"), run_name="student")
    src = (ROOT / "solutions" / "level1_numpy.py").read_text()
    broken = dict(ns)
    exec(
        compile(src.replace("grad_y_pred = 2.0 * (y_pred - y)", "grad_y_pred = (y_pred - y)"), "broken", "exec"), broken
    )
    report = selfcheck.run(1, "backward", broken)
    hints.record_check(report, workdir, stage="backward")
    first = hints.next_hint(1, None, workdir)
    assert (first.stage, first.mistake, first.rung) == ("backward", "half_gradient", 0)
    assert first.text == TABLE["1"]["backward"]["mistakes"]["half_gradient"]
    assert hints.next_hint(1, None, workdir).text == TABLE["1"]["backward"]["ladder"][0]


def test_a_stub_is_no_mistake_and_a_passing_level_has_nothing_to_hint(workdir):
    ns = runpy.run_path(str(ROOT / "assignments" / "level1_numpy.py"), run_name="stub")
    hints.record_check(selfcheck.run(1, "loss", ns), workdir, stage="loss")
    h = hints.next_hint(1, None, workdir)
    assert (h.stage, h.mistake, h.rung) == ("loss", None, 1)
    good = runpy.run_path(str(ROOT / "solutions" / "level1_numpy.py"), run_name="student")
    hints.record_check(selfcheck.run(1, "loss", good), workdir, stage="loss")
    with pytest.raises(hints.NoHints, match="every stage passed"):
        hints.next_hint(1, None, workdir)


def test_hints_switched_off_by_the_course_are_off_even_beside_the_kit(tmp_path):
    (tmp_path / "hints.json").write_bytes(ladders.hints_bytes(ladders.hints_document(None)))
    with pytest.raises(hints.NoHints, match="switched off"):
        hints.next_hint(3, "forward", tmp_path)
    assert not (tmp_path / history.FILE_NAME).exists()


# --- neutralising what is shown --------------------------------------------------------------------


def test_hint_text_is_escaped_for_html_and_the_terminal(workdir):
    from rich.console import Console

    h = hints.Hint(3, "forward", "[bold red]x[/] <script>alert(1)</script> \x1b[2J`a < b`", 1, 3, note="n")
    page = hints.render_html(h)
    assert "<script>" not in page and "&lt;script&gt;" in page and "<code>a &lt; b</code>" in page
    console = Console(record=True, width=100, force_terminal=True)
    hints.render_terminal(h, console)
    out = console.export_text()
    assert "[bold red]x[/]" in out and "\x1b[2J" not in out


def test_progress_html_escapes_and_draws_the_chart(workdir):
    history.append(_check_event(3, "forward", passed=False), workdir)
    history.append({"event": "solution", "level": 3, "stage": "<b>bad</b>"}, workdir)  # not a stage: ignored
    history.append(_check_event(3, "forward", passed=True), workdir)
    summary = progress.summarize(history.read(workdir))
    p = summary[3]
    assert p.checks == 2 and p.best == 1.0 and p.stages_done == ["forward"] and p.solutions == []
    page = progress.render_html(summary)
    assert "<b>bad</b>" not in page and 'class="kit-progress-chart"' in page
    assert page.split("</table>")[0].count("<tr>") == 1 + 8  # the header and every level
    assert page.count('<tr class="kit-progress-point">') == 2  # the chart's numbers: one row per check


def test_progress_counts_hints_solutions_and_time_to_full_marks(workdir):
    from autograder.core.curriculum import stage_points, stages_of

    for stage in stages_of(6):
        history.append(
            {
                "event": "check",
                "level": 6,
                "stage": None,
                "stages": {
                    stage: {
                        "score": stage_points(6, stage),
                        "max": stage_points(6, stage),
                        "passed": True,
                        "mistakes": {},
                    }
                },
            },
            workdir,
        )
    history.append({"event": "hint", "level": 6, "stage": "step", "rung": 1, "mistake": None}, workdir)
    history.append({"event": "solution", "level": 6, "stage": "step"}, workdir)
    p = progress.summarize(history.read(workdir))[6]
    assert p.best == p.max_score == 12.5 and p.full_marks_at is not None and p.time_to_full_marks >= 0
    assert (p.hints, p.solutions, p.checks) == (1, ["step"], len(stages_of(6)))
    text = progress.render_text(progress.summarize(history.read(workdir)))
    assert re.search(r"6\s+│\s+12\.5 / 12\.5\s+│\s+4/4\s+│\s+1\s+│\s+step", text), text


def test_progress_command_writes_the_page(workdir, tmp_path):
    history.append(_check_event(2, "loss", passed=True), workdir)
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "progress", "--dir", str(workdir), "--html", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Your progress" in proc.stdout
    assert "data:image/png;base64," in (out / "progress.html").read_text()


# --- the record ------------------------------------------------------------------------------------


def test_history_survives_an_interrupted_write(workdir):
    for i in range(3):
        assert history.append({"event": "hint", "level": 1, "stage": "loss", "rung": i + 1, "mistake": None}, workdir)
    path = workdir / history.FILE_NAME
    with open(path, "ab") as f:  # a writer killed in the middle of its line
        f.write(b'{"v":1,"t":1.0,"event":"hint","level":1,"sta')
    assert [e["rung"] for e in history.read(workdir)] == [1, 2, 3]
    assert history.append({"event": "hint", "level": 1, "stage": "loss", "rung": 4, "mistake": None}, workdir)
    assert [e["rung"] for e in history.read(workdir)] == [1, 2, 3, 4]  # the next line starts on its own
    raw = path.read_bytes().split(b"\n")
    assert raw[3].startswith(b'{"v":1,"t":1.0') and raw[4].startswith(b"{") and raw[-1] == b""
    path.write_bytes(path.read_bytes() + b"\x00\xff not json\n[1, 2]\n")  # garbage and a non-object
    assert len(history.read(workdir)) == 4


def test_history_keeps_every_line_of_concurrent_writers(workdir):
    """Four writers at once, lines of 3 KB (most cross a page boundary, where another writer can see
    an append half-way: without the lock that cost blank lines, 5 to 9 in 400 here)."""
    code = (
        "import sys; from autograder.learner import history\n"
        "for i in range(100): history.append({'event': 'hint', 'level': 2, 'stage': 'loss', 'rung': i, "
        "'mistake': sys.argv[1] * 3000}, sys.argv[2])\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(n), str(workdir)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
        )
        for n in range(4)
    ]
    assert [p.wait(120) for p in procs] == [0] * 4
    events = history.read(workdir)
    assert len(events) == 400 and len((workdir / history.FILE_NAME).read_bytes().splitlines()) == 400


def test_a_hostile_record_or_hints_file_changes_nothing_but_the_hint(workdir):
    """A record edited by hand (or by code): odd types, unknown mistakes, markup in messages."""
    path = workdir / history.FILE_NAME
    odd = [
        {"v": 1, "t": 1, "event": "check", "level": 3, "stages": ["forward"]},
        {"v": 1, "t": 2, "event": "check", "level": 3, "stages": {"forward": "passed"}},
        {
            "v": 1,
            "t": 3,
            "event": "check",
            "level": 3,
            "stages": {
                "forward": {"passed": False, "score": "x", "mistakes": {"rm -rf": "boom", "no_relu": "<b>[red]x"}}
            },
        },
        {"v": 1, "t": 4, "event": "hint", "level": 3, "stage": ["forward"], "mistake": {"a": 1}},
        {"v": 1, "t": "soon", "event": "check", "level": 3},
        {"v": 1, "t": 5, "event": "check", "level": "3"},
    ]
    path.write_text("".join(json.dumps(e) + "\n" for e in odd))
    h = hints.next_hint(3, None, workdir)
    assert (h.stage, h.mistake) == ("forward", "no_relu")  # the unknown mistake is ignored
    assert progress.summarize(history.read(workdir))[3].checks == 2  # the two whose stages are a dict
    (workdir / "hints.json").write_text(json.dumps({"format": 1, "enabled": True, "levels": {"3": ["x"]}}))
    with pytest.raises(hints.NoHints, match="no hints for level 3"):
        hints.next_hint(3, "forward", workdir)


def test_history_can_be_switched_off_and_refuses_links(workdir, monkeypatch, tmp_path):
    monkeypatch.setenv("KIT_HISTORY", "off")
    assert not history.append({"event": "hint", "level": 1}, workdir) and history.read(workdir) == []
    monkeypatch.delenv("KIT_HISTORY")
    if hasattr(os, "O_NOFOLLOW"):
        target = tmp_path / "elsewhere.txt"
        target.write_text("")
        (workdir / history.FILE_NAME).symlink_to(target)
        assert not history.append({"event": "hint", "level": 1}, workdir)
        assert target.read_text() == ""


# --- the worked solution ---------------------------------------------------------------------------


def _kit(*args, cwd=ROOT, pythonpath=ROOT, stdin=subprocess.DEVNULL):
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=stdin,
        env={**os.environ, "PYTHONPATH": str(pythonpath)},
    )


@pytest.mark.slow
def test_solution_asks_first_and_records_what_it_showed(workdir):
    secret = "grad_input[input < 0] = 0"
    refused = _kit("solution", "4", "backward", "--dir", str(workdir))
    assert refused.returncode == 1 and secret not in refused.stdout + refused.stderr
    assert "--yes" in refused.stderr and history.read(workdir) == []
    driver = (
        "import pty, sys; sys.exit(pty.spawn([sys.executable, '-m', 'autograder', 'solution', '4', "
        f"'backward', '--dir', {str(workdir)!r}]))"
    )
    no = (
        subprocess.run(
            [sys.executable, "-c", driver],
            input="n\n",
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if sys.platform != "win32"
        else None
    )
    if no is not None:
        assert "Show the worked solution" in no.stdout and secret not in no.stdout and history.read(workdir) == []
    shown = _kit("solution", "4", "backward", "--yes", "--dir", str(workdir))
    assert shown.returncode == 0, shown.stderr
    assert secret in shown.stdout and "ctx.saved_tensors" in shown.stdout
    assert "# hint" not in shown.stdout and "BEGIN SOLUTION" not in shown.stdout
    assert [(e["event"], e["level"], e["stage"]) for e in history.read(workdir)] == [("solution", 4, "backward")]


def test_solution_refuses_where_no_solutions_are_installed(tmp_path):
    """The package alone (as an installed wheel, a class release or the Gradescope bundle has it)."""
    shutil.copytree(ROOT / "autograder", tmp_path / "site" / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    proc = _kit("solution", "3", "backward", "--yes", cwd=tmp_path, pythonpath=tmp_path / "site")
    assert proc.returncode == 2 and "not here" in proc.stderr and "loss.backward()" not in proc.stdout


def test_a_hint_cell_left_in_a_notebook_costs_nothing(tmp_path, zygote):
    """A student who hands in a notebook with their `hint(...)` cell still gets full marks."""
    import nbformat

    from autograder.core.settings import default_seed
    from autograder.core.submission import notebook_code
    from autograder.grading import grade
    from autograder.integrations.nbgrader.course import fill_notebook

    release = nbformat.read(ROOT / "assignments" / "level1_numpy.ipynb", as_version=4)
    nb = fill_notebook(release, (ROOT / "solutions" / "level1_numpy.py").read_text())
    nb.cells.insert(3, nbformat.v4.new_code_cell('from autograder.selfcheck import hint\nhint(1, "forward")\nhint(1)'))
    nb.cells.append(nbformat.v4.new_code_cell('hint(1, "loss")\nx = 1'))  # real code too: it stays
    (tmp_path / "level1_numpy.ipynb").write_text(nbformat.writes(nb))
    code = notebook_code((tmp_path / "level1_numpy.ipynb").read_bytes())
    assert 'hint(1, "forward")' not in code and 'hint(1, "loss")' in code
    nb.cells.pop()
    (tmp_path / "level1_numpy.ipynb").write_text(nbformat.writes(nb))
    report = grade(tmp_path, [1], default_seed(), pool=zygote)
    assert report.score == report.max_score == 12.5, [c.message for c in report.checks if not c.passed]
