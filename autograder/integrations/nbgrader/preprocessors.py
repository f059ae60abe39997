"""The kit's nbgrader preprocessors, named by import path in a course's ``nbgrader_config.py``
(``setup.CONFIG_TEMPLATE``; how they fit in nbgrader's autograde pipeline is said at the top of
``commands.py`` and in docs/nbgrader.md). One class per job:

- ``IsolatedGrades``: grade the submitted notebook with the kit's isolated grader, before any kernel;
- ``SafeExecute``: nbgrader's ``Execute``, surviving a kernel that dies or hangs;
- ``SetOfficialGrades``: write each test cell's official points, just before ``SaveAutoGrades``.

This module imports nbgrader and nbconvert (a second or two), so only nbgrader itself imports it:
``python -m autograder`` never does.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import nbformat
from nbgrader import utils as nbutils
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearSolutions, Execute, NbGraderPreprocessor, OverwriteCells
from traitlets import Bool, Float, Integer, Unicode

from ...core import curriculum
from ...core.settings import default_seed
from ...core.submission import MAX_SOURCE_BYTES, NotRegular, read_regular
from ...learner.selfcheck import AUTOGRADE_KERNEL
from ...sandbox import Limits, probe_isolation, shared_pool
from .notebooks import (
    _KIT_GRADE_ID,
    _OFFICIAL_CALL,
    RESOURCE_KEY,
    IsolatedGraderError,
    level_of_notebook,
    stage_outputs,
)
from .pregrade import DEFAULT_CALL_TIMEOUT, DEFAULT_REQUIRE_ISOLATION, DEFAULT_SUBMISSION_TIMEOUT, grade_notebook_bytes


class KitClearSolutions(ClearSolutions):
    """nbgrader's ``ClearSolutions`` whose stubs are the kit's: a solution cell of ``release/`` reads
    exactly as the same cell of ``assignments/`` (its ``raise NotImplementedError("forward: return
    y_pred = ...")`` says what to write), not nbgrader's bare ``raise NotImplementedError()``."""

    def preprocess(self, nb, resources):
        from ...course.build import build_notebook
        from ...course.hints import switched_off

        level = level_of_notebook(resources.get("nbgrader", {}).get("notebook", ""))
        self._kit_stubs = {}
        # a course without hints (its source's hints.json says so): stubs without "stuck? hint(...)"
        hints = not switched_off(resources.get("metadata", {}).get("path") or ".")
        if level is not None:
            for cell in build_notebook(level, with_solutions=False, hints=hints).cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if cell.cell_type == "code" and grade_id:
                    self._kit_stubs[grade_id] = cell.source
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in getattr(self, "_kit_stubs", {}):
            cell.source = self._kit_stubs[grade_id]
        return cell, resources


class QuietOverwriteCells(OverwriteCells):
    """nbgrader's ``OverwriteCells`` without its expected warning. Every submitted test cell lacks the
    hidden region that ``generate_assignment`` stripped, so nbgrader warns "Attribute 'checksum' for
    cell levelN_<stage> has changed!" once per test cell while it restores the region
    (jupyter/nbgrader#1961): a warning on every cell of every student, that a student did nothing to
    cause. For the kit's own test cells this says it once per notebook, in one line; any other
    change (another cell, another attribute) is reported by nbgrader as before."""

    def preprocess(self, nb, resources):
        self._restored = 0
        nb, resources = super().preprocess(nb, resources)
        if self._restored:
            self.log.info(
                "%d test cell(s) got their hidden checks back from the gradebook (nbgrader's "
                "'checksum has changed' warning, expected for every submission: docs/nbgrader.md)",
                self._restored,
            )
        return nb, resources

    def report_change(self, name, attr, old, new):
        if attr == "checksum" and _KIT_GRADE_ID.match(str(name)):
            self._restored = getattr(self, "_restored", 0) + 1
            return
        super().report_change(name, attr, old, new)


class SafeExecute(Execute):
    """nbgrader's ``Execute`` that never fails a submission: a kernel that dies (``os._exit``), or
    that cannot be interrupted after a timeout, leaves the outputs it produced, and autograding goes
    on to the official grade (which never depended on the kernel)."""

    def preprocess(self, nb, resources=None, km=None):
        # The kernel (started with this process's environment) is told that its test cells' outputs
        # will be replaced by the official grade: its self-checks do nothing (selfcheck.AUTOGRADE_KERNEL).
        before = os.environ.get(AUTOGRADE_KERNEL)
        os.environ[AUTOGRADE_KERNEL] = "1"
        try:
            return super().preprocess(nb, resources, km=km)
        except Exception as exc:  # noqa: BLE001 - DeadKernelError, CellTimeoutError, UnresponsiveKernelError...
            who = resources.get("nbgrader", {}) if isinstance(resources, dict) else {}
            self.log.warning(
                "the kernel failed for %s/%s (%s: %s): its notebook keeps the outputs it got; "
                "the grade comes from the isolated grader",
                who.get("student"),
                who.get("notebook"),
                type(exc).__name__,
                str(exc)[:200],
            )
            return nb, resources
        finally:
            if before is None:
                os.environ.pop(AUTOGRADE_KERNEL, None)
            else:
                os.environ[AUTOGRADE_KERNEL] = before


class IsolatedGrades(NbGraderPreprocessor):
    """Grades the submitted notebook with the kit's isolated grader, *before* the kernel runs.

    Place it first in ``Autograde.autograde_preprocessors`` (before ``SafeExecute``): the bytes it
    grades are read before any of this notebook's code has run in a kernel, which runs as the
    instructor and could otherwise rewrite its own submission (copy someone else's, say) before it
    was read. The report waits in ``resources``; ``SetOfficialGrades`` writes it into the test
    cells after execution.
    """

    seed = Integer(None, allow_none=True, help="the grading seed (default: the kit's default seed)").tag(config=True)
    device = Unicode("cpu", help="where the checks run: cpu, cuda, auto, all").tag(config=True)
    call_timeout = Float(DEFAULT_CALL_TIMEOUT, help="seconds one call of student code may take").tag(config=True)
    submission_timeout = Float(DEFAULT_SUBMISSION_TIMEOUT, help="seconds a level may take").tag(config=True)
    require_isolation = Bool(
        DEFAULT_REQUIRE_ISOLATION,
        help="official grading: grade nothing where the student's process cannot be fully confined "
        "(hidden by allow-list, a user of its own, no network, rlimits: root on Linux); "
        "False grades with what this machine allows, and each report's sandbox section says what held",
    ).tag(config=True)
    _refusal: str | None = None  # (probed once per run, before the first notebook's code runs)
    _probed = False

    def _submitted_notebook(self, resources) -> Path | None:
        info = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        folder = coursedir.format_path(coursedir.submitted_directory, info["student"], info["assignment"])
        path = Path(folder) / f"{info['notebook']}.ipynb"
        return path if os.path.lexists(path) else None

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        level = level_of_notebook(info.get("notebook", ""))
        if level is None:
            self.log.warning("%s is not a kit notebook: its grades are nbgrader's own", info.get("notebook"))
            return nb, resources
        path = self._submitted_notebook(resources)
        refused = None
        if path is not None:
            try:  # never a link's target (another student's notebook, source/), never a blocking pipe
                raw = read_regular(path, MAX_SOURCE_BYTES)
            except NotRegular as exc:
                raw, refused = b"", str(exc)
        else:  # not laid out as nbgrader's submitted/ folder: grade the sanitized copy (nothing ran yet)
            self.log.warning(
                "no submitted notebook for %s/%s: grading the sanitized copy", info.get("student"), info.get("notebook")
            )
            raw = nbformat.writes(nb).encode("utf-8")
        from . import pregrade as nbgrader_pregrade

        # `nbgrader run` graded these exact bytes with these settings already, in parallel (one
        # grading pass): take that report; anything else is graded here, as before
        pregraded = (
            None if refused else nbgrader_pregrade.lookup(raw, level, nbgrader_pregrade.settings_of(self, default_seed))
        )
        seed = default_seed() if self.seed is None else int(self.seed)
        limits = Limits(
            call_seconds=float(self.call_timeout),
            submission_seconds=float(self.submission_timeout),
            require_isolation=bool(self.require_isolation),
        )
        if pregraded is None and self.require_isolation and not self._probed:
            self._refusal, self._probed = probe_isolation(shared_pool(), limits), True
        if pregraded is None and self._refusal:
            raise IsolatedGraderError(
                f"not graded: {self._refusal}; or set c.IsolatedGrades.require_isolation = False in "
                "nbgrader_config.py to grade with what this machine allows"
            )
        report = pregraded or grade_notebook_bytes(
            raw, level, seed, self.device, limits, pool=shared_pool(), refused=refused
        )
        if report.errors:
            raise IsolatedGraderError(
                f"the kit's grader failed on {info.get('student')}/{info.get('notebook')}: "
                + "; ".join(e.splitlines()[0] for e in report.errors[:3])
            )
        resources[RESOURCE_KEY] = {"level": level, "report": report}
        self.log.info(
            "official grade of %s/%s: %g / %g%s",
            info.get("student"),
            info.get("notebook"),
            report.score,
            report.max_score,
            " (graded in nbgrader run's parallel pass)" if pregraded is not None else "",
        )
        return nb, resources


class SetOfficialGrades(NbGraderPreprocessor):
    """After execution, replaces every kit test cell's outputs by its stage's official result (a
    table, then the points as a float), which ``SaveAutoGrades`` then records.

    Place it after ``LimitOutput`` and before ``SaveAutoGrades``; it needs ``IsolatedGrades``
    earlier in the same list, and fails the submission (never guesses a grade) without it.
    """

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        if level_of_notebook(info.get("notebook", "")) is None:
            return nb, resources
        official = resources.get(RESOURCE_KEY)
        if official is None:
            raise IsolatedGraderError(
                "no official grade: put IsolatedGrades before SafeExecute in "
                "Autograde.autograde_preprocessors (see nbgrader_config.py)"
            )
        level, report = official["level"], official["report"]
        done = set()
        for cell in nb.cells:
            if cell.cell_type != "code" or not nbutils.is_grade(cell) or nbutils.is_solution(cell):
                continue
            stage = self._stage_of(cell, level)
            if stage is None:
                self.log.warning(
                    "test cell %s is not one of the kit's: its grade is nbgrader's own",
                    cell.metadata.nbgrader.get("grade_id"),
                )
                continue
            cell.outputs, _ = stage_outputs(report, level, stage, float(cell.metadata.nbgrader["points"]))
            done.add(stage)
        missing = [s for s in curriculum.stages_of(level) if s not in done]
        if missing:
            self.log.warning(
                "%s/%s has no test cell for stage(s) %s: their points are not recorded",
                info.get("student"),
                info.get("notebook"),
                ", ".join(missing),
            )
        nb.metadata["autograder"] = {
            "official": {
                "seed": report.seed,
                "score": report.score,
                "max_score": report.max_score,
                "submission_sha256": report.submission_hash,
                "graded_at": _dt.datetime.now(_dt.UTC).isoformat(),
            }
        }
        return nb, resources

    @staticmethod
    def _stage_of(cell, level: int) -> str | None:
        """The stage a test cell grades: named by its hidden region (restored from the gradebook,
        so the student cannot change it), else by its grade id ``levelN_<stage>``."""
        match = _OFFICIAL_CALL.search(cell.source)
        if match and int(match.group(1)) == level and match.group(2) in curriculum.STAGES:
            return match.group(2)
        match = _KIT_GRADE_ID.match(cell.metadata.nbgrader.get("grade_id", ""))
        if match and int(match.group(1)) == level and match.group(2) in curriculum.stages_of(level):
            return match.group(2)
        return None


__all__ = ["IsolatedGrades", "SafeExecute", "SetOfficialGrades"]
