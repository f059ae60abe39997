"""Reading a submission: only the contract's files, as text, with clear complaints.

For each level the grader takes ``<module>.py`` or, when there is none, ``<module>.ipynb`` (the
code of its code cells: not nbgrader's test cells, not IPython magics or shell escapes). Nothing
else in the directory is read or copied, so a ``conftest.py``, ``pytest.ini`` or ``torch.py`` next
to the submission changes nothing.

A level file that is a symbolic link, a named pipe, a device or anything but a regular file is
refused (a 0 for that level, with the reason) before anything reads it: a link's target is never
read (it could be the reference solution, a classmate's file or a secret), and a pipe never blocks
the grader (``read_regular``: ``O_NOFOLLOW | O_NONBLOCK`` where the platform has them, an
``lstat`` check everywhere, and ``fstat`` of what was actually opened).

Where the files are. Students put their files where they like: at the top of their folder, in a
subfolder, in a ``.zip`` (Gradescope and LMS downloads), so ``locate`` searches the whole folder (or
a ``.zip`` given in its place) by file name, the same way for every entry point (``grade DIR``,
class mode, nbgrader, Gradescope). Per level it takes the best-placed file: a loose file before a
zipped one, then the shallowest, then ``.py`` before ``.ipynb``. Copies with the same content are
one file. Two *different* files equally well placed (``a/level1_numpy.py`` and ``b/level1_numpy.py``)
are ambiguous: the level is not graded and the message names both, never a silent 0. Symbolic
links are never followed, zip member paths are never used on disk, and every read is capped.
Hidden folders (``.ipynb_checkpoints``, ``.git``) and ``__MACOSX`` are not searched.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import source_text
from .curriculum import LEVELS

MAX_SOURCE_BYTES = 2 * 1024 * 1024
#: caps on what is searched (a hostile folder or zip must not fill the disk, the memory or the time)
MAX_WALK_ENTRIES = 20_000
MAX_ZIP_BYTES = 64 * 1024**2
MAX_ZIP_MEMBERS = 20_000
MAX_ZIP_READ = 64 * 1024**2
#: folders never searched: editors' and systems' copies, not the student's work
SKIPPED_DIRS = ("__MACOSX", "__pycache__")


@dataclass
class LevelSource:
    level: int
    module: str
    filename: str  # the name the student knows (level1_numpy.py or level1_numpy.ipynb)
    source: str | None  # Python source, or None when unavailable
    problem: str | None = None  # why it is unavailable
    raw: bytes = b""
    where: str = ""  # where it was found, when not at the top of the submission


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
    nb = source_text.notebook_json(raw)  # (Unreadable is a ValueError)
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
        for line in source_text.lines(src):  # CRLF/CR cells too; a form feed stays in its line
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
        if not (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id in HELPERS
        ):
            return False
    return True


def refusal(what: str) -> str:
    """The message of a level whose file is not a regular file."""
    return f"{what}: refused (only a regular file is graded; a link's target is never read)"


def refused_level(level: int, filename: str, what: str) -> LevelSource:
    """A level whose file was refused (nbgrader's folders, read elsewhere): 0, with the reason."""
    return LevelSource(level, LEVELS[level].module, filename, None, refusal(what))


# ----------------------------------------------------------------------------- locating the files
def wanted_names(levels) -> set[str]:
    return {f"{LEVELS[lv].module}{ext}" for lv in levels for ext in (".py", ".ipynb")}


@dataclass
class Candidate:
    name: str  # the contract's file name (level1_numpy.py)
    where: str  # where it was, relative to the submission (``a/b/x.py`` or ``hw.zip!x.py``)
    zipped: int
    depth: int
    data: bytes


@dataclass
class Located:
    """What ``locate`` found: per level the file to grade, or why there is none."""

    files: dict[int, Candidate] = field(default_factory=dict)
    problems: dict[int, str] = field(default_factory=dict)  # level -> why it was not taken (ambiguous)
    notes: list[str] = field(default_factory=list)  # what was skipped or ignored, for the instructor

    def where(self) -> dict[str, str]:
        return {c.name: c.where for c in self.files.values()}


def _skipped_dir(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_DIRS


def _read_capped(f, cap: int) -> bytes:
    """At most cap + 1 bytes: enough for the reader to see that a file is too large."""
    return f.read(cap + 1)


def _search_zip(path: Path, rel: str, size: int, names: set[str], found: list[Candidate], notes: list[str]) -> None:
    if size > MAX_ZIP_BYTES:
        notes.append(f"{rel} is larger than {MAX_ZIP_BYTES // 2**20} MiB and was not opened")
        return
    read = 0
    base_depth = rel.count("/") + 1 if rel else 0
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                notes.append(
                    f"{rel or path.name} has more than {MAX_ZIP_MEMBERS} members; only the first were searched"
                )
            for info in members[:MAX_ZIP_MEMBERS]:
                # "." and ".." are dropped: a member path is never used on disk, only its name and
                # depth count (a traversal name such as ../../x.py is still the student's x.py)
                parts = [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".", "..")]
                inner = PurePosixPath(*parts) if parts else PurePosixPath(".")
                if info.is_dir() or inner.name not in names or any(_skipped_dir(p) for p in inner.parts[:-1]):
                    continue
                where = f"{rel}!{inner.as_posix()}" if rel else inner.as_posix()
                if stat.S_ISLNK(info.external_attr >> 16):
                    notes.append(f"{where} is a link and was ignored")
                    continue
                if read > MAX_ZIP_READ:
                    notes.append(
                        f"{rel or path.name} holds more than {MAX_ZIP_READ // 2**20} MiB of level files; "
                        "the rest were ignored"
                    )
                    break
                with zf.open(info) as f:
                    data = _read_capped(f, MAX_SOURCE_BYTES)
                read += len(data)
                found.append(Candidate(inner.name, where, 1 if rel else 0, base_depth + len(inner.parts) - 1, data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, OSError, ValueError, EOFError) as exc:
        notes.append(f"{rel or path.name} could not be read as a zip ({type(exc).__name__}: {exc})")


def _rank(c: Candidate) -> tuple:
    return (c.zipped, c.depth, not c.name.endswith(".py"))


def locate(root: Path, levels) -> Located:
    """Find each level's file anywhere in ``root`` (a folder, or a ``.zip`` standing for one)."""
    root = Path(root)
    names = wanted_names(levels)
    cands: list[Candidate] = []
    notes: list[str] = []
    refused: dict[str, str] = {}  # file name -> why it was refused (a link, a pipe...)
    try:
        st = os.lstat(root)
    except OSError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode) and root.suffix.lower() == ".zip":
        _search_zip(root, "", st.st_size, names, cands, notes)
    elif st is not None and stat.S_ISDIR(st.st_mode):
        entries = 0
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not _skipped_dir(d))
            rel_dir = Path(dirpath).relative_to(root)
            for d in dirnames:  # a folder under a level's name: refused, with the reason
                if d in names:
                    refused.setdefault(d, refusal(f"{(rel_dir / d).as_posix()} is a directory"))
            for name in sorted(filenames):
                entries += 1
                if entries > MAX_WALK_ENTRIES:
                    break
                path = Path(dirpath) / name
                rel = (rel_dir / name).as_posix()
                try:
                    fst = os.lstat(path)
                except OSError:
                    continue
                if name in names:
                    try:
                        data = read_regular(path, MAX_SOURCE_BYTES)
                    except NotRegular as exc:
                        why = refusal(f"{rel} is {str(exc).split(' is ', 1)[-1]}")
                        refused.setdefault(name, why)
                        notes.append(why)
                        continue
                    except OSError as exc:
                        notes.append(f"{rel} cannot be read: {exc.strerror}")
                        continue
                    cands.append(Candidate(name, rel, 0, rel.count("/"), data))
                elif name.lower().endswith(".zip") and stat.S_ISREG(fst.st_mode):
                    _search_zip(path, rel, fst.st_size, names, cands, notes)
            if entries > MAX_WALK_ENTRIES:
                notes.append(f"the submission has more than {MAX_WALK_ENTRIES} files; the rest were not searched")
                break
    located = Located(notes=notes)
    for lv in levels:
        module = LEVELS[lv].module
        mine = sorted(
            (c for c in cands if c.name in (f"{module}.py", f"{module}.ipynb")), key=lambda c: (_rank(c), c.where)
        )
        if not mine:
            refused_why = refused.get(f"{module}.py") or refused.get(f"{module}.ipynb")
            if refused_why:  # only a link (or a pipe...) under the level's name: refused, with the reason
                located.problems[lv] = refused_why
            continue
        best = [c for c in mine if _rank(c) == _rank(mine[0])]
        distinct = {c.data for c in best}
        if len(distinct) > 1:
            located.problems[lv] = (
                f"{mine[0].name} was found in {len(best)} places with different content ("
                + ", ".join(c.where for c in best[:4])
                + "): keep one copy, so the "
                "grader knows which one is your work"
            )
            continue
        located.files[lv] = mine[0]
        others = [c for c in mine[1:] if c.data != mine[0].data]
        if others:
            notes.append(
                f"{mine[0].name}: graded {mine[0].where}, ignored "
                + ", ".join(c.where for c in others[:3])
                + (" …" if len(others) > 3 else "")
            )
    return located


def has_level_files(root: Path) -> bool:
    """Whether ``root`` (a folder or a zip) holds any level file, at any depth."""
    located = locate(root, list(LEVELS))
    return bool(located.files or located.problems)


def source_of(level: int, name: str, raw: bytes) -> LevelSource:
    """A level's source from the bytes of its file (a notebook's code cells for a ``.ipynb``)."""
    module = LEVELS[level].module
    if len(raw) > MAX_SOURCE_BYTES:
        return LevelSource(
            level, module, name, None, f"{name} is larger than the {MAX_SOURCE_BYTES // 1024} KiB a level may be"
        )
    if name.endswith(".ipynb"):
        try:
            return LevelSource(level, module, name, notebook_code(raw), None, raw)
        except ValueError as exc:
            return LevelSource(level, module, name, None, f"{name} {exc}", raw)
    try:
        source = source_text.python_source(raw)  # as the interpreter reads it: BOM, cookie, CRLF or CR
    except source_text.Unreadable as exc:
        return LevelSource(level, module, name, None, f"{name} {exc}", raw)
    return LevelSource(level, module, name, source, None, raw)


def read_level(directory: Path, level: int) -> LevelSource:
    return read_submission(Path(directory), [level])[level]


def read_submission(directory: Path, levels: list[int], located: Located | None = None) -> dict[int, LevelSource]:
    """Each level's source, wherever in ``directory`` (or the zip) the student put its file."""
    located = located or locate(Path(directory), levels)
    out = {}
    for lv in levels:
        module = LEVELS[lv].module
        if lv in located.files:
            c = located.files[lv]
            src = source_of(lv, c.name, c.data)
            if c.where != c.name and src.problem is None:
                src.where = c.where
            out[lv] = src
        elif lv in located.problems:
            out[lv] = LevelSource(lv, module, f"{module}.py", None, located.problems[lv])
        else:
            out[lv] = LevelSource(
                lv,
                module,
                f"{module}.py",
                None,
                f"{module}.py is missing (nor is there a {module}.ipynb) in the submission",
            )
    return out


def submission_hash(sources: dict[int, LevelSource]) -> str:
    h = hashlib.sha256()
    for lv in sorted(sources):
        s = sources[lv]
        h.update(f"{s.filename}\0{len(s.raw)}\0".encode())
        h.update(s.raw)
    return h.hexdigest()
