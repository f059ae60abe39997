"""The Gradescope bundle, end to end.

Build ``autograder.zip``, unpack it into a temporary tree shaped like Gradescope's ``/autograder``
(``source/``, ``submission/``, ``results/``), run its ``run_autograder`` as a subprocess on real and
hostile submissions, and check every ``results.json`` against the documented schema
(docs/gradescope.md) and against ``python -m autograder grade`` on the same files with the same seed.
``setup.sh``'s installs are not run here (no network): the kit comes from the zip's own wheel,
unpacked onto ``PYTHONPATH``; torch and numpy are this environment's.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from autograder.core.curriculum import CHECKS, LEVELS, STAGES, checks_for
from autograder.integrations.gradescope import CONFIG_NAME, VISIBILITIES, md_text, stage_submission

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "broken"
SEED = 4242  # not the default seed: the configured seed must reach the run
STUB1 = (ROOT / "assignments" / "level1_numpy.py").read_text()
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("gradescope")]  # one bundle for the whole file


# ---------------------------------------------------------------------------- the schema
FORMATS = {"text", "simple_format", "html", "md", "ansi"}
TOP_KEYS = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
    "leaderboard",
}
TEST_KEYS = {
    "name",
    "name_format",
    "number",
    "score",
    "max_score",
    "status",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
}


def validate(results: dict, full: bool = True) -> None:
    """results.json as docs/gradescope.md documents it; ``full``: one test per check, as ``run`` writes."""
    assert isinstance(results, dict) and set(results) <= TOP_KEYS, set(results) - TOP_KEYS
    assert isinstance(results["score"], (int, float)) and results["score"] >= 0
    assert isinstance(results["output"], str)
    assert results["stdout_visibility"] == "hidden"
    assert isinstance(results["tests"], list)
    for key in ("output_format", "test_output_format"):
        assert results.get(key, "md") in FORMATS
    assert results.get("visibility", "visible") in VISIBILITIES
    if not full:
        return
    assert isinstance(results["execution_time"], (int, float)) and results["execution_time"] >= 0
    numbers = set()
    for t in results["tests"]:
        assert (
            {"name", "number", "score", "max_score", "status", "tags", "output", "output_format", "visibility"}
            <= set(t)
            <= TEST_KEYS
        ), t
        assert isinstance(t["name"], str) and t["name"]
        assert re.fullmatch(r"[1-8]\.\d+", t["number"]) and t["number"] not in numbers, t["number"]
        numbers.add(t["number"])
        assert 0 <= t["score"] <= t["max_score"]
        assert t["status"] == ("passed" if t["score"] == t["max_score"] else "failed")
        assert isinstance(t["tags"], list) and len(t["tags"]) == 1 and t["tags"][0] in STAGES
        assert isinstance(t["output"], str) and t["output_format"] == "md"
        assert t["visibility"] in VISIBILITIES
        spec = CHECKS[t["extra_data"]["id"]]
        assert (spec.stage, spec.points) == (t["tags"][0], t["max_score"])
        assert t["number"] == f"{spec.level}.{[c.id for c in checks_for(spec.level)].index(spec.id) + 1}"
    assert abs(results["score"] - sum(t["score"] for t in results["tests"])) < 1e-6


# ---------------------------------------------------------------------------- the bundle
@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The zip (all levels, level 8 hidden until published) and its wheel unpacked as site-packages."""
    tmp = tmp_path_factory.mktemp("bundle")
    out = tmp / "autograder.zip"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "gradescope",
            "build",
            "--out",
            str(out),
            "--seed",
            str(SEED),
            "--hidden",
            "8.*",
            "--hidden-visibility",
            "after_published",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        wheel = next(n for n in names if n.endswith(".whl"))
        site = tmp / "site"
        with zipfile.ZipFile(zf.open(wheel)) as wz:
            wz.extractall(site)
    return {"zip": out, "names": names, "site": site}


def make_tree(tmp: Path, bundle, files: dict[str, bytes | str], limits: dict | None = None, **config) -> Path:
    """A fresh /autograder: source/ (the unpacked zip, run_autograder copied up), submission/, results/."""
    root = tmp / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    with zipfile.ZipFile(bundle["zip"]) as zf:
        zf.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    os.chmod(root / "run_autograder", 0o755)
    cfg_path = root / "source" / CONFIG_NAME
    cfg = json.loads(cfg_path.read_text())
    cfg["limits"].update(limits or {})
    cfg.update(config)
    cfg_path.write_text(json.dumps(cfg))
    for rel, content in files.items():
        path = root / "submission" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def run_autograder(root: Path, bundle, timeout: float = 300, python: str = sys.executable) -> tuple[dict, float, str]:
    env = {
        "PATH": os.environ["PATH"],
        "KIT_AUTOGRADER_ROOT": str(root),
        "KIT_PYTHON": python,
        "PYTHONPATH": str(bundle["site"]),
        "HOME": str(root),
    }
    t0 = time.monotonic()
    proc = subprocess.run(
        ["bash", str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=timeout
    )
    seconds = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    text = (root / "results" / "results.json").read_text()
    return json.loads(text), seconds, proc.stdout + proc.stderr


def cli_grade(directory: Path, *extra: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(directory), "--format", "json", "--seed", str(SEED), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode in (0, 3), proc.stderr
    return json.loads(proc.stdout)


def assert_same_scores(results: dict, report: dict) -> None:
    """Gradescope's tests carry the same per-check and total scores as the contract's JSON report."""
    by_id = {t["extra_data"]["id"]: t for t in results["tests"]}
    assert len(by_id) == len(results["tests"]) == len(report["checks"])
    for c in report["checks"]:
        t = by_id[c["id"]]
        assert (t["score"], t["max_score"], t["status"] == "passed") == (c["score"], c["max_score"], c["passed"]), (
            c["id"],
            t["output"],
            c["message"],
        )
    assert results["score"] == report["score"]


def flat(tmp: Path, files: dict[str, str | bytes]) -> Path:
    d = tmp / "flat"
    d.mkdir()
    for name, content in files.items():
        (d / name).write_bytes(content.encode() if isinstance(content, str) else content)
    return d


def grade_both(tmp_path, bundle, layout: dict, graded: dict, limits=None, cli_extra=(), **config):
    """Run the bundle on ``layout`` (the student's tree) and the CLI on ``graded`` (the files it should grade)."""
    root = make_tree(tmp_path, bundle, layout, limits, **config)
    results, seconds, log = run_autograder(root, bundle)
    validate(results)
    report = cli_grade(flat(tmp_path, graded), *cli_extra)
    assert_same_scores(results, report)
    return results, report, seconds, log


# ---------------------------------------------------------------------------- the zip itself
def test_zip_holds_setup_runner_config_and_a_pinned_wheel(bundle, tmp_path):
    names = bundle["names"]
    assert {"setup.sh", "run_autograder", CONFIG_NAME} <= set(names)
    with zipfile.ZipFile(bundle["zip"]) as zf:
        for script in ("setup.sh", "run_autograder"):
            assert (zf.getinfo(script).external_attr >> 16) & 0o111, f"{script} is not executable"
        setup = zf.read("setup.sh").decode()
        config = json.loads(zf.read(CONFIG_NAME))
        zf.extractall(tmp_path)
    for script in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", str(tmp_path / script)]).returncode == 0
    import numpy
    import torch

    commands = [line for line in setup.splitlines() if not line.lstrip().startswith("#")]
    assert "set -euo pipefail" in commands and not any("conda" in line for line in commands)
    assert f"TORCH_VERSION={torch.__version__.split('+')[0]}" in setup
    assert '"torch==${TORCH_VERSION}+cpu"' in setup and "--index-url https://download.pytorch.org/whl/cpu" in setup
    assert f"NUMPY_VERSION={numpy.__version__}" in setup and "--no-deps" in setup
    assert config["seed"] == SEED and config["levels"] == sorted(LEVELS) and config["hidden"] == ["8.*"]
    assert config["wheel"] in names and config["wheel"].startswith(f"pytorch_examples_kit-{config['kit_version']}-")
    # the run below really uses the zip's wheel, not this checkout
    env = dict(os.environ, PYTHONPATH=str(bundle["site"]))
    where = subprocess.run(
        [sys.executable, "-c", "import autograder.integrations.gradescope as g; print(g.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(bundle["site"]))


def test_zip_holds_no_solution_and_no_hints(bundle):
    """Solutions and hints stay out of the bundle, its wheel included (the package alone ships)."""
    from autograder.course import build
    from autograder.course.hints import HINTS_FILE

    texts = {}
    with zipfile.ZipFile(bundle["zip"]) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if name.endswith(".whl"):
                with zipfile.ZipFile(io.BytesIO(data)) as wz:
                    texts.update({f"{name}!{n}": wz.read(n).decode("utf-8", "replace") for n in wz.namelist()})
            else:
                texts[name] = data.decode("utf-8", "replace")
    names = list(texts)
    assert not [n for n in names if "solutions/" in n or n.endswith(HINTS_FILE) or "assignments/" in n], names
    # The grader computes its own references, so single idioms (`loss.backward()`) are everywhere in
    # it; a solution would show as a run of a region's lines, in order.
    runs = {}
    for name, text in texts.items():
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        runs[name] = {tuple(lines[i : i + 3]) for i in range(len(lines) - 2)} | {
            tuple(lines[i : i + 2]) for i in range(len(lines) - 1)
        }
    for level in LEVELS:
        solution = build.load_solution(level)
        hint_texts = [h.text for r in solution.regions for h in r.hints if len(h.text) >= 40]
        for region in solution.regions:
            code = [ln.strip() for ln in solution.lines[region.code_start : region.end] if ln.strip()]
            windows = (
                {tuple(code[i : i + min(3, len(code))]) for i in range(max(1, len(code) - 2))}
                if len(code) > 1
                else set()
            )
            for name in texts:
                assert not windows & runs[name], f"{name} holds the solution of level {level}'s {region.owner}"
        for name, text in texts.items():
            assert not [h for h in hint_texts if h in text], f"{name} holds level {level}'s hints"


# ---------------------------------------------------------------------------- real submissions
def test_reference_full_marks_same_as_cli(bundle, tmp_path):
    files = {f"{lv.module}.py": (ROOT / "solutions" / f"{lv.module}.py").read_text() for lv in LEVELS.values()}
    layout = {f"my work/{name}": text for name, text in files.items()}
    results, report, seconds, log = grade_both(tmp_path, bundle, layout, files)
    assert results["score"] == report["score"] == 100.0
    assert len(results["tests"]) == len(CHECKS)
    assert all(t["status"] == "passed" for t in results["tests"])
    hidden = {t["visibility"] for t in results["tests"] if t["extra_data"]["level"] == 8}
    shown = {t["visibility"] for t in results["tests"] if t["extra_data"]["level"] != 8}
    assert hidden == {"after_published"} and shown == {"visible"}
    assert "Total" not in results["output"] and "hidden until your instructor publishes" in results["output"]
    assert results["extra_data"]["graded_files"]["level3_autograd.py"] == "my work/level3_autograd.py"
    print(f"\nrun_autograder on the reference: {seconds:.1f} s wall, execution_time {results['execution_time']} s")


def test_stub_scores_zero_same_as_cli(bundle, tmp_path):
    layout = {p.name: p.read_bytes() for p in (ROOT / "assignments").iterdir() if p.is_file()}
    results, report, _, _ = grade_both(tmp_path, bundle, layout, layout, hidden=[])
    assert results["score"] == 0.0
    assert "**Total: 0 / 100**" in results["output"]
    assert {t["visibility"] for t in results["tests"]} == {"visible"}
    failed = next(t for t in results["tests"] if t["extra_data"]["id"] == "1.forward.values")
    assert "not implemented yet" in failed["output"]


@pytest.mark.parametrize("case", ["l3_train_no_zero_grad", "l1_backward_no_factor2"])
def test_broken_submissions_same_as_cli(bundle, tmp_path, case):
    files = {p.name: p.read_text() for p in (CORPUS / case).iterdir()}
    layout = {f"hw/{case}/{name}": text for name, text in files.items()}
    results, report, _, _ = grade_both(tmp_path, bundle, layout, files)
    level = int(case[1])
    got = sum(t["score"] for t in results["tests"] if t["extra_data"]["level"] == level)
    assert 0 < got < 12.5
    failing = [t for t in results["tests"] if t["extra_data"]["level"] == level and t["status"] == "failed"]
    assert any("expected" in t["output"] for t in failing)  # expected against got, in the output


def test_zip_submission_is_searched_safely(bundle, tmp_path):
    ref = {lv: (ROOT / "solutions" / f"{LEVELS[lv].module}.py").read_bytes() for lv in (1, 2)}
    buf = tmp_path / "upload.zip"
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("project/src/level1_numpy.py", ref[1])
        zf.writestr("../../../../level2_tensors.py", ref[2])  # traversal: only the name is used
        link = zipfile.ZipInfo("project/level3_autograd.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")  # a link: ignored
        zf.writestr("__MACOSX/project/src/._level1_numpy.py", b"\x00\x05\x16\x07")
    layout = {"upload.zip": buf.read_bytes()}
    graded = {"level1_numpy.py": ref[1], "level2_tensors.py": ref[2]}
    results, _, _, _ = grade_both(tmp_path, bundle, layout, graded)
    assert results["score"] == 25.0
    root = tmp_path / "autograder"
    copies = sorted(tmp_path.rglob("level2_tensors.py"))
    assert not any((d / "level2_tensors.py").exists() for d in (tmp_path.parent, tmp_path.parent.parent, Path("/")))
    assert copies == sorted([root / "kit_submission" / "level2_tensors.py", tmp_path / "flat" / "level2_tensors.py"])
    assert "link" in results["output"]


def test_notebook_submission_same_as_cli(bundle, tmp_path):
    source = (ROOT / "solutions" / "level3_autograd.py").read_text()
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Level 3\n"]},
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": ["%matplotlib inline\n", "!pip list\n"],
            },
            {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source},
            {
                "cell_type": "code",
                "metadata": {"nbgrader": {"grade": True, "solution": False, "points": 1}},
                "execution_count": None,
                "outputs": [],
                "source": ["from autograder.selfcheck import check\n", "check(3, 'forward')\n"],
            },
        ],
    }
    text = json.dumps(nb)
    results, _, _, _ = grade_both(
        tmp_path, bundle, {"notebooks/level3_autograd.ipynb": text}, {"level3_autograd.ipynb": text}
    )
    assert results["score"] == 12.5
    assert results["extra_data"]["graded_files"] == {"level3_autograd.ipynb": "notebooks/level3_autograd.ipynb"}


# ---------------------------------------------------------------------------- hostile submissions
def test_writing_its_own_results_json_gains_nothing(bundle, tmp_path):
    target = tmp_path / "autograder" / "results" / "results.json"
    forged = {"score": 100.0, "output": "FORGED", "stdout_visibility": "visible", "tests": []}
    attack = STUB1 + textwrap.dedent(f"""

        import json, os, threading, time, atexit
        def _forge():
            for _p in [{str(target)!r}, "/autograder/results/results.json"]:
                try:
                    os.makedirs(os.path.dirname(_p), exist_ok=True)
                    with open(_p, "w") as _f:
                        json.dump({forged!r}, _f)
                except OSError:
                    pass
        def _keep_forging():
            while True:
                _forge()
                time.sleep(0.01)
        _forge()
        atexit.register(_forge)
        threading.Thread(target=_keep_forging, daemon=True).start()
    """)
    results, report, _, _ = grade_both(tmp_path, bundle, {"level1_numpy.py": attack}, {"level1_numpy.py": attack})
    assert results["score"] == report["score"] == 0.0
    assert "FORGED" not in target.read_text()
    assert len(results["tests"]) == len(CHECKS)


def test_printing_fake_json_gains_nothing(bundle, tmp_path):
    fake = json.dumps(
        {"score": 100.0, "output": "FAKE-MARKER", "tests": [{"name": "x", "score": 100, "max_score": 100}]}
    )
    attack = STUB1 + textwrap.dedent(f"""

        import atexit, os, sys
        _fake = {fake!r}
        print(_fake)
        print(_fake, file=sys.stderr)
        os.write(1, (_fake + "\\n").encode())
        atexit.register(lambda: print(_fake))
        def forward(x, w1, w2):
            print(_fake)
            raise ValueError(_fake)
    """)
    results, report, _, log = grade_both(tmp_path, bundle, {"level1_numpy.py": attack}, {"level1_numpy.py": attack})
    assert results["score"] == report["score"] == 0.0
    assert "FAKE-MARKER" not in log  # not even in run_autograder's own (instructor-only) output
    text = (tmp_path / "autograder" / "results" / "results.json").read_text()
    assert set(json.loads(text)) <= TOP_KEYS
    # the exception's text is feedback, quoted inside one test's Markdown output, never structure
    quoted = [t for t in results["tests"] if "FAKE-MARKER" in t["output"]]
    assert quoted and all(t["extra_data"]["id"].startswith("1.") for t in quoted)


HANG = textwrap.dedent("""
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass
""")


def test_a_hanging_train_loses_only_its_own_checks(bundle, tmp_path):
    ref = (ROOT / "solutions" / "level1_numpy.py").read_text()
    hang = ref + "\n\ndef train(x, y, w1, w2, lr, steps):\n" + textwrap.indent(HANG, "    ")
    files = {"level1_numpy.py": hang}
    results, _, _, _ = grade_both(
        tmp_path,
        bundle,
        files,
        files,
        limits={"call_seconds": 3, "level_seconds": 10},
        cli_extra=("--call-timeout", "3", "--timeout", "10"),
    )
    level1 = [t for t in results["tests"] if t["extra_data"]["level"] == 1]
    assert all(t["status"] == "passed" for t in level1 if t["tags"][0] in ("forward", "loss", "backward", "step"))
    assert all("train() did not finish within 3 s" in t["output"] for t in level1 if t["status"] == "failed")
    assert 0 < results["score"] < 12.5


def test_a_submission_that_never_ends_still_gets_results_within_the_run_limit(bundle, tmp_path):
    files = {f"{lv.module}.py": HANG for lv in LEVELS.values()}
    root = make_tree(
        tmp_path, bundle, files, limits={"call_seconds": 3, "level_seconds": 3, "run_seconds": 8, "grace_seconds": 20}
    )
    results, seconds, _ = run_autograder(root, bundle, timeout=120)
    validate(results)
    assert results["score"] == 0.0 and len(results["tests"]) == len(CHECKS)
    assert seconds < 8 + 20 + 15  # the run limit, the watchdog's grace, and interpreter start-up
    outputs = [t["output"] for t in results["tests"]]
    # The run limit ends it: some checks ran out of the run's time. Which others hit their own call
    # limit first depends on how fast the children started (a busy machine: none), not on the grader.
    assert any("ran out" in o for o in outputs), outputs
    assert all("ran out" in o or "did not finish" in o for o in outputs), outputs


# ---------------------------------------------------------------------------- the grader's own failures
def run_patched(root: Path, bundle, patch: str, timeout=120) -> tuple[dict, int, float]:
    """``gradescope run`` in a subprocess, with grading.grade replaced (a hang or a crash of the grader)."""
    code = "\n".join(
        [
            "import sys, time",
            "from pathlib import Path",
            "import autograder.grading, autograder.integrations.gradescope as g",
            textwrap.dedent(patch),
            f"root = Path({str(root)!r})",
            f"sys.exit(g.run(root, g.load_config(root / 'source' / {CONFIG_NAME!r})))",
        ]
    )
    env = dict(os.environ, PYTHONPATH=str(bundle["site"]))
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, timeout=timeout
    )
    return json.loads((root / "results" / "results.json").read_text()), proc.returncode, time.monotonic() - t0


def test_watchdog_writes_what_was_graded_when_the_grader_itself_hangs(bundle, tmp_path):
    root = make_tree(tmp_path, bundle, {"level1_numpy.py": STUB1}, limits={"run_seconds": 3, "grace_seconds": 2})
    results, code, seconds = run_patched(root, bundle, "autograder.grading.grade = lambda *a, **k: time.sleep(1000)")
    validate(results)
    assert code == 0 and seconds < 60
    assert results["score"] == 0 and len(results["tests"]) == len(CHECKS)
    assert all("ran out" in t["output"] for t in results["tests"])


def test_a_grader_crash_still_writes_a_valid_zero(bundle, tmp_path):
    root = make_tree(tmp_path, bundle, {"level1_numpy.py": (ROOT / "solutions" / "level1_numpy.py").read_text()})

    results, code, _ = run_patched(
        root,
        bundle,
        """
        def boom(*a, **k):
            raise RuntimeError("grader bug")
        autograder.grading.grade = boom
    """,
    )
    validate(results)
    assert code == 0 and results["score"] == 0
    assert "failed before it could grade" in results["output"]
    assert "RuntimeError" in json.dumps(results["extra_data"])


def test_a_machine_that_cannot_isolate_grades_nothing(bundle, tmp_path):
    """Official grading (require_isolation, the default): the probe child's shortfall is said to the
    student and the instructor, every level "not graded", and no student code runs."""
    root = make_tree(tmp_path, bundle, {"level1_numpy.py": (ROOT / "solutions" / "level1_numpy.py").read_text()})
    results, code, _ = run_patched(
        root,
        bundle,
        """
        g.runner.probe_isolation = lambda pool, limits, hide=None: "isolation is required: network: not isolated"
        def never(*a, **k):
            raise AssertionError("graded after a refusal")
        autograder.grading.grade = never
    """,
    )
    validate(results)
    assert code == 0 and results["score"] == 0 and len(results["tests"]) == len(CHECKS)
    assert all("not graded: isolation is required" in t["output"] for t in results["tests"])
    assert "AssertionError" not in json.dumps(results)


def test_run_autograder_writes_results_even_when_python_cannot_start(bundle, tmp_path):
    root = make_tree(tmp_path, bundle, {})
    results, _, _ = run_autograder(root, bundle, python="/bin/false")
    validate(results, full=False)
    assert results["score"] == 0 and "could not start" in results["output"]


# ---------------------------------------------------------------------------- pieces
def test_staging_ignores_links_and_prefers_loose_shallow_files(tmp_path):
    sub = tmp_path / "submission"
    (sub / "a" / "b").mkdir(parents=True)
    (sub / "a" / "b" / "level1_numpy.py").write_text("deep = 1\n")
    (sub / "a" / "level1_numpy.py").write_text("shallow = 1\n")
    (sub / "level2_tensors.py").symlink_to("/etc/passwd")
    with zipfile.ZipFile(sub / "x.zip", "w") as zf:
        zf.writestr("level1_numpy.py", "zipped = 1\n")
        zf.writestr("level3_autograd.py", b"x" * (3 * 1024 * 1024))  # larger than a level may be
    found = stage_submission(sub, tmp_path / "flat", [1, 2, 3])
    assert (tmp_path / "flat" / "level1_numpy.py").read_text() == "shallow = 1\n"
    assert not (tmp_path / "flat" / "level2_tensors.py").exists()
    assert (tmp_path / "flat" / "level3_autograd.py").stat().st_size == 2 * 1024 * 1024 + 1  # capped read
    shallow_wins = "graded a/level1_numpy.py, ignored a/b/level1_numpy.py, x.zip!level1_numpy.py"
    assert any(shallow_wins in n for n in found.notes)
    assert any("level2_tensors.py is a symbolic link: refused" in n for n in found.notes)


def test_markdown_escapes_student_text_but_keeps_code_spans():
    out = md_text("got ![img](http://x) <script>alert(1)</script> *bold* in `h < 0`")
    assert "![img]" not in out and "<script>" not in out and "*bold*" not in out
    assert "`h < 0`" in out
