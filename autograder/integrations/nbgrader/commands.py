"""A ready nbgrader course for the kit, whose grades come from the kit's isolated grader.

This module holds the commands: ``register`` (the ``nbgrader`` subcommand of the CLI), ``cmd_init``
and ``cmd_run``, and the ``run`` pipeline (``run_course``).

Two subcommands (``python -m autograder nbgrader ...``; the instructor's day is in docs/nbgrader.md):

- ``init COURSE_DIR``: an nbgrader course directory. ``nbgrader_config.py`` (course id, SQLite
  gradebook, timeouts sized for CPU, the safe settings below), ``source/levelN/<module>.ipynb`` (one
  assignment per level: the kit's source notebooks, solutions between nbgrader's delimiters), then
  ``nbgrader generate_assignment`` for each level, which fills ``gradebook.db`` and ``release/``.
- ``run COURSE_DIR --submissions DIR``: the whole grading run for a folder of submissions:
  generate -> place (or ``zip_collect`` for LMS downloads) -> autograde -> feedback -> export.

How a grade is decided. ``nbgrader autograde`` still runs every notebook in a Jupyter kernel, as
nbgrader always does, so the instructor sees the executed notebook (its test cells run no
self-check there: ``SafeExecute`` tells the kernel, ``selfcheck.AUTOGRADE_KERNEL``). But nothing
that happens in that kernel counts: the autograde pipeline
(``Autograde.autograde_preprocessors``, set in the course's config) has three kit preprocessors
(``nbgrader_preprocessors.py``).

- ``IsolatedGrades`` runs first, before the kernel starts: it grades the notebook the student
  *submitted* (``submitted/<student>/<assignment>/<module>.ipynb``, bytes as handed in) with
  ``autograder.grading.grade`` -- the level in a sandboxed child, the kit's own data and checks.
- ``SafeExecute`` is nbgrader's ``Execute`` that survives a kernel that dies or never answers: the
  notebook keeps the outputs it got, and grading goes on.
- ``SetOfficialGrades`` runs after execution, just before nbgrader's ``SaveAutoGrades``: it
  replaces each test cell's outputs by the official result of its stage: a short table on stdout
  and, as the last output, an ``execute_result`` holding the stage's points as a plain float
  (``repr(float)``), which ``nbgrader.utils.determine_grade`` reads as partial credit.

So monkeypatching in the kernel, edited or deleted test cells, ``skip-execution`` tags, stderr
output, a kernel that dies, a cell that never ends, and a kernel that rewrites its own submission
change nothing: the gradebook holds exactly what ``python -m autograder grade`` gives that
notebook (same seed, same limits). What nbgrader's design leaves open: the kernel runs as the
instructor, so it can write wherever the instructor can (other students' files, the gradebook).
``run`` checks that ``submitted/`` is unchanged after autograding; on a shared server grade with
``--no-execute`` (no kernel at all: the same grades) or give the kernel a container.

Safe settings the config also holds: no tag can skip a cell (``Execute.skip_cells_with_tag`` is an
unused tag), deleted test cells are put back (``OverwriteCells.add_missing_cells``), edited ones are
restored from the gradebook (nbgrader's checksum rule for locked cells), torch warnings on stderr
are dropped before nbgrader scores a cell (``IgnorePattern``), and feedback clears hidden tests.

Hidden checks. The checks that decide a grade live in the installed kit and run outside the
kernel, with the seed that the course's config pins (``IsolatedGrades.seed``: choose a private one
with ``init --seed``). In the notebooks, each test cell of ``source/`` carries a
``### BEGIN HIDDEN TESTS`` region that binds the cell to its official check
(``official_grade(level, stage)``); ``generate_assignment`` strips it from ``release/``,
``autograde`` restores it from the gradebook, and feedback clears it again. ``gradebook.db``,
``nbgrader_config.py`` and ``autograded/`` are the instructor's secrets.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ...core.settings import DEFAULT_CELL_TIMEOUT, parse_levels
from ...core.submission import MAX_SOURCE_BYTES, read_regular
from . import pregrade as nbgrader_pregrade
from .gradebook import DEFAULT_COURSE_ID, _course_id, gradebook_scores
from .new_course import generate_changed, init_course
from .notebooks import assignment_id, assignments_pattern, course_levels, notebook_name
from .pregrade import DEFAULT_CALL_TIMEOUT, DEFAULT_SUBMISSION_TIMEOUT
from .runner import nbgrader
from .submissions import _digests, collect_lms, find_submissions, place_submissions

# ----------------------------------------------------------------------------------- run


def run_course(
    course: Path,
    submissions: Path | None,
    lms: Path | None = None,
    *,
    force: bool = False,
    csv: Path | None = None,
    execute: bool = False,
    similarity=None,
    lms_export=None,
    jobs: int = 2,
) -> int:
    """``similarity`` (a ``similarity.Options``) and ``lms_export`` (an ``lms.ExportOptions``): the
    class's similarity report and the Canvas / Moodle imports, written into the course directory.

    One grading pass: the official grades of every notebook to autograde come from the kit's batch
    workers (``jobs``) before nbgrader starts (nbgrader_pregrade.py), and nbgrader autogrades and
    writes feedback for all the levels in one command each. nbgrader's kernel run (``execute``)
    adds only fresh cell outputs to the feedback (the grades are the isolated grader's either way),
    so it runs only when asked for; it costs a kernel per notebook (which imports torch and runs
    the student's cells), and the parallel pass is then not used (a kernel runs as the instructor)."""
    course = Path(course).resolve()
    if not (course / "nbgrader_config.py").is_file():
        print(
            f"autograder: {course} is not a course (no nbgrader_config.py): run "
            "`python -m autograder nbgrader init` first",
            file=sys.stderr,
        )
        return 2
    levels = course_levels(course)
    course_id = _course_id(course)
    # 1. generate: the gradebook's copy of the test cells (and release/) follows source/; only the
    # levels whose source notebook (or the config) changed since they were last generated.
    regenerated = generate_changed(course, levels, force=force)
    # 2. collect / place: only a new or changed notebook is autograded again (unless --force)
    todo = set()
    if lms is not None:
        todo.update(collect_lms(course, lms, levels))
    if submissions is not None:
        found, notes = find_submissions(submissions, levels)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        placed = place_submissions(course, found)
        todo.update(level for _, level in (found if force else placed))
        if not placed and not force:
            print(
                f"Nothing changed since the last run: the {len(found)} submitted notebook(s) are graded already "
                f"(same files){'' if not regenerated else f'; regenerated level(s) {regenerated}'}; --force "
                "regrades them all.",
                file=sys.stderr,
            )
    failures = []
    before = _digests(course / "submitted")
    if todo:
        # every level in one nbgrader command per step (nbgrader's start-up once, not per level)
        a = assignments_pattern(sorted(todo))
        name = "-".join(assignment_id(lv) for lv in sorted(todo))
        pregraded, grading = (None, None) if execute else _pregrade(course, sorted(todo), force, jobs)
        try:
            # 3. autograde (exit 1: some submission could not be graded: see the log, grade by hand)
            proc = nbgrader(
                course,
                "autograde",
                a,
                *(["--force"] if force else []),
                *([] if execute else ["--no-execute"]),
                env_extra={nbgrader_pregrade.ENV: str(pregraded)} if pregraded else None,
            )
        finally:
            if grading is not None:
                grading.join()
            if pregraded:
                shutil.rmtree(pregraded, ignore_errors=True)
        _save_log(course, f"autograde-{name}.log", proc)
        if proc.returncode != 0:
            failures.append(f"autograde {name} (see {course / '.kit-logs' / f'autograde-{name}.log'})")
        # 4. feedback
        proc = nbgrader(course, "generate_feedback", a, *(["--force"] if force else []))
        _save_log(course, f"feedback-{name}.log", proc)
        if proc.returncode != 0:
            failures.append(f"generate_feedback {name}")
    from ...instructor import course_file

    course_file.private_tree(course / "autograded")  # nbgrader writes its copies 0444 in 0755 folders
    # A kernel runs as the instructor: make sure none of them rewrote a submission.
    after = _digests(course / "submitted")
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        failures.append(
            "submitted/ changed while autograding (a student's kernel wrote there; the grades "
            "come from the files as they were before, but check these and regrade with "
            "--no-execute): " + ", ".join(changed[:10])
        )
    # 5. export
    out_csv = Path(csv).resolve() if csv else course / "grades.csv"
    proc = nbgrader(course, "export", "--to", str(out_csv))
    if proc.returncode != 0:
        failures.append("export")
    scores = gradebook_scores(course, course_id)
    print(f"{'student':<24} {'assignment':<10} {'score':>7} {'max':>6}  note")
    for (student, a), s in sorted(scores.items()):
        note = "" if s["graded"] else "NOT GRADED: grade by hand or rerun"
        print(f"{student:<24} {a:<10} {s['score']:7g} {s['max_score']:6g}  {note}")
    print(f"grades: {out_csv}; feedback: {course / 'feedback'}", file=sys.stderr)
    _class_extras(course, levels, similarity, lms_export)
    for f in failures:
        print(f"autograder: nbgrader reported a failure: {f}", file=sys.stderr)
    return 1 if failures else 0


def _pregrade(course: Path, levels: list[int], force: bool, jobs: int):
    """The parallel grading pass (nbgrader_pregrade.py) over the notebooks nbgrader will autograde
    (those without an autograded copy; all with ``force``), started in a thread that runs alongside
    nbgrader: (its fresh private folder, the thread), or (None, None)."""
    import threading

    submitted = course / "submitted"
    notebooks = []
    for student in sorted(submitted.iterdir()) if submitted.is_dir() else []:
        for level in levels:
            a = assignment_id(level)
            path = student / a / notebook_name(level)
            if not student.is_dir() or (not force and (course / "autograded" / student.name / a).exists()):
                continue
            try:
                notebooks.append((read_regular(path, MAX_SOURCE_BYTES), level))
            except OSError:
                continue  # (missing, a link, a pipe: IsolatedGrades says why)
    if not notebooks:
        return None, None
    try:
        settings = nbgrader_pregrade.course_settings(course)
    except Exception as exc:  # noqa: BLE001 - an unreadable config: nbgrader grades as before, and says why
        print(f"autograder: the parallel grading pass is skipped ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None, None
    folder = Path(tempfile.mkdtemp(prefix="kit-pregraded-"))

    def grade_all() -> None:
        kept = nbgrader_pregrade.pregrade(notebooks, settings, folder, jobs)
        print(f"graded {kept} of {len(notebooks)} notebook(s) in one parallel pass ({jobs} workers)", file=sys.stderr)

    thread = threading.Thread(target=grade_all, name="kit-pregrade", daemon=True)
    thread.start()
    return folder, thread


def _class_extras(course: Path, levels: list[int], similarity_options, lms_export) -> None:
    """The similarity report over submitted/ and the LMS imports from the gradebook."""
    if similarity_options is not None:
        from ...instructor import similarity

        students = (
            [(d.name, d) for d in sorted((course / "submitted").iterdir()) if d.is_dir() and not d.name.startswith(".")]
            if (course / "submitted").is_dir()
            else []
        )
        if len(students) > 1:
            print(
                similarity.describe(similarity.write_report(students, course, levels, similarity_options), course),
                file=sys.stderr,
            )
    if lms_export is not None:
        from ...instructor import lms

        grades, graded_levels = lms.grades_from_scores(gradebook_scores(course, _course_id(course)))
        result = lms.write_exports(
            course, lms_export.roster, grades, graded_levels, lms_export.columns, lms_export.missing
        )
        for line in lms.describe(result, course):
            print(line, file=sys.stderr)


def _save_log(course: Path, name: str, proc: subprocess.CompletedProcess) -> None:
    from ...instructor import course_file

    logs = course / ".kit-logs"
    course_file.private_tree(logs)  # nbgrader's output may quote the config (the seed)
    course_file.write_private(logs / name, proc.stdout + proc.stderr)


# ----------------------------------------------------------------------------------- the CLI


def cmd_init(args) -> int:
    settings = {
        k: v
        for k, v in (
            ("cell_timeout", args.cell_timeout),
            ("call_timeout", args.call_timeout),
            ("submission_timeout", args.timeout),
            ("device", args.device),
        )
        if v is not None
    }
    try:
        written = init_course(
            Path(args.course_dir),
            course_id=args.course_id,
            levels=parse_levels(args.levels),
            seed=args.seed,
            generate=not args.no_generate,
            force=args.force,
            hints=not args.no_hints,
            **settings,
        )
    except (FileExistsError, RuntimeError) as exc:
        print(f"autograder: {exc}", file=sys.stderr)
        return 2
    course = Path(args.course_dir).resolve()
    notebooks = sum(1 for p in written if p.suffix == ".ipynb")
    print(
        f"course {args.course_id!r} in {course}: {len(written)} files (config, gradebook, "
        f"{notebooks} source notebooks, hints {'off' if args.no_hints else 'on'})"
        f"{'' if args.no_generate else ', release/ generated'}"
    )
    print(
        f"next: cd {course} && nbgrader db student import students.csv; distribute release/; then "
        f"`python -m autograder nbgrader run {course} --submissions DIR`"
    )
    return 0


def cmd_run(args) -> int:
    if args.submissions is None and args.lms is None:
        print("autograder: give --submissions DIR and/or --lms DIR", file=sys.stderr)
        return 2
    for p in (args.submissions, args.lms):
        if p is not None and not Path(p).is_dir():
            print(f"autograder: {p} is not a directory", file=sys.stderr)
            return 2
    from ...instructor import lms, similarity

    try:
        export = lms.options_from(args)
    except lms.RosterError as exc:
        print(f"autograder: {exc}", file=sys.stderr)
        return 2
    try:
        return run_course(
            Path(args.course_dir),
            Path(args.submissions) if args.submissions else None,
            Path(args.lms) if args.lms else None,
            force=args.force,
            csv=args.csv,
            execute=args.execute,
            jobs=args.jobs,
            lms_export=export,
            similarity=None if args.no_similarity else similarity.options_from(args),
        )
    except RuntimeError as exc:
        print(f"autograder: {exc}", file=sys.stderr)
        return 1


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "nbgrader",
        help="an nbgrader course whose grades come from the isolated grader",
        description=__doc__.split("\n\n")[0],
    )
    sub = p.add_subparsers(dest="nbgrader_command", required=True)

    i = sub.add_parser("init", help="create a course directory: config, gradebook, source/ and release/")
    i.add_argument("course_dir")
    i.add_argument("--course-id", default=DEFAULT_COURSE_ID)
    i.add_argument("--levels", type=int, nargs="+", default=None, help="levels to include (default: all)")
    i.add_argument(
        "--seed",
        type=int,
        default=None,
        help="the grading seed (default: the kit's default seed; a private one keeps the grader's data private)",
    )
    i.add_argument("--device", choices=["cpu", "cuda", "auto", "all"], default=None)
    i.add_argument(
        "--cell-timeout",
        type=int,
        default=None,
        help=f"seconds a notebook cell may run in the kernel (default {DEFAULT_CELL_TIMEOUT})",
    )
    i.add_argument(
        "--call-timeout",
        type=float,
        default=None,
        help=f"the grader: seconds one call of student code may take (default {DEFAULT_CALL_TIMEOUT:g})",
    )
    i.add_argument(
        "--timeout",
        type=float,
        default=None,
        help=f"the grader: seconds one submitted notebook may take, all its calls together; a notebook "
        f"is one level, so this is `grade --timeout` for that notebook (default "
        f"{DEFAULT_SUBMISSION_TIMEOUT:g})",
    )
    i.add_argument("--no-generate", action="store_true", help="do not run nbgrader generate_assignment")
    i.add_argument("--force", action="store_true", help="rewrite an existing course's config and source/")
    i.add_argument(
        "--no-hints",
        action="store_true",
        help="release no hints: each level's hints.json then says they are off (default: hints on)",
    )
    i.set_defaults(func=cmd_init)

    r = sub.add_parser("run", help="generate, collect, autograde, feedback and export for a folder of submissions")
    r.add_argument("course_dir")
    r.add_argument(
        "--submissions",
        default=None,
        metavar="DIR",
        help="one folder per student (its name is the id) holding levelN_*.ipynb or levelN/levelN_*.ipynb",
    )
    r.add_argument(
        "--lms",
        default=None,
        metavar="DIR",
        help="LMS downloads: DIR/levelN/ holding the archives or files, collected with zip_collect",
    )
    r.add_argument("--csv", default=None, help="where export writes the grades (default: COURSE_DIR/grades.csv)")
    r.add_argument("--force", action="store_true", help="regrade and rebuild feedback for every submission")
    r.add_argument(
        "--execute",
        action="store_true",
        help="also run each notebook in nbgrader's kernel (fresh outputs in the feedback; the grades "
        "are the isolated grader's either way): a kernel per notebook",
    )
    r.add_argument(
        "--no-execute",
        action="store_true",
        help="run no kernel (the default): the grades from the isolated grader alone, in one parallel pass",
    )
    r.add_argument("--jobs", type=int, default=2, help="workers of the grading pass (default 2)")
    r.add_argument(
        "--no-similarity",
        action="store_true",
        help="skip the similarity report (COURSE_DIR/similarity.html and .csv, written by default)",
    )
    from ...instructor import lms, similarity

    similarity.add_options(r)
    lms.add_options(r)  # --roster: COURSE_DIR/canvas.csv and moodle.csv from the gradebook
    r.set_defaults(func=cmd_run)
