"""Grading a whole class: many submissions, in parallel, resumable, one report per student.

``grade_class`` hands each student's directory to a pool of worker processes; each worker keeps
one sandbox zygote and grades one student at a time (every level in fresh sandboxed children, so
one student's code never touches another's result). As each student finishes, their JSON report
is written atomically to ``OUT/reports/<student>.json``; a rerun skips students whose report
matches the same files, seed and levels (unless ``force``). At the end come the class CSV
(``OUT/grades.csv``) and a summary of what the class struggles with (``OUT/summary.json`` and
``OUT/summary.md``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing
import os
import re
import statistics
import time
import traceback
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import neutralise
from ..core.curriculum import LEVELS, checks_for
from ..core.machine import core_to_spare
from ..core.report import CheckResult, Report, write_atomic
from ..core.submission import read_submission, submission_hash
from ..sandbox import Limits, shared_pool
from . import class_outputs


@dataclass
class Student:
    """One student: ``name`` keys their row, report and page (unique, safe as a file name, derived
    from the directory alone); ``directory`` is the directory's own name, kept for the CSV."""

    name: str
    path: Path
    directory: str = ""


def is_submission(directory: Path) -> bool:
    """Level files at the top of ``directory`` (a student's folder, not a folder of students)."""
    return any((directory / f"{lv.module}{ext}").is_file() for lv in LEVELS.values() for ext in (".py", ".ipynb"))


def student_entries(directory: Path) -> list[Path]:
    """The students of a class folder: each visible folder, and each ``.zip`` (a student's download)."""
    return sorted(
        p
        for p in directory.iterdir()
        if not p.name.startswith(".")
        and p.name != "__MACOSX"
        and not p.is_symlink()  # a link to a classmate's folder would copy their grade
        and (p.is_dir() or (p.is_file() and p.suffix.lower() == ".zip"))
    )


def safe_name(name: str) -> str:
    """A file name for a student's report: odd characters replaced, never empty, never hidden,
    never starting with a dash (an option to a shell command, a formula to a spreadsheet)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-") or "student"
    return cleaned[:100]


def _tag(path: Path) -> str:
    """A short tag that depends on the directory's path only (never on the order of anything)."""
    return hashlib.sha256(os.path.abspath(path).encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _label(d: Path) -> str:
    """A student's name on disk: the folder's, or a zip's without ``.zip``."""
    return d.stem if d.suffix.lower() == ".zip" and d.is_file() else d.name


def student_names(dirs: list[Path]) -> list[Student]:
    """Each directory's unique key. A directory whose name is already safe, and is the only one to
    claim it (letter case aside: macOS and Windows fold it), keeps it; any other gets its safe name
    plus a tag of its own path. So ``_alice`` can never take ``alice``'s row, and the keys do not
    depend on the order directories are listed or finished in."""
    claims: dict[str, list[Path]] = {}
    for d in dirs:
        claims.setdefault(safe_name(_label(d)).casefold(), []).append(d)
    students: list[Student] = []
    for d in dirs:
        base = safe_name(_label(d))
        exact = [o for o in claims[base.casefold()] if _label(o).casefold() == base.casefold()]
        keep = _label(d) == base and len(exact) == 1
        students.append(Student(base if keep else f"{base}-{_tag(d)}", d, d.name))
    taken = Counter(s.name.casefold() for s in students)
    if any(n > 1 for n in taken.values()):  # only two equal paths can collide: refuse the repeat
        seen: set[str] = set()
        unique: list[Student] = []
        for s in students:
            if s.name.casefold() not in seen:
                seen.add(s.name.casefold())
                unique.append(s)
        students = unique
    return students


def find_students(paths: list[Path]) -> list[Student]:
    """A directory of student directories, or several submission directories. Links among the
    student directories are skipped (a link to a classmate's directory would copy their grade)."""
    if len(paths) == 1 and paths[0].is_dir() and not is_submission(paths[0]):
        dirs = student_entries(paths[0])
    else:
        dirs = list(paths)
    return student_names(dirs)


# ----------------------------------------------------------------------- the workers
def _init_worker() -> None:
    from ..core.long_lived import import_long_lived

    import_long_lived()
    import torch

    torch.set_num_threads(1)
    shared_pool()  # started now: its zygote imports torch while this worker does


def _grade_one(
    path: str,
    levels: list[int],
    seed: int,
    device: str,
    limits: Limits,
    curves: bool = False,
    converge_lane: bool | None = None,
) -> dict:
    from ..grading.run import grade

    try:
        return grade(
            Path(path), levels, seed, device, limits, pool=shared_pool(), curves=curves, converge_lane=converge_lane
        ).as_json()
    except Exception as exc:  # noqa: BLE001 - a grader failure: an error for this student, never a score
        return error_report(
            path, levels, seed, f"the grader failed: {type(exc).__name__}: {exc}", traceback.format_exc()[-1500:]
        ).as_json()


def error_report(path, levels, seed, reason: str, detail: str = "") -> Report:
    report = Report(seed=seed, levels=list(levels), submission=str(path))
    for lv in levels:
        for spec in checks_for(lv):
            report.checks.append(
                CheckResult(
                    spec.id, lv, spec.stage, spec.name, 0.0, spec.points, False, f"grader error: {reason}", error=True
                )
            )
    report.errors = [reason + (f"\n{detail}" if detail else "")]
    return report


# ----------------------------------------------------------------------- the class
def _up_to_date(report_path: Path, student: Student, levels, seed) -> bool:
    try:
        data = json.loads(report_path.read_text())
    except (OSError, ValueError):
        return False
    if data.get("errors") or data.get("seed") != seed:
        return False
    if sorted(int(k) for k in data.get("levels", {})) != sorted(levels):
        return False
    return data.get("submission_sha256") == submission_hash(read_submission(student.path, levels))


def students_to_grade(
    paths: list[Path], out: Path, levels: list[int], seed: int, force: bool = False
) -> tuple[list[Student], list[Student]]:
    """Every student found, and those still to grade (all of them with ``force``; otherwise those
    without an up-to-date report in OUT/reports: the resume)."""
    students = find_students(paths)
    reports_dir = out / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    todo = [s for s in students if force or not _up_to_date(reports_dir / f"{s.name}.json", s, levels, seed)]
    return students, todo


def save_report(out: Path, student: Student, data: dict, html: bool = False) -> None:
    """One student's report, written atomically (and their feedback page with ``html``)."""
    data["student"] = student.name
    data["directory"] = student.directory
    write_atomic(out / "reports" / f"{student.name}.json", neutralise.json_dumps(data, indent=2))
    if html:
        from ..render.html import feedback_page

        write_atomic(
            out / "feedback" / f"{student.name}.html",
            feedback_page(Report.from_json(data), f"Feedback for {student.name}"),
        )


def finish_class(
    students: list[Student],
    out: Path,
    levels: list[int],
    started: float,
    html: bool = False,
    similarity=None,
    lms=None,
    *,
    seed: int | None = None,
    graded_now: int | None = None,
) -> dict:
    """The class files from the reports on disk: grades.csv, the similarity report and LMS exports
    (when asked), summary.json/.md (and summary.html). ``seed`` goes in grades.csv and the summary
    (the instructor's files); ``graded_now``: how many students this run graded (0: nothing changed)."""
    summary = summarize(students, out / "reports", levels, seed)
    late = late_of(students)
    for row in summary["students"]:
        row["late"] = late.get(row["student"], "")
    summary["seconds"] = round(time.monotonic() - started, 2)
    if graded_now is not None:
        summary["graded_now"] = graded_now
    write_atomic(out / "grades.csv", class_csv(summary["students"], levels, seed))
    _after_grading(out, students, levels, summary, similarity, lms)
    # every derived file rewritten or removed: no page may contradict grades.csv (class_outputs.py)
    names = [s.name for s in students]
    if html:
        summary["pages_written"] = len(class_outputs.write_missing_pages(out, names))
    rewritten = {key for key, on in (("html", html), ("similarity", similarity), ("lms", lms)) if on}
    removed = class_outputs.remove_stale(
        out, names, rewritten - ({"similarity"} if "after_grading_error" in summary else set())
    )
    summary["stale_removed"] = [p.relative_to(out).as_posix() for p in removed]
    write_atomic(out / "summary.json", neutralise.json_dumps(summary, indent=2))
    write_atomic(out / "summary.md", summary_markdown(summary))
    if html:
        from ..render.html import class_page

        diagnoses = {tuple(map(lambda v: v, k.split("|", 1))): n for k, n in summary["diagnoses"].items()}
        write_atomic(out / "summary.html", class_page(summary, {(int(a), b): n for (a, b), n in diagnoses.items()}))
    return summary


def late_of(students: list[Student]) -> dict[str, str]:
    """``{student: late}`` from the collection report of each class folder (``collect`` writes it:
    ``yes`` where the LMS marked a file late); empty where there is none."""
    from .lms_collect import late_students

    reports: dict[Path, dict[str, str]] = {}
    late = {}
    for s in students:
        parent = s.path.parent
        if parent not in reports:
            reports[parent] = late_students(parent)
        late[s.name] = reports[parent].get(_label(s.path), "")
    return late


def grade_class(
    paths: list[Path],
    out: Path,
    levels: list[int],
    seed: int,
    device: str = "cpu",
    jobs: int = 2,
    force: bool = False,
    limits: Limits | None = None,
    progress: bool = True,
    html: bool = False,
    similarity=None,
    lms=None,
) -> dict:
    """``similarity``: a ``similarity.Options`` to write OUT/similarity.{csv,html} after grading;
    ``lms``: an ``lms.ExportOptions`` (a roster) to write OUT/canvas.csv and OUT/moodle.csv."""
    limits = limits or Limits()
    students, todo = students_to_grade(paths, out, levels, seed, force)
    graded_now = len(todo)
    started = time.monotonic()
    bar = Progress(len(students), len(students) - len(todo), enabled=progress)
    attempts: Counter = Counter()
    ctx = multiprocessing.get_context("spawn")  # workers never inherit the parent's state
    while todo:
        workers = max(1, min(jobs, len(todo)))
        lane = core_to_spare(workers)  # (as many workers as cores: one child per level, docs/speed.md)
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker)
        futures = {pool.submit(_grade_one, str(s.path), levels, seed, device, limits, html, lane): s for s in todo}
        todo = []
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    student = futures[f]
                    try:
                        data = f.result()
                    except BrokenProcessPool:
                        attempts[student.name] += 1
                        if attempts[student.name] < 2:
                            todo.append(student)
                            continue
                        data = error_report(student.path, levels, seed, "the grading worker died twice").as_json()
                    save_report(out, student, data, html)
                    bar.advance(student.name, data.get("score", 0.0))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    bar.close()
    return finish_class(students, out, levels, started, html, similarity, lms, seed=seed, graded_now=graded_now)


def _after_grading(out: Path, students: list[Student], levels: list[int], summary: dict, similarity, lms) -> None:
    """The similarity report and the LMS exports. Their failure is the grader's, recorded in the
    summary: it never costs the grades, which are written before."""
    try:
        if similarity is not None:
            from .similarity import write_report

            summary["similarity"] = write_report([(s.name, s.path) for s in students], out, levels, similarity)
        if lms is not None:
            from .lms import grades_from_class, write_exports

            summary["lms"] = write_exports(
                out, lms.roster, grades_from_class(out, students, levels), levels, lms.columns, lms.missing
            )
    except Exception as exc:  # noqa: BLE001 - reported, and the grades stand
        summary["after_grading_error"] = f"{type(exc).__name__}: {exc}"


def not_implemented(check: CheckResult) -> bool:
    """A check that met the stub's ``raise NotImplementedError``: not attempted, not failed."""
    return not check.passed and check.message.startswith("not implemented")


def summarize(students: list[Student], reports_dir: Path, levels: list[int], seed: int | None = None) -> dict:
    """The class's figures, over attempted work: a check counts for a student who handed in the
    level's file and wrote the code it checks; missing files and untouched stubs are counted apart
    (per level), never as failures of the checks."""
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    failing: Counter[tuple[str, str, int]] = Counter()
    attempted: Counter[str] = Counter()
    diagnosed: Counter[str] = Counter()
    per_level = {lv: {"handed_in": 0, "missing": 0, "stub_only": 0, "attempted": 0, "full_marks": 0} for lv in levels}
    for s in students:
        try:
            data = json.loads((reports_dir / f"{s.name}.json").read_text())
        except (OSError, ValueError):
            data = error_report(s.path, levels, 0, "no report was written").as_json()
        report = Report.from_json(data)
        row = {
            "student": s.name,
            "directory": s.directory,
            "total": report.score,
            "max": report.max_score,
            "errors": len(report.errors),
        }
        for lv in levels:
            row[f"level{lv}"] = report.level_score(lv)[0]
        rows.append(row)
        if report.errors:
            errors.append(s.name)
            continue
        for lv in levels:
            checks = [c for c in report.checks if c.level == lv]
            stats = per_level[lv]
            if lv in report.level_notes:
                stats["missing"] += 1
                continue
            stats["handed_in"] += 1
            if checks and all(not_implemented(c) for c in checks):
                stats["stub_only"] += 1
                continue
            stats["attempted"] += 1
            got, out_of = report.level_score(lv)
            stats["full_marks"] += int(out_of > 0 and got >= out_of)
            for c in checks:
                if c.error or not_implemented(c):
                    continue
                attempted[c.id] += 1
                if not c.passed:
                    failing[(c.id, c.name, c.level)] += 1
        for lv, mistake in {(c.level, c.diagnosis) for c in report.checks if c.diagnosis}:
            diagnosed[f"{lv}|{mistake}"] += 1
    totals = [r["total"] for r in rows if not r["errors"]]
    n = len(rows)
    bins = Counter(min(int(t // 10) * 10, 90) for t in totals)
    return {
        "n_students": n,
        "levels": levels,
        **({"seed": seed} if seed is not None else {}),
        "mean": round(statistics.fmean(totals), 2) if totals else None,
        "median": round(statistics.median(totals), 2) if totals else None,
        "distribution": {f"{b}-{b + 10 if b < 90 else 100}": bins.get(b, 0) for b in range(0, 100, 10)},
        "per_level": {str(lv): v for lv, v in per_level.items()},
        "most_failed": [
            {
                "check": cid,
                "name": name,
                "level": lv,
                "students": k,
                "attempted": attempted[cid],
                "share": round(k / attempted[cid], 3),
            }
            for (cid, name, lv), k in sorted(failing.items(), key=lambda kv: (-kv[1] / attempted[kv[0][0]], kv[0]))[:15]
        ],
        "grader_errors": errors,
        "diagnoses": dict(diagnosed.most_common()),  # "level|mistake" -> students
        "students": rows,
    }


def class_csv(rows: list[dict], levels: list[int], seed: int | None = None) -> str:
    """One row per student; ``late`` as the LMS marked it (``collect``'s report); the seed (the
    instructor's secret) in its own column, so a CSV says how its grades were made."""
    buf = io.StringIO()
    fields = ["student", "directory", *(f"level{lv}" for lv in levels), "total", "max", "errors", "late", "seed"]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:  # every cell through the CSV neutraliser: no cell starts a formula
        w.writerow(neutralise.csv_row({**{k: r.get(k) for k in fields}, "seed": seed}))
    return buf.getvalue()


def summary_markdown(summary: dict) -> str:
    """summary.md: the same content as summary.json and summary.html (figures, levels, checks, diagnoses)."""
    lines = [
        f"# Class summary ({summary['n_students']} students)",
        "",
        f"Mean {summary['mean']}, median {summary['median']} (out of the levels graded)"
        + (f"; seed {summary['seed']}." if "seed" in summary else "."),
        "",
        "## Score distribution",
        "",
        "| score | students |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in summary["distribution"].items()]
    md = neutralise.markdown
    lines += [
        "",
        "## Who handed in what, per level",
        "",
        "| level | attempted | full marks | stub only | missing |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {lv} | {v['attempted']} | {v['full_marks']} | {v['stub_only']} | {v['missing']} |"
        for lv, v in summary.get("per_level", {}).items()
    ]
    lines += [
        "",
        "## What the class struggles with (checks failed most often, among those who attempted them)",
        "",
        "| check | what it checks | failed | attempted | share |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {md(m['check'])} | {md(m['name'])} | {m['students']} | {m.get('attempted', '')} | {m['share']:.0%} |"
        for m in summary["most_failed"]
    ]
    lines += ["", "## Diagnosed mistakes, by level", "", "| level | mistake | students |", "|---|---|---|"]
    lines += [
        f"| {k.split('|', 1)[0]} | {md(k.split('|', 1)[1].replace('_', ' '))} | {v} |"
        for k, v in summary.get("diagnoses", {}).items()
    ] or ["| — | none diagnosed | 0 |"]
    if summary["grader_errors"]:
        lines += ["", f"Grader errors (regrade these): {', '.join(md(n) for n in summary['grader_errors'])}"]
    return "\n".join(lines) + "\n"


class Progress:
    """A rich progress bar with ETA on stderr (silent when disabled)."""

    def __init__(self, total: int, already: int, enabled: bool):
        self.progress = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("grading"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[last]}"),
            console=Console(stderr=True),
        )
        self.progress.start()
        self.task = self.progress.add_task(
            "grading", total=total, completed=already, last=f"({already} already graded)" if already else ""
        )

    def advance(self, name: str, score: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=1, last=f"{name}: {score:g}")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
