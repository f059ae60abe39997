"""A ready nbgrader course for the kit, whose grades come from the kit's isolated grader.

Two subcommands (``python -m autograder nbgrader ...``; the instructor's day is in docs/nbgrader.md):

- ``init COURSE_DIR``: an nbgrader course directory. ``nbgrader_config.py`` (course id, SQLite
  gradebook, timeouts sized for CPU, the safe settings below), ``source/levelN/<module>.ipynb`` (one
  assignment per level: the kit's source notebooks, solutions between nbgrader's delimiters), then
  ``nbgrader generate_assignment`` for each level, which fills ``gradebook.db`` and ``release/``.
- ``run COURSE_DIR --submissions DIR``: the whole grading run for a folder of submissions:
  generate -> place (or ``zip_collect`` for LMS downloads) -> autograde -> feedback -> export.

How a grade is decided. ``nbgrader autograde`` still runs every notebook in a Jupyter kernel, as
nbgrader always does, so the instructor sees the executed notebook, and the test cells print the
in-kernel self-check. But nothing that happens in that kernel counts: the autograde pipeline
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

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ...core import curriculum
from ...core.settings import DEFAULT_CELL_TIMEOUT, default_seed, parse_levels
from ...core.submission import MAX_SOURCE_BYTES, is_regular, read_regular
from . import pregrade as nbgrader_pregrade
from .pregrade import DEFAULT_CALL_TIMEOUT, DEFAULT_SUBMISSION_TIMEOUT, grade_notebook_bytes

if TYPE_CHECKING:
    import nbformat

#: nbgrader's delimiters of a hidden-tests region (stripped from release/ and from feedback).
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
#: A tag no notebook carries: ``Execute.skip_cells_with_tag`` is set to it, so no tag (e.g.
#: ``skip-execution``) can keep a cell from running.
NEVER_SKIP_TAG = "kit-no-tag-ever-skips-a-cell"
DEFAULT_COURSE_ID = "pytorch-examples"
DEFAULT_STARTUP_TIMEOUT = 120
#: The grading run's limits, the same defaults as ``python -m autograder grade``.
#: zip_collect's file names: ``<anything>_<student>_attempt_<timestamp>_<notebook>.ipynb``
#: (nbgrader's documented example); change it in nbgrader_config.py to your LMS's pattern.
DEFAULT_LMS_REGEXP = r".*_(?P<student_id>\w+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>\w+\.ipynb)"

RESOURCE_KEY = "autograder_official"  # where IsolatedGrades leaves the report for SetOfficialGrades
_OFFICIAL_CALL = re.compile(r"^official_grade\((\d+),\s*[\"'](\w+)[\"']\)\s*$", re.M)
_KIT_GRADE_ID = re.compile(r"^level(\d+)_(\w+)$")


# ----------------------------------------------------------------------------------- the layout


def assignment_id(level: int) -> str:
    """The nbgrader assignment of a level: one assignment per level, named ``levelN``."""
    return f"level{level}"


def notebook_name(level: int) -> str:
    """The notebook's file name, the kit's submission file name (``level1_numpy.ipynb``)."""
    return f"{curriculum.LEVELS[level].module}.ipynb"


def level_of_notebook(notebook_id: str) -> int | None:
    for number, level in curriculum.LEVELS.items():
        if level.module == notebook_id:
            return number
    return None


def course_levels(course: Path) -> list[int]:
    """The levels that have an assignment in ``source/``."""
    found = []
    for number in curriculum.LEVELS:
        if (course / "source" / assignment_id(number) / notebook_name(number)).is_file():
            found.append(number)
    return found


def hidden_region(level: int, stage: str) -> list[str]:
    return [
        BEGIN_HIDDEN,
        "# The points of this cell are the official grade of the stage, set after execution by the",
        "# kit's isolated grader (IsolatedGrades in nbgrader_config.py); nothing run here counts.",
        "from autograder.integrations.nbgrader.course import official_grade",
        f'official_grade({level}, "{stage}")',
        END_HIDDEN,
    ]


def source_notebook(level: int, hints: bool = True) -> nbformat.NotebookNode:
    """The nbgrader *source* notebook of a level: the kit's source form plus, in each test cell, the
    hidden region that binds it to its official check. ``hints=False``: a course without hints
    (no pointer to ``hint`` anywhere in it)."""
    import nbformat

    from ...course.build import build_notebook

    nb = build_notebook(level, with_solutions=True, hints=hints)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        match = _KIT_GRADE_ID.match(meta.get("grade_id", ""))
        if not match or int(match.group(1)) != level or match.group(2) not in curriculum.STAGES:
            raise ValueError(f"level {level}: unexpected test cell {meta.get('grade_id')!r}")
        # `check(...)` returns its Report: without the `;` the release cell would display the
        # Report's repr, which nbgrader's Validate warns it cannot read as a score ("treating as full
        # credit, but future releases may treat as error"). With it, the cell prints the table and
        # passes, or raises.
        public = [
            line + ";" if re.fullmatch(r'check\(\d+, "\w+"\)', line.strip()) else line
            for line in cell.source.rstrip("\n").splitlines()
        ]
        cell.source = "\n".join(public + hidden_region(level, match.group(2)))
    nbformat.validate(nb)
    return nb


def fill_notebook(release: nbformat.NotebookNode, module_source: str) -> nbformat.NotebookNode:
    """A copy of a release notebook whose code cells hold a module's code, as a student who wrote
    that module would have filled them in (tests, benchmarks, converting a ``.py`` submission).

    Each code cell that defines functions or classes gets the module's definitions of those names,
    the imports cell gets the module's imports, test cells and the demo stay as they are. Lines that
    are nbgrader delimiters are dropped.
    """
    import ast
    import copy

    lines = [ln for ln in module_source.splitlines() if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
    text = "\n".join(lines) + "\n"
    tree = ast.parse(text)
    imports, defs = [], {}
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        segment = "\n".join(lines[start - 1 : node.end_lineno])
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(segment)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs[node.name] = segment
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or (meta.get("grade") and not meta.get("solution")):
            continue
        body = ast.parse(cell.source).body
        names = [n.name for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        if names:
            cell.source = "\n\n\n".join(defs[n] for n in names if n in defs)
        elif body and all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in body):
            cell.source = "\n".join(imports)
    return nb


def official_grade(level: int, stage: str) -> None:
    """Kernel side of a hidden region: says where the cell's points come from (and nothing else)."""
    print(
        f"[official] level {level}, stage {stage}: the points of this cell are set by the kit's "
        "isolated grader after execution"
    )


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


# ----------------------------------------------------------------------------------- nbgrader CLI


def nbgrader(
    course: Path, *args: str, check: bool = False, quiet: bool = False, env_extra: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the real nbgrader CLI in the course directory (where it finds nbgrader_config.py)."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    if not quiet:
        print("$ nbgrader " + " ".join(_quote(a) for a in args), file=sys.stderr, flush=True)
    # An autograde kernel is no learner: its self-checks keep no self-study record (history.py).
    env = {**beside_interpreter_env(), "KIT_HISTORY": "off", **(env_extra or {})}
    proc = subprocess.run(cmd, cwd=course, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise RuntimeError(f"nbgrader {' '.join(args)} failed with status {proc.returncode}")
    return proc


def _scripts_dirs() -> list[str]:
    """Where the commands of this interpreter's packages are: beside it (a venv's bin/), then its base
    installation's (a venv made with --system-site-packages uses the base's packages, and commands)."""
    sub = "Scripts" if os.name == "nt" else "bin"
    found = []
    for d in (
        os.path.dirname(sys.executable),
        os.path.join(sys.prefix, sub),
        os.path.dirname(os.path.realpath(sys.executable)),
        os.path.join(sys.base_prefix, sub),
    ):
        if os.path.isdir(d) and d not in found:
            found.append(d)
    return found


def beside_interpreter_env() -> dict:
    """This environment with the running interpreter's scripts directory first on PATH: what
    nbgrader starts by name (``alembic``, ``jupyter``) is then the one installed beside
    sys.executable, also from a virtual environment that was never activated (cron, systemd, IDEs)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([*_scripts_dirs(), env.get("PATH", "")])
    # nbgrader imports the kit's preprocessors from the course's config: the same kit as this
    # command's, also when it runs from a source checkout that another installation shadows
    # (an editable install of another clone would otherwise grade with that clone's code).
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").is_file():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(checkout), env.get("PYTHONPATH", "")) if p)
    return env


def put_scripts_on_path() -> None:
    """The same for this process (nbgrader's Gradebook runs ``alembic`` by name when it creates a
    gradebook)."""
    current = os.environ.get("PATH", "").split(os.pathsep)
    missing = [d for d in _scripts_dirs() if d not in current]
    if missing:
        os.environ["PATH"] = os.pathsep.join([*missing, *current])


def _quote(arg: str) -> str:
    return arg if re.fullmatch(r"[\w./=:@,+-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"


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


# ----------------------------------------------------------------------------------- run


def find_submissions(submissions: Path, levels: list[int]) -> tuple[dict, list[str]]:
    """``{(student, level): (notebook bytes, timestamp file or None)}`` and notes on what was skipped.

    Each directory in ``submissions`` is a student (its name is the student id) holding the level
    notebooks anywhere inside it (the kit's layout ``<module>.ipynb``, nbgrader's
    ``levelN/<module>.ipynb``, any subfolder, or a ``.zip``: ``submission.locate``), with an
    optional ``timestamp.txt`` beside a notebook.
    """
    from ...core.submission import locate

    found, notes = {}, []
    for entry in sorted(
        p for p in Path(submissions).iterdir() if not p.is_symlink() and p.is_dir() and not p.name.startswith(".")
    ):
        student = entry.name
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@-]*", student):
            notes.append(f"{entry}: skipped (not a usable student id)")
            continue
        # Anywhere in the student's folder or in a zip there: the search every entry point shares.
        located = locate(entry, levels)
        notes += [f"{student}: {n}" for n in located.notes]
        for level, why in located.problems.items():
            notes.append(f"{student}, level {level}: not collected: {why}")
        for level, c in located.files.items():
            if not c.name.endswith(".ipynb"):
                notes.append(
                    f"{entry / c.where}: nbgrader grades notebooks; grade this file with "
                    "`python -m autograder grade` instead"
                )
                continue
            stamp = (entry / c.where).parent / "timestamp.txt" if not c.zipped else None
            found[(student, level)] = (c.data, stamp if stamp is not None and is_regular(stamp) else None)
    return found, notes


def place_submissions(course: Path, found: dict) -> list[tuple[str, int]]:
    """Copy each notebook to ``submitted/<student>/levelN/``; return the (student, level) changed.

    A changed notebook drops its old autograded/ and feedback/ copies, so nbgrader grades it again;
    an unchanged one keeps them (and nbgrader skips it).
    """
    changed = []
    for (student, level), (data, stamp) in sorted(found.items()):
        a = assignment_id(level)
        dest_dir = course / "submitted" / student / a
        dest = dest_dir / notebook_name(level)
        try:  # a timestamp read without following a link or blocking on a pipe
            stamp_data = read_regular(stamp, 4096) if stamp is not None else None
        except OSError:
            continue
        same = is_regular(dest) and dest.read_bytes() == data
        if stamp is not None:
            same = (
                same
                and is_regular(dest_dir / "timestamp.txt")
                and (dest_dir / "timestamp.txt").read_bytes() == stamp_data
            )
        if same:
            continue
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        if stamp is not None:
            (dest_dir / "timestamp.txt").write_bytes(stamp_data)
        for step in ("autograded", "feedback"):
            shutil.rmtree(course / step / student / a, ignore_errors=True)
        changed.append((student, level))
    return changed


def collect_lms(course: Path, lms_dir: Path, levels: list[int]) -> list[int]:
    """LMS downloads, ``LMS_DIR/levelN/*`` (zip archives or files), through ``nbgrader zip_collect``."""
    collected = []
    for level in levels:
        src = Path(lms_dir) / assignment_id(level)
        if not src.is_dir():
            continue
        archive = course / "downloaded" / assignment_id(level) / "archive"
        archive.mkdir(parents=True, exist_ok=True)
        for f in sorted(src.iterdir()):
            if is_regular(f):  # (never a link's target)
                shutil.copy2(f, archive / f.name)
        proc = nbgrader(course, "zip_collect", assignment_id(level), "--force")
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-4000:])
            raise RuntimeError(f"nbgrader zip_collect {assignment_id(level)} failed")
        collected.append(level)
    return collected


def gradebook_scores(course: Path, course_id: str | None = None) -> dict:
    """``{(student, assignment): {"score", "max_score", "needs_manual_grade", "graded"}}``."""
    from nbgrader.api import Gradebook

    put_scripts_on_path()
    db = f"sqlite:///{Path(course).resolve() / 'gradebook.db'}"
    out = {}
    with Gradebook(db, course_id=course_id or DEFAULT_COURSE_ID) as gb:
        for assignment in gb.assignments:
            for sub in gb.assignment_submissions(assignment.name):
                grades = [g for nb in sub.notebooks for g in nb.grades]
                out[(sub.student.id, assignment.name)] = {
                    "score": float(sub.score),
                    "max_score": float(sub.max_score),
                    "needs_manual_grade": bool(sub.needs_manual_grade),
                    "graded": bool(grades)
                    and all(g.auto_score is not None or g.manual_score is not None for g in grades),
                }
    return out


def _course_id(course: Path) -> str:
    text = (course / "nbgrader_config.py").read_text()
    m = re.search(r"^c\.CourseDirectory\.course_id\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    return m.group(1) if m else DEFAULT_COURSE_ID


def _digests(folder: Path) -> dict[str, str]:
    import hashlib

    return (
        {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        if folder.is_dir()
        else {}
    )


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
    so it runs only when asked for; it costs a kernel and an in-kernel self-check per notebook, and
    the parallel pass is then not used (a kernel runs as the instructor)."""
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
        a = assignment_id(min(todo)) if len(todo) == 1 else "level[" + "".join(str(lv) for lv in sorted(todo)) + "]"
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


def _generation_key(course: Path, level: int) -> str:
    import hashlib

    h = hashlib.sha256((course / "nbgrader_config.py").read_bytes())
    h.update((course / "source" / assignment_id(level) / notebook_name(level)).read_bytes())
    return h.hexdigest()


def generate_changed(course: Path, levels: list[int], *, force: bool = False) -> list[int]:
    """``nbgrader generate_assignment`` for the levels whose source notebook or config changed since
    their last generation (every one with ``force``); returns the levels generated. Each one costs
    nbgrader's start-up (seconds), so an unchanged course regenerates nothing."""
    import json

    state_path = course / ".kit-logs" / "generated.json"
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        state = {}
    done = []
    for level in levels:
        a, key = assignment_id(level), _generation_key(course, level)
        if not force and state.get(a) == key and (course / "release" / a / notebook_name(level)).is_file():
            continue
        nbgrader(course, "generate_assignment", a, "--force", check=True)
        state[a] = key
        done.append(level)
    state_path.parent.mkdir(exist_ok=True)
    state_path.write_text(json.dumps(state, indent=2))
    return done


def _save_log(course: Path, name: str, proc: subprocess.CompletedProcess) -> None:
    from ...instructor import course_file

    logs = course / ".kit-logs"
    course_file.private_tree(logs)  # nbgrader's output may quote the config (the seed)
    course_file.write_private(logs / name, proc.stdout + proc.stderr)


# ----------------------------------------------------------------------------------- preprocessors


class IsolatedGraderError(RuntimeError):
    """The kit's grader failed (not the student): the submission is left ungraded."""


def stage_outputs(report, level: int, stage: str, points: float) -> tuple[list, float]:
    """The outputs of a test cell: the stage's official checks, then its points as a float."""
    from nbformat import v4

    checks = [c for c in report.checks if c.level == level and c.stage == stage]
    got = float(sum(float(c.score) for c in checks))
    full = float(sum(float(c.max_score) for c in checks))
    if full <= 0:
        score = 0.0
    elif abs(full - points) < 1e-9:
        score = got
    else:  # the instructor changed the cell's points: keep the stage's share
        score = points * got / full
    score = float(min(points, max(0.0, round(score, 6))))
    # No seed here: these lines reach the students' feedback, and a course may keep its seed private.
    lines = [
        f"Official grade, level {level} stage {stage}: {score:g} / {points:g} "
        "(from the kit's isolated grader; the in-kernel self-check is not the grade)"
    ]
    for c in checks:
        mark = "ok  " if c.passed else "FAIL"
        lines.append(f"  {mark} {float(c.score):g}/{float(c.max_score):g}  {c.name}")
        if not c.passed and c.message:
            lines.append(f"         {c.message.splitlines()[0][:300]}")
    text = "\n".join(lines) + "\n"
    return [
        v4.new_output("stream", name="stdout", text=text),
        v4.new_output("execute_result", data={"text/plain": repr(score)}, execution_count=None),
    ], score


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
        "are the isolated grader's either way): a kernel and an in-kernel self-check per notebook",
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


# The preprocessors (IsolatedGrades, SafeExecute, SetOfficialGrades) are in nbgrader_preprocessors.py.
__all__ = [
    "init_course",
    "run_course",
    "official_grade",
    "source_notebook",
    "fill_notebook",
    "grade_notebook_bytes",
    "gradebook_scores",
    "register",
]
