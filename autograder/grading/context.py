"""``GradingContext``: everything one grading run shares (the seed, the devices, the submission's
child processes, the results). The pytest plugin hands it to the checks; ``grading.grade`` builds it."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import torch

from ..checks.loops import start_convergence
from ..core import machine, trace
from ..core.curriculum import LEVELS
from ..core.report import CheckResult
from ..core.settings import REPO_ROOT
from ..core.submission import read_submission
from ..sandbox import ChildPool, Limits, isolation_refusal, isolation_shortfall, start_pool
from ..sandbox.processes import cpu_seconds, run_in_background
from ..sandbox.proxy import GraderError, LevelUnavailable, Submission

#: Devices on which a run starts every child it will need at once, side by side: on CUDA most of a
#: child's start is its CUDA context, and contexts started together initialise in parallel (on the
#: CPU the children start as they are needed, the two cores busy with the checks).
PREOPEN_DEVICES = {"cuda"}


def cuda_available() -> bool:
    return torch.cuda.is_available()


def resolve_devices(device: str) -> list[str]:
    if device == "auto":
        return ["cuda"] if cuda_available() else ["cpu"]
    if device == "all":
        return ["cpu", "cuda"]
    return [device]


#: The suffix of a level's convergence check (``N.train.converges``): its run starts ahead, in a child of its own.
CONVERGES = ".train.converges"

#: How long a sent convergence run keeps its place among those that train at once (``run_slots``):
#: a correct run takes well under a second, so one still training after this trains beside the
#: next one from then on. A level whose run hangs never holds another's back by more than this (and
#: a run's wall-clock limit starts when it is sent, so waiting for a place costs it nothing).
SLOT_SECONDS = 3.0


class GradingContext:
    """Everything one grading run shares: the seed, the devices, the submission's processes."""

    def __init__(
        self,
        submission_dir: Path | None,
        levels: list[int],
        seed: int,
        devices: list[str],
        limits: Limits | None = None,
        in_process: dict | None = None,
        pool: ChildPool | None = None,
        sources: dict | None = None,
        converge_lane: bool = True,
    ):
        self.submission_dir = Path(submission_dir) if submission_dir else None
        self.levels = levels
        self.seed = seed
        self.devices = devices
        self.limits = limits or Limits()
        self.results: list[CheckResult] = []
        self.shared: dict = {}
        self._subs: dict[int, Submission] = {}
        self._pool: ChildPool | None = pool
        self._own_pool = pool is None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._in_process = in_process  # level -> namespace, for the notebook self-check
        # (sources: levels already read elsewhere, e.g. a refused nbgrader notebook)
        self.sources = dict(sources or {})
        if self.submission_dir:
            self.sources.update(
                {lv: s for lv, s in read_submission(self.submission_dir, levels).items() if lv not in self.sources}
            )
        self.started = time.monotonic()
        self.stage: str | None = None  # grade only this stage (the notebook's per-stage cells)
        self.protections: dict = {}  # what the sandbox could apply, as the child reported it
        self.refusal: str | None = None  # why official grading refused (--require-isolation)
        self.want_curves = False  # record loss curves (student against reference) for the HTML report
        self.converging: dict = {}  # (level, device) -> a started convergence run
        self.child_peak_rss = 0
        self.curves: dict = {}
        self._opening: dict[tuple[int, str], Future] = {}  # children being started ahead (preopen)
        self._preopened = False
        self._convergence_asked: set[int] = set()  # levels whose convergence run was started (or cannot be)
        self._opener: ThreadPoolExecutor | None = None
        #: On the CPU, a child of its own per level for the convergence run (the "converge" lane),
        #: started ahead while the main child answers the other checks. False: the run follows the
        #: level's other checks in its main child (``core_to_spare``). CUDA keeps both lanes.
        self.converge_lane = converge_lane
        #: Convergence runs whose child is ready and which wait for a place (``pump``), in level order.
        self._waiting_runs: list[tuple[int, str, Submission]] = []
        #: Runs sent and not yet collected: (level, device) -> (submission, when it was sent).
        self._training: dict[tuple[int, str], tuple[Submission, float]] = {}

    def start(self) -> None:
        """Start the pool early: its zygote imports torch while the grader collects its checks."""
        if self._in_process is None and self._pool is None:
            self._pool = start_pool(levels=self.levels)

    def _scratch_root(self) -> Path:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kit-grade-")
            os.chmod(self._tmp.name, 0o711)  # the sandbox user may pass through to its scratch, not list
        return Path(self._tmp.name)

    def submission(self, level: int, lane: str = "main") -> Submission:
        """The level's proxy. Each lane is its own child process: the "converge" lane runs the long
        convergence training while the main lane answers the other checks (two cores, both busy)."""
        opening = self._opening.pop((level, lane), None)
        if opening is not None:  # started ahead (preopen): ours once its start is over (a failure is
            opening.exception()  # kept by the Submission, or met again at its first use)
        if (level, lane) not in self._subs:
            self._subs[(level, lane)] = self._make_submission(level, lane)
        return self._subs[(level, lane)]

    def preopen(self, converge: list[int]) -> None:
        """On a device of PREOPEN_DEVICES, start every child the run will need now, each on a thread
        of its own: the main lane of every torch level and the convergence lane of ``converge``. A
        failure is kept by its Submission and raised at its first use, as if it had started then."""
        if self._in_process is not None or len(self.devices) != 1 or self.devices[0] not in PREOPEN_DEVICES:
            return
        lanes = [(lv, "main") for lv in self.levels if not LEVELS[lv].numpy]
        lanes += [(lv, "converge") for lv in converge if not LEVELS[lv].numpy]
        if not lanes:
            return
        # Threads that live as long as the run: a child started with Popen dies with the *thread*
        # that started it (PR_SET_PDEATHSIG counts threads), so no thread may end under its child.
        self._opener = ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="kit-open")
        for level, lane in lanes:
            sub = self.submission(level, lane)
            sub.device = self.devices[0]
            self._opening[(level, lane)] = self._opener.submit(_load_quietly, sub)

    def start_convergence_runs(self, levels: list[int]) -> None:
        """Start the convergence run of each of ``levels`` in its own child. The grader asks before
        it imports pytest, and the plugin again once the checks are collected: each level's run is
        started once, and a failure that stopped the first ask is met again in pytest's run."""
        if self._in_process is not None:
            return
        if not self._preopened:
            self._preopened = True
            self.preopen(levels)
        device = self.devices[0]
        if device == "cuda" and not cuda_available():
            return
        cold = self._pool is not None and self._pool.start_method != "fork"
        if device == "cpu" and cold and not self._pool.converge_lanes:
            # A cold pool's child is a fresh interpreter that imports torch (seconds of CPU): unless
            # the cores run every such import side by side (pools.both_lanes_fit), a second one per
            # level for its convergence run costs more than the run, so the run goes to the level's
            # main child, after its other checks (docs/speed.md, "The cold path").
            return
        if device == "cpu" and not self.converge_lane:  # no core to spare for it (core_to_spare)
            return
        for level in levels:
            if level in self._convergence_asked:
                continue
            sub = self.submission(level, "converge")
            sub.device = device
            try:
                sub.load()
            except LevelUnavailable as exc:  # the main lane must not pay for the same failure again
                self.submission(level).unavailable = str(exc)
            except GraderError:  # no child to be had: the main lane's checks report it, as grader errors
                pass
            else:
                self._waiting_runs.append((level, device, sub))
                self.pump()  # (the first runs train while the next children start)
            self._convergence_asked.add(level)  # (not where anything else escaped: met again in pytest's run)

    @staticmethod
    def run_slots(device: str) -> int | None:
        """How many convergence runs train at once: on the CPU one per usable core. More only share
        the cores out in slices of a few milliseconds, each switch to a run whose tensors are out of
        the cache: the same eight runs took 10 % more CPU for the same wall time, CPU the grader's
        own checks then lack (docs/speed.md). On CUDA (None) every run at once."""
        return None if device in PREOPEN_DEVICES else max(1, machine.usable_cores())

    def pump(self, need: int | None = None) -> None:
        """Send waiting convergence runs, in level order (the order of their checks), while fewer than
        ``run_slots`` train; ``need``: a level whose check wants its run now, sent whatever trains.
        Called as the checks are collected and before each check: it never waits (a zero-timeout
        look at a few sockets)."""
        if not self._waiting_runs:
            return
        now = time.monotonic()
        for key, (sub, sent) in list(self._training.items()):
            # its place is free once its check took it, its reply is there, or it outstayed SLOT_SECONDS
            if key not in self.converging or now - sent > SLOT_SECONDS or sub.reply_ready():
                del self._training[key]
        if need is not None:
            for run in [r for r in self._waiting_runs if r[0] == need]:
                self._waiting_runs.remove(run)
                self._send_run(*run, asked=True)
        slots = self.run_slots(self.devices[0])
        while self._waiting_runs and (slots is None or len(self._training) < slots):
            self._send_run(*self._waiting_runs.pop(0))

    def _send_run(self, level: int, device: str, sub: Submission, asked: bool = False) -> None:
        # (the run's wall-clock limit starts here: whatever it waited for a place is not its time)
        trace.mark("convergence run sent", level=level, training=len(self._training), asked=asked)
        self.converging[(level, device)] = start_convergence(sub, level, self.seed)
        self._training[(level, device)] = (sub, time.monotonic())

    def _make_submission(self, level: int, lane: str = "main") -> Submission:
        module = LEVELS[level].module
        if self._in_process is not None:
            from ..child.runtime import Runtime
            from ..sandbox import InProcessChannel

            namespace = self._in_process.get(level)
            runtime = Runtime()
            if namespace is not None:
                runtime.adopt(module, namespace)
            return Submission(
                module,
                None,
                "<notebook>",
                lambda: InProcessChannel(runtime),
                unavailable=None if namespace is not None else f"level {level} was not given",
            )
        src = self.sources[level]
        if src.source is None:
            return Submission(module, None, src.filename, lambda: None, unavailable=src.problem)
        self.start()
        scratch = self._scratch_root() / (f"level{level}" if lane == "main" else f"level{level}-{lane}")

        def open_channel():
            scratch.mkdir(parents=True, exist_ok=True)
            device = self.child_device()
            trace.mark("child asked for", level=level, lane=lane)
            channel = self._pool.fork(
                scratch,
                self.limits,
                hide=self.hidden_paths(),
                device=device,
                numpy_only=LEVELS[level].numpy,
            )
            trace.mark("child ready", level=level, lane=lane)
            if lane == "converge":  # trains while the grader and the main lanes answer the other
                run_in_background(channel.pid)  # checks: they go first, it takes what they leave
            self.protections = dict(channel.protections, start=self._pool.start_method)
            missing = isolation_shortfall(channel.protections) if self.limits.require_isolation else []
            if missing:  # official grading refuses (a grader error, never a student's score)
                channel.close()
                self.refusal = isolation_refusal(missing)
                raise RuntimeError(self.refusal)
            return channel

        return Submission(
            module,
            src.source,
            src.filename,
            open_channel,
            budget=self.limits.submission_seconds,
            deadline=self.started + self.limits.submission_seconds,
        )

    def child_device(self) -> str:
        """The device a level's child must be able to use (it tests it before any student code): CUDA
        where a check will run there, else the run's one device (the CPU when several)."""
        if "cuda" in self.devices and (len(self.devices) == 1 or cuda_available()):
            return "cuda"
        return self.devices[0] if len(self.devices) == 1 else "cpu"

    def hidden_paths(self) -> list[str]:
        """What the child must not see: the grader, the solutions, the tests, other submissions."""
        package = REPO_ROOT / "autograder"
        root = REPO_ROOT
        keep = [Path(sys.prefix).resolve(), Path(tempfile.gettempdir()).resolve(), Path(torch.__file__).resolve()]
        candidates = [package, root / "solutions", root / "tests"]
        if self.submission_dir is not None:
            candidates.append(self.submission_dir.resolve().parent)
        out = []
        for c in candidates:
            if c.is_dir() and c != Path("/") and not any(k == c or c in k.parents for k in keep):
                out.append(str(c))
        return out

    def close(self) -> None:
        for opening in self._opening.values():  # (a run that ended before using a child started ahead)
            opening.exception()
        self._opening.clear()
        if trace.enabled():  # each child's CPU time, read before it ends (docs/speed.md: where the time goes)
            for key, sub in self._subs.items():
                pid = getattr(getattr(sub, "_channel", None), "pid", None)
                cpu = cpu_seconds(pid) if isinstance(pid, int) else None
                if cpu is not None:
                    trace.mark("child ends", level=key[0], lane=key[1], cpu=round(cpu, 3))
        for sub in self._subs.values():  # signal every child first, then wait for all of them together
            try:
                sub.close(wait=False)
            except Exception:  # noqa: BLE001
                pass
            self.child_peak_rss = max(self.child_peak_rss, sub.peak_rss)
        try:
            Submission.reap_all(self._subs.values())
        except Exception:  # noqa: BLE001
            pass
        if self._opener is not None:  # (its threads end only now, after every child they started)
            self._opener.shutdown(wait=True)
            self._opener = None
        if self._pool is not None and self._own_pool:
            self._pool.close()
        self._pool = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _load_quietly(sub: Submission) -> None:
    """Start a child and load the student's module, keeping any failure for the first real use."""
    try:
        sub.load()
    except (LevelUnavailable, GraderError):  # (kept by the Submission: raised again where it is used)
        pass
