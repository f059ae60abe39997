"""Gradescope: build the autograder zip (``gradescope build``) and grade one submission in it (``run``).

Gradescope runs ``setup.sh`` once to build an image, then ``run_autograder`` in a fresh container
per submission, as root, with ½ vCPU, 768 MB and a 10-minute timeout by default. What it shows the
student is ``/autograder/results/results.json`` and nothing else, so this module's one job at run
time is to make sure that file exists, is valid, is written by the trusted side only, and carries
the same scores as ``python -m autograder grade`` on the same files with the same seed:

- the student's files are found by name anywhere under ``submission/`` (or inside a ``.zip`` there)
  and copied to a flat directory, which is what ``grade`` reads;
- grading is ``grading.grade``, level by level, on one shared zygote: each level's children run as
  their own unprivileged uid with no network (``docs/sandbox.md``), and each level gets a wall-clock
  budget, so a submission that hangs loses that level's time and nothing else;
- ``results.json`` is written once, atomically, at the end; a watchdog writes it (with what was
  graded so far) if the run nears Gradescope's timeout; a crash writes a zero score with a reason.

``docs/gradescope.md`` is the instructor's guide and explains the limits chosen here.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import neutralise
from ..core.curriculum import LEVELS, checks_for
from ..core.report import CheckResult, write_atomic
from ..core.settings import parse_levels, repo_root
from ..core.submission import locate, read_submission
from ..sandbox import Limits, close_shared_pool, probe_isolation, shared_pool

CONFIG_NAME = "kit_gradescope.json"
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
#: where setup.sh puts the kit's virtual environment (outside /autograder, which the sandbox hides)
VENV = "/opt/kit-venv"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

#: Limits for Gradescope's default container (½ vCPU, 768 MB, 600 s); docs/gradescope.md has the
#: measurements behind them. Eight hanging levels take 8 × 45 = 360 s of student time, which leaves
#: the grader's own work well inside ``run_seconds``; the watchdog fires ``grace_seconds`` later.
DEFAULT_LIMITS = {
    "call_seconds": 20.0,  # one call of student code (the reference's slowest check: under 4 s at ½ vCPU)
    "level_seconds": 45.0,  # all the student calls of one level, restarts included
    "run_seconds": 480.0,  # a level starts only while this much of the run is not used up
    "grace_seconds": 60.0,  # then the watchdog writes what was graded: results by 540 s
    "memory_bytes": 450 * 1024**2,  # resident memory of one child, shared torch pages included (~250 MB)
    "address_space_bytes": 2 * 1024**3,  # a huge allocation fails at once (a child maps ~660 MB at rest)
}


# ============================================================================ finding the files
@dataclass
class Found:
    """The contract's files found in a submission, copied flat into ``directory``."""

    directory: Path
    graded: dict[str, str] = field(default_factory=dict)  # file name -> where it came from
    notes: list[str] = field(default_factory=list)
    problems: dict[int, str] = field(default_factory=dict)  # level -> why it was not graded (ambiguous)


def stage_submission(submission: Path, out: Path, levels: list[int]) -> Found:
    """Copy the contract's files from the student's own layout into one flat directory.

    The files are found by ``submission.locate``, the same search as every other entry point
    (``grade DIR``, class mode, nbgrader): by name at any depth or inside a ``.zip``, links never
    followed, reads capped; two different files equally well placed are ambiguous and not graded.
    """
    located = locate(submission, levels)
    out.mkdir(parents=True, exist_ok=True)
    found = Found(out, notes=list(located.notes), problems=dict(located.problems))
    for c in located.files.values():
        (out / c.name).write_bytes(c.data)
        found.graded[c.name] = c.where
    for lv, why in located.problems.items():
        found.notes.insert(0, f"level {lv} not graded: {why}")
    return found


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


# ============================================================================ run
def load_config(path: Path) -> dict:
    config = json.loads(path.read_text())
    config["levels"] = sorted(int(lv) for lv in config.get("levels") or LEVELS)
    config["limits"] = {**DEFAULT_LIMITS, **config.get("limits", {})}
    return config


def _protect(root: Path) -> None:
    """Where the sandbox cannot hide /autograder (no mount namespace), keep the student's uid out of
    the results and the configuration (Gradescope's own advice: ``chmod o= source results``)."""
    for d in (root / "results", root / "source"):
        try:
            d.mkdir(exist_ok=True)
            os.chmod(d, 0o700)
        except OSError:
            pass


def start_pool():
    """The shared pool, whose children the kernel's OOM killer picks first.

    The RSS cap is polled (every 0.1 s), so an allocation burst can reach the container's limit
    (768 MB) before the poll sees it; the kernel then kills the student's process, which reports
    as a crash of that call, rather than the grader, which would leave no results.json. Raising
    ``oom_score_adj`` needs no privilege; children inherit it from the zygote.
    """
    return shared_pool(oom_score_adj=1000)


def run(root: Path, config: dict, log=print) -> int:
    """Grade ``root/submission`` and write ``root/results/results.json``; 0 once that file is written."""
    from ..grading.run import grade

    t0 = time.monotonic()
    lim = config["limits"]
    levels = config["levels"]
    writer = ResultsWriter(root / "results" / "results.json")
    lock = threading.Lock()
    state: dict[str, Any] = {"checks": [], "found": None, "problems": [], "notes": {}}

    def snapshot(extra_reason: str | None = None) -> dict:
        with lock:
            checks = list(state["checks"])
            done = {c.level for c in checks}
            if extra_reason:
                checks += not_graded([lv for lv in levels if lv not in done], extra_reason)
            return results_json(
                checks, config, state["found"], time.monotonic() - t0, state["problems"], state["notes"]
            )

    def on_deadline():
        reason = (
            f"not graded: the autograder's time for one submission ({lim['run_seconds']:g} s) ran out before this level"
        )
        if writer.write(lambda: snapshot(reason)):
            log(f"watchdog: results written after {time.monotonic() - t0:.1f} s; stopping")
            sys.stdout.flush()
            os._exit(0)

    watchdog = threading.Timer(lim["run_seconds"] + lim["grace_seconds"], on_deadline)
    watchdog.daemon = True
    watchdog.start()
    pool = None
    try:
        _protect(root)
        # Flat copy of the contract's files; its parent is root, so the sandbox hides all of /autograder.
        staged = root / "kit_submission"
        shutil.rmtree(staged, ignore_errors=True)
        state["found"] = stage_submission(root / "submission", staged, levels)
        log(f"files: {state['found'].graded or 'none'}; notes: {state['found'].notes or 'none'}")
        # Levels without a readable file run no student code: one grading call for all of them (the
        # check runner's start-up is most of a level's cost then); then one call per level, each with
        # its own time budget, never more than what is left of the run.
        sources = read_submission(staged, levels)
        if config.get("require_isolation", True):  # official: before any student code, one probe child
            pool = start_pool()
            refusal = probe_isolation(
                pool,
                Limits(memory_bytes=int(lim["memory_bytes"]), address_space_bytes=int(lim["address_space_bytes"])),
            )
            if refusal:
                log(f"refused: {refusal}")
                with lock:
                    state["checks"] = not_graded(levels, f"not graded: {refusal}; your instructor has been told")
                    state["problems"].append(refusal)
                writer.write(snapshot)
                return 0
        absent = [lv for lv in levels if sources[lv].source is None]
        for batch in ([absent] if absent else []) + [[lv] for lv in levels if lv not in absent]:
            left = lim["run_seconds"] - (time.monotonic() - t0)
            if left < 2.0:
                with lock:
                    state["checks"] += not_graded(
                        batch,
                        f"not graded: the autograder's time for one submission "
                        f"({lim['run_seconds']:g} s) ran out before this level",
                    )
                continue
            budget = min(lim["level_seconds"], left)
            limits = Limits(
                call_seconds=min(lim["call_seconds"], budget),
                submission_seconds=budget,
                memory_bytes=int(lim["memory_bytes"]),
                address_space_bytes=int(lim["address_space_bytes"]),
                require_isolation=bool(config.get("require_isolation", True)),
            )  # (official: root)
            pool = start_pool()  # (again, if a level managed to end the last one)
            t1 = time.monotonic()
            report = grade(staged, batch, int(config["seed"]), "cpu", limits, pool=pool)
            with lock:
                state["checks"] += report.checks
                state["problems"] += report.errors
                state["notes"].update(report.level_notes)
            peaks = {k: v for k, v in report.timings.items() if k.endswith("peak_rss_mb")}
            log(
                f"level {','.join(map(str, batch))}: {report.score:g}/{report.max_score:g} in "
                f"{time.monotonic() - t1:.1f} s; {peaks}; sandbox {report.sandbox}"
                + (f"; ERRORS {report.errors}" if report.errors else "")
            )
        if pool is not None:
            close_shared_pool()
            pool = None
        writer.write(snapshot)
        log(f"results written: {sum(c.score for c in state['checks']):g} in {time.monotonic() - t0:.1f} s")
        return 0
    except BaseException as exc:  # noqa: BLE001 - whatever happened, Gradescope gets a valid results.json
        detail = traceback.format_exc()
        log(f"the autograder failed:\n{detail}")
        reason = f"not graded: the autograder failed ({type(exc).__name__}); your instructor has been told"
        try:
            writer.write(
                lambda: {
                    **results_json(
                        not_graded(levels, reason), config, state["found"], time.monotonic() - t0, [detail[-2000:]], {}
                    ),
                    "output": "**The autograder failed before it could grade this submission.** "
                    "Your score is 0 for now; your instructor can see why and regrade.",
                }
            )
        except Exception:  # noqa: BLE001
            return 1
        return 0
    finally:
        watchdog.cancel()
        if pool is not None:
            try:
                close_shared_pool()
            except Exception:  # noqa: BLE001
                pass


# ============================================================================ build
def _pins() -> dict:
    """The versions of this environment, where the kit's own tests pass: Gradescope gets the same."""
    import numpy
    import pytest
    import torch

    return {"torch": torch.__version__.split("+")[0], "numpy": numpy.__version__, "pytest": pytest.__version__}


def _check_pins(pins: dict) -> None:
    """Refuse a torch or numpy version outside the kit's own requirements (pyproject.toml)."""
    try:
        from importlib.metadata import requires

        from packaging.requirements import Requirement

        reqs = {r.name: r for r in map(Requirement, requires("pytorch-examples-kit") or [])}
    except Exception:  # noqa: BLE001 - no metadata or no packaging: nothing to check against
        return
    for name, version in pins.items():
        if name in reqs and not reqs[name].specifier.contains(version, prereleases=True):
            raise SystemExit(f"autograder: {name}=={version} is outside the kit's requirement {reqs[name]}")


def build_wheel(dest: Path) -> Path:
    """A wheel of this checkout, built in a temporary copy (so the checkout gains no build/ folder)."""
    src = repo_root()
    with tempfile.TemporaryDirectory(prefix="kit-wheel-") as tmp:
        copy = Path(tmp) / "src"
        copy.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(src / name, copy / name)
        shutil.copytree(src / "autograder", copy / "autograder", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "--no-cache-dir",
                "-q",
                "-w",
                str(dest),
                str(copy),
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise SystemExit(f"autograder: building the kit's wheel failed:\n{proc.stdout}\n{proc.stderr}")
    wheels = sorted(dest.glob("pytorch_examples_kit-*.whl"))
    if not wheels:
        raise SystemExit("autograder: pip built no wheel")
    return wheels[-1]


SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (docs/gradescope.md).
# Lean on purpose: a virtual environment with CPU-only torch and the kit, no conda, and apt only
# when the image lacks a Python >= 3.11 or its venv module. Any failure fails the build.
set -euo pipefail
cd "$(dirname "$0")"

VENV=__VENV__
TORCH_VERSION=__TORCH__
NUMPY_VERSION=__NUMPY__
PYTEST_VERSION=__PYTEST__
WHEEL=__WHEEL__

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "$@"
}

PY=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        PY="$(command -v "$candidate")"
        break
    fi
done
if [ -z "$PY" ]; then            # Ubuntu 22.04 ships 3.10; its universe has 3.11
    apt_install python3.11 python3.11-venv
    PY="$(command -v python3.11)"
fi
if ! "$PY" -m venv "$VENV"; then # Ubuntu leaves ensurepip out of its python3.X package
    rm -rf "$VENV"
    apt_install "python$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
    "$PY" -m venv "$VENV"
fi

PIP=("$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check)
"${PIP[@]}" --upgrade pip
"${PIP[@]}" --index-url __INDEX__ "torch==${TORCH_VERSION}+cpu"
"${PIP[@]}" "numpy==${NUMPY_VERSION}" "pytest==${PYTEST_VERSION}" packaging
"${PIP[@]}" --no-deps "./${WHEEL}"

# Fail the build now, not at the first submission: the kit imports, and torch is a CPU build.
"$VENV/bin/python" - <<'EOF'
import torch, numpy, autograder.integrations.gradescope
assert torch.version.cuda is None, f"torch {torch.__version__} is not a CPU-only build"
print("kit ready: torch", torch.__version__, "numpy", numpy.__version__)
EOF
chmod -R a+rX "$VENV"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this once per submission, as root. The Python side writes results/results.json;
# should it fail to start at all, a valid results.json saying so is written here instead.
set -u
ROOT="${KIT_AUTOGRADER_ROOT:-/autograder}"
PY="${KIT_PYTHON:-__VENV__/bin/python}"
"$PY" -m autograder.integrations.gradescope run --root "$ROOT" --config "$ROOT/source/__CONFIG__"
status=$?
if [ "$status" -ne 0 ]; then
    mkdir -p "$ROOT/results"
    printf '%s\n' '{"score": 0, "output": "The autograder could not start, so nothing was graded. Your instructor can see why and regrade.", "stdout_visibility": "hidden", "tests": []}' > "$ROOT/results/.results.json.tmp"
    mv -f "$ROOT/results/.results.json.tmp" "$ROOT/results/results.json"
fi
exit 0
"""  # noqa: E501 - the fallback results.json is one printf line


def build(
    out: Path, levels: list[int], seed: int, hidden: list[str], hidden_visibility: str, limits: dict | None = None
) -> dict:
    """Write the Gradescope zip; return its configuration."""
    from ..core.report import _kit_version

    pins = _pins()
    _check_pins(pins)
    config = {
        "kit_version": _kit_version(),
        "levels": sorted(levels),
        "seed": int(seed),
        "hidden": list(hidden),
        "hidden_visibility": hidden_visibility,
        "limits": {**DEFAULT_LIMITS, **(limits or {})},
        "pins": pins,
    }
    with tempfile.TemporaryDirectory(prefix="kit-gradescope-") as tmp:
        wheel = build_wheel(Path(tmp))
        config["wheel"] = wheel.name
        setup = SETUP_SH
        for key, value in {
            "__VENV__": VENV,
            "__TORCH__": pins["torch"],
            "__NUMPY__": pins["numpy"],
            "__PYTEST__": pins["pytest"],
            "__WHEEL__": wheel.name,
            "__INDEX__": TORCH_CPU_INDEX,
        }.items():
            setup = setup.replace(key, value)
        runner = RUN_AUTOGRADER.replace("__VENV__", VENV).replace("__CONFIG__", CONFIG_NAME)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text, mode in (
                ("setup.sh", setup, 0o755),
                ("run_autograder", runner, 0o755),
                (CONFIG_NAME, json.dumps(config, indent=2) + "\n", 0o644),
            ):
                info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, text)
            zf.write(wheel, wheel.name)
        os.replace(partial, out)
    return config


# ============================================================================ command line
def cmd_build(args) -> int:
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    limits = {
        k: v
        for k, v in (
            ("call_seconds", args.call_timeout),
            ("level_seconds", args.level_timeout),
            ("run_seconds", args.run_timeout),
        )
        if v is not None
    }
    if args.memory_mb is not None:
        limits["memory_bytes"] = int(args.memory_mb * 1024**2)
    config = build(Path(args.out), parse_levels(args.levels), seed, args.hidden or [], args.hidden_visibility, limits)
    print(
        f"wrote {args.out}: levels {config['levels']}, seed {config['seed']}, torch {config['pins']['torch']} (CPU), "
        f"kit {config['kit_version']}"
    )
    level_args = "".join(f" --level {lv}" for lv in config["levels"])
    print(
        f"on Gradescope: a Programming Assignment worth {12.5 * len(config['levels']):g} points "
        f"(12.5 per level); to grade the same way locally: python -m autograder grade DIR --seed "
        f"{config['seed']}{level_args}",
        file=sys.stderr,
    )
    return 0


def cmd_run(args) -> int:
    root = Path(args.root)
    config_path = Path(args.config) if args.config else root / "source" / CONFIG_NAME
    try:
        config = load_config(config_path)
    except Exception as exc:  # noqa: BLE001 - still owe Gradescope a results.json
        write_atomic(
            root / "results" / "results.json",
            json.dumps(
                {
                    "score": 0,
                    "output": "The autograder is misconfigured, so nothing was graded. Your instructor "
                    "can see why and regrade.",
                    "stdout_visibility": "hidden",
                    "tests": [],
                }
            )
            + "\n",
        )
        print(f"cannot read the configuration {config_path}: {exc}")
        return 0
    return run(root, config, log=lambda msg: print(msg, flush=True))


def register(subparsers) -> None:
    p = subparsers.add_parser("gradescope", help="build a Gradescope autograder zip, or run one (inside Gradescope)")
    sub = p.add_subparsers(dest="gradescope_command", required=True)
    b = sub.add_parser("build", help="write autograder.zip for Gradescope (docs/gradescope.md)")
    b.add_argument("--levels", type=int, nargs="+", default=None, help="levels to grade (default: all)")
    b.add_argument("--out", default="autograder.zip", help="where the zip goes (default: autograder.zip)")
    b.add_argument("--seed", type=int, default=None, help="the grading seed (default: a fresh random one, printed)")
    b.add_argument(
        "--hidden",
        action="append",
        metavar="PATTERN",
        help="check ids to hide until published, as shell patterns, e.g. '*.train.*' or '8.*' (repeatable)",
    )
    b.add_argument(
        "--hidden-visibility",
        default="after_published",
        choices=VISIBILITIES,
        help="what Gradescope shows of the hidden checks (default: after_published)",
    )
    for flag, key, what in (
        ("--call-timeout", "call_seconds", "one call of student code"),
        ("--level-timeout", "level_seconds", "all the calls of one level"),
        ("--run-timeout", "run_seconds", "all levels"),
    ):
        b.add_argument(flag, type=float, default=None, help=f"seconds for {what} (default {DEFAULT_LIMITS[key]:g})")
    b.add_argument(
        "--memory-mb",
        type=float,
        default=None,
        help=f"resident memory of one student process (default {DEFAULT_LIMITS['memory_bytes'] // 2**20})",
    )
    b.set_defaults(func=cmd_build)
    r = sub.add_parser("run", help="grade /autograder/submission into /autograder/results/results.json")
    r.add_argument("--root", default="/autograder", help="the Gradescope tree (default: /autograder)")
    r.add_argument("--config", default=None, help=f"the configuration (default: ROOT/source/{CONFIG_NAME})")
    r.set_defaults(func=cmd_run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.integrations.gradescope", description=__doc__.split("\n")[0]
    )
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["gradescope", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
