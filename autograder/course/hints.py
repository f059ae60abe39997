"""The hint ladders, as the course ships them: written once with the solutions, parsed and checked by
the build, read back from ``hints.json``. Choosing a rung and showing it is the learner's
(``autograder/learner/hints.py``).

Where hints come from. They are written once, with the solutions (``solutions/<module>.py``), as a
comment block at the top of a solution region, so that nbgrader's own solution stripping removes
them from anything it releases::

    ### BEGIN SOLUTION
    # hint backward: what to think about first
    # hint backward: one step closer
    #   (a line that does not start with "hint" continues the rung above)
    # hint backward if half_gradient: the rung shown first when that mistake was diagnosed
    h = ...

``autograder/course/source.py`` parses the blocks, checks them (every stage of every level has a ladder of
2 to 4 rungs, every mistake the loop diagnosis can name at that level has its rung), and ``build.py`` writes
``assignments/hints.json``: the hints, never a line of solution code. An nbgrader course ships a
level's hints beside its notebook in ``release/`` unless the instructor switches them off.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

HINTS_FILE = "hints.json"
HINTS_FORMAT = 1
MIN_RUNGS, MAX_RUNGS = 2, 4

#: Mistakes the loop diagnosis names (``reference.MISTAKES``): the check's ``diagnosis`` field.
DIAGNOSES = (
    "no_zero_grad",
    "mean_loss",
    "no_step",
    "ascent",
    "step_before_backward",
    "optimizer_rebuilt",
    "zeroed_before_step",
    "no_momentum",
)

#: The diagnoses each level's lockstep run can reach (reference.diagnose and loops.refine): at levels
#: 1-2 the gradients are computed afresh, so nothing accumulates; optimizer_rebuilt needs an optimizer
#: with state (Adam, momentum); no_momentum is level 8's. The build requires a rung for each.
DIAGNOSES_BY_LEVEL: dict[int, tuple[str, ...]] = {
    1: ("mean_loss", "no_step", "ascent", "step_before_backward"),
    2: ("mean_loss", "no_step", "ascent", "step_before_backward"),
    3: ("no_zero_grad", "mean_loss", "no_step", "ascent", "step_before_backward"),
    4: ("no_zero_grad", "mean_loss", "no_step", "ascent", "step_before_backward"),
    5: ("no_zero_grad", "mean_loss", "no_step", "ascent", "step_before_backward"),
    6: (
        "no_zero_grad",
        "mean_loss",
        "no_step",
        "ascent",
        "step_before_backward",
        "optimizer_rebuilt",
        "zeroed_before_step",
    ),
    7: ("no_zero_grad", "mean_loss", "no_step", "ascent", "step_before_backward", "zeroed_before_step"),
    8: (
        "no_zero_grad",
        "mean_loss",
        "no_step",
        "ascent",
        "step_before_backward",
        "optimizer_rebuilt",
        "zeroed_before_step",
        "no_momentum",
    ),
}

#: Mistakes that a check's message names, by a phrase of the kit's own message (autograder/checks).
MESSAGE_MISTAKES: dict[str, tuple[str, ...]] = {
    "no_relu": ("the ReLU is missing",),
    "h_after_relu": ("h is returned after the ReLU",),
    "mean_loss": ("mean of the squared errors",),
    "half_gradient": ("is half the reference",),
    "ascent": ("the step adds the gradient",),
    "not_in_place": ("unchanged after sgd_step",),
    "recorded_update": (
        "recorded in the graph",
        "while autograd records",
        "no longer a leaf",
        "no longer requires grad",
    ),
    "not_in_graph": ("not part of the autograd graph", "is cut out of the graph", "returned a Python float"),
    "grad_not_reset": ("still holds values after zero_grad",),
    "backward_twice": ("backward ran twice",),
    "no_backward": (".grad is None after backward", "never called loss.backward()"),
    "torch_at_numpy_level": ("the numpy level imports", "forward returned torch tensors"),
    "autograd_by_hand_level": ("autograd is used at the tensors level",),
    "optim_too_early": ("torch.optim comes at level 6",),
    "relu_passes_negatives": ("negative inputs pass through",),
    "grad_passes_everywhere": ("the gradient passes everywhere",),
    "not_myrelu": ("does not go through MyReLU.apply",),
    "transposed": ("it looks transposed",),
    "wrong_device": ("(the inputs' device)", "a tensor was created on another device"),
    "wrong_dtype": ("(the inputs' dtype)",),
    "not_shared": ("only one use of middle_linear", "reuse the one middle_linear", "middle_linear got no gradient"),
    "random_draws": ("drew from Python's random", "another way than one random.randint"),
    "update_outside_optimizer": ("changed outside optimizer.step()", "optimizer.step() was never called"),
    "loss_after_update": ("is not the loss of the initial weights",),
    "optimizer_setting": ("Adam's default is",),
}

MISTAKES = tuple(dict.fromkeys(DIAGNOSES + tuple(MESSAGE_MISTAKES)))


# --- the hint blocks of the solution files (read by the build) -----------------------------------

_RUNG = re.compile(r"^#\s*hint\s+(?P<stage>\w+)(?:\s+if\s+(?P<mistake>\w+))?\s*:\s*(?P<text>.*)$")


@dataclass(frozen=True)
class Rung:
    stage: str
    mistake: str | None
    text: str


class HintSyntaxError(ValueError):
    pass


def parse_block(lines, start: int) -> tuple[list[Rung], int]:
    """The rungs written from ``lines[start]`` on, and the index of the first line after them.

    The block is the run of comment lines that starts with a ``# hint STAGE:`` line; it ends at the
    first line that is not a comment (code, or a blank line).
    """
    rungs: list[dict] = []
    i = start
    while i < len(lines):
        text = lines[i].strip()
        if not text.startswith("#"):
            break
        match = _RUNG.match(text)
        if match:
            rungs.append({"stage": match["stage"], "mistake": match["mistake"], "text": [match["text"].strip()]})
        elif rungs:
            rungs[-1]["text"].append(text[1:].strip())
        else:
            break  # an ordinary comment: no hint block here
        i += 1
    out = []
    for r in rungs:
        body = " ".join(t for t in r["text"] if t)
        if not body:
            raise HintSyntaxError(f"the hint for {r['stage']} at line {start + 1} says nothing")
        out.append(Rung(r["stage"], r["mistake"], body))
    return out, i


def validate(level: int, rungs: list[Rung]) -> list[str]:
    """What is wrong with a level's hints (empty when nothing)."""
    from ..core.curriculum import stages_of

    problems = []
    stages = stages_of(level)
    for r in rungs:
        if r.stage not in stages:
            problems.append(f"hint for stage {r.stage!r}: level {level} has no such stage ({', '.join(stages)})")
        if r.mistake is not None and r.mistake not in MISTAKES:
            problems.append(f"hint for {r.stage} if {r.mistake}: no such mistake (known: {', '.join(MISTAKES)})")
    for stage in stages:
        ladder = [r for r in rungs if r.stage == stage and r.mistake is None]
        if not MIN_RUNGS <= len(ladder) <= MAX_RUNGS:
            problems.append(f"stage {stage} has {len(ladder)} hint rungs; write {MIN_RUNGS} to {MAX_RUNGS}")
    for mistake in DIAGNOSES_BY_LEVEL.get(level, ()):  # a level added later names its own rungs
        if not any(r.mistake == mistake for r in rungs):
            problems.append(f"no hint for the diagnosed mistake {mistake!r} (write `# hint STAGE if {mistake}: ...`)")
    return problems


def table_of(level: int, rungs: list[Rung]) -> dict:
    """A level's entry of hints.json: per stage, its ladder and its mistakes' rungs."""
    out: dict[str, dict] = {}
    for r in rungs:
        entry = out.setdefault(r.stage, {"ladder": [], "mistakes": {}})
        if r.mistake is None:
            entry["ladder"].append(r.text)
        else:
            entry["mistakes"][r.mistake] = r.text
    return out


def hints_document(levels: dict[int, dict] | None) -> dict:
    """The content of hints.json; ``None``: hints switched off (the file says so and holds none)."""
    if levels is None:
        return {"format": HINTS_FORMAT, "enabled": False, "levels": {}}
    return {"format": HINTS_FORMAT, "enabled": True, "levels": {str(k): v for k, v in sorted(levels.items())}}


def hints_bytes(document: dict) -> bytes:
    return (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


# --- finding the hints a learner has ----------------------------------------------------------------

MAX_HINTS_BYTES = 2 * 1024 * 1024


class NoHints(Exception):
    """There are no hints to show here; the message says why."""


def switched_off(directory: Path | str | None = None) -> bool:
    """Whether the course shipped a hints.json here that switches hints off (``nbgrader init
    --no-hints``): then nothing should point a student to ``hint``."""
    path = (Path(directory) if directory is not None else Path.cwd()) / HINTS_FILE
    try:
        if not path.is_file() or path.stat().st_size > MAX_HINTS_BYTES:
            return False
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("format") == HINTS_FORMAT and not document.get("enabled")


def load_table(directory: Path | str | None = None) -> dict:
    """hints.json of the working folder (what the course shipped), else the kit's own assignments/.

    A course that switched hints off ships a hints.json that says so: then there are none, even
    where the kit's own copy could be found.
    """
    from ..core.settings import repo_root

    here = Path(directory) if directory is not None else Path.cwd()
    for path in (here / HINTS_FILE, repo_root() / "assignments" / HINTS_FILE):
        try:
            if not path.is_file() or path.stat().st_size > MAX_HINTS_BYTES:
                continue
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(document, dict) or document.get("format") != HINTS_FORMAT:
            continue
        if not document.get("enabled", False):
            raise NoHints("hints are switched off for this course: ask your instructor or a classmate")
        levels = document.get("levels")
        if isinstance(levels, dict):
            return levels
    raise NoHints(
        f"no {HINTS_FILE} was found (it comes with the assignments: run `python -m autograder build`, "
        "or ask your instructor)"
    )
