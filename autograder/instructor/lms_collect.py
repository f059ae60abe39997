"""Collecting an LMS's "download all submissions" into one folder per student, by the roster.

Each LMS names the files of its download after the student, in its own way:

- **Canvas** (Assignments → Download Submissions, ``submissions.zip``), flat files
  ``<lastfirst>_<user id>_<submission id>_<file>``, with ``LATE_`` after the name for a late one,
  and a ``-1``, ``-2`` … before the extension of a resubmitted file:
  ``doejohn_12345_6789012_level3_autograd.ipynb``, ``doejohn_LATE_12345_6789013_level3_autograd-1.ipynb``.
  The user id is the ``ID`` column of Canvas's gradebook export.
- **Moodle** (Assignment → View all submissions → Download all submissions), a folder per student
  ``<Full Name>_<participant id>_assignsubmission_file_/<file>`` (or, with "download submissions in
  folders" off, flat files ``<Full Name>_<participant id>_assignsubmission_file_<file>``). The
  participant id is the ``Identifier`` column (``Participant 123456``) of Moodle's grading worksheet.
- **Blackboard** (Grade Center → column → Assignment File Download), flat files
  ``<Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>`` and one
  ``<Assignment>_<username>_attempt_<…>.txt`` of metadata per attempt.

Files are mapped to students **by the roster only**, read by the kit's one roster reader
(:func:`autograder.instructor.roster.read_roster`, shared with the grade exports and ``nbgrader
run``): the id in the name (Canvas, Moodle) or the username (Blackboard) must name exactly one
roster entry. Nothing is guessed from the parts of a name: a file whose id is on no entry, or whose
Blackboard prefix ends with the keys of two entries, is listed as not collected, with the reason.
The roster (``--roster``) is any layout that reader takes: the kit's ``directory,student_id,name,section``
(``student_id`` holds the LMS's id, ``directory`` the folder; ``login`` may stand for the folder,
and ``directory`` holds Blackboard usernames), nbgrader's ``students.csv``, Canvas's or Moodle's
gradebook export, or Moodle's grading worksheet (``Identifier,Full name,Email address,…``, whose
``Participant 123456`` is the number in Moodle's download names). Each student's folder is named by the entry's
``directory``, else its SIS login, username or id: never an e-mail address (a folder name ends up
in URLs, logs and nbgrader's student ids, where an address is personal data and an ``@`` a nuisance).

What each LMS says about lateness is kept: Canvas's ``LATE_`` in a file's name, Moodle's grading
worksheet's ``Status`` ("... late"); Blackboard's download says nothing of it. The collection
report, ``OUT/collection.csv``, has a ``late`` column (``yes`` where the LMS marked a file late,
``unknown`` where its download cannot say), which ``grade OUT`` carries into ``grades.csv``.

Exit status: 0 when every file was collected, ``PARTIAL`` (4) when some were and others are listed
as NOT COLLECTED (grade the folder; place those by hand), 2 when nothing could be collected (an
unreadable download or roster, or no file that names a roster entry).
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..core import neutralise
from ..core.report import write_atomic
from ..core.submission import MAX_ZIP_BYTES, MAX_ZIP_MEMBERS
from .roster import Roster, RosterEntry, RosterError, read_roster

CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?P<late>LATE_)?(?P<key>\d+)_(?P<sub>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>.+)_(?P<key>\d+)_assignsubmission_(?:file|onlinetext)_(?P<file>.*)$")
BLACKBOARD = re.compile(r"^(?P<prefix>.+)_attempt_(?P<stamp>\d{4}(?:-\d\d){5})(?:_(?P<file>.+)|\.txt)$")
#: Canvas renames a resubmitted file ``name-1.ext``; the contract's name is ``name.ext``
RESUBMITTED = re.compile(r"^(?P<stem>level\d_[a-z]+)-\d+(?P<ext>\.(?:py|ipynb))$")
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
#: ``collect``'s exit status when it collected some files and not others (a usable class folder:
#: distinct from 1 and 2, so that ``collect ...; [ $? -ne 2 ] && grade ...`` goes on with it).
PARTIAL = 4
#: The collection report in OUT (a file, so never taken for a student by ``grade OUT``).
REPORT = "collection.csv"
#: The LMSs whose download names say nothing about lateness.
SILENT_ON_LATENESS = frozenset({"Blackboard"})


@dataclass
class Collected:
    files: dict[str, list[str]] = field(default_factory=dict)  # student id -> files written
    not_collected: list[str] = field(default_factory=list)  # "name: why"
    lms: set[str] = field(default_factory=set)
    late: dict[str, list[str]] = field(default_factory=dict)  # student id -> files the LMS marked late
    lms_of: dict[str, str] = field(default_factory=dict)  # student id -> the LMS their files came from


def folder_of(entry: RosterEntry) -> str:
    """The student's folder name (and nbgrader id): the roster's directory, else its login, username
    or id; never an e-mail address."""
    for value in (entry.directory, entry.sis_login_id, entry.username, entry.student_id):
        if value and STUDENT_ID.fullmatch(value):
            return value
    raise ValueError(
        f"roster entry {neutralise.terminal(entry.name)!r} has no usable folder name (a directory, login, "
        "username or id of letters, digits, _ . -; an e-mail address is never one)"
    )


def _one(roster: Roster, key: str, lms: str, what: str) -> tuple[RosterEntry | None, str]:
    entries = roster.find(key)
    if len(entries) == 1:
        return entries[0], ""
    if entries:
        return None, f"{lms} {what} {key} names {len(entries)} roster entries"
    return None, f"{lms} {what} {key} is not on the roster"


def _entries(download: Path):
    """(top-level name, relative path below it or "", bytes reader) for every file of the download."""
    if download.is_file() and download.suffix.lower() == ".zip":
        if download.stat().st_size > 16 * MAX_ZIP_BYTES:
            raise ValueError(f"{download} is too large to collect")
        with zipfile.ZipFile(download) as zf:
            for info in zf.infolist()[:MAX_ZIP_MEMBERS]:
                parts = PurePosixPath(info.filename.replace("\\", "/")).parts
                if info.is_dir() or not parts or any(p in ("..", "") for p in parts) or parts[0] == "__MACOSX":
                    continue
                yield parts[0], "/".join(parts[1:]), zf.read(info)
        return
    for top in sorted(download.iterdir()):
        if top.name.startswith(".") or top.is_symlink():
            continue
        if top.is_file():
            yield top.name, "", top.read_bytes()
        elif top.is_dir():
            for f in sorted(top.rglob("*")):
                if f.is_file() and not f.is_symlink():
                    yield top.name, f.relative_to(top).as_posix(), f.read_bytes()


def _late(top: str, lms: str, entry: RosterEntry | None, roster: Roster) -> bool:
    """Whether the LMS marked this file late: Canvas in its name, Moodle in its worksheet."""
    if lms == "Canvas":
        m = CANVAS.match(top)
        return bool(m and m["late"])
    if lms == "Moodle" and entry is not None:
        return any(k in roster.late_keys for k in entry.keys)
    return False


def _which(top: str, roster: Roster) -> tuple[RosterEntry | None, str, str, str]:
    """(roster entry or None, file name, LMS, why not) for a top-level entry of a download."""
    m = MOODLE.match(top)
    if m:
        entry, why = _one(roster, m["key"], "Moodle", "participant id")
        return entry, m["file"], "Moodle", why
    m = BLACKBOARD.match(top)
    if m:
        prefix = m["prefix"].casefold()
        users = [e for e in roster.entries if any(k and prefix.endswith("_" + k) for k in e.keys)]
        if len(users) > 1:
            return (
                None,
                m["file"] or "",
                "Blackboard",
                (
                    "its name ends with the usernames of more than one "
                    "roster entry (" + ", ".join(sorted(e.name for e in users)) + ")"
                ),
            )
        return (users[0] if users else None), m["file"] or "", "Blackboard", "no roster username ends its name"
    m = CANVAS.match(top)
    if m:
        entry, why = _one(roster, m["key"], "Canvas", "user id")
        return entry, m["file"], "Canvas", why
    return None, top, "", "not a Canvas, Moodle or Blackboard download name"


def collect(download: Path, roster: Roster, out: Path) -> Collected:
    result = Collected()
    for top, below, data in _entries(Path(download)):
        entry, name, lms, why = _which(top, roster)
        if lms:
            result.lms.add(lms)
        if entry is None:
            result.not_collected.append(f"{top}{'/' + below if below else ''}: {why}")
            continue
        student = folder_of(entry)
        if lms == "Blackboard" and not name:
            continue  # the attempt's metadata (.txt): nothing to grade
        rel = below or name
        if not rel:
            continue
        path = PurePosixPath(rel)
        m = RESUBMITTED.match(path.name)
        if m:
            path = path.with_name(m["stem"] + m["ext"])
        dest = Path(out) / student / Path(*path.parts)
        if dest.exists() and dest.read_bytes() != data:
            dest = dest.with_name(f"{dest.stem}.{len(result.files[student])}{dest.suffix}.duplicate")
            result.not_collected.append(f"{top}: a second, different {path.name} for {student}: kept as {dest.name}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        result.files.setdefault(student, []).append(path.as_posix())
        result.lms_of[student] = lms
        if _late(top, lms, entry, roster):
            result.late.setdefault(student, []).append(path.as_posix())
    return result


def late_cell(result: Collected, student: str) -> str:
    """``yes``: the LMS marked a file late; ``unknown``: its download cannot say; else empty."""
    if student in result.late:
        return "yes"
    return "unknown" if result.lms_of.get(student) in SILENT_ON_LATENESS else ""


def report_csv(result: Collected, roster: Roster) -> str:
    """OUT/collection.csv: one row per roster student (what was collected, late or not), then one
    per file not collected, with the reason. Every cell through the CSV neutraliser (names and
    file names come from students)."""
    buf = io.StringIO()
    fields = ["student", "name", "lms", "late", "late_files", "files", "not_collected"]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    names = {folder_of(e): e.name for e in roster.entries}
    for student in sorted(names.keys() | result.files.keys()):
        w.writerow(
            neutralise.csv_row(
                {
                    "student": student,
                    "name": names.get(student, ""),
                    "lms": result.lms_of.get(student, ""),
                    "late": late_cell(result, student),
                    "late_files": " ".join(result.late.get(student, [])),
                    "files": " ".join(result.files.get(student, [])),
                    "not_collected": "" if student in result.files else "nothing collected",
                }
            )
        )
    for line in result.not_collected:
        name, _, why = line.partition(": ")
        w.writerow(neutralise.csv_row({"files": name, "not_collected": why}))
    return buf.getvalue()


def late_students(class_dir: Path) -> dict[str, str]:
    """``{folder: late cell}`` from a collected class folder's report (empty without one): what
    ``grade`` puts in grades.csv's ``late`` column."""
    try:
        text = (Path(class_dir) / REPORT).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    return {r["student"]: r.get("late") or "" for r in csv.DictReader(io.StringIO(text)) if r.get("student")}


def cmd_collect(args) -> int:
    try:
        roster = read_roster(Path(args.roster))
        everyone = {folder_of(e) for e in roster.entries}
        out = Path(args.out)
        if out.exists() and any(out.iterdir()) and not args.force:
            print(f"autograder: {out} is not empty; collect into a new folder, or add --force", file=sys.stderr)
            return 2
        if args.force:
            shutil.rmtree(out, ignore_errors=True)
        result = collect(Path(args.download), roster, out)
    except (OSError, ValueError, zipfile.BadZipFile, RosterError) as exc:
        print(f"autograder: {exc}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / REPORT, report_csv(result, roster))
    print(
        f"{', '.join(sorted(result.lms)) or 'no LMS'} download: {len(result.files)} of {len(everyone)} "
        f"students collected into {out}/ (report: {out / REPORT})"
    )
    for student, files in sorted(result.files.items()):
        late = result.late.get(student)
        note = f"  (LATE: {', '.join(late)})" if late else ""
        print(neutralise.terminal(f"  {student}: {', '.join(files)}{note}"))
    missing = sorted(everyone - set(result.files))
    if missing:
        print(neutralise.terminal(f"nothing from: {', '.join(missing)}"))
    for line in result.not_collected:
        print(neutralise.terminal(f"NOT COLLECTED {line}"), file=sys.stderr)
    if not result.files:
        print("autograder: nothing collected (no file names a roster entry)", file=sys.stderr)
        return 2
    if result.not_collected:
        print(
            f"autograder: {len(result.not_collected)} file(s) not collected (listed above); exit status "
            f"{PARTIAL}: the class folder is usable",
            file=sys.stderr,
        )
        return PARTIAL
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "collect",
        help="an LMS download (Canvas, Moodle, Blackboard) into one folder per student, by the roster",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("download", help="the LMS's download: its .zip, or the folder it unpacked to")
    p.add_argument(
        "--roster",
        required=True,
        help="roster CSV: directory,student_id,name,section (the folder name, the LMS's id); also taken: "
        "nbgrader's students.csv, the LMS's own gradebook export, Moodle's grading worksheet",
    )
    p.add_argument("--out", required=True, help="where each student's folder goes (then: grade OUT --out grades/)")
    p.add_argument("--force", action="store_true", help="empty OUT first")
    p.set_defaults(func=cmd_collect, takes_rest=False)
