"""Setting up an nbgrader course (``nbgrader init``): the config (``CONFIG_TEMPLATE``), the course's
folders and gradebook, its source notebooks with their hints, and ``generate_assignment`` for the
levels whose source changed."""

from __future__ import annotations

from pathlib import Path

from ...core import curriculum
from ...core.settings import DEFAULT_CELL_TIMEOUT, default_seed
from .gradebook import DEFAULT_COURSE_ID
from .notebooks import assignment_id, assignments_pattern, notebook_name, source_notebook
from .pregrade import DEFAULT_CALL_TIMEOUT, DEFAULT_SUBMISSION_TIMEOUT
from .runner import nbgrader, put_scripts_on_path

#: A tag no notebook carries: ``Execute.skip_cells_with_tag`` is set to it, so no tag (e.g.
#: ``skip-execution``) can keep a cell from running.
NEVER_SKIP_TAG = "kit-no-tag-ever-skips-a-cell"
DEFAULT_STARTUP_TIMEOUT = 120
#: The grading run's limits, the same defaults as ``python -m autograder grade``.
#: zip_collect's file names: ``<anything>_<student>_attempt_<timestamp>_<notebook>.ipynb``
#: (nbgrader's documented example); change it in nbgrader_config.py to your LMS's pattern.
DEFAULT_LMS_REGEXP = r".*_(?P<student_id>\w+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>\w+\.ipynb)"


# ----------------------------------------------------------------------------------- the config

CONFIG_TEMPLATE = '''\
"""nbgrader configuration of the course {course_id!r}.

Written by `python -m autograder nbgrader init`; see docs/nbgrader.md in the kit. Edit freely;
the settings marked SAFETY keep grades out of students' reach. Keep this file, gradebook.db and
autograded/ away from students: they hold the grading seed and the hidden tests.
"""
import os
import warnings

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, ClearMarkScheme,
                                    ClearOutput, ComputeChecksums, DeduplicateIds, GetGrades, IgnorePattern,
                                    IncludeHeaderFooter, InstantiateTests, LimitOutput, LockCells,
                                    OverwriteKernelspec, SaveAutoGrades, SaveCells)

from autograder.integrations.nbgrader.preprocessors import (IsolatedGrades, KitClearSolutions,
                                                            QuietOverwriteCells, SafeExecute,
                                                            SetOfficialGrades)

# Harmless, and known: nbgrader 0.9's gradebook uses SQLAlchemy APIs that SQLAlchemy 2 warns about
# (a deprecation on every command); nothing the course does changes it.
warnings.filterwarnings("ignore", module="nbgrader.api")
warnings.filterwarnings("ignore", message=".*(SQLAlchemy|declarative_base|relationship).*")

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
COURSE = os.path.dirname(os.path.abspath(__file__))
# The kernels that nbgrader starts (autograde, validate) are no learner: their self-checks keep
# no self-study record (.kit-history.jsonl) in the course's folders.
os.environ.setdefault("KIT_HISTORY", "off")

c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = COURSE
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(COURSE, "gradebook.db")

# --- Running the notebooks (student code runs in a kernel, as nbgrader always does) -----------
# Sized for CPU: a test cell of the in-kernel self-check takes seconds; a cell that never ends
# costs this timeout once (it is interrupted and execution goes on) and never changes a grade.
c.Execute.timeout = {cell_timeout}
c.Execute.startup_timeout = {startup_timeout}
c.Execute.interrupt_on_timeout = True
# SAFETY: no tag may skip a cell: `skip-execution` on a test cell would otherwise leave it without
# output, which nbgrader counts as a pass.
c.Execute.skip_cells_with_tag = {never_skip!r}
# SAFETY: torch/numpy warnings on stderr must not zero a cell (nbgrader fails any cell with stderr).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"Warning|warn"
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100
# SAFETY: a deleted test cell is put back (an edited one is restored from the gradebook anyway).
c.OverwriteCells.add_missing_cells = True

# --- Generating release/ ---------------------------------------------------------------------
# nbgrader's steps, with the kit's stubs: a released cell says what to write, as assignments/ does.
c.GenerateAssignment.preprocessors = [IncludeHeaderFooter, InstantiateTests, LockCells, KitClearSolutions,
                                      ClearOutput, CheckCellMetadata, ComputeChecksums, SaveCells, ClearHiddenTests,
                                      ClearMarkScheme, ComputeChecksums, CheckCellMetadata]

# nbgrader's sanitizing steps, with OverwriteCells quiet about the checksum of the kit's test cells
# (it restores their hidden region on every submission: one line per notebook instead of a warning
# per cell; docs/nbgrader.md).
c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec,
                                      QuietOverwriteCells, CheckCellMetadata]

# --- Where the points come from: the kit's isolated grader ------------------------------------
# IsolatedGrades grades each submitted notebook in the kit's sandbox before its kernel starts;
# SafeExecute is nbgrader's Execute, made to survive a kernel that dies or hangs; SetOfficialGrades
# writes every test cell's official points (a float) just before nbgrader saves the grades.
c.Autograde.autograde_preprocessors = [
    IsolatedGrades,
    SafeExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SetOfficialGrades,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# The official grading run: the same as `python -m autograder grade --seed {seed} --device {device}
# --call-timeout {call_timeout:g} --timeout {submission_timeout:g}` on the submitted notebook.
# The seed picks the grader's data and sizes: a private seed keeps them private.
c.IsolatedGrades.seed = {seed}
c.IsolatedGrades.device = {device!r}
c.IsolatedGrades.call_timeout = {call_timeout!r}
c.IsolatedGrades.submission_timeout = {submission_timeout!r}
# Official grading grades nothing where the student's process cannot be fully confined (root on
# Linux confines it: docs/sandbox.md). False grades with what this machine allows.
c.IsolatedGrades.require_isolation = True

# --- Feedback ------------------------------------------------------------------------------------
# SAFETY: hidden tests are stored in the gradebook and restored for autograding; clear them from
# the feedback students get (nbgrader's default keeps them).
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]

# --- Collecting from an LMS (nbgrader zip_collect) ------------------------------------------------
c.FileNameCollectorPlugin.named_regexp = {lms_regexp!r}
'''


def config_text(
    course_id: str,
    seed: int,
    *,
    device: str = "cpu",
    cell_timeout: int = DEFAULT_CELL_TIMEOUT,
    startup_timeout: int = DEFAULT_STARTUP_TIMEOUT,
    call_timeout: float = DEFAULT_CALL_TIMEOUT,
    submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT,
    lms_regexp: str = DEFAULT_LMS_REGEXP,
) -> str:
    return CONFIG_TEMPLATE.format(
        course_id=course_id,
        seed=int(seed),
        device=device,
        cell_timeout=int(cell_timeout),
        startup_timeout=int(startup_timeout),
        never_skip=NEVER_SKIP_TAG,
        call_timeout=float(call_timeout),
        submission_timeout=float(submission_timeout),
        lms_regexp=lms_regexp,
    )


# ----------------------------------------------------------------------------------- init


def init_course(
    course: Path,
    *,
    course_id: str = DEFAULT_COURSE_ID,
    levels: list[int] | None = None,
    seed: int | None = None,
    generate: bool = True,
    force: bool = False,
    hints: bool = True,
    **settings,
) -> list[Path]:
    """Create the course directory; return the files written. Runs ``generate_assignment`` unless
    ``generate`` is False (the gradebook then holds the assignments only).

    ``hints``: each ``source/levelN/`` gets a ``hints.json`` with that level's hint ladders, which
    ``generate_assignment`` copies into ``release/`` beside the notebook, where ``hint(...)`` finds
    it. With ``hints=False`` the file says that hints are off and holds none (so the kit's own copy
    is not used either)."""
    import nbformat

    course = Path(course).resolve()
    levels = sorted(set(levels or curriculum.LEVELS))
    config = course / "nbgrader_config.py"
    if config.exists() and not force:
        raise FileExistsError(f"{config} exists: pass --force to rewrite the course's config and source/")
    course.mkdir(parents=True, exist_ok=True)
    written = [config]
    from ...instructor import course_file

    seed = default_seed() if seed is None else seed
    # The config and the gradebook hold the seed and the hidden tests: the instructor's only (0600).
    course_file.write_private(config, config_text(course_id, seed, **settings))
    course_file.settle(
        course,
        {
            "seed": seed,
            "levels": levels,
            "device": settings.get("device", "cpu"),
            "call_timeout": settings.get("call_timeout", DEFAULT_CALL_TIMEOUT),
            "timeout": settings.get("submission_timeout", DEFAULT_SUBMISSION_TIMEOUT),
        },
        {},
        force=True,
    )
    for level in levels:
        path = course / "source" / assignment_id(level) / notebook_name(level)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_notebook(level, hints), str(path))
        written.append(path)
        written.append(write_hints(path.parent, level if hints else None))
    _create_gradebook(course, course_id, levels)
    course_file.make_private(course / "gradebook.db")
    course_file.private_tree(course / "autograded")  # (the graded copies hold the seed and hidden checks)
    course_file.private_tree(course / ".kit-logs")
    written.append(course / "gradebook.db")
    if generate:
        generate_changed(course, levels, force=True)
    return written


def write_hints(folder: Path, level: int | None) -> Path:
    """``folder/hints.json``: one level's hints, or (``level=None``) the note that hints are off."""
    from ...course import hints as hints_mod
    from ...course.build import build_hints

    document = build_hints([level]) if level is not None else hints_mod.hints_document(None)
    path = folder / hints_mod.HINTS_FILE
    path.write_bytes(hints_mod.hints_bytes(document))
    return path


def _create_gradebook(course: Path, course_id: str, levels: list[int]) -> None:
    from nbgrader.api import Gradebook

    put_scripts_on_path()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=course_id) as gb:
        for level in levels:
            gb.update_or_create_assignment(assignment_id(level))


def _generation_key(course: Path, level: int) -> str:
    import hashlib

    h = hashlib.sha256((course / "nbgrader_config.py").read_bytes())
    h.update((course / "source" / assignment_id(level) / notebook_name(level)).read_bytes())
    return h.hexdigest()


def generate_changed(course: Path, levels: list[int], *, force: bool = False) -> list[int]:
    """``nbgrader generate_assignment`` for the levels whose source notebook or config changed since
    their last generation (every one with ``force``); returns the levels generated. One command for
    all of them (``assignments_pattern``): nbgrader's start-up (two seconds) once, not per level,
    and an unchanged course regenerates nothing."""
    import json

    state_path = course / ".kit-logs" / "generated.json"
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        state = {}
    keys = {level: _generation_key(course, level) for level in levels}
    todo = [
        level
        for level in levels
        if force
        or state.get(assignment_id(level)) != keys[level]
        or not (course / "release" / assignment_id(level) / notebook_name(level)).is_file()
    ]
    if todo:
        nbgrader(course, "generate_assignment", assignments_pattern(todo), "--force", check=True)
        state.update({assignment_id(level): keys[level] for level in todo})
    state_path.parent.mkdir(exist_ok=True)
    state_path.write_text(json.dumps(state, indent=2))
    return todo
