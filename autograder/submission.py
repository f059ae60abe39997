"""Reading a submission directory: only the contract's files, as text, with clear complaints.

For each level the grader takes ``<module>.py`` or, when there is none, ``<module>.ipynb`` (the
code of its code cells: not nbgrader's test cells, not IPython magics or shell escapes). Nothing
else in the directory is read or copied, so a ``conftest.py``, ``pytest.ini`` or ``torch.py`` next
to the submission changes nothing.
"""
from __future__ import annotations

import hashlib
import json
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


def read_level(directory: Path, level: int) -> LevelSource:
    module = LEVELS[level].module
    py, nb = directory / f"{module}.py", directory / f"{module}.ipynb"
    path = py if py.is_file() else nb if nb.is_file() else None
    if path is None:
        return LevelSource(level, module, f"{module}.py", None,
                           f"{module}.py is missing (nor is there a {module}.ipynb) in {directory}")
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            return LevelSource(level, module, path.name, None,
                               f"{path.name} is {path.stat().st_size // 1024} KiB: larger than the "
                               f"{MAX_SOURCE_BYTES // 1024} KiB a level may be")
        raw = path.read_bytes()
    except OSError as exc:
        return LevelSource(level, module, path.name, None, f"{path.name} cannot be read: {exc.strerror}")
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
