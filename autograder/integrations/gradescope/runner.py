"""The run inside Gradescope: grade ``/autograder/submission`` level by level on one shared zygote
and write ``/autograder/results/results.json``, with a watchdog near Gradescope's timeout and a zero
with a reason should the grader crash (``run``).
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from ...core.submission import read_submission
from ...sandbox import Limits, close_shared_pool, probe_isolation, shared_pool
from .results import ResultsWriter, not_graded, results_json
from .staging import stage_submission

# ============================================================================ run


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
    from ...core.long_lived import import_long_lived

    import_long_lived()
    from ...grading import grade  # (the entry point, read when run: what a test puts there is used)

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
