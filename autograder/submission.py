"""Reading a submission directory: only the contract's files, as text, with clear complaints.

For each level the grader takes ``<module>.py`` or, when there is none, ``<module>.ipynb`` (the
code of its code cells: not nbgrader's test cells, not IPython magics or shell escapes). Nothing
else in the directory is read or copied, so a ``conftest.py``, ``pytest.ini`` or ``torch.py`` next
to the submission changes nothing.

A level file that is a symbolic link, a named pipe, a device or anything but a regular file is
refused (a 0 for that level, with the reason) before anything reads it: a link's target is never
read (it could be the reference solution, a classmate's file or a secret), and a pipe never blocks
the grader (``read_regular``: ``O_NOFOLLOW | O_NONBLOCK`` where the platform has them, an
``lstat`` check everywhere, and ``fstat`` of what was actually opened).
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .curriculum import LEVELS

MAX_SOURCE_BYTES = 2 * 1024 * 1024


@dataclass
class LevelSource:
    level: int
    module: str
    filename: str  # the name the student knows (level1_numpy.py or level1_numpy.ipynb)
    source: str | None  # Python source, or None when unavailable
    problem: str | None = None  # why it is unavailable
    raw: bytes = b""


class NotRegular(OSError):
    """The path is a link, a pipe, a device or a directory: refused, never read."""


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def is_regular(path: Path) -> bool:
    """Whether path is a regular file itself (a link to one is not)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def read_regular(path: Path, limit: int = MAX_SOURCE_BYTES) -> bytes:
    """At most ``limit + 1`` bytes of a regular file, never following a link and never blocking.

    Raises ``NotRegular`` (with what it is) for anything but a regular file, ``OSError`` otherwise.
    """
    path = Path(path)
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):  # (where O_NOFOLLOW is missing, e.g. Windows, this is the check)
        raise NotRegular(f"{path.name} is {kind_of(st.st_mode)}")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:  # ELOOP: it became a link after the lstat
        if exc.errno in (errno.ELOOP, getattr(errno, "EMLINK", -1), getattr(errno, "EFTYPE", -1)):
            raise NotRegular(f"{path.name} is a symbolic link") from None
        raise
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):  # swapped for a pipe after the lstat
            raise NotRegular(f"{path.name} is {kind_of(st.st_mode)}")
        return f.read(limit + 1)


def notebook_code(raw: bytes) -> str:
    """The code of a notebook's code cells, as a module (raises ValueError when malformed)."""
    try:
        nb = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"is not a valid notebook (not JSON: {exc})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("is not a valid notebook (no list of cells)")
    chunks = []
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}) if isinstance(cell.get("metadata"), dict) else {}
        nbg = meta.get("nbgrader", {}) if isinstance(meta.get("nbgrader"), dict) else {}
        if nbg.get("grade") and not nbg.get("solution"):
            continue  # a test cell: the grader has its own checks
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        if not isinstance(src, str):
            continue
        lines = []
        if src.lstrip().startswith("%%"):
            continue  # a cell magic: the whole cell is not Python
        if _asks_for_help(src):
            continue  # `hint(3, "backward")` left in a cell: a question to the kit, not the student's module
        for line in src.splitlines():
            stripped = line.lstrip()
            if stripped.startswith(("%", "!")) or (stripped.endswith("?") and not stripped.startswith("#")):
                lines.append("")  # keep line numbers stable
            else:
                lines.append(line)
        chunks.append(f"# --- cell {i} ---\n" + "\n".join(lines))
    return "\n\n".join(chunks) + "\n"


#: The kit's in-notebook helpers: a cell that only calls them (and imports them) is not module code.
HELPERS = frozenset({"hint", "check", "show_progress"})


def _asks_for_help(src: str) -> bool:
    """Whether a cell holds nothing but calls of the kit's helpers (and their imports from it)."""
    import ast
    try:
        body = ast.parse(src).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    if not body:
        return False
    for node in body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "autograder":
            continue
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id in HELPERS):
            return False
    return True


def refusal(what: str) -> str:
    """The message of a level whose file is not a regular file."""
    return f"{what}: refused (only a regular file is graded; a link's target is never read)"


def refused_level(level: int, filename: str, what: str) -> LevelSource:
    """A level whose file was refused (nbgrader's folders, read elsewhere): 0, with the reason."""
    return LevelSource(level, LEVELS[level].module, filename, None, refusal(what))


def _present(path: Path) -> bool:
    return os.path.lexists(path)


def read_level(directory: Path, level: int) -> LevelSource:
    module = LEVELS[level].module
    py, nb = directory / f"{module}.py", directory / f"{module}.ipynb"
    path = py if _present(py) else nb if _present(nb) else None
    if path is None:
        return LevelSource(level, module, f"{module}.py", None,
                           f"{module}.py is missing (nor is there a {module}.ipynb) in {directory}")
    try:
        raw = read_regular(path, MAX_SOURCE_BYTES)
    except NotRegular as exc:
        return LevelSource(level, module, path.name, None,
                           refusal(str(exc)))
    except OSError as exc:
        return LevelSource(level, module, path.name, None, f"{path.name} cannot be read: {exc.strerror}")
    if len(raw) > MAX_SOURCE_BYTES:
        return LevelSource(level, module, path.name, None,
                           f"{path.name} is larger than the {MAX_SOURCE_BYTES // 1024} KiB a level may be")
    if path.suffix == ".ipynb":
        try:
            source = notebook_code(raw)
        except ValueError as exc:
            return LevelSource(level, module, path.name, None, f"{path.name} {exc}", raw)
    else:
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError:
            return LevelSource(level, module, path.name, None, f"{path.name} is not UTF-8 text (binary file?)", raw)
        if "\x00" in source:
            return LevelSource(level, module, path.name, None, f"{path.name} contains NUL bytes (binary file?)", raw)
    return LevelSource(level, module, path.name, source, None, raw)


def read_submission(directory: Path, levels: list[int]) -> dict[int, LevelSource]:
    return {lv: read_level(Path(directory), lv) for lv in levels}


def submission_hash(sources: dict[int, LevelSource]) -> str:
    h = hashlib.sha256()
    for lv in sorted(sources):
        s = sources[lv]
        h.update(f"{s.filename}\0{len(s.raw)}\0".encode())
        h.update(s.raw)
    return h.hexdigest()
