"""Grade one submission: run the checks under pytest with a prepared context, build the Report."""

from __future__ import annotations

import dataclasses
import io
import os
import time
from contextlib import redirect_stdout
from pathlib import Path

from ..child import lazy_modules
from ..core import trace
from ..core.curriculum import CHECKS, CHECKS_DIR, LEVELS, checks_for
from ..core.machine import core_to_spare
from ..core.report import CheckResult, Report, versions
from ..core.submission import submission_hash
from ..sandbox import ChildPool, Limits
from .context import CONVERGES, GradingContext, cuda_available, resolve_devices

#: pytest's own plugins that grading does without. unraisableexception in particular ends every
#: session with five full garbage collections (0.35 s with torch loaded); student code runs in
#: other processes, so nothing of theirs is there to collect.
UNUSED_PYTEST_PLUGINS = (
    "cacheprovider",
    "terminal",
    "warnings",
    "logging",
    "faulthandler",
    "unraisableexception",
    "threadexception",
    "junitxml",
    "doctest",
    "pastebin",
    "stepwise",
    "unittest",
)


def run_checks(ctx: GradingContext, stage: str | None = None, keyword: str | None = None) -> int:
    """Run the check modules of ctx.levels through pytest; results land in ctx.results."""
    # (pytest is imported here, after ``ctx.start()`` asked for the convergence runs: its 0.15 s of
    # imports run while the first of them trains. Imported on a thread while the grader waited for
    # its children instead, it cost single levels more than it saved: the waiting thread then
    # waits for the GIL after every reply.)
    import pytest

    from . import plugin

    files = [str(LEVELS[lv].checks_path) for lv in ctx.levels]
    args = [
        *files,
        "--noconftest",
        *(a for p in UNUSED_PYTEST_PLUGINS for a in ("-p", f"no:{p}")),
        "-c",
        str(CHECKS_DIR / "checks.ini"),
        "--rootdir",
        str(CHECKS_DIR),
    ]
    ctx.stage = stage
    if keyword:
        args += ["-k", keyword]
    sink = io.StringIO()
    # Only our plugin: whatever else is installed (pytest-benchmark, pytest-randomly...) stays out of grading.
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        with redirect_stdout(sink):
            code = pytest.main(args, plugins=[plugin, plugin.ContextProvider(ctx)])
    finally:
        if saved is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved
    return int(code)


def grade(
    submission_dir: Path | None,
    levels: list[int],
    seed: int,
    device: str = "cpu",
    limits: Limits | None = None,
    in_process: dict | None = None,
    stage: str | None = None,
    pool: ChildPool | None = None,
    curves: bool = False,
    sources: dict | None = None,
    converge_lane: bool | None = None,
) -> Report:
    """Grade one submission directory (or, with in_process, a notebook kernel's namespaces).

    ``pool``: a running ``sandbox.ChildPool`` (a Zygote or a Spawner) to take children from (batch
    grading and tests share one); by default the run starts and stops its own. ``sources``: levels
    already read (``submission.LevelSource``), used instead of reading them from the directory.
    ``converge_lane``: whether each level's convergence run gets a child of its own; by default, where
    this machine has a core to spare for it (``machine.core_to_spare(1)``). Callers that grade
    several submissions side by side say so (False where every core already grades one): the run
    then follows the level's other checks in its one child. The same verdicts either way.
    """
    t0 = time.monotonic()
    trace.mark("grade: started")
    import torch

    trace.mark("grade: torch imported")

    torch.set_num_threads(1)  # small problems: extra threads only contend (parallelise across submissions)
    devices = resolve_devices(device)
    if in_process is None:  # (the grader's own process, not a student's kernel)
        # Level 4's gradcheck backpropagates given gradients here, which would import sympy (0.3-0.6
        # CPU-seconds, on the way of every check of level 4) to compare two shapes of plain integers:
        # the children's stand-in answers that, and imports the real module for anything else.
        lazy_modules.install(torch, names=(lazy_modules.SYMBOLIC_SHAPES,))
    if converge_lane is None:
        converge_lane = core_to_spare(1)
    ctx = GradingContext(submission_dir, levels, seed, devices, limits, in_process, pool, sources, converge_lane)
    ctx.want_curves = curves
    ctx.start()
    try:
        # The convergence runs, the longest work of a level, start now, before pytest is imported and
        # collects the checks (the plugin asks again once it has: they start once).
        converge = [lv for lv in levels if any(c.id.endswith(CONVERGES) for c in checks_for(lv, stage))]
        try:
            ctx.start_convergence_runs(converge)
        except Exception:  # noqa: BLE001 - met again when the plugin asks, inside pytest's run (a refusal
            pass  # of official grading, say), where such a failure has always been reported
        code = run_checks(ctx, stage=stage)
        trace.mark("grade: checks ran")
    finally:
        ctx.close()
    trace.mark("grade: children ended")
    report = Report(
        seed=seed,
        device=",".join(devices),
        levels=levels,
        versions=versions(),
        submission=str(submission_dir or "<kernel>"),
    )
    report.checks = _complete(ctx, levels, stage, devices)
    report.sandbox = {k: v for k, v in ctx.protections.items() if k != "uid"}
    report.curves = {lv: c for lv, c in ctx.curves.items()}
    if ctx.sources:
        report.submission_hash = submission_hash(ctx.sources)
        report.level_notes = {lv: s.problem for lv, s in ctx.sources.items() if s.problem}
    if ctx.refusal:
        report.errors.append(ctx.refusal)
        report.checks = [
            c
            if c.error
            else dataclasses.replace(c, score=0.0, passed=False, error=True, message=f"grader error: {ctx.refusal}")
            for c in report.checks
        ]
    elif code not in (0, 1):  # pytest itself failed (usage error, internal error): not a grade
        report.errors.append(f"the check runner exited with status {code}")
    report.errors += [f"{c.id}: {c.message}" for c in report.checks if c.error]
    report.timings = {
        "total_s": round(time.monotonic() - t0, 3),
        "grader_peak_rss_mb": round(_own_peak_rss() / 2**20, 1),
        "child_peak_rss_mb": round(ctx.child_peak_rss / 2**20, 1),
        "per_level_s": {str(lv): round(sum(c.seconds for c in report.checks if c.level == lv), 3) for lv in levels},
    }
    if trace.enabled():
        own = os.times()
        trace.mark("grade: report built", cpu=round(own.user + own.system, 3))
    return report


def _own_peak_rss() -> int:
    """This process's peak resident memory in bytes: getrusage where there is ``resource`` (kB on
    Linux, bytes on macOS), psutil elsewhere (Windows' peak working set), else 0."""
    import sys

    try:
        import resource
    except ImportError:
        try:
            import psutil

            info = psutil.Process().memory_info()
            return int(getattr(info, "peak_wset", info.rss))
        except (ImportError, OSError):
            return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _complete(ctx, levels, stage, devices) -> list[CheckResult]:
    """Order results as the curriculum does, and add any check pytest never reported on (as a grader error)."""
    by_id = {(c.id.split("[")[0], c.device): c for c in ctx.results}
    out = []
    for lv in levels:
        for spec in checks_for(lv, stage):
            for d in devices:
                c = by_id.get((spec.id, d))
                if c is None:
                    if d == "cuda" and (LEVELS[lv].numpy or not cuda_available()):
                        continue
                    c = CheckResult(
                        spec.id,
                        lv,
                        spec.stage,
                        spec.name,
                        0.0,
                        spec.points,
                        False,
                        "grader error: this check did not run",
                        d,
                        error=True,
                    )
                out.append(c)
    return out


__all__ = ["grade", "run_checks", "CHECKS", "LEVELS"]
