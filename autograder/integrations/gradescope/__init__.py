"""Gradescope: build the autograder zip (``gradescope build``) and grade one submission in it (``run``).

Gradescope runs ``setup.sh`` once to build an image, then ``run_autograder`` in a fresh container
per submission, as root, with ½ vCPU, 768 MB and a 10-minute timeout by default. What it shows the
student is ``/autograder/results/results.json`` and nothing else, so this package's one job at run
time is to make sure that file exists, is valid, is written by the trusted side only, and carries
the same scores as ``python -m autograder grade`` on the same files with the same seed:

- the student's files are found by name anywhere under ``submission/`` (or inside a ``.zip`` there)
  and copied to a flat directory, which is what ``grade`` reads;
- grading is ``grading.grade``, level by level, on one shared zygote: each level's children run as
  their own unprivileged uid with no network (``docs/sandbox.md``), and each level gets a wall-clock
  budget, so a submission that hangs loses that level's time and nothing else;
- ``results.json`` is written once, atomically, at the end; a watchdog writes it (with what was
  graded so far) if the run nears Gradescope's timeout; a crash writes a zero score with a reason.

``docs/gradescope.md`` is the instructor's guide and explains the limits chosen here.

The modules: ``bundle`` builds the zip, ``config`` is its configuration, ``staging`` finds the
student's files, ``runner`` grades them inside Gradescope, ``results`` writes ``results.json``, and
``command`` is the command line (``python -m autograder.integrations.gradescope run``, which a
bundle's ``run_autograder`` runs). This package re-exports the names its callers use.
"""

from .bundle import build, build_wheel
from .command import cmd_build, cmd_run, main, register
from .config import CONFIG_NAME, DEFAULT_LIMITS, VISIBILITIES, load_config
from .results import ResultsWriter, gradescope_test, is_hidden, md_text, not_graded, results_json, summary_md
from .runner import run, start_pool
from .staging import Found, stage_submission

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_LIMITS",
    "VISIBILITIES",
    "Found",
    "ResultsWriter",
    "build",
    "build_wheel",
    "cmd_build",
    "cmd_run",
    "gradescope_test",
    "is_hidden",
    "load_config",
    "main",
    "md_text",
    "not_graded",
    "register",
    "results_json",
    "run",
    "stage_submission",
    "start_pool",
    "summary_md",
]
