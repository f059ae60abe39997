"""One grading pass for ``nbgrader run``: the official grades of every new or changed notebook,
computed in parallel before nbgrader starts, and handed to its ``IsolatedGrades`` preprocessor.

Why: ``nbgrader autograde`` handles one notebook at a time, and ``IsolatedGrades`` graded each one
serially inside it, after nbgrader's own start-up, once per level. Six students times eight
notebooks took 13 times as long as ``grade`` on the same class. Here the kit's batch workers
(``--jobs``, each with its warm pool, as ``grade`` uses) grade the exact bytes of each submitted
notebook once; nbgrader then only records the results.

Why it is safe:

- the pass runs alongside ``nbgrader autograde`` (its start-up, sanitizing and saving overlap the
  grading), in the order nbgrader takes the notebooks; the preprocessor waits for each result;
- the results wait in a fresh folder of this run (mode 0700), named to nbgrader's process in
  ``$KIT_PREGRADED`` and removed afterwards; only runs without a kernel (``--no-execute``, the
  default of ``nbgrader run``) get it, so no student code ever runs in the instructor's account
  while the folder exists;
- an entry is keyed by the SHA-256 of the notebook's bytes and every setting that changes a grade
  (level, seed, device, limits, isolation): ``IsolatedGrades`` computes the key from the bytes it
  reads and its own configuration, and anything else (no entry, another key) is graded as before;
- a report with a grader error (isolation refused included) is never kept: the preprocessor grades
  that notebook itself and says why.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import astuple, dataclass
from pathlib import Path

ENV = "KIT_PREGRADED"


#: IsolatedGrades' defaults (nbgrader_preprocessors.py declares its traits with them).
DEFAULT_DEVICE = "cpu"
DEFAULT_CALL_TIMEOUT = 60.0
DEFAULT_SUBMISSION_TIMEOUT = 600.0
DEFAULT_REQUIRE_ISOLATION = True


@dataclass(frozen=True)
class Settings:
    """What decides a notebook's official grade besides its bytes (IsolatedGrades' configuration)."""

    seed: int
    device: str
    call_timeout: float
    submission_timeout: float
    require_isolation: bool


def key(raw: bytes, level: int, settings: Settings) -> str:
    digest = hashlib.sha256(raw).hexdigest()
    setting = hashlib.sha256(json.dumps([level, *astuple(settings)]).encode()).hexdigest()[:16]
    return f"{digest}-{setting}"


def _limits(settings: Settings):
    from ...sandbox import Limits

    return Limits(
        call_seconds=settings.call_timeout,
        submission_seconds=settings.submission_timeout,
        require_isolation=settings.require_isolation,
    )


def _grade(raw: bytes, level: int, settings: Settings, converge_lane: bool | None = None) -> dict:
    """In a batch worker: the same call as IsolatedGrades makes, on the same bytes (the same
    verdicts with or without a convergence lane: ``machine.core_to_spare``)."""
    from ...sandbox import shared_pool

    report = grade_notebook_bytes(
        raw,
        level,
        settings.seed,
        settings.device,
        _limits(settings),
        pool=shared_pool(),
        converge_lane=converge_lane,
    )
    return report.as_json()


#: written into the folder when the pass has ended (however): a lookup stops waiting
DONE = ".done"


def pregrade(notebooks: list[tuple[bytes, int]], settings: Settings, folder: Path, jobs: int = 2) -> int:
    """Grade ``(bytes, level)`` pairs with ``jobs`` workers into ``folder``, in the order given (the
    order nbgrader takes them in: it runs alongside and waits for each); return how many were kept.
    Each report is written as soon as it is ready; ``DONE`` at the end, whatever happened."""
    from ...core.machine import core_to_spare
    from ...core.report import write_atomic
    from ...instructor.batch import _init_worker

    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    kept = 0
    try:
        unique = {key(raw, level, settings): (raw, level) for raw, level in notebooks}
        if not unique:
            return 0
        ctx = multiprocessing.get_context("spawn")  # workers never inherit the parent's state
        workers = max(1, min(jobs, len(unique)))
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker) as ex:
            lane = core_to_spare(workers)
            futures = {ex.submit(_grade, raw, level, settings, lane): k for k, (raw, level) in unique.items()}
            for future in as_completed(futures):
                try:
                    data = future.result()
                except Exception:  # noqa: BLE001 - not kept: IsolatedGrades grades it and reports the failure
                    continue
                if data.get("errors"):
                    continue
                write_atomic(folder / f"{futures[future]}.json", json.dumps(data))
                kept += 1
        return kept
    finally:
        (folder / DONE).touch()


def lookup(raw: bytes, level: int, settings: Settings, wait: float | None = None):
    """The report graded for exactly these bytes and settings in this run, or None. While the pass
    is still going (no ``DONE``), waits for it (at most ``wait`` seconds: by default the time the
    pass may take for one notebook, its submission budget and a minute)."""
    from ...core.report import Report

    folder = os.environ.get(ENV)
    if not folder:
        return None
    path = Path(folder) / f"{key(raw, level, settings)}.json"
    deadline = time.monotonic() + (settings.submission_timeout + 60 if wait is None else wait)
    while not path.exists() and not (Path(folder) / DONE).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return Report.from_json(data)


def course_settings(course: Path) -> Settings:
    """IsolatedGrades' settings as the course's nbgrader_config.py gives them (its defaults else).
    Read from the configuration itself: this module stays below the preprocessors that import it."""
    from traitlets.config.loader import PyFileConfigLoader

    from ...core.settings import default_seed

    section = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config().IsolatedGrades

    def given(name, default):
        return section[name] if name in section else default

    seed = given("seed", None)
    return Settings(
        seed=default_seed() if seed is None else int(seed),
        device=str(given("device", DEFAULT_DEVICE)),
        call_timeout=float(given("call_timeout", DEFAULT_CALL_TIMEOUT)),
        submission_timeout=float(given("submission_timeout", DEFAULT_SUBMISSION_TIMEOUT)),
        require_isolation=bool(given("require_isolation", DEFAULT_REQUIRE_ISOLATION)),
    )


def settings_of(grades, default_seed) -> Settings:
    return Settings(
        seed=default_seed() if grades.seed is None else int(grades.seed),
        device=str(grades.device),
        call_timeout=float(grades.call_timeout),
        submission_timeout=float(grades.submission_timeout),
        require_isolation=bool(grades.require_isolation),
    )


def grade_notebook_bytes(
    raw: bytes,
    level: int,
    seed: int,
    device: str = "cpu",
    limits=None,
    pool=None,
    refused: str | None = None,
    converge_lane: bool | None = None,
):
    """The kit's official grade of one level's notebook: ``grade()`` on a directory that holds only
    that notebook, under the kit's submission name (what ``python -m autograder grade`` does).
    ``refused``: why the submitted notebook was not read (a link, a pipe): the level scores 0 with it.
    ``converge_lane``: as for ``grade()``."""
    from ...core.curriculum import LEVELS
    from ...core.submission import refused_level
    from ...grading.run import grade

    name = f"{LEVELS[level].module}.ipynb"  # (nbgrader_course.notebook_name)

    with tempfile.TemporaryDirectory(prefix="kit-nbgrader-") as tmp:
        if refused:
            return grade(
                Path(tmp),
                [level],
                seed,
                device,
                limits,
                pool=pool,
                sources={level: refused_level(level, name, refused)},
                converge_lane=converge_lane,
            )
        (Path(tmp) / name).write_bytes(raw)
        return grade(Path(tmp), [level], seed, device, limits, pool=pool, converge_lane=converge_lane)
