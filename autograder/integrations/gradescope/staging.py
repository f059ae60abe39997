"""Finding the student's files in a Gradescope submission and copying them flat into one directory,
which is what ``grade`` reads (``stage_submission``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...core.submission import locate


# ============================================================================ finding the files
@dataclass
class Found:
    """The contract's files found in a submission, copied flat into ``directory``."""

    directory: Path
    graded: dict[str, str] = field(default_factory=dict)  # file name -> where it came from
    notes: list[str] = field(default_factory=list)
    problems: dict[int, str] = field(default_factory=dict)  # level -> why it was not graded (ambiguous)


def stage_submission(submission: Path, out: Path, levels: list[int]) -> Found:
    """Copy the contract's files from the student's own layout into one flat directory.

    The files are found by ``submission.locate``, the same search as every other entry point
    (``grade DIR``, class mode, nbgrader): by name at any depth or inside a ``.zip``, links never
    followed, reads capped; two different files equally well placed are ambiguous and not graded.
    """
    located = locate(submission, levels)
    out.mkdir(parents=True, exist_ok=True)
    found = Found(out, notes=list(located.notes), problems=dict(located.problems))
    for c in located.files.values():
        (out / c.name).write_bytes(c.data)
        found.graded[c.name] = c.where
    for lv, why in located.problems.items():
        found.notes.insert(0, f"level {lv} not graded: {why}")
    return found
