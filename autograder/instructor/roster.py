"""Rosters: who each submission directory is in the learning-management system.

Three forms are read (the kind is told by the header):

- the kit's own CSV: ``directory,student_id,name,section`` (optional: ``email``, ``sis_user_id``,
  ``sis_login_id``, ``first_name``, ``last_name``). ``directory`` is the submission directory's name;
  where it is empty, the directory may be named by the student id, login or email;
- Canvas's gradebook export (``Student, ID, SIS User ID, SIS Login ID, Section, <assignments>``, a
  ``Points Possible`` row under the header): a directory is matched by SIS Login ID, SIS User ID or
  Canvas ID; the export's own assignment columns (``Name (id)``) are reused when a kit column has
  the same name, so that Canvas updates that assignment rather than creating another;
- Moodle's gradebook export (``First name, Last name, ID number, Institution, Department, Email
  address, <grade items>``; a ``Username`` column is used where present): matched by ID number,
  email address, the email's part before ``@``, or username.

Matching ignores case. A directory that matches no entry, or several, is *unmatched* and listed with
the reason, never dropped; a roster entry that two directories match keeps the first (sorted) and
the second is listed.

:func:`read_roster` / :func:`parse_roster` read one; :func:`match` pairs directory names with its
entries; :meth:`Roster.find` answers which entries an identifier (a directory name, a login, an
email, an id found in an LMS download's file name) names.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_ROSTER_BYTES = 20 * 1024 * 1024


class RosterError(ValueError):
    """The roster cannot be used (unreadable, no header that the kit knows)."""


@dataclass(frozen=True)
class RosterEntry:
    name: str  # as the LMS shows it; Canvas: "Last, First"
    student_id: str = ""  # Canvas ID / Moodle ID number / the kit roster's student_id
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
    kind: str  # "kit", "canvas" or "moodle"
    entries: list[RosterEntry]
    canvas_columns: dict[str, str] = field(default_factory=dict)  # assignment name -> "name (id)"

    def find(self, identifier: str) -> list[RosterEntry]:
        """The entries that ``identifier`` names (by their keys; case does not matter)."""
        wanted = identifier.strip().casefold()
        return [e for e in self.entries if wanted in e.keys]


@dataclass
class Matching:
    matched: dict[str, RosterEntry]  # directory -> entry
    unmatched: list[tuple[str, str]]  # (directory, why)
    missing: list[RosterEntry]  # roster entries with no directory


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


def read_roster(path: Path) -> Roster:
    """Read a roster in any of the three forms (see the module's docstring)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise RosterError(f"{path} is larger than {MAX_ROSTER_BYTES // 2**20} MiB")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise RosterError(f"{path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise RosterError(f"{path} is not UTF-8 text (save it as CSV UTF-8)") from None
    return parse_roster(text, str(path))


def parse_roster(text: str, where: str = "the roster") -> Roster:
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    if not rows:
        raise RosterError(f"{where} is empty")
    header = [_norm(h) for h in rows[0]]
    col = {h: i for i, h in reversed(list(enumerate(header)))}

    def get(row: list[str], *names: str) -> str:
        for n in names:
            i = col.get(n)
            if i is not None and i < len(row) and row[i].strip():
                return row[i].strip()
        return ""

    entries = []
    if "student" in col and "sis login id" in col:
        canvas_columns = {}
        for raw in rows[0]:  # assignment columns: "Name (id)"
            m = re.fullmatch(r"\s*(.*?)\s*\((\d+)\)\s*", raw)
            if m:
                canvas_columns[m.group(1)] = raw.strip()
        for row in rows[1:]:
            name = get(row, "student")
            if name.casefold() in ("points possible", "student, test") and not get(row, "sis login id"):
                continue  # the points row (and Canvas's test student, who has no login)
            if not name and not get(row, "id"):
                continue  # e.g. the "Manual Posting" row of some exports
            first, last = split_name(name)
            e = {
                "name": name,
                "student_id": get(row, "id"),
                "section": get(row, "section"),
                "sis_user_id": get(row, "sis user id"),
                "sis_login_id": get(row, "sis login id"),
                "first_name": first,
                "last_name": last,
            }
            entries.append(RosterEntry(**e, keys=_keys(e["sis_login_id"], e["sis_user_id"], e["student_id"])))
        return Roster("canvas", entries, canvas_columns)
    if "first name" in col and "last name" in col and ("id number" in col or "email address" in col):
        for row in rows[1:]:
            first, last = get(row, "first name"), get(row, "last name")
            email, number, user = get(row, "email address"), get(row, "id number"), get(row, "username")
            entries.append(
                RosterEntry(
                    name=f"{first} {last}".strip(),
                    student_id=number,
                    email=email,
                    first_name=first,
                    last_name=last,
                    username=user,
                    section=get(row, "group", "groups", "department"),
                    keys=_keys(number, email, email.split("@")[0] if "@" in email else "", user),
                )
            )
        return Roster("moodle", entries)
    if "directory" in col or "student id" in col:
        for row in rows[1:]:
            name = get(row, "name")
            first, last = get(row, "first name"), get(row, "last name")
            if not (first or last):
                first, last = split_name(name)
            e = {
                "name": name or f"{first} {last}".strip(),
                "student_id": get(row, "student id", "id"),
                "section": get(row, "section"),
                "directory": get(row, "directory"),
                "email": get(row, "email"),
                "sis_user_id": get(row, "sis user id"),
                "sis_login_id": get(row, "sis login id", "login"),
                "first_name": first,
                "last_name": last,
            }
            keys = (
                _keys(e["directory"])
                if e["directory"]
                else _keys(e["student_id"], e["sis_login_id"], e["sis_user_id"], e["email"])
            )
            entries.append(RosterEntry(**e, keys=keys))
        return Roster("kit", entries)
    raise RosterError(
        f"{where}: no header the kit knows (want directory,student_id,name,section; or a Canvas "
        f"or Moodle gradebook export); found: {', '.join(rows[0][:8])}"
    )


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
