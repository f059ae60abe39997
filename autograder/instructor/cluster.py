"""Grading a class on a Dask cluster: ``grade CLASS --out OUT --scheduler ADDRESS`` (or ``local:N``).

The client (this process) finds the students and the resume exactly as local grading does
(``batch.students_to_grade``), reads each student's files and sends them as data, one task per
student; each Dask worker process grades with its own warm sandbox pool (``cluster_worker``). The
reports come back as plain dicts and only the client writes: each report atomically as it arrives,
then grades.csv, the summaries and the pages (``batch.finish_class``), so the output directory
never needs to be shared with the workers.

Failures: a worker that dies mid-task has its tasks rerun elsewhere by the scheduler; the client
takes one result per student, and results are deterministic per seed, so nobody is graded twice
into different results. A student whose task keeps killing workers fails after the scheduler's
``allowed-failures`` (KilledWorker) and gets an error report; the run goes on. Losing the scheduler
cancels every task: the run stops with ``SchedulerLost`` (the reports already written stay, so the
same command finishes it).

``distributed`` is an optional dependency (``pip install 'pytorch-examples-kit[cluster]'``),
imported only here.
"""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import CancelledError
from dataclasses import asdict
from pathlib import Path

from ..core.submission import MAX_SOURCE_BYTES, read_submission, submission_hash
from ..sandbox import Limits
from .batch import Progress, Student, error_report, finish_class, save_report, students_to_grade

#: attempts after which the scheduler gives up on a task whose worker keeps dying (local:N; for a
#: scheduler of your own, set DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES where it starts)
ALLOWED_FAILURES = 2
#: how often the client looks at the cluster while it waits for results
POLL_SECONDS = 2.0


class ClusterError(Exception):
    """The cluster cannot go on (unreachable, no workers, scheduler lost): stop, keep what is done."""


class SchedulerLost(ClusterError):
    pass


def missing_dependency_message() -> str | None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return (
            "grading on a cluster needs Dask's distributed scheduler: "
            "pip install 'pytorch-examples-kit[cluster]' (or: pip install 'dask[distributed]')"
        )
    return None


def parse_scheduler(address: str) -> tuple[str, int | None]:
    """("local", N) for ``local:N``, else ("remote", None) for a scheduler address."""
    m = re.fullmatch(r"local:(\d+)", address.strip())
    if m:
        n = int(m[1])
        if n < 1:
            raise ValueError("local:N needs at least one worker")
        return "local", n
    if address.startswith("local"):
        raise ValueError(f"{address!r}: a local cluster is local:N (N worker processes)")
    return "remote", None


def connect(address: str, timeout: float):
    """A Client (and the LocalCluster it owns, or None) for ``--scheduler``."""
    import dask
    from distributed import Client, LocalCluster

    kind, n = parse_scheduler(address)
    if kind == "remote":
        try:
            return Client(address, timeout=timeout, set_as_default=False), None
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    # worker-saturation 1.0: a worker holds only the task it runs, so a worker that dies takes no
    # innocent queued student down with it (each death counts against every task it held).
    with dask.config.set(
        {"distributed.scheduler.allowed-failures": ALLOWED_FAILURES, "distributed.scheduler.worker-saturation": 1.0}
    ):
        # One thread per worker process: a grading process uses one core (torch pinned to one
        # thread). No memory limit on the worker itself: the sandbox bounds each child's memory.
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, memory_limit=0
        )
    try:
        return Client(cluster, timeout=timeout, set_as_default=False), cluster
    except BaseException:
        cluster.close()
        raise


def make_job(
    student: Student, levels: list[int], seed: int, device: str, limits: Limits, curves: bool, kit: dict
) -> tuple[dict | None, str]:
    """A student as data: for each level the bytes local grading reads (``read_submission``: the
    same read gives the bytes and their hash), or only the size of a file too large to read. (None,
    why) when the client cannot read a file: the operator's problem, not the student's."""
    sources = read_submission(student.path, levels)
    files: dict[str, dict] = {}
    for lv in levels:
        src = sources[lv]
        if src.raw or src.source is not None:  # read (even when it is not valid Python or JSON)
            files[src.filename] = {"data": src.raw}
            continue
        path = student.path / src.filename
        if not path.is_file():
            continue  # missing: the worker finds it missing too
        try:
            size = path.stat().st_size
        except OSError as exc:
            size, why = None, exc.strerror
        else:
            why = src.problem
        if size is None or size <= MAX_SOURCE_BYTES:
            return None, f"the client cannot read {src.filename} ({why}): fix its permissions and rerun"
        files[src.filename] = {"size": size}  # too large: the worker refuses it by its size, as here
    job = {
        "origin": str(student.path),
        "files": files,
        "sha256": submission_hash(sources),
        "levels": list(levels),
        "seed": seed,
        "device": device,
        "limits": asdict(limits),
        "curves": curves,
        "kit": kit,
    }
    return job, ""


def grade_class_on_cluster(
    paths: list[Path],
    out: Path,
    levels: list[int],
    seed: int,
    scheduler: str,
    device: str = "cpu",
    force: bool = False,
    limits: Limits | None = None,
    progress: bool = True,
    html: bool = False,
    connect_timeout: float = 30.0,
    worker_wait: float = 600.0,
    task=None,
    similarity=None,
    lms=None,
) -> dict:
    """Grade a class on the cluster at ``scheduler``; same output as ``batch.grade_class``.

    ``worker_wait``: seconds to wait while the cluster has no worker at all (at the start, or after
    losing every one) before stopping with ClusterError. ``task``: the function run per student
    (``cluster_worker.grade_task``; tests pass another to play a student that kills workers).
    ``similarity``, ``lms``: as for ``batch.grade_class`` (run here, on the client, at the end).
    """
    from .cluster_worker import SandboxPools, grade_task, kit_fingerprint

    limits = limits or Limits()
    task = task or grade_task
    students, todo = students_to_grade(paths, out, levels, seed, force)
    graded_now = len(todo)
    started = time.monotonic()
    bar = Progress(len(students), len(students) - len(todo), enabled=progress)
    client, cluster = (None, None)
    try:
        if todo:
            client, cluster = connect(scheduler, connect_timeout)
            client.register_plugin(SandboxPools(levels), name=SandboxPools.name)
            _wait_for_a_worker(client, scheduler, worker_wait)
            kit = kit_fingerprint()
            jobs = {}
            for student in todo:
                job, problem = make_job(student, levels, seed, device, limits, html, kit)
                if job is None:
                    data = error_report(student.path, levels, seed, problem).as_json()
                    save_report(out, student, data, html)
                    bar.advance(student.name, 0.0)
                else:
                    jobs[student.name] = (student, job)
            _collect(client, task, jobs, out, levels, seed, html, bar, scheduler, worker_wait)
    finally:
        bar.close()
        if client is not None:
            _close(client, cluster)
    return finish_class(students, out, levels, started, html, similarity, lms, seed=seed, graded_now=graded_now)


def _wait_for_a_worker(client, scheduler: str, seconds: float) -> None:
    try:
        client.wait_for_workers(1, timeout=seconds)
    except TimeoutError:
        raise ClusterError(f"no Dask worker joined the scheduler at {scheduler} within {seconds:g} s") from None


def _collect(client, task, jobs: dict, out: Path, levels, seed, html, bar, scheduler, worker_wait) -> None:
    """Send the jobs, no more at a time than the cluster has threads; write each student's report as
    their result arrives (once: the first result is the one).

    Why no more than the threads: a task queued on a worker behind another is lost with that worker
    and counted against the student, so a student who kills workers would take innocent ones down
    with them. A student whose task the scheduler gave up on (KilledWorker) is sent once more, as
    local grading retries a student whose worker died; a second give-up is their error report.
    """
    from distributed import wait

    run = uuid.uuid4().hex[:8]
    waiting = list(jobs)  # names, in the class's order
    in_flight: dict = {}  # future -> student name
    written: set[str] = set()
    resent: set[str] = set()
    health = _Health(client, scheduler, worker_wait)

    def lost() -> SchedulerLost:
        return SchedulerLost(
            f"lost the Dask scheduler at {scheduler}: {len(written)} students were graded and "
            "saved this run; run the same command again to grade the rest"
        )

    while waiting or in_flight:
        while waiting and len(in_flight) < health.threads:
            name = waiting.pop(0)
            in_flight[client.submit(task, jobs[name][1], key=f"grade-{name}-{run}", pure=False)] = name
        try:  # woken by the first result, not by polling: a worker waits for its next student only a round trip
            with client.as_current():  # distributed.wait asks for the current client
                done, _ = wait(list(in_flight), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        except CancelledError:  # what the client does to every task when it loses the scheduler
            raise lost() from None
        health.check()
        for future in done:
            name = in_flight.pop(future)
            if future.status == "cancelled":
                raise lost()
            if name in written:
                continue
            student = jobs[name][0]
            data, killed = _outcome(future, student, levels, seed)
            future.release()
            if killed and name not in resent:
                resent.add(name)
                in_flight[client.submit(task, jobs[name][1], key=f"grade-{name}-{run}-again", pure=False)] = name
                continue
            save_report(out, student, data, html)
            written.add(name)
            bar.advance(name, data.get("score", 0.0))


class _Health:
    """Every POLL_SECONDS: the cluster's threads (how many tasks to keep in flight); stop when the
    scheduler is gone, or when no worker has been there for too long."""

    def __init__(self, client, scheduler: str, worker_wait: float):
        self.client, self.scheduler, self.worker_wait = client, scheduler, worker_wait
        self.next_check = 0.0
        self.no_workers_since: float | None = None
        self.threads = 1
        self.check()

    def check(self) -> None:
        now = time.monotonic()
        if now < self.next_check:
            return
        self.next_check = now + POLL_SECONDS
        status = self.client.status
        if status not in ("running", "connecting"):
            raise SchedulerLost(
                f"lost the Dask scheduler at {self.scheduler} (client {status}); "
                "run the same command again to grade the rest"
            )
        if status != "running":
            return
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        self.threads = max(1, sum(w.get("nthreads", 1) for w in workers.values()))
        if workers:
            self.no_workers_since = None
            return
        self.no_workers_since = self.no_workers_since or now
        if now - self.no_workers_since > self.worker_wait:
            raise ClusterError(
                f"the cluster at {self.scheduler} has had no worker for {self.worker_wait:g} s; "
                "run the same command again when workers are back"
            )


def _outcome(future, student: Student, levels, seed) -> tuple[dict, bool]:
    """(report, whether the scheduler gave up because its workers died). A result is fetched from the
    worker that holds it: if that worker has died since, the scheduler reruns the task, and this
    waits for that (or its failure)."""
    from distributed import KilledWorker

    try:
        data = future.result()
    except CancelledError:  # the client lost the scheduler while it waited for this result
        raise SchedulerLost(
            "lost the Dask scheduler while fetching a result; run the same command again to grade the rest"
        ) from None
    except KilledWorker as exc:
        reason = (
            f"the worker grading this student died {exc.allowed_failures + 1} times (last "
            f"{getattr(exc.last_worker, 'address', '?')}): the scheduler gave up on it"
        )
        return error_report(student.path, levels, seed, reason).as_json(), True
    except Exception as exc:  # noqa: BLE001 - the task failed (not the student): an error report
        reason = f"the grading task failed on the cluster: {type(exc).__name__}: {exc}"
        return error_report(student.path, levels, seed, reason).as_json(), False
    if isinstance(data, dict) and isinstance(data.get("checks"), list):
        return data, False
    reason = "the worker returned something other than a report"
    return error_report(student.path, levels, seed, reason).as_json(), False


def _close(client, cluster) -> None:
    """Close the client (and the local cluster it owns) without waiting long on a lost scheduler. On
    a cluster that outlives the run, the workers' sandbox pools are closed first (they would sit idle)."""
    from .cluster_worker import PLUGIN_NAME

    if cluster is None and client.status == "running":
        try:
            client.unregister_worker_plugin(PLUGIN_NAME)
        except Exception:  # noqa: BLE001 - a worker that cannot close its pool: it ends with the worker
            pass
    try:
        client.close(timeout=10)
    except Exception:  # noqa: BLE001 - a lost scheduler: nothing more to say to it
        pass
    if cluster is not None:
        try:
            cluster.close(timeout=30)
        except Exception:  # noqa: BLE001
            pass


def grade_on_cluster_cli(
    args, paths: list[Path], out: Path, levels: list[int], seed: int, limits: Limits, similarity=None, lms=None
):
    """``grade --scheduler``: the summary, or an exit status with its message printed (2: a bad
    address or distributed missing; 4: the cluster stopped the run, whose finished reports stay)."""
    import sys

    problem = missing_dependency_message()
    if problem is None:
        try:
            parse_scheduler(args.scheduler)
        except ValueError as exc:
            problem = str(exc)
    if problem:
        print(f"autograder: {problem}", file=sys.stderr)
        return 2
    try:
        return grade_class_on_cluster(
            paths,
            out,
            levels,
            seed,
            args.scheduler,
            args.device,
            force=args.force,
            limits=limits,
            progress=sys.stderr.isatty(),
            html=bool(args.html),
            worker_wait=args.cluster_wait,
            similarity=similarity,
            lms=lms,
        )
    except ClusterError as exc:
        print(f"autograder: {exc}", file=sys.stderr)
        return 4
