"""Command line: ``check`` (students), ``grade`` (instructors, JSON), ``build`` (maintainers)."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from .curriculum import LEVELS
from .sandbox import start_method
from .settings import DEFAULT_SEED, default_seed, parse_levels, repo_root


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=None, help=f"the run's seed (default {DEFAULT_SEED} or $KIT_SEED)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto", "all"], default="cpu",
                   help="where the checks run (auto: cuda when present; all: every device, cuda skipped without one)")
    p.add_argument("--call-timeout", type=float, default=60.0, help="seconds one call of student code may take")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds a whole submission may take (wall clock, "
                   "every level together)")


def _limits(args):
    from .sandbox import Limits
    return Limits(call_seconds=args.call_timeout, submission_seconds=args.timeout)


def _seed(args) -> int:
    return args.seed if args.seed is not None else default_seed()


def _grade_one(directory: Path, levels: list[int], args, pool=None, require_isolation: bool = False):
    """Grade one submission, with children from ``pool`` (a running ChildPool), or from a
    pool of its own: then the sandbox's interpreter starts first, so it imports torch while this
    process does the same (two cores, both busy)."""
    from .sandbox import start_pool
    own = pool is None
    pool = start_pool(levels=levels) if own else pool
    try:
        from .grading import grade
        return grade(directory, levels, _seed(args), args.device, _limits(args), curves=bool(args.html),
                     pool=pool, require_isolation=require_isolation)
    finally:
        if own:
            pool.close()


def cmd_check(args) -> int:
    levels = parse_levels(args.levels)
    directory = Path(args.dir)
    if not directory.is_dir():
        print(f"autograder: {directory} is not a directory", file=sys.stderr)
        return 2
    if args.watch:
        from .watch import watch
        return watch(directory, levels, lambda pool: _check_once(directory, levels, args, pool))
    return _check_once(directory, levels, args)


def _check_once(directory: Path, levels: list[int], args, pool=None) -> int:
    report = _grade_one(directory, levels, args, pool)
    from rich.console import Console

    from .render_terminal import render
    render(report, Console(), verbose=args.verbose)
    for note in _notebook_notes(directory, levels):
        print(note, file=sys.stderr)
    _write_html(report, args.html, "Self-check")
    return 0 if not report.errors else 3


def _notebook_notes(directory: Path, levels: list[int]) -> list[str]:
    """Warn a student who edits a notebook while the .py next to it is what gets graded."""
    notes = []
    for lv in levels:
        py, nb = directory / f"{LEVELS[lv].module}.py", directory / f"{LEVELS[lv].module}.ipynb"
        if py.is_file() and nb.is_file() and nb.stat().st_mtime > py.stat().st_mtime + 1:
            notes.append(f"note: {nb.name} is newer than {py.name}, but the .py is what gets graded when both exist. "
                         f"Working in the notebook? Its graded cells self-check it; to grade it here, remove or "
                         f"rename {py.name}.")
    return notes


def _write_html(report, directory, title) -> None:
    if not directory:
        return
    from .render_html import feedback_page
    from .report import write_atomic
    path = Path(directory) / "feedback.html"
    write_atomic(path, feedback_page(report, title))
    print(f"feedback page: {path}", file=sys.stderr)


def cmd_grade(args) -> int:
    from .batch import is_submission
    levels = parse_levels(args.level)
    paths = [Path(p) for p in args.dir]
    missing = [p for p in paths if not p.is_dir()]
    if missing:
        print(f"autograder: {missing[0]} is not a directory", file=sys.stderr)
        return 2
    has_students = any(p.is_dir() and not p.name.startswith(".") for p in paths[0].iterdir())
    if len(paths) > 1 or args.out or args.roster or (not is_submission(paths[0]) and has_students):
        return cmd_grade_class(args, paths, levels)
    directory = paths[0]
    from .sandbox import IsolationMissing
    try:
        report = _grade_one(directory, levels, args, require_isolation=args.require_isolation)
    except IsolationMissing as exc:  # official grading, and the sandbox is weaker here: no score at all
        print(f"autograder: refused: {exc}", file=sys.stderr)
        return 2
    _write_html(report, args.html, f"Feedback for {directory.resolve().name}")
    if args.format == "json":
        sys.stdout.write(report.to_json() + "\n")
    else:
        from rich.console import Console

        from .render_terminal import render
        render(report, Console())
    if report.errors:
        print(f"autograder: {len(report.errors)} grader error(s); see 'errors' in the report", file=sys.stderr)
        return 3
    return 0


def cmd_grade_class(args, paths, levels) -> int:
    from . import lms, similarity
    from .batch import grade_class
    out = Path(args.out or "grades")
    try:
        export = lms.options_from(args)  # a bad roster stops before grading, not after
    except lms.RosterError as exc:
        print(f"autograder: {exc}", file=sys.stderr)
        return 2
    summary = grade_class(paths, out, levels, _seed(args), args.device, jobs=args.jobs, force=args.force,
                          limits=_limits(args), progress=sys.stderr.isatty(), html=bool(args.html),
                          similarity=None if args.no_similarity else similarity.options_from(args), lms=export)
    if args.format == "json":
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        print(f"{summary['n_students']} students graded in {summary['seconds']} s; mean {summary['mean']}, "
              f"median {summary['median']}. Reports in {out}/reports/, class CSV {out}/grades.csv, "
              f"summary {out}/summary.md")
        for m in summary["most_failed"][:5]:
            print(f"  {m['share']:4.0%} failed {m['check']}: {m['name']}")
        if "similarity" in summary:
            print(similarity.describe(summary["similarity"], out))
        for line in lms.describe(summary["lms"], out) if "lms" in summary else []:
            print(line)
    if "after_grading_error" in summary:
        print(f"autograder: the similarity report or LMS exports failed: {summary['after_grading_error']}",
              file=sys.stderr)
        return 3
    if summary["grader_errors"]:
        print(f"autograder: grader errors for {', '.join(summary['grader_errors'])}", file=sys.stderr)
        return 3
    return 0


def register(subparsers) -> None:
    """This module's own commands: ``check`` and ``grade``."""
    p = subparsers.add_parser("check", help="self-check your work: a table per level and stage, and what to fix first")
    p.add_argument("levels", nargs="*", type=int, help="levels to check (default: all)")
    p.add_argument("--dir", default=str(repo_root() / "assignments"), help="your work (default: assignments/)")
    p.add_argument("-v", "--verbose", action="store_true", help="show every message")
    p.add_argument("--html", metavar="DIR", default=None, help="also write an HTML feedback page (with loss curves) "
                   "to DIR/feedback.html")
    p.add_argument("-w", "--watch", action="store_true", help="check again each time a level's file is saved "
                   "(the grader stays warm: torch is imported once); Ctrl-C stops")
    _common(p)
    p.set_defaults(func=cmd_check)

    p = subparsers.add_parser("grade", help="grade a submission directory, or a class of them")
    p.add_argument("dir", nargs="+", help="a submission directory, a directory of student directories, or several")
    p.add_argument("--out", default=None, help="class mode: where reports, grades.csv and the summary go "
                   "(default: grades/)")
    p.add_argument("--jobs", type=int, default=2, help="class mode: students graded in parallel")
    p.add_argument("--force", action="store_true", help="class mode: regrade students already graded")
    p.add_argument("--html", metavar="DIR", nargs="?", const="html", default=None,
                   help="HTML feedback with loss curves: DIR/feedback.html for one submission; in class mode "
                   "OUT/feedback/<student>.html and OUT/summary.html (any value)")
    p.add_argument("--format", choices=["json", "table"], default="table")
    p.add_argument("--level", type=int, action="append", help="grade only this level (repeatable)")
    p.add_argument("--no-similarity", action="store_true", help="class mode: skip the similarity report "
                   "(OUT/similarity.html and .csv, written by default)")
    p.add_argument("--require-isolation", action="store_true",
                   help="official grading: refuse (exit status 2, no score) unless the sandbox's protections "
                   "(no network, hidden paths, limits, an unprivileged user when root) hold here")
    _common(p)
    # class mode's similarity report and LMS exports: their flags
    from . import lms, similarity
    similarity.add_options(p)
    lms.add_options(p)
    p.set_defaults(func=cmd_grade)


def main(argv: list[str] | None = None) -> int:
    """Every command is dispatched the same way: its module's register(subparsers) adds its parser
    with set_defaults(func=...), and func(args) returns the exit status. A command that parses its
    own options (``build``) also sets ``takes_rest``: what argparse does not know lands in args.rest."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
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
        except ValueError as exc:
            print(f"autograder: {exc}", file=sys.stderr)
            return 2
    return int(args.func(args) or 0)


#: command -> (module in autograder/ with register(subparsers), one-line summary for --help)
COMMAND_MODULES: dict[str, tuple[str, str]] = {
    "build": ("build", "generate assignments/ (stubs and notebooks) from solutions/"),
    "gradescope": ("gradescope", "build the Gradescope autograder zip, or run it (run_autograder)"),
    "nbgrader": ("nbgrader_course", "create an nbgrader course, or run generate → autograde → feedback → export"),
    "lab": ("lab", "open JupyterLab on your assignments"),
    "similarity": ("similarity_command", "compare every pair of students level by level (similarity.html, .csv)"),
    "lms": ("lms_command", "Canvas and Moodle grade imports (canvas.csv, moodle.csv) of a graded class or course"),
}
