"""Students in JupyterLab, proven in a real browser.

The end-to-end test starts JupyterLab (a token, a free localhost port, a temporary copy of
assignments/, a fresh kernel), drives Debian's Chromium with Playwright (no browser download:
``executable_path=/usr/bin/chromium``, flags that keep it off the network), and for each level in
``BROWSER_LEVELS``:

1. opens the level's notebook, Run > Run All Cells on the stub: the first self-check cell shows the
   HTML panel saying "not implemented yet" and a one-line error, not a traceback;
2. types the reference's code (solutions/, delimiters dropped) into each stub cell through the
   notebook editor, saves (Ctrl+S), and checks that the file on disk holds exactly that code;
3. Kernel > Restart Kernel and Run All Cells: every self-check panel shows full marks, the train
   stage shows its loss curve, no cell errs;
4. grades the saved notebook with the isolated grader (what ``python -m autograder grade`` runs)
   and asserts it agrees with the notebook, stage by stage;
5. (level 1) presses nbgrader's Validate button: "Success! Your notebook passes all the tests."

Screenshots of the stub run and of the full-marks run go to ``$KIT_TEST_ARTIFACTS/lab/`` (default: the
temporary folder's ``kit-test-artifacts/``; never the checkout).
Finally it shuts JupyterLab down through its API, closes the browser, and asserts that no process
it started (the server, the kernels, Validate's kernel, Playwright's driver, Chromium) is left: every
one of them carries a marker in its environment, and /proc is searched for it.

Where Chromium or the playwright package is missing, the browser test skips with the reason.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

import conftest
from autograder.core import curriculum
from autograder.core.settings import default_seed
from autograder.course.build import BEGIN_SOLUTION, END_SOLUTION, build_notebook
from autograder.grading import grade
from autograder.learner.lab import NBGRADER_CONFIG, free_port, kernel_env, notebooks

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = conftest.ARTIFACTS / "lab"  # (never in the checkout: tree_guard.py)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Level 1 (numpy) and level 3 (autograd): both kinds of kernel work, in one JupyterLab.
BROWSER_LEVELS = (1, 3)
VALIDATE_LEVEL = 1
MARKER = "KIT_LAB_TEST_MARKER"


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright; no browser download needed)"
    import axe_check

    return axe_check.missing()


def audit_kit_output(page, name: str) -> dict:
    """axe-core's WCAG 2.1 A/AA rules over what the kit puts in the open notebook: its rendered
    Markdown and every cell output (self-check panels, hints, the progress table). JupyterLab's own
    interface (editors, toolbars) is JupyterLab's to fix: its findings on the whole page are written
    beside the screenshots (``axe-<name>.json``) for the record, not asserted."""
    import axe_check

    scope = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    # JupyterLab's scrolling containers make axe judge every output "not visible on screen", so its
    # colour-contrast rule would check nothing there: let them overflow (same DOM, same colours).
    unclipped = ".jp-ThemedContainer,.jp-WindowedPanel-outer,.jp-OutputArea-child{overflow:visible !important}"
    style = page.add_style_tag(content=unclipped)
    try:
        outputs = [[f"{scope} .jp-OutputArea-output"], [f"{scope} .jp-MarkdownOutput"]]
        kit = axe_check.run_axe(page, {"include": outputs})
        whole = axe_check.run_axe(page)
    finally:
        style.evaluate("e => e.remove()")  # the rest of the test drives JupyterLab as it is
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(
        json.dumps(
            {
                "axe-core": kit["testEngine"]["version"],
                "tags": axe_check.TAGS,
                "kit output": {
                    "rules_run": len(axe_check.rules_run(kit)),
                    "passed": sorted(r["id"] for r in kit["passes"]),
                    # what axe could not decide (e.g. text over an image): for a person to look at
                    "incomplete": {r["id"]: [n["target"] for n in r["nodes"]] for r in kit["incomplete"]},
                    "violations": [r["id"] for r in kit["violations"]],
                },
                "whole JupyterLab page": {"violations": sorted(r["id"] for r in whole["violations"])},
            },
            indent=2,
        )
    )
    assert not kit["violations"], f"{name}:\n{axe_check.describe(kit['violations'])}"
    return kit


# --- the lab command, without a browser ----------------------------------------------------------


def test_lab_command_points_at_level_1(capsys):
    from autograder.cli import main

    assert main(["lab", "--dry-run", "--no-browser", "--port", "8765"]) == 0
    out = capsys.readouterr().out
    assert "Where to begin: level1_numpy.ipynb" in out
    assert 'check(1, "forward")' in out and "Validate" in out
    assert re.search(r"http://127\.0\.0\.1:8765/lab/tree/level1_numpy\.ipynb\?token=[0-9a-f]{32}", out)
    assert "-m jupyter lab" in out and f"--ServerApp.root_dir={ROOT / 'assignments'}" in out


def test_notebooks_found_in_order_also_one_folder_down(tmp_path):
    assert [n for n, _ in notebooks(ROOT / "assignments")] == sorted(curriculum.LEVELS)
    (tmp_path / "level3").mkdir()  # an nbgrader release: release/<assignment>/<notebook>
    shutil.copy(ROOT / "assignments" / "level3_autograd.ipynb", tmp_path / "level3")
    assert notebooks(tmp_path) == [(3, tmp_path / "level3" / "level3_autograd.ipynb")]


def test_kernel_env_pins_blas_threads_unless_chosen():
    env = kernel_env({"OMP_NUM_THREADS": "4"})
    assert env["OMP_NUM_THREADS"] == "4" and env["OPENBLAS_NUM_THREADS"] == "1"


# --- the self-check's rendering, without a browser -----------------------------------------------


def test_selfcheck_outside_ipython_prints_text_and_raises_short(capsys):
    import runpy

    from autograder.learner.selfcheck import SelfCheckFailed, check

    ns = runpy.run_path(str(ROOT / "assignments" / "level1_numpy.py"), run_name="stub")
    with pytest.raises(SelfCheckFailed) as info:
        check(1, "loss", ns)
    assert isinstance(info.value, AssertionError)
    assert "not implemented yet" in str(info.value)
    assert info.value._render_traceback_() == [f"\x1b[1mSelfCheckFailed\x1b[0m: {info.value}"]
    out = capsys.readouterr().out
    assert "loss_fn is the sum of squared errors" in out and "not implemented yet" in out


def test_selfcheck_panel_shows_failures_with_expected_got_and_hint():
    import runpy

    from autograder.learner import selfcheck

    ns = runpy.run_path(str(ROOT / "solutions" / "level1_numpy.py"), run_name="student")
    src = (ROOT / "solutions" / "level1_numpy.py").read_text()
    broken = dict(ns)
    exec(
        compile(src.replace("grad_y_pred = 2.0 * (y_pred - y)", "grad_y_pred = (y_pred - y)"), "broken", "exec"), broken
    )
    report = selfcheck.run(1, "backward", broken)
    panel = selfcheck.html_panel(report, "backward")
    assert 'data-passed="false"' in panel and "✗ fail" in panel
    assert re.search(r"expected \[.*\], got \[.*\]", panel) and "<b>Hint:</b>" in panel
    assert "What to fix first" in panel and "<style>" in panel and "body{" not in panel  # scoped styles
    assert "SelfCheckFailed" not in panel
    good = selfcheck.html_panel(selfcheck.run(1, "loss", ns), "loss")
    assert 'data-passed="true"' in good and 'data-score="1.5"' in good and "the check passed" in good


# --- the end-to-end browser test -------------------------------------------------------------------


def _processes_with(marker: str) -> list[tuple[int, str]]:
    """Live processes (not this one) whose environment carries ``marker``: what the test started."""
    found = []
    needle = f"{MARKER}={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:160]
        except OSError:
            continue
        if state != "Z":
            found.append((int(entry.name), cmdline))
    return found


def _wait_for(what: str, predicate, timeout: float, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class Lab:
    """A JupyterLab server on a temporary copy of assignments/, started as ``python -m jupyter lab``."""

    def __init__(self, tmp: Path, marker: str):
        self.root = tmp / "assignments"
        # as students receive it: a developer's own self-study record stays behind
        shutil.copytree(ROOT / "assignments", self.root, ignore=shutil.ignore_patterns(".kit-history.jsonl"))
        self.token = secrets.token_hex(16)
        self.port = free_port(None)
        self.base = f"http://127.0.0.1:{self.port}"
        settings = tmp / "lab-settings"
        # Keep the page quiet and whole: no news or update pop-up over the notebook (and no request
        # for them), and every cell in the DOM (no virtual scrolling), so cells can be read by index.
        for plugin, values in {
            "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
            "notebook-extension/tracker": {"windowingMode": "none"},
        }.items():
            path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        # The server's cwd holds the nbgrader_config.py that `python -m autograder lab` writes for
        # the Validate button.
        self.cwd = tmp / "server-cwd"
        self.cwd.mkdir()
        from autograder.core.settings import DEFAULT_CELL_TIMEOUT

        (self.cwd / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(timeout=DEFAULT_CELL_TIMEOUT))
        env = kernel_env()
        env.pop("KIT_HISTORY", None)  # the student's kernels keep their record (conftest.py turns it off)
        # the kernels import this checkout's package, not whichever one is installed
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        env.update(
            {
                MARKER: marker,
                "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
                "IPYTHONDIR": str(tmp / "ipython"),
                "MPLCONFIGDIR": str(tmp / "mpl"),
            }
        )
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--ServerApp.token={self.token}",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={tmp / 'lab-workspaces'}",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log_path = tmp / "jupyterlab.log"
        self._log = open(self.log_path, "w")  # closed in stop()
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for("JupyterLab to answer", self._up, 90)

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log()}")
        try:
            with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def url(self, notebook: str) -> str:
        return f"{self.base}/lab/tree/{notebook}?token={self.token}"

    def stop(self) -> None:
        """Shut down through the API (the server stops its kernels first); kill what remains."""
        if self.proc.poll() is None:
            try:
                req = urllib.request.Request(f"{self.base}/api/shutdown?token={self.token}", method="POST")
                urllib.request.urlopen(req, timeout=10).read()
            except OSError:
                pass
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()


class Notebook:
    """One notebook open in the browser, read and driven through JupyterLab's own UI."""

    def __init__(self, page, lab: Lab, level: int):
        self.page, self.lab, self.level = page, lab, level
        self.module = curriculum.LEVELS[level].module
        self.path = lab.root / f"{self.module}.ipynb"
        released = nbformat.read(self.path, as_version=4)
        self.n_cells = len(released.cells)
        meta = [c.metadata.get("nbgrader", {}) for c in released.cells]
        self.grade_cells = {m["grade_id"].split("_", 1)[1]: i for i, m in enumerate(meta) if m.get("grade")}
        self.solution_cells = {m["grade_id"]: i for i, m in enumerate(meta) if m.get("solution")}
        self.last_code_cell = max(i for i, c in enumerate(released.cells) if c.cell_type == "code")

    def open(self) -> None:
        self.page.goto(self.lab.url(f"{self.module}.ipynb"))
        self.page.wait_for_function(
            f"document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
            f".jp-Notebook .jp-Cell').length === {self.n_cells}",
            timeout=90_000,
        )
        self.wait_idle(90)

    def cell(self, index: int):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)

    def kernel_idle(self) -> bool:
        return self.page.evaluate("""() => {
            const s = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
            const busy = Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputPrompt'))
                              .some(p => p.textContent.includes('*'));
            return s !== null && s.getAttribute('data-status') === 'idle' && !busy;
        }""")

    def wait_idle(self, timeout: float) -> None:
        # idle twice in a row, a moment apart: not the gap between two queued cells
        _wait_for(
            "the kernel to be idle", lambda: self.kernel_idle() and (time.sleep(0.5) or self.kernel_idle()), timeout
        )

    def menu(self, menu: str, item: str) -> None:
        """Click a menu bar entry, then one of its items, by their labels (as a student does)."""
        self.page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{re.escape(menu)}$")).click()
        label = self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$"))
        self.page.locator(".lm-Menu:not(.lm-mod-hidden) .lm-Menu-item", has=label).click()

    def run_all(self, attempts: int = 3) -> None:
        """Run > Run All Cells, again if no cell started: on a loaded machine the kernel can report idle
        before its connection takes requests, and JupyterLab then drops the run silently."""
        for _ in range(attempts):
            self.menu("Run", "Run All Cells")
            try:
                _wait_for(
                    "a cell to start",
                    lambda: self.page.evaluate("""() => Array.from(
                    document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputPrompt'))
                    .some(p => /\\[[*0-9]+\\]/.test(p.textContent))"""),
                    20,
                )
                return
            except AssertionError:
                continue
        raise AssertionError(f"Run All started no cell ({attempts} attempts)")

    def panels(self) -> dict[str, dict]:
        """The self-check panels shown, by stage: their data attributes and text."""
        return self.page.evaluate("""() => Object.fromEntries(Array.from(document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .kit-selfcheck')).map(e => [e.dataset.stage, {
                score: parseFloat(e.dataset.score), max: parseFloat(e.dataset.maxScore),
                passed: e.dataset.passed === 'true', text: e.innerText,
                curve: e.querySelector('img.kit-loss-curve') !== null}]))""")

    def hints(self) -> list[dict]:
        """The hint outputs shown: their data attributes and text."""
        return self.page.evaluate("""() => Array.from(document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .kit-hint')).map(e => ({
                stage: e.dataset.stage, rung: parseInt(e.dataset.rung), rungs: parseInt(e.dataset.rungs),
                text: e.innerText}))""")

    def ask_for_hints(self, call: str, times: int) -> list[dict]:
        """Add a cell at the end, run ``call`` in it ``times`` times (Ctrl+Enter), read each hint, delete
        the cell again (the saved notebook must hold the student's code alone)."""
        self.cell(self.n_cells - 1).locator(".jp-InputArea").first.click()
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("b")  # a new cell below, as a student adds one
        _wait_for(
            "the new cell",
            lambda: (
                self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").count()
                == self.n_cells + 1
            ),
            10,
        )
        editor = self.cell(self.n_cells).locator(".cm-content")
        editor.click()
        self.page.keyboard.insert_text(call)
        seen: list[dict] = []
        for _ in range(times):
            editor.click()
            self.page.keyboard.press("Control+Enter")

            def new_hint():  # the output is replaced by the next run: wait until it differs
                shown = self.hints()
                return shown[-1] if shown and (not seen or shown[-1] != seen[-1]) else None

            seen.append(_wait_for("a new hint", new_hint, 60))
            self.wait_idle(60)
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("d")
        self.page.keyboard.press("d")
        _wait_for(
            "the cell to go",
            lambda: (
                self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").count() == self.n_cells
            ),
            10,
        )
        return seen

    def errors(self) -> list[str]:
        return self.page.evaluate("""() => Array.from(document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) '
            + '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
            .map(e => e.innerText)""")

    def screenshot(self, index: int, name: str) -> Path:
        self.cell(index).scroll_into_view_if_needed()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        assert path.stat().st_size > 20_000, f"{path} looks empty"
        return path

    def type_reference(self) -> dict[str, str]:
        """Type the reference's code into every stub cell through the editor; save; return it by cell."""
        reference = build_notebook(self.level, with_solutions=True)
        typed = {}
        for grade_id, index in self.solution_cells.items():
            cell = next(c for c in reference.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
            code = "\n".join(
                line for line in cell.source.splitlines() if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION)
            )
            editor = self.cell(index).locator(".cm-content")
            editor.scroll_into_view_if_needed()
            editor.click()
            self.page.keyboard.press("Control+a")
            self.page.keyboard.press("Delete")
            self.page.keyboard.insert_text(code)
            typed[grade_id] = code
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+s")

        def saved():
            on_disk = nbformat.read(self.path, as_version=4)
            return all(on_disk.cells[i].source == typed[g] for g, i in self.solution_cells.items())

        _wait_for("the notebook to be saved with the reference's code", saved, 30)
        return typed


@pytest.fixture
def browser_lab(tmp_path, zygote):
    """JupyterLab and a headless Chromium page; afterwards, nothing of either is left running."""
    reason = _browser_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    marker = secrets.token_hex(8)
    os.environ[MARKER] = marker  # inherited by Playwright's driver and Chromium, and set for the server
    lab = pw = browser = None
    try:
        lab = Lab(tmp_path, marker)
        pw = sync_playwright().start()
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.set_default_timeout(60_000)
        # The marker search sees what it must later find gone: the server and the browser.
        running = " ".join(cmd for _, cmd in _processes_with(marker))
        assert "jupyter" in running and "chrom" in running, running
        yield lab, page
    finally:
        try:
            if browser is not None:
                browser.close()
            if pw is not None:
                pw.stop()
        finally:
            if lab is not None:
                lab.stop()
            del os.environ[MARKER]
    left = _wait_for_none(marker)
    assert not left, f"processes left behind: {left}"


def _wait_for_none(marker: str, timeout: float = 15) -> list:
    deadline = time.monotonic() + timeout
    while (left := _processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.25)
    return left


@pytest.mark.slow
def test_students_run_and_self_check_in_jupyterlab(browser_lab, zygote, tmp_path):
    lab, page = browser_lab
    t0 = time.monotonic()
    timings = {}
    for level in BROWSER_LEVELS:
        nb = Notebook(page, lab, level)
        nb.open()
        stages = curriculum.stages_of(level)
        first = min(nb.grade_cells, key=nb.grade_cells.get)  # the first self-check cell of the notebook

        # 1. Run All on the stub: the first self-check says "not implemented yet", in one line.
        nb.run_all()
        # (the first self-check also pays the kernel's imports: on a machine busy with the suite's other
        # worker that took more than two minutes once, so the wait is long; the verdicts are the panels')
        nb.cell(nb.grade_cells[first]).locator(".kit-selfcheck").wait_for(timeout=300_000)
        nb.wait_idle(300)
        panels = nb.panels()
        assert panels[first]["passed"] is False and panels[first]["score"] == 0, panels
        assert "not implemented yet" in panels[first]["text"]
        errors = nb.errors()
        assert errors, "the failing self-check must fail its cell (nbgrader counts it)"
        assert all(
            len(e.strip().splitlines()) == 1
            and "SelfCheckFailed" in e
            and "not implemented yet" in e
            and "Traceback" not in e
            for e in errors
        ), errors
        nb.screenshot(nb.grade_cells[first], f"level{level}-stub-run.png")
        audited = audit_kit_output(page, f"level{level}-stub-run")  # a failing panel and its error
        assert {"color-contrast", "list"} <= {r["id"] for r in audited["passes"]}, "nothing audited"

        # 1b. Stuck: hint(level, stage) in a new cell, twice: one rung, then the next, from the hints
        # shipped beside the notebook (the grade cell imported `hint` along with `check`).
        ladder = json.loads((lab.root / "hints.json").read_text())["levels"][str(level)][first]["ladder"]
        shown = nb.ask_for_hints(f'hint({level}, "{first}")', 2)
        assert [(h["stage"], h["rung"], h["rungs"]) for h in shown] == [
            (first, 1, len(ladder)),
            (first, 2, len(ladder)),
        ]
        for h, text in zip(shown, ladder):
            assert " ".join(text.replace("`", "").split()) in " ".join(h["text"].split()), (h, text)
        record = [json.loads(line) for line in (lab.root / ".kit-history.jsonl").read_text().splitlines()]
        assert [(e["event"], e.get("rung")) for e in record if e["level"] == level][-2:] == [("hint", 1), ("hint", 2)]

        # 2. The reference's code, typed into the stub cells through the notebook editor, and saved.
        nb.type_reference()

        # 3. Restart and run all: full marks, stage by stage, the loss curve, no error anywhere.
        nb.menu("Kernel", "Restart Kernel and Run All Cells…")
        page.locator(".jp-Dialog .jp-mod-accept").click()  # "Restart"
        _wait_for(
            "every self-check to show",
            lambda nb=nb: (
                len(nb.panels()) == len(nb.grade_cells)
                and nb.cell(nb.last_code_cell).locator(".jp-InputPrompt").inner_text().strip() not in ("[ ]:", "[*]:")
            ),
            180,
            interval=1,
        )
        nb.wait_idle(120)
        panels = nb.panels()
        assert set(panels) == set(nb.grade_cells)
        assert all(p["passed"] and p["score"] == p["max"] for p in panels.values()), panels
        total = sum(p["score"] for p in panels.values())
        assert total == pytest.approx(sum(curriculum.stage_points(level, s) for s in stages))
        assert panels["train"]["curve"], "the train stage shows the loss curve"
        assert nb.errors() == []
        # the last cell sums up the record: this level at full marks
        progress = nb.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .kit-progress").inner_text()
        assert re.search(rf"^{level}\s+{total:g} / {total:g}\s", progress, re.M), progress
        nb.screenshot(nb.grade_cells["train"], f"level{level}-full-marks.png")
        audited = audit_kit_output(page, f"level{level}-full-marks")  # every panel, the curve, the progress
        assert {"color-contrast", "image-alt"} <= {r["id"] for r in audited["passes"]}, "nothing audited"

        # 4. The isolated grader agrees with the notebook on the file JupyterLab saved.
        submission = tmp_path / f"submission{level}"
        submission.mkdir()
        shutil.copy(nb.path, submission / nb.path.name)
        report = grade(submission, [level], default_seed(), pool=zygote)
        assert not report.errors, report.errors
        assert report.score == pytest.approx(total)
        for stage, panel in panels.items():
            assert sum(c.score for c in report.checks if c.stage == stage) == pytest.approx(panel["score"]), stage

        # 5. nbgrader's Validate button runs the saved notebook in a fresh kernel: all tests pass.
        if level == VALIDATE_LEVEL:
            page.locator(
                ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-ToolbarButtonComponent", has_text="Validate"
            ).click()
            dialog = page.locator(".jp-Dialog")
            dialog.wait_for(timeout=180_000)
            text = dialog.inner_text()
            assert "Success! Your notebook passes all the tests." in text, text
            page.locator(".jp-Dialog .jp-mod-accept, .jp-Dialog button").first.click()
        timings[level] = round(time.monotonic() - t0, 1)
    print(f"lab e2e seconds (cumulative per level): {timings}")
