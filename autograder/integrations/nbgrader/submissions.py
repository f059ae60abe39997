"""Students' submissions in an nbgrader course: found in a folder of student folders, copied to
``submitted/`` (only what changed), collected from LMS downloads (``zip_collect``), and the digests
that show whether ``submitted/`` changed while autograding."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from ...core.submission import is_regular, read_regular
from .notebooks import assignment_id, notebook_name
from .runner import nbgrader

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
