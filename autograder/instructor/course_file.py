"""A course remembers its seed and settings: ``.kit-course.json``, written by the first ``grade
CLASS --out OUT`` (in OUT) or ``nbgrader init`` (in the course directory), readable by its owner only.

Why: the seed decides every hidden input, so a rerun that forgot ``--seed`` would silently regrade a
whole class with the public default seed and overwrite its grades. With the file, a rerun without
options takes the remembered seed, levels, device and limits; a rerun with a *different* seed is
refused unless ``--force`` (then every student is regraded with the new seed and the file says so).
The seed is the instructor's secret: it is written here, in ``grades.csv`` (a column) and
``summary.json``, and never in anything a student receives.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.report import write_atomic

NAME = ".kit-course.json"
#: the settings a course remembers (the seed decides the data; the others only how it is graded)
KEYS = ("seed", "levels", "device", "call_timeout", "timeout", "html")


class SeedChanged(Exception):
    """A rerun asked for another seed than the one the course was graded with."""


def path_of(directory: Path) -> Path:
    return Path(directory) / NAME


def load(directory: Path) -> dict | None:
    try:
        data = json.loads(path_of(directory).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def settle(directory: Path, given: dict, defaults: dict, *, force: bool = False) -> tuple[dict, list[str]]:
    """The settings of this run: what was given, else what the course remembers, else the defaults.

    Raises SeedChanged when a seed is given that differs from the remembered one and not ``force``.
    Writes the course file (mode 0600) with the settings used; returns them and notes for the user.
    """
    remembered = load(directory) or {}
    notes: list[str] = []
    settings = {}
    for key in KEYS:
        value = given.get(key)
        if value is None:
            value = remembered.get(key, defaults.get(key))
        elif key in remembered and remembered[key] != value:
            if key == "seed" and not force:
                raise SeedChanged(
                    f"{directory} was graded with seed {remembered['seed']} (remembered in {path_of(directory)}); "
                    f"this run asks for seed {value}. Rerun without --seed to keep the course's seed, or add "
                    "--force to regrade every student with the new one"
                )
            notes.append(f"{key} changed from {remembered[key]} to {value} (remembered for the next run)")
        settings[key] = value
    if remembered and given.get("seed") is None and "seed" in remembered:
        notes.append(f"seed {remembered['seed']} (the course's, from {path_of(directory)})")
    write_private(path_of(directory), json.dumps(settings, indent=2) + "\n")
    return settings, notes


def write_private(path: Path, text: str) -> None:
    """Write a secret file readable by its owner only (0600, whatever the umask)."""
    write_atomic(path, text, private=True)


def make_private(path: Path) -> None:
    """Restrict an existing secret (nbgrader_config.py, gradebook.db) to its owner."""
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass  # (a file system without POSIX modes: Windows keeps its own ACLs)


def private_tree(folder: Path) -> None:
    """Make ``folder`` and everything in it its owner's only (folders 0700; files lose their group
    and other bits: nbgrader's read-only 0444 becomes 0400). nbgrader's ``autograded/`` copies hold
    the hidden checks and the seed, and nbgrader writes them 0444 in 0755 folders, readable by
    every user of the machine; the folder is created 0700 before nbgrader fills it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        for sub, dirs, files in os.walk(folder):
            for d in dirs:
                p = os.path.join(sub, d)
                if not os.path.islink(p):
                    os.chmod(p, 0o700)
            for f in files:
                p = os.path.join(sub, f)
                if not os.path.islink(p):
                    os.chmod(p, os.lstat(p).st_mode & 0o700)
    except OSError:
        pass  # (a file system without POSIX modes: Windows keeps its own ACLs)
