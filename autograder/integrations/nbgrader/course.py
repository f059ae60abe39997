"""The names of the nbgrader course, gathered in one place: every name this module had before it was
split by job, so that ``autograder.nbgrader_course`` (its alias, in the source notebooks of courses
made before: ``from autograder.nbgrader_course import official_grade``), the hidden regions of
courses' test cells and other callers keep working. The code is in the modules of one job each:

- ``notebooks``: which cells are graded, the notebooks' names, source notebooks, ``official_grade``;
- ``setup``: ``nbgrader init`` (``CONFIG_TEMPLATE``, the course's folders, hints, generation);
- ``submissions``: students' notebooks found, copied to ``submitted/``, collected from an LMS;
- ``gradebook``: the gradebook's scores and the course id;
- ``runner``: the real nbgrader CLI, run from this interpreter;
- ``commands``: the ``nbgrader`` subcommand (``register``, ``cmd_*``) and the ``run`` pipeline
  (how a grade is decided is said at its top).

A name is the module's that defines it: patch it there.
"""

# (every import is a re-export: pyproject.toml exempts this file from F401)
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
from .commands import _class_extras, _pregrade, _save_log, cmd_init, cmd_run, register, run_course
from .gradebook import DEFAULT_COURSE_ID, _course_id, gradebook_scores
from .new_course import (
    CONFIG_TEMPLATE,
    DEFAULT_LMS_REGEXP,
    DEFAULT_STARTUP_TIMEOUT,
    NEVER_SKIP_TAG,
    _create_gradebook,
    _generation_key,
    config_text,
    generate_changed,
    init_course,
    write_hints,
)
from .notebooks import (
    _KIT_GRADE_ID,
    _OFFICIAL_CALL,
    BEGIN_HIDDEN,
    END_HIDDEN,
    RESOURCE_KEY,
    IsolatedGraderError,
    assignment_id,
    course_levels,
    fill_notebook,
    hidden_region,
    level_of_notebook,
    notebook_name,
    official_grade,
    source_notebook,
    stage_outputs,
)
from .pregrade import DEFAULT_CALL_TIMEOUT, DEFAULT_SUBMISSION_TIMEOUT, grade_notebook_bytes
from .runner import _quote, _scripts_dirs, beside_interpreter_env, nbgrader, put_scripts_on_path
from .submissions import _digests, collect_lms, find_submissions, place_submissions

if TYPE_CHECKING:
    import nbformat

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
