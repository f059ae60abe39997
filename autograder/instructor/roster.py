"""Rosters: who each submission directory is in the learning-management system. The one reader.

Every roster the kit takes (``grade --roster``, ``lms --roster``, ``collect --roster``,
``nbgrader run --roster``) is read here, by :func:`read_roster` / :func:`parse_roster`. The layout is
told by the header, whose names are matched through the aliases of :data:`LAYOUTS` (case, spaces
and underscores do not matter; a byte-order mark, ``;`` or tab separators are fine):

- **the kit's CSV** (the one the README shows): ``directory,student_id,name,section`` (optional:
  ``email``, ``sis_user_id``, ``sis_login_id`` or ``login``, ``first_name``, ``last_name``).
  ``directory`` is the student's folder; where it is empty, the folder may be named by the student
  id, login or email. ``student_id`` holds the LMS's id (what its download names a file by);
- **nbgrader's** ``students.csv`` (``id,last_name,first_name,email``, what ``nbgrader db student
  import`` takes): read as the kit's CSV with ``id`` as the student id (the folder);
- **Canvas's gradebook export** (``Student, ID, SIS User ID, SIS Login ID, Section, <assignments>``, a
  ``Points Possible`` row under the header): a directory is matched by SIS Login ID, SIS User ID or
  Canvas ID; the export's own assignment columns (``Name (id)``) are reused when a kit column has
  the same name, so that Canvas updates that assignment rather than creating another;
- **Moodle's gradebook export** (``First name, Last name`` or ``Surname, ID number, Institution,
  Department, Email address, <grade items>``; a ``Username`` column is used where present): matched
  by ID number, email address, the email's part before ``@``, or username;
- **Moodle's grading worksheet** (``Identifier, Full name, Email address, Status, ...``): matched by
  the participant number of ``Identifier`` (``Participant 123456``, the number in Moodle's download
  names); a ``Status`` saying "late" is kept in :attr:`Roster.late_keys`.

Protections: at most :data:`MAX_ROSTER_BYTES`; a regular file only (a FIFO or a device is refused,
never waited on); UTF-8 only; one id (directory, student id, login, SIS user id, username) on two
rows is refused with both line numbers; cells quoted in a message are shown with their control
characters escaped. Cells are kept as written: the exports neutralise what they write.

Matching ignores case. A directory that matches no entry, or several, is *unmatched* and listed with
the reason, never dropped; a roster entry that two directories match keeps the first (sorted) and
the second is listed.

:func:`match` pairs directory names with the entries; :meth:`Roster.find` answers which entries an
identifier (a directory name, a login, an email, an id found in an LMS download's file name) names.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core import neutralise

MAX_ROSTER_BYTES = 20 * 1024 * 1024


class RosterError(ValueError):
    """The roster cannot be used (unreadable, no header that the kit knows, an id on two rows)."""


@dataclass(frozen=True)
class RosterEntry:
    name: str  # as the LMS shows it; Canvas: "Last, First"
    student_id: str = ""  # Canvas ID / Moodle ID number / the kit roster's student_id / nbgrader's id
    section: str = ""
    directory: str = ""
    email: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    keys: tuple[str, ...] = ()  # what a submission directory may be named by (case-folded)


@dataclass
class Roster:
    kind: str  # "kit", "nbgrader", "canvas", "moodle" or "moodle-worksheet"
    entries: list[RosterEntry]
    canvas_columns: dict[str, str] = field(default_factory=dict)  # assignment name -> "name (id)"
    late_keys: frozenset[str] = frozenset()  # Moodle's worksheet: the keys of those it marks late

    def find(self, identifier: str) -> list[RosterEntry]:
        """The entries that ``identifier`` names (by their keys, or their LMS ids: the student id or
        SIS user id an LMS download names a file by; case does not matter)."""
        wanted = identifier.strip().casefold()
        if not wanted:
            return []
        return [e for e in self.entries if wanted in e.keys or wanted in _keys(e.student_id, e.sis_user_id)]


@dataclass
class Matching:
    matched: dict[str, RosterEntry]  # directory -> entry
    unmatched: list[tuple[str, str]]  # (directory, why)
    missing: list[RosterEntry]  # roster entries with no directory


# ----------------------------------------------------------------------------- layouts
@dataclass(frozen=True)
class Layout:
    """One roster layout: the headers that tell it, and each field's aliases (normalised headers;
    the first alias with a non-empty cell gives the field)."""

    kind: str
    needs: tuple[tuple[str, ...], ...]  # each: one of these headers must be there
    columns: dict[str, tuple[str, ...]]  # field -> aliases
    shown: str  # its header, as messages and the README name it


_KIT_COLUMNS = {
    "name": ("name",),
    "first_name": ("first name",),
    "last_name": ("last name",),
    "student_id": ("student id", "id"),
    "section": ("section",),
    "directory": ("directory",),
    "email": ("email",),
    "sis_user_id": ("sis user id",),
    "sis_login_id": ("sis login id", "login"),
}

#: The layouts, in the order they are tried (the first whose ``needs`` the header meets is used).
LAYOUTS = (
    Layout(
        "moodle-worksheet",
        (("identifier",),),
        {
            "name": ("full name",),
            "identifier": ("identifier",),
            "student_id": ("id number",),
            "email": ("email address",),
            "username": ("username",),
            "status": ("status",),
        },
        "Moodle's grading worksheet (Identifier, Full name, Email address, Status)",
    ),
    Layout(
        "canvas",
        (("student",), ("sis login id",)),
        {
            "name": ("student",),
            "student_id": ("id",),
            "section": ("section",),
            "sis_user_id": ("sis user id",),
            "sis_login_id": ("sis login id",),
        },
        "Canvas's gradebook export (Student, ID, SIS User ID, SIS Login ID, Section)",
    ),
    Layout(
        "moodle",
        (("first name",), ("last name", "surname"), ("id number", "email address")),
        {
            "first_name": ("first name",),
            "last_name": ("last name", "surname"),
            "student_id": ("id number",),
            "email": ("email address",),
            "username": ("username",),
            "section": ("group", "groups", "department"),
        },
        "Moodle's gradebook export (First name, Last name or Surname, ID number, Email address, Username)",
    ),
    Layout("kit", (("directory", "student id"),), _KIT_COLUMNS, "the kit's directory,student_id,name,section"),
    Layout("nbgrader", (("id",),), _KIT_COLUMNS, "nbgrader's students.csv (id,last_name,first_name,email)"),
)

#: The ids that no two rows may share (a field, and how a message names it).
UNIQUE = (
    ("directory", "directory"),
    ("student_id", "student id"),
    ("sis_login_id", "login"),
    ("sis_user_id", "SIS user id"),
    ("username", "username"),
)


# ----------------------------------------------------------------------------- reading
def _norm(header: str) -> str:
    return re.sub(r"[\s_]+", " ", header.strip().lstrip("\ufeff")).casefold()


def split_name(name: str) -> tuple[str, str]:
    """(first, last) from "Last, First" or "First Last"."""
    if "," in name:
        last, first = (p.strip() for p in name.split(",", 1))
        return first, last
    parts = name.split()
    return (" ".join(parts[:-1]), parts[-1]) if len(parts) > 1 else (name.strip(), "")


def _keys(*values: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip().casefold() for v in values if v and v.strip()))


def _shown(cell: str, limit: int = 80) -> str:
    return neutralise.terminal(neutralise.cap(cell, limit))


def read_roster(path: Path) -> Roster:
    """Read a roster in any of the layouts of :data:`LAYOUTS` (see the module's docstring)."""
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)  # non-blocking: a FIFO is refused below, never waited on
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise RosterError(f"{path} is not a regular file (a FIFO, a device or a folder)")
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read(MAX_ROSTER_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        raise RosterError(f"{path} cannot be read: {exc.strerror}") from None
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterError(f"{path} is larger than {MAX_ROSTER_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError(f"{path} is not UTF-8 text (save it as CSV UTF-8)") from None
    return parse_roster(text, str(path))


def _rows(text: str, where: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every non-blank row."""
    try:
        sniffed = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
        # the header's separator and quote; a quote inside a quoted cell is doubled, as every
        # spreadsheet writes it (the sniffer, seeing no such quote in the header, says otherwise)
        delimiter, quotechar = sniffed.delimiter, sniffed.quotechar or '"'
    except csv.Error:
        delimiter, quotechar = csv.excel.delimiter, csv.excel.quotechar or '"'
    reader = csv.reader(io.StringIO(text), csv.excel, delimiter=delimiter, quotechar=quotechar, doublequote=True)
    try:
        return [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise RosterError(f"{where}: not a CSV file the kit can read (line {reader.line_num}: {exc})") from None


def accepted() -> str:
    """The layouts the kit reads, for messages."""
    return "; ".join(layout.shown for layout in LAYOUTS)


def parse_roster(text: str, where: str = "the roster") -> Roster:
    rows = _rows(text, where)
    if not rows:
        raise RosterError(f"{where} is empty")
    header = [_norm(h) for h in rows[0][1]]
    col = {h: i for i, h in reversed(list(enumerate(header)))}
    layout = next((lo for lo in LAYOUTS if all(any(n in col for n in need) for need in lo.needs)), None)
    if layout is None:
        raise RosterError(
            f"{where}: no header the kit knows; found: {_shown(', '.join(rows[0][1][:8]), 200)}. Accepted: {accepted()}"
        )

    def getter(row: list[str]) -> Callable[[str], str]:
        def get(name: str) -> str:
            for alias in layout.columns.get(name, ()):
                i = col.get(alias)
                if i is not None and i < len(row) and row[i].strip():
                    return row[i].strip()
            return ""

        return get

    build = _BUILDERS[layout.kind]
    entries: list[tuple[int, RosterEntry]] = []
    late: set[str] = set()
    for line, row in rows[1:]:
        entry = build(getter(row), late)
        if entry is not None:
            entries.append((line, entry))
    _refuse_duplicates(entries, where)
    roster = Roster(layout.kind, [e for _, e in entries], late_keys=frozenset(late))
    if layout.kind == "canvas":
        for raw in rows[0][1]:  # assignment columns: "Name (id)"
            m = re.fullmatch(r"\s*(.*?)\s*\((\d+)\)\s*", raw)
            if m:
                roster.canvas_columns[m.group(1)] = raw.strip()
    return roster


def _refuse_duplicates(entries: list[tuple[int, RosterEntry]], where: str) -> None:
    for attr, label in UNIQUE:
        seen: dict[str, int] = {}
        for line, e in entries:
            value = getattr(e, attr).casefold()
            if not value:
                continue
            if value in seen:
                raise RosterError(
                    f"{where}: lines {seen[value]} and {line} have the same {label} "
                    f"{_shown(getattr(e, attr))!r}; each student once, please"
                )
            seen[value] = line


def _kit(get: Callable[[str], str], late: set[str]) -> RosterEntry:
    name = get("name")
    first, last = get("first_name"), get("last_name")
    if not (first or last):
        first, last = split_name(name)
    e = {
        "name": name or f"{first} {last}".strip(),
        "student_id": get("student_id"),
        "section": get("section"),
        "directory": get("directory"),
        "email": get("email"),
        "sis_user_id": get("sis_user_id"),
        "sis_login_id": get("sis_login_id"),
        "first_name": first,
        "last_name": last,
    }
    keys = (
        _keys(e["directory"])
        if e["directory"]
        else _keys(e["student_id"], e["sis_login_id"], e["sis_user_id"], e["email"])
    )
    return RosterEntry(**e, keys=keys)


def _canvas(get: Callable[[str], str], late: set[str]) -> RosterEntry | None:
    name = get("name")
    if name.casefold() in ("points possible", "student, test") and not get("sis_login_id"):
        return None  # the points row (and Canvas's test student, who has no login)
    if not name and not get("student_id"):
        return None  # e.g. the "Manual Posting" row of some exports
    first, last = split_name(name)
    e = {
        "name": name,
        "student_id": get("student_id"),
        "section": get("section"),
        "sis_user_id": get("sis_user_id"),
        "sis_login_id": get("sis_login_id"),
        "first_name": first,
        "last_name": last,
    }
    return RosterEntry(**e, keys=_keys(e["sis_login_id"], e["sis_user_id"], e["student_id"]))


def _moodle(get: Callable[[str], str], late: set[str]) -> RosterEntry:
    first, last = get("first_name"), get("last_name")
    email, number, user = get("email"), get("student_id"), get("username")
    return RosterEntry(
        name=f"{first} {last}".strip(),
        student_id=number,
        email=email,
        first_name=first,
        last_name=last,
        username=user,
        section=get("section"),
        keys=_keys(number, email, email.split("@")[0] if "@" in email else "", user),
    )


def _moodle_worksheet(get: Callable[[str], str], late: set[str]) -> RosterEntry | None:
    number = re.sub(r"\D", "", get("identifier"))  # "Participant 123456"
    if not number:
        return None
    if re.search(r"\blate\b", get("status"), re.I):  # "Submitted for grading - 2 days late"
        late.add(number)
    # the folder: the worksheet's username or ID number where it shows them (identity fields),
    # else the participant number; the e-mail address only matches
    return RosterEntry(
        name=get("name"),
        student_id=get("student_id") or number,
        email=get("email"),
        username=get("username"),
        keys=(number,),
    )


_BUILDERS: dict[str, Callable[[Callable[[str], str], set[str]], RosterEntry | None]] = {
    "kit": _kit,
    "nbgrader": _kit,
    "canvas": _canvas,
    "moodle": _moodle,
    "moodle-worksheet": _moodle_worksheet,
}


def match(roster: Roster, directories: list[str]) -> Matching:
    """Pair each submission directory (its name on disk) with a roster entry."""
    by_key: dict[str, list[int]] = {}
    for i, e in enumerate(roster.entries):
        for k in e.keys:
            by_key.setdefault(k, []).append(i)
    matched: dict[str, RosterEntry] = {}
    unmatched: list[tuple[str, str]] = []
    taken: dict[int, str] = {}
    for d in sorted(directories):
        hits = sorted(set(by_key.get(d.strip().casefold(), [])))
        if not hits:
            unmatched.append((d, "not in the roster"))
        elif len(hits) > 1:
            unmatched.append(
                (
                    d,
                    "matches several roster entries: "
                    + "; ".join(roster.entries[i].name or roster.entries[i].student_id for i in hits),
                )
            )
        elif hits[0] in taken:
            unmatched.append((d, f"its roster entry is already matched by {taken[hits[0]]}"))
        else:
            taken[hits[0]] = d
            matched[d] = roster.entries[hits[0]]
    missing = [e for i, e in enumerate(roster.entries) if i not in taken]
    return Matching(matched, unmatched, missing)
