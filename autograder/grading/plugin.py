"""The pytest plugin that turns the checks into a grade.

It supplies the fixtures the checks use (``sub``: the level's submission proxy; ``device``;
``seed``; ``shared``: a per-level cache so that one lockstep run serves several stage checks),
parametrises every check over the devices, and records each outcome as a ``CheckResult``.

Used two ways: by ``python -m autograder check|grade`` (which hands it a prepared
``GradingContext``), or by plain ``pytest autograder/checks --submission DIR`` (which builds one
from the command-line options).
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
import torch

from ..checks.common import CheckFailed
from ..core import trace
from ..core.curriculum import CHECKS, LEVELS
from ..core.report import CheckResult
from ..core.settings import default_seed, repo_root
from ..sandbox.proxy import GraderError, LevelUnavailable, StudentCrash, StudentError, StudentTimeout, Submission
from .context import CONVERGES, GradingContext, cuda_available, resolve_devices

CTX_KEY = pytest.StashKey["GradingContext"]()


class ContextProvider:
    """Hands a prepared GradingContext to the plugin (used by the CLI and the self-check)."""

    def __init__(self, ctx: GradingContext):
        self.ctx = ctx

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config):
        config.stash[CTX_KEY] = self.ctx
        # No traceback rendering: the plugin words every verdict itself and the run's output goes to
        # a sink, while pytest's long tracebacks parse and walk the source of every frame of every
        # failure (about 0.15 CPU-seconds a failed check: ten seconds for a submission of stubs).
        # ("no" is what --tb=no sets; the terminal plugin that defines --tb is left out of grading.)
        config.option.tbstyle = "no"


# ---------------------------------------------------------------------- options and context
def pytest_addoption(parser):
    group = parser.getgroup("autograder")
    group.addoption("--submission", default=None, help="the submission directory to grade")
    group.addoption("--ag-seed", type=int, default=None, help="the run's seed (hidden inputs derive from it)")
    group.addoption(
        "--ag-device", default="all", help="cpu, cuda, auto or all (default: all; cuda skips without a GPU)"
    )
    group.addoption("--ag-level", type=int, action="append", default=None, help="grade only this level (repeatable)")


def pytest_configure(config):
    config.addinivalue_line("markers", "check(id): a graded check; id is a key of curriculum.CHECKS")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def get_context(config) -> GradingContext:
    if CTX_KEY not in config.stash:
        sub = config.getoption("--submission") or str(repo_root() / "assignments")
        levels = config.getoption("--ag-level") or sorted(LEVELS)
        seed = config.getoption("--ag-seed")
        ctx = GradingContext(
            Path(sub),
            levels,
            default_seed() if seed is None else seed,
            resolve_devices(config.getoption("--ag-device")),
        )
        config.stash[CTX_KEY] = ctx
        config.add_cleanup(ctx.close)
    return config.stash[CTX_KEY]


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        ctx = get_context(metafunc.config)
        params = []
        for d in ctx.devices:
            level = LEVELS.get(getattr(metafunc.module, "LEVEL", None))
            if d == "cuda" and level is not None and level.numpy:
                params.append(
                    pytest.param(d, marks=pytest.mark.skip(reason="the numpy level runs on the CPU only"), id=d)
                )
            elif d == "cuda" and not cuda_available():
                params.append(pytest.param(d, marks=pytest.mark.skip(reason="no CUDA device on this machine"), id=d))
            else:
                params.append(pytest.param(d, id=d))
        metafunc.parametrize("device", params)


def pytest_collection_modifyitems(config, items):
    ctx = get_context(config)
    keep, drop = [], []
    for item in items:
        level = getattr(item.module, "LEVEL", None)
        marker = item.get_closest_marker("check")
        stage_ok = ctx.stage is None or (marker is not None and CHECKS[marker.args[0]].stage == ctx.stage)
        (keep if level in ctx.levels and stage_ok else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    ctx.start()
    converge = sorted(
        {
            item.module.LEVEL
            for item in keep
            if (m := item.get_closest_marker("check")) and m.args[0].endswith(CONVERGES)
        }
    )
    ctx.start_convergence_runs(converge)


def pytest_itemcollected(item):
    get_context(item.config).pump()  # (the convergence runs waiting for a place: see GradingContext.pump)


def pytest_runtest_setup(item):
    get_context(item.config).pump()


# ---------------------------------------------------------------------- fixtures
@pytest.fixture
def ctx(request) -> GradingContext:
    return get_context(request.config)


@pytest.fixture
def seed(ctx) -> int:
    return ctx.seed


@pytest.fixture
def sub(request, ctx, device) -> Submission:
    level = request.module.LEVEL
    s = ctx.submission(level)
    s.device = device
    s.load()
    yield s
    try:
        s.release()
    except Exception:  # noqa: BLE001 - a dead child is restarted by the next check
        pass


@pytest.fixture
def converging(request, ctx, device):
    """The level's convergence run, if it was started ahead of time (else None: the check runs it)."""
    level = request.module.LEVEL
    ctx.pump(need=level)  # (sent now if it still waited for a place)
    run = ctx.converging.pop((level, device), None)
    ctx.pump()  # its place goes to the next run while this check waits for it
    return run


@pytest.fixture
def curves(ctx):
    """Where convergence checks record loss curves, when a rendering asked for them (else None)."""
    return ctx.curves if ctx.want_curves else None


@pytest.fixture
def shared(request, ctx, device) -> dict:
    """A cache shared by the checks of one level on one device (e.g. one lockstep run)."""
    return ctx.shared.setdefault((request.module.LEVEL, device), {})


# ---------------------------------------------------------------------- outcomes
def _verdict(excinfo) -> tuple[str, bool, str | None]:
    """(message, grader_error, diagnosis) for a failed check."""
    exc = excinfo.value
    if isinstance(exc, CheckFailed):
        return exc.message, False, exc.diagnosis
    if isinstance(exc, (StudentError, LevelUnavailable)):
        return str(exc), False, None
    if isinstance(exc, StudentTimeout):
        return f"timed out: {exc}", False, None
    if isinstance(exc, StudentCrash):
        return f"crashed: {exc}", False, None
    if isinstance(exc, GraderError):
        return f"grader error: {exc}", True, None
    tb = traceback.format_exception(exc)[-3:]
    return f"grader error: {type(exc).__name__}: {exc} | {''.join(tb).strip()[-400:]}", True, None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("check")
    if marker is None or report.skipped:
        return
    if report.when == "call" or (report.when == "setup" and report.failed):
        ctx = get_context(item.config)
        spec = CHECKS[marker.args[0]]
        trace.mark("check", at=call.start, id=spec.id, seconds=round(call.duration, 4), passed=bool(report.passed))
        device = item.callspec.params.get("device", "cpu") if hasattr(item, "callspec") else "cpu"
        if report.passed:
            msg, err, diag = "", False, None
        else:
            msg, err, diag = _verdict(call.excinfo)
        ctx.results.append(
            CheckResult(
                id=spec.id + (f"[{device}]" if len(ctx.devices) > 1 else ""),
                level=spec.level,
                stage=spec.stage,
                name=spec.name,
                score=spec.points if report.passed else 0.0,
                max_score=spec.points,
                passed=bool(report.passed),
                message=msg,
                device=device,
                seconds=round(call.duration, 4),
                error=err,
                diagnosis=diag,
            )
        )
        if not report.passed and not err:
            report.longrepr = msg  # keep pytest's own output short and readable when run directly
