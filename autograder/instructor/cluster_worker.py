"""What runs on a Dask worker: a warm sandbox pool per worker process, and one student's grading.

Imported by Dask on each worker (by name: the kit must be installed there, the same version as on
the client, which ``grade_task`` checks). The client sends each student as data, so workers need no
shared filesystem: the files' bytes (only the contract's file names), their hash, the seed, the
levels, the limits and the client's kit fingerprint. The worker writes the files into a private
temporary directory, grades it exactly as local grading does, and returns the report as a plain
JSON dict; the client alone writes to the output directory.
"""

from __future__ import annotations

import functools
import hashlib
import os
import queue
import shutil
import tempfile
import traceback
from pathlib import Path

from distributed import WorkerPlugin, get_worker

from ..core.curriculum import LEVELS
from ..core.machine import core_to_spare
from ..sandbox import ChildPool, Limits, start_pool

PLUGIN_NAME = "autograder-sandbox-pool"

#: the only names a payload may carry: the contract's files, nothing with a directory in it
ALLOWED_NAMES = frozenset(f"{lv.module}{ext}" for lv in LEVELS.values() for ext in (".py", ".ipynb"))
PACKAGE = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def kit_fingerprint() -> dict:
    """What must be the same on the client and every worker for a grade to mean the same thing: the
    kit's version and the hash of its code (checks, references, sandbox), torch and numpy."""
    import numpy
    import torch

    from ..core.report import versions

    h = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix in (".py", ".ini") and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(PACKAGE)).encode() + b"\0")
            h.update(path.read_bytes())
    return {
        "kit": versions()["kit"],
        "code_sha256": h.hexdigest()[:16],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }


class SandboxPools(WorkerPlugin):
    """Warm sandbox pools (a Zygote, or a Spawner where forking is unsafe) for one worker process:
    one per task running at once (a worker with ``--nthreads 1``, as recommended, has one). Each is
    started on first use and kept for the worker's life; teardown closes them all."""

    name = PLUGIN_NAME

    def __init__(self, levels: list[int] | None = None):
        self.levels = levels
        self.idle: queue.SimpleQueue[ChildPool]  # made on the worker, in setup (a queue does not pickle)
        self.all: list[ChildPool] = []
        self._lane: bool | None = None

    def setup(self, worker) -> None:
        self.idle = queue.SimpleQueue()
        # Start one pool now, so the zygote imports torch while the first task is on its way.
        self.idle.put(self._start())

    def _start(self) -> ChildPool:
        pool = start_pool(levels=self.levels)
        # Under memory pressure the kernel ends a student's child, not the worker (whose death would
        # cost its task a rerun elsewhere and the machine a worker restart).
        pool.set_oom_score_adj(1000)
        self.all.append(pool)
        return pool

    def take(self) -> ChildPool:
        """A pool nobody else is using (a dead one is replaced)."""
        try:
            pool = self.idle.get_nowait()
        except queue.Empty:
            return self._start()
        if pool.alive():
            return pool
        pool.close()
        self.all.remove(pool)
        return self._start()

    def converge_lane(self) -> bool:
        """Whether this worker's gradings give each level's convergence run a child of its own: only
        where the workers on this host run fewer tasks at once than it has cores (``--nworkers
        $(nproc) --nthreads 1``, as docs/cluster.md recommends, keeps every core grading already).
        Decided at the first task from the scheduler's list of workers; as for one grading (a lane
        where the host has a second core) if the scheduler cannot tell."""
        if self._lane is None:
            try:
                from distributed import get_client

                here = get_worker()
                workers = get_client().scheduler_info(n_workers=-1).get("workers", {})
                graders = sum(int(w.get("nthreads", 1)) for w in workers.values() if w.get("host") == here.ip)
                self._lane = core_to_spare(max(graders, here.state.nthreads))
            except Exception:  # noqa: BLE001 - the scheduler cannot say: the single grading's default
                self._lane = core_to_spare(1)
        return self._lane

    def give_back(self, pool: ChildPool) -> None:
        self.idle.put(pool)

    def teardown(self, worker) -> None:
        for pool in self.all:
            try:
                pool.close()
            except Exception:  # noqa: BLE001 - closing the others matters more
                pass
        self.all = []


def materialize(files: dict, directory: Path) -> None:
    """Write a payload's files into ``directory`` (new, private). Refuses any name outside the
    contract's, and never follows a link: the files are created here, exclusively."""
    for name, spec in files.items():
        if name not in ALLOWED_NAMES:
            raise ValueError(f"refused a file named {name!r}: not a file of the contract")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(directory / name, flags, 0o600)
        with os.fdopen(fd, "wb") as f:
            if "data" in spec:
                f.write(bytes(spec["data"]))
            else:  # larger than a level may be: the grader refuses it by its size, without reading it
                f.truncate(int(spec["size"]))


def _replace_text(value, old: str, new: str):
    """``value`` with ``old`` replaced by ``new`` in every string (the worker's temporary path by the
    student's path on the client, so a report reads as local grading writes it)."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_text(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace_text(v, old, new) for k, v in value.items()}
    return value


def grade_task(job: dict) -> dict:
    """Grade one student on this worker; returns the report as a JSON dict (an error report when the
    worker cannot grade it as the client asked: never a different grade)."""
    from .batch import error_report

    origin, levels, seed = job["origin"], job["levels"], job["seed"]
    ours = kit_fingerprint()
    if ours != job["kit"]:
        differ = ", ".join(
            f"{k} {job['kit'].get(k)} on the client, {v} here" for k, v in ours.items() if job["kit"].get(k) != v
        )
        return error_report(
            origin,
            levels,
            seed,
            f"this worker's kit differs from the client's ({differ}): "
            "install the same kit, torch and numpy on every worker",
        ).as_json()
    plugin = get_worker().plugins.get(PLUGIN_NAME)
    if not isinstance(plugin, SandboxPools):
        plugin = None
    pool = plugin.take() if plugin is not None else start_pool(levels=levels)
    root = Path(tempfile.mkdtemp(prefix="kit-cluster-"))  # mode 0700: this worker's user only
    try:
        directory = root / "submission"
        directory.mkdir()
        materialize(job["files"], directory)
        from ..core.long_lived import import_long_lived

        import_long_lived()
        from ..grading.run import grade

        limits = Limits(**job["limits"])
        lane = plugin.converge_lane() if plugin is not None else None
        data = grade(
            directory, levels, seed, job["device"], limits, pool=pool, curves=job["curves"], converge_lane=lane
        ).as_json()
        data = _replace_text(data, str(directory), origin)
    except Exception as exc:  # noqa: BLE001 - a grader failure: an error for this student, never a score
        data = error_report(
            origin,
            levels,
            seed,
            f"the grader failed on worker {_worker_name()}: {type(exc).__name__}: {exc}",
            traceback.format_exc()[-1500:],
        ).as_json()
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if plugin is not None:
            plugin.give_back(pool)
        else:
            pool.close()
    if data.get("seed") != seed or data.get("submission_sha256") not in ("", job["sha256"]):
        return error_report(
            origin, levels, seed, "the worker graded something other than what was sent (seed or files differ)"
        ).as_json()
    data.setdefault("timings", {})["worker"] = _worker_name()
    return data


def _worker_name() -> str:
    try:
        return str(get_worker().address)
    except ValueError:
        return "?"
