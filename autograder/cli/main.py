"""Command line: ``check`` (students), ``grade`` (instructors, JSON), ``build`` (maintainers)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from ..core import trace
from ..core.curriculum import LEVELS
from ..core.long_lived import import_long_lived
from ..core.settings import DEFAULT_SEED, default_seed, parse_levels, repo_root
from ..learner import history
from ..sandbox import start_method


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=None, help=f"the run's seed (default {DEFAULT_SEED} or $KIT_SEED)")
    p.add_argument(
        "--device",
        choices=["cpu", "cuda", "auto", "all"],
        default=None,
        help="where the checks run (default cpu; auto: cuda when present; all: every device, cuda skipped without one)",
    )
    p.add_argument(
        "--call-timeout",
        type=float,
        default=None,
        help=f"seconds one call of student code may take (default {DEFAULTS['call_timeout']:g})",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help=f"seconds one student's whole submission may take, every level together (wall clock; "
        f"default {DEFAULTS['timeout']:g})",
    )


#: the defaults of the options a class remembers (autograder/instructor/course_file.py)
DEFAULTS = {"device": "cpu", "call_timeout": 60.0, "timeout": 600.0}


def _limits(args):
    from ..sandbox import Limits

    return Limits(
        call_seconds=args.call_timeout if args.call_timeout is not None else DEFAULTS["call_timeout"],
        submission_seconds=args.timeout if args.timeout is not None else DEFAULTS["timeout"],
        require_isolation=bool(getattr(args, "require_isolation", False)),
    )


def _seed(args) -> int:
    return args.seed if args.seed is not None else default_seed()


def _device(args) -> str:
    return str(args.device or DEFAULTS["device"])


def _device_here(device: str) -> bool:
    """Whether ``--device`` can be honoured here. ``cuda`` without a CUDA device is refused, with the
    reason (exit status 2, nothing graded); ``auto`` grades on the CPU there, and says so."""
    if device not in ("cuda", "auto"):
        return True
    from ..grading.context import cuda_available

    if cuda_available():
        return True
    if device == "cuda":
        print(
            "autograder: --device cuda, but torch sees no CUDA device on this machine "
            "(torch.cuda.is_available() is False): nothing was graded. Use --device cpu, or --device auto "
            "(cuda where there is one, else the CPU).",
            file=sys.stderr,
        )
        return False
    print("autograder: no CUDA device here: --device auto grades on the CPU", file=sys.stderr)
    return True


def _grade_one(directory: Path, levels: list[int], args, pool=None):
    """Grade one submission, with children from ``pool`` (a running ChildPool), or from a
    pool of its own: then the sandbox's interpreter starts first, so it imports torch while this
    process does the same (two cores, both busy)."""
    from ..sandbox import start_pool

    own = pool is None
    pool = start_pool(levels=levels) if own else pool
    try:
        import_long_lived()
        from ..grading.run import grade

        return grade(directory, levels, _seed(args), _device(args), _limits(args), curves=bool(args.html), pool=pool)
    finally:
        if own:
            pool.close()


def cmd_check(args) -> int:
    levels = parse_levels(args.levels)
    directory = Path(args.dir)
    if not directory.is_dir():
        print(f"autograder: {directory} is not a directory", file=sys.stderr)
        return 2
    if not _device_here(_device(args)):
        return 2
    if args.watch:
        from ..learner.watch import watch

        return watch(directory, levels, lambda pool: _check_once(directory, levels, args, pool))
    return _check_once(directory, levels, args)


def _check_once(directory: Path, levels: list[int], args, pool=None) -> int:
    report = _grade_one(directory, levels, args, pool)
    from rich.console import Console

    from ..render.terminal import render

    render(report, Console(), verbose=args.verbose)
    trace.mark("check: table printed")
    for note in _notebook_notes(directory, levels):
        print(note, file=sys.stderr)
    from ..learner.hints import record_check

    record_check(report, directory)  # the self-study record: hints and progress read it
    failing = sorted({c.level for c in report.checks if not c.passed and not c.error})
    if failing:
        print(
            f"Stuck? python -m autograder hint {failing[0]} gives a hint for its first failing stage.", file=sys.stderr
        )
    _write_html(report, args.html, "Self-check")
    return 0 if not report.errors else 3


def _notebook_notes(directory: Path, levels: list[int]) -> list[str]:
    """Warn a student who edits a notebook while the .py next to it is what gets graded."""
    notes = []
    for lv in levels:
        py, nb = directory / f"{LEVELS[lv].module}.py", directory / f"{LEVELS[lv].module}.ipynb"
        if py.is_file() and nb.is_file() and nb.stat().st_mtime > py.stat().st_mtime + 1:
            notes.append(
                f"note: {nb.name} is newer than {py.name}, but the .py is what gets graded when both exist. "
                f"Working in the notebook? Its graded cells self-check it; to grade it here, remove or "
                f"rename {py.name}."
            )
    return notes


def _write_html(report, directory, title) -> None:
    if not directory:
        return
    from ..core.report import write_atomic
    from ..render.html import feedback_page

    path = Path(directory) / "feedback.html"
    write_atomic(path, feedback_page(report, title))
    print(f"feedback page: {path}", file=sys.stderr)


def cmd_grade(args) -> int:
    levels = parse_levels(args.level)
    paths = [Path(p) for p in args.dir]
    missing = [p for p in paths if not (p.is_dir() or (p.is_file() and p.suffix.lower() == ".zip"))]
    if missing:
        print(f"autograder: {missing[0]} is not a directory (nor a .zip)", file=sys.stderr)
        return 2
    if len(paths) > 1 or args.out or args.roster or args.scheduler or is_class(paths[0]):
        return cmd_grade_class(args, paths, levels)
    directory = paths[0]
    from ..sandbox import start_pool

    pool = start_pool(levels=levels)  # (first: its interpreter imports torch while this one decides)
    try:
        if not _device_here(_device(args)) or _refused_here(args, pool):
            return 2
        report = _grade_one(directory, levels, args, pool)
    finally:
        pool.close()
    _write_html(report, args.html, f"Feedback for {directory.resolve().name}")
    if args.format == "json":
        sys.stdout.write(report.to_json() + "\n")
    else:
        from rich.console import Console

        from ..render.terminal import render

        render(report, Console())
    if report.errors:
        print(f"autograder: {len(report.errors)} grader error(s); see 'errors' in the report", file=sys.stderr)
        return 3
    return 0


def _refused_here(args, pool=None) -> bool:
    """Official grading (--require-isolation) on a machine that cannot confine the student's process:
    said, before any student code runs (one probe child that runs nothing), and nothing is graded."""
    if not getattr(args, "require_isolation", False):
        return False
    from ..sandbox import probe_isolation, start_pool

    own = pool is None
    pool = start_pool() if own else pool
    try:
        refusal = probe_isolation(pool, _limits(args))
    finally:
        if own:
            pool.close()
    if refusal:
        print(f"autograder: refused, nothing was graded: {refusal}", file=sys.stderr)
    return bool(refusal)


def is_class(path: Path) -> bool:
    """A folder of students rather than one submission: no level file at its top, and more than one
    of its folders (or zips) holds level files. One folder alone is one student's work in a subfolder
    (the layout of a Gradescope download), graded as one submission, as Gradescope does."""
    from ..core.submission import has_level_files
    from ..instructor.batch import is_submission, student_entries

    if not path.is_dir() or is_submission(path):
        return False
    holding = [p for p in student_entries(path) if has_level_files(p)]
    if len(holding) == 1:
        print(
            f"autograder: grading {path} as one submission (its files are under {holding[0].name}); "
            "for a class, give --out",
            file=sys.stderr,
        )
    return len(holding) > 1


def cmd_grade_class(args, paths, levels) -> int:
    import os

    from ..core import neutralise
    from ..instructor import course_file, lms, similarity

    out = Path(args.out or "grades")
    try:
        export = lms.options_from(args)  # a bad roster stops before grading, not after
    except lms.RosterError as exc:
        print(f"autograder: {exc}", file=sys.stderr)
        return 2
    given = {
        "seed": args.seed
        if args.seed is not None
        else (int(os.environ["KIT_SEED"]) if os.environ.get("KIT_SEED") else None),
        "levels": levels if args.level else None,
        "device": args.device,
        "call_timeout": args.call_timeout,
        "timeout": args.timeout,
        "html": True if args.html else None,  # remembered: a rerun rewrites the pages (class_outputs.py)
    }
    try:
        settings, notes = course_file.settle(
            out, given, {"seed": default_seed(), "levels": levels, **DEFAULTS, "html": False}, force=args.force
        )
    except course_file.SeedChanged as exc:
        print(f"autograder: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"autograder: {note}", file=sys.stderr)
    args.call_timeout, args.timeout, args.device = settings["call_timeout"], settings["timeout"], settings["device"]
    levels, seed = list(settings["levels"]), int(settings["seed"])
    if not _device_here(str(settings["device"])):
        return 2
    args.html = args.html or ("html" if settings.get("html") else None)
    similar = None if args.no_similarity else similarity.options_from(args)
    if args.scheduler:
        from ..instructor.cluster import grade_on_cluster_cli

        summary = grade_on_cluster_cli(args, paths, out, levels, seed, _limits(args), similarity=similar, lms=export)
        if isinstance(summary, int):
            return summary
    else:
        if _refused_here(args):
            return 2
        from ..instructor.batch import grade_class

        summary = grade_class(
            paths,
            out,
            levels,
            seed,
            settings["device"],
            jobs=args.jobs,
            force=args.force,
            limits=_limits(args),
            progress=sys.stderr.isatty(),
            html=bool(args.html),
            similarity=similar,
            lms=export,
        )
    if args.format == "json":
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        if summary.get("graded_now", summary["n_students"]) == 0:
            print(
                f"Nothing changed since the last run: {summary['n_students']} students' reports are up to date "
                f"(same files, seed and levels; --force regrades). Mean {summary['mean']}, median "
                f"{summary['median']}. Class CSV {out}/grades.csv, summary {out}/summary.md"
            )
        else:
            print(
                f"{summary['graded_now']} of {summary['n_students']} students graded in {summary['seconds']} s "
                f"(the others were up to date); mean {summary['mean']}, median {summary['median']}. Reports in "
                f"{out}/reports/, class CSV {out}/grades.csv, summary {out}/summary.md"
                if summary.get("graded_now", summary["n_students"]) < summary["n_students"]
                else f"{summary['n_students']} students graded in {summary['seconds']} s; mean {summary['mean']}, "
                f"median {summary['median']}. Reports in {out}/reports/, class CSV {out}/grades.csv, "
                f"summary {out}/summary.md"
            )
        for m in summary["most_failed"][:5]:
            print(f"  {m['share']:4.0%} of those who attempted level {m['level']} failed {m['check']}: {m['name']}")
        if "similarity" in summary:
            print(similarity.describe(summary["similarity"], out))
        for line in lms.describe(summary["lms"], out) if "lms" in summary else []:
            print(line)
    if summary.get("stale_removed"):  # (file names derived from student folders: neutralised)
        print(
            neutralise.terminal(
                f"autograder: removed {len(summary['stale_removed'])} output(s) older than the grades they "
                f"show, which this run did not rewrite: {', '.join(summary['stale_removed'][:10])}"
                + (" …" if len(summary["stale_removed"]) > 10 else "")
                + " (--html, a similarity pass or `lms OUT --roster` writes them again)"
            ),
            file=sys.stderr,
        )
    if "after_grading_error" in summary:
        print(
            f"autograder: the similarity report or LMS exports failed: {summary['after_grading_error']}",
            file=sys.stderr,
        )
        return 3
    if summary["grader_errors"]:
        print(f"autograder: grader errors for {', '.join(summary['grader_errors'])}", file=sys.stderr)
        return 3
    return 0


def register(subparsers, command: str | None = None) -> None:
    """This module's own commands: ``check`` and ``grade``. ``command``: the one that runs, where
    known (the class mode's options of ``grade`` are added only for ``grade``, or where unknown)."""
    p = subparsers.add_parser("check", help="self-check your work: a table per level and stage, and what to fix first")
    p.add_argument("levels", nargs="*", type=int, help="levels to check (default: all)")
    p.add_argument("--dir", default=str(repo_root() / "assignments"), help="your work (default: assignments/)")
    p.add_argument("-v", "--verbose", action="store_true", help="show every message")
    p.add_argument(
        "--html",
        metavar="DIR",
        default=None,
        help="also write an HTML feedback page (with loss curves) to DIR/feedback.html",
    )
    p.add_argument(
        "-w",
        "--watch",
        action="store_true",
        help="check again each time a level's file is saved "
        "(the grader stays warm: torch is imported once); Ctrl-C stops",
    )
    _common(p)
    p.set_defaults(func=cmd_check)

    p = subparsers.add_parser("grade", help="grade a submission directory, or a class of them")
    p.add_argument("dir", nargs="+", help="a submission directory, a directory of student directories, or several")
    p.add_argument(
        "--out", default=None, help="class mode: where reports, grades.csv and the summary go (default: grades/)"
    )
    p.add_argument("--jobs", type=int, default=2, help="class mode: students graded in parallel")
    p.add_argument("--force", action="store_true", help="class mode: regrade students already graded")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="class mode on a Dask cluster: a scheduler address (tcp://host:8786), or local:N for N "
        "worker processes here (needs the 'cluster' extra; see docs/cluster.md)",
    )
    p.add_argument(
        "--cluster-wait",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="with --scheduler: how long to wait while the cluster has no worker before stopping",
    )
    p.add_argument(
        "--html",
        metavar="DIR",
        nargs="?",
        const="html",
        default=None,
        help="HTML feedback with loss curves: DIR/feedback.html for one submission; in class mode "
        "OUT/feedback/<student>.html and OUT/summary.html (any value)",
    )
    p.add_argument("--format", choices=["json", "table"], default="table")
    p.add_argument("--level", type=int, action="append", help="grade only this level (repeatable)")
    p.add_argument(
        "--no-similarity",
        action="store_true",
        help="class mode: skip the similarity report (OUT/similarity.html and .csv, written by default)",
    )
    p.add_argument(
        "--require-isolation",
        action="store_true",
        help="official grading: refuse (exit status 2, nothing graded) where the student's process cannot be "
        "fully confined (hidden by allow-list, a user of its own, no network, rlimits: root on Linux)",
    )
    _common(p)
    p.set_defaults(func=cmd_grade)
    if command not in (None, "grade"):  # (their modules' imports took 18 ms of every `check`, before its pool started)
        return
    # class mode's similarity report and LMS exports: their flags
    from ..instructor import lms, similarity

    similarity.add_options(p)
    lms.add_options(p)


def main(argv: list[str] | None = None) -> int:
    """Every command is dispatched the same way: its module's register(subparsers) adds its parser
    with set_defaults(func=...), and func(args) returns the exit status. A command that parses its
    own options (``build``) also sets ``takes_rest``: what argparse does not know lands in args.rest."""
    argv = list(sys.argv[1:] if argv is None else argv)
    trace.mark("cli: started", argv=argv[:1])
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub, argv[0] if argv else None)
    # A command module is imported only when its command runs (some import nbformat or jupyter:
    # seconds a self-check need not pay); otherwise its parser is a placeholder for --help.
    for command, (module, summary) in COMMAND_MODULES.items():
        if argv[:1] == [command]:
            importlib.import_module(f"autograder.{module}").register(sub)
        else:
            sub.add_parser(command, help=summary, add_help=False)
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "takes_rest", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    if not getattr(args, "takes_rest", False):  # (build starts no sandbox)
        try:
            start_method()
            history.setting()  # KIT_HISTORY=on is refused before anything runs, not at the first record
        except ValueError as exc:
            print(f"autograder: {exc}", file=sys.stderr)
            return 2
    return int(args.func(args) or 0)


#: command -> (module under autograder/ with register(subparsers), one-line summary for --help)
COMMAND_MODULES: dict[str, tuple[str, str]] = {
    "build": ("course.build", "generate assignments/ (stubs and notebooks) from solutions/"),
    "gradescope": ("integrations.gradescope", "build the Gradescope autograder zip, or run it (run_autograder)"),
    "nbgrader": (
        "integrations.nbgrader.commands",
        "create an nbgrader course, or run generate → autograde → feedback → export",
    ),
    "lab": ("learner.lab", "open JupyterLab on your assignments"),
    "similarity": ("cli.similarity", "compare every pair of students level by level (similarity.html, .csv)"),
    "lms": ("cli.lms", "Canvas and Moodle grade imports (canvas.csv, moodle.csv) of a graded class or course"),
    "hint": ("learner.hints", "the next hint for a level's first failing stage (or the one named)"),
    "solution": ("learner.solution", "the worked solution of a stage (self-study; asks first)"),
    "progress": ("learner.progress", "your progress per level: best score, stages, hints, time to full marks"),
    "collect": ("instructor.lms_collect", "an LMS download (Canvas, Moodle, Blackboard) into one folder per student"),
}
