"""Similarity across a class: every pair of students compared level by level.

Each student's level (the ``.py``, or a notebook's code cells as grading takes them) is normalised
(:mod:`autograder.instructor.similarity_normalise`: names, comments, formatting, order of independent
statements and the stub's boilerplate no longer count), then fingerprinted by winnowing with
``copydetect`` (the algorithm behind MOSS): hashes of every k tokens, of which each window keeps
its smallest. Two students share a fingerprint when they share k normalised tokens in a row.
Fingerprints that most of the class shares are what the exercise makes everyone write, and are
ignored (as MOSS ignores passages found in many files).

A level's score for a pair is the mean of the two shares of their own code (after the stub's
boilerplate is removed) that the other's fingerprints cover. A pair's score is the mean over the
levels both wrote code for. A level is flagged when its score reaches the threshold and at least
``min_tokens`` tokens matched. A high score is a reason to look at the two files, not proof:
students who follow the same tutorial line by line, or one who shared with another, look alike.

Writes ``OUT/similarity.csv`` (every compared pair and level above ``report_floor``) and
``OUT/similarity.html`` (:mod:`autograder.render.similarity_html`).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import itertools
import operator
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ..core.curriculum import LEVELS
from ..core.settings import repo_root
from ..core.submission import LevelSource, read_submission
from .similarity_normalise import Normalised, boilerplate_texts, normalise

#: Default threshold, chosen from measurement on tests/similarity_class.py's class (levels 1-3):
#: disguised copies score 1.00 at every level, and so does the one-level copy on its level; honest
#: pairs, who by construction share the style of up to two functions a level, at most 0.71 (median
#: 0.28). 0.85 leaves room on both sides: for copies partly rewritten, for honest work that converges.
DEFAULT_THRESHOLD = 0.85
#: k: tokens a shared passage must have before it counts (about one normalised statement).
DEFAULT_K = 10
#: winnowing window: every shared passage of k + window - 1 tokens is guaranteed to be found.
DEFAULT_WINDOW = 4
#: a level's own code smaller than this (tokens) is too little to compare; fewer matched tokens
#: than this never flag a level.
DEFAULT_MIN_TOKENS = 25
#: fingerprints found in more than this share of the class's submissions of a level are ignored
#: (only for classes of at least COMMON_MIN_CLASS students: in a small class a share says little).
DEFAULT_COMMON = 0.5
COMMON_MIN_CLASS = 8
#: a level's code longer than this is not compared (normalising it would take seconds; a solution
#: is a few KiB): the report lists it under "not compared"
MAX_COMPARED_CHARS = 256 * 1024


@dataclass
class Options:
    threshold: float = DEFAULT_THRESHOLD
    k: int = DEFAULT_K
    window: int = DEFAULT_WINDOW
    min_tokens: int = DEFAULT_MIN_TOKENS
    common: float = DEFAULT_COMMON
    report_floor: float = 0.2  # pairs scoring below this at every level are left out of the CSV


@dataclass
class LevelPrint:
    """One student's level, ready to compare."""

    student: str
    level: int
    filename: str
    source: str  # the text shown in the report (a notebook's code cells)
    norm: Normalised
    token_units: list[int]  # unit index of each token
    cover: dict[int, int] = field(default_factory=dict)  # fingerprint -> its k-grams' tokens, as a bitmask
    problem: str | None = None

    @property
    def n_tokens(self) -> int:
        return len(self.token_units)

    def lines_of(self, mask: int) -> list[tuple[int, int]]:
        """Source line ranges of the tokens in ``mask``."""
        units = {self.token_units[i] for i in range(self.n_tokens) if mask >> i & 1}
        return _merge([(self.norm.units[u].first_line, self.norm.units[u].last_line) for u in units])


@dataclass
class Match:
    a: str
    b: str
    level: int
    score: float
    share_a: float
    share_b: float
    matched_tokens: int
    lines_a: list[tuple[int, int]]
    lines_b: list[tuple[int, int]]
    flagged: bool = False


@dataclass
class Result:
    students: list[str]
    levels: list[int]
    options: Options
    matches: list[Match] = field(default_factory=list)
    pair_scores: dict[tuple[str, str], float] = field(default_factory=dict)
    prints: dict[tuple[str, int], LevelPrint] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: level -> median share of a student's code that only passages most of the class wrote cover
    #: (ignored): near 1, the class wrote the same thing and similarity says little at that level
    commonplace: dict[int, float] = field(default_factory=dict)
    #: the students in no pair at any level (each has a line in ``notes`` saying why)
    not_compared: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[Match]:
        return [m for m in self.matches if m.flagged]

    def ranked_pairs(self) -> list[tuple[tuple[str, str], float]]:
        return sorted(self.pair_scores.items(), key=lambda kv: (-kv[1], kv[0]))


# ----------------------------------------------------------------------------- reading
def read_student_levels(directory: Path, levels: list[int]) -> dict[int, LevelSource]:
    """Each level as grading reads it: the same search as ``grade`` (submission.locate: at the top,
    in subfolders such as nbgrader's ``levelN/``, in a ``.zip`` inside, or the ``.zip`` itself).
    Links and other non-regular files are refused unread. (A search of its own once looked at the
    top and ``levelN/`` only, and left students whose files sat in ``hw/`` or a zip out of every
    pair without a word.)"""
    return read_submission(Path(directory), list(levels))


def read_student_level(directory: Path, level: int) -> LevelSource:
    return read_student_levels(directory, [level])[level]


def _why_not_compared(p: LevelPrint, options: Options) -> str:
    if p.problem:
        return p.problem
    if p.n_tokens == 0:
        return "nothing of their own beyond the stub's code"
    return f"only {p.n_tokens} tokens of their own code (fewer than {max(options.k, options.min_tokens)})"


@cache
def stub_boilerplate(level: int) -> tuple[frozenset[str], frozenset[str]]:
    """(normalised statements every student was given, the contract's names) for ``level``: from
    the stub that ``build`` makes of solutions/ (the regions outside BEGIN/END SOLUTION) and the
    released notebook's code cells."""
    from ..core.submission import notebook_code

    module = LEVELS[level].module
    released = repo_root() / "assignments"
    try:  # the committed release (tests/test_build.py keeps it in step with solutions/)
        stub = (released / f"{module}.py").read_text(encoding="utf-8")
        notebook = notebook_code((released / f"{module}.ipynb").read_bytes())
    except (OSError, ValueError):  # an installed kit without assignments/: build them
        from ..course import build

        stub = build.build_stub(level)
        notebook = notebook_code(build.notebook_bytes(build.build_notebook(level, with_solutions=False)))
    keep: set[str] = set()
    for node in ast.parse(stub).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            keep.add(node.name)
            keep.update(n.name for n in node.body if isinstance(n, ast.FunctionDef))
    return frozenset(boilerplate_texts(stub, notebook, keep=keep)), frozenset(keep)


# ----------------------------------------------------------------------------- fingerprints
def _token_hash(token: str) -> int:
    """A token's hash, the same in every process (Python's own hash() is salted per run)."""
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")


_TOKEN_HASHES: dict[str, int] = {}
#: copydetect's folder as a package of this name, its ``__init__`` left out (``_copydetect_utils``).
PRIVATE_COPYDETECT = "_kit_copydetect"


@cache
def _copydetect_utils():
    """copydetect's ``utils`` (its winnowing), without the package's ``__init__``: that imports its
    report writer, and with it matplotlib.pyplot (1.5 s of every similarity run, for plots this kit
    never draws). Loaded by path under a private name; the package itself where it is imported."""
    import importlib
    import importlib.machinery
    import importlib.util

    if "copydetect" in sys.modules:
        return importlib.import_module("copydetect.utils")
    spec = importlib.util.find_spec("copydetect")
    if spec is None or not spec.submodule_search_locations:
        return importlib.import_module("copydetect.utils")  # (an unusual installation: the usual import)
    package = importlib.util.module_from_spec(importlib.machinery.ModuleSpec(PRIVATE_COPYDETECT, None, is_package=True))
    package.__path__ = list(spec.submodule_search_locations)  # (its modules import each other relatively)
    sys.modules.setdefault(PRIVATE_COPYDETECT, package)
    return importlib.import_module(PRIVATE_COPYDETECT + ".utils")


def fingerprint(student: str, source: LevelSource, options: Options) -> LevelPrint:
    """Normalise, hash every k tokens, winnow (copydetect), and keep for each fingerprint the
    tokens its k-grams cover (a Python int as a bitmask: a pair's overlap is then a few ORs)."""
    import numpy as np

    winnow = _copydetect_utils().winnow
    if source.source is None:
        return LevelPrint(student, source.level, source.filename, "", Normalised(), [], {}, source.problem)
    if len(source.source) > MAX_COMPARED_CHARS:
        return LevelPrint(
            student,
            source.level,
            source.filename,
            "",
            Normalised(),
            [],
            {},
            f"{source.filename} is {len(source.source) // 1024} KiB of code: too large to compare "
            f"(the limit is {MAX_COMPARED_CHARS // 1024} KiB; a level's solution is a few)",
        )
    boilerplate, keep = stub_boilerplate(source.level)
    norm = normalise(source.source, boilerplate, keep)
    tokens = norm.tokens()
    units = [u for _, u in tokens]
    k = options.k
    if len(tokens) < max(k, options.min_tokens):
        return LevelPrint(student, source.level, source.filename, source.source, norm, units)
    ids = np.array([_TOKEN_HASHES.setdefault(t, _token_hash(t)) for t, _ in tokens], dtype=np.uint64)
    with np.errstate(over="ignore"):
        kgrams = np.zeros(len(ids) - k + 1, dtype=np.uint64)
        for j in range(k):  # a polynomial hash of each k tokens, wrapping at 2**64
            kgrams = kgrams * np.uint64(1099511628211) + ids[j : j + len(kgrams)]
    hashes, positions = winnow(kgrams.view(np.int64), options.window, remove_duplicates=False)
    cover: dict[int, int] = {}
    span = (1 << k) - 1
    for h, pos in zip(hashes.tolist(), positions.tolist()):
        cover[h] = cover.get(h, 0) | span << pos
    return LevelPrint(student, source.level, source.filename, source.source, norm, units, cover)


# ----------------------------------------------------------------------------- comparing
def compare(students: list[tuple[str, Path]], levels: list[int], options: Options | None = None) -> Result:
    """Compare every pair of ``(name, directory)`` at every level.

    A pair's overlap in a student's file is the tokens that the shared fingerprints' k-grams cover.
    Tokens that only passages most of the class wrote cover (the ignored fingerprints) count
    neither in what matched nor in the student's own code."""
    options = options or Options()
    started = time.monotonic()
    result = Result([name for name, _ in students], list(levels), options)
    per_pair: dict[tuple[str, str], list[float]] = defaultdict(list)
    sources = {name: read_student_levels(directory, list(levels)) for name, directory in students}
    skipped: dict[str, list[str]] = defaultdict(list)  # student -> "level N (why)"
    for level in levels:
        prints = []
        for name, _ in students:
            p = fingerprint(name, sources[name][level], options)
            result.prints[(name, level)] = p
            prints.append(p)
        comparable = [p for p in prints if p.cover]
        for p in prints:
            if not p.cover:
                skipped[p.student].append(f"level {level} ({_why_not_compared(p, options)})")
        holders: dict[int, list[int]] = defaultdict(list)
        for i, p in enumerate(comparable):
            for h in p.cover:
                holders[h].append(i)
        limit = len(comparable) * options.common if len(comparable) >= COMMON_MIN_CLASS else float("inf")
        commonplace = [0] * len(comparable)
        shared: dict[tuple[int, int], list[int]] = defaultdict(list)
        for h, who in holders.items():
            if len(who) > limit:
                for i in who:
                    commonplace[i] |= comparable[i].cover[h]
            elif len(who) > 1:
                for x, y in itertools.combinations(who, 2):
                    shared[(x, y)].append(h)
        # a student's own code: the tokens their fingerprints cover (copydetect's "token coverage";
        # winnowing leaves a few at the ends uncovered, so an identical file scores 1), less the commonplace
        covered = [functools.reduce(operator.or_, p.cover.values(), 0) for p in comparable]
        own = [max(1, (c & ~commonplace[i]).bit_count()) for i, c in enumerate(covered)]
        if comparable:
            result.commonplace[level] = round(
                statistics.median(
                    (commonplace[i] & c).bit_count() / max(1, c.bit_count()) for i, c in enumerate(covered)
                ),
                3,
            )
        for x, y in itertools.combinations(range(len(comparable)), 2):
            a, b = comparable[x], comparable[y]
            pair = (a.student, b.student)
            common = shared.get((x, y))
            if not common:
                per_pair[pair].append(0.0)
                continue
            hit_a, hit_b = 0, 0
            for h in common:
                hit_a |= a.cover[h]
                hit_b |= b.cover[h]
            hit_a &= ~commonplace[x]
            hit_b &= ~commonplace[y]
            ma, mb = hit_a.bit_count(), hit_b.bit_count()
            share_a, share_b = min(1.0, ma / own[x]), min(1.0, mb / own[y])
            score = round((share_a + share_b) / 2, 4)
            per_pair[pair].append(score)
            if score < options.report_floor:
                continue
            flagged = score >= options.threshold and min(ma, mb) >= options.min_tokens
            result.matches.append(
                Match(
                    a.student,
                    b.student,
                    level,
                    score,
                    round(share_a, 4),
                    round(share_b, 4),
                    min(ma, mb),
                    a.lines_of(hit_a),
                    b.lines_of(hit_b),
                    flagged,
                )
            )
    # everyone who was left out of a level's pairs, by name, with the reason (one line a student)
    result.notes = [f"{name}: not compared at {'; '.join(skipped[name])}" for name, _ in students if skipped[name]]
    result.not_compared = sorted(name for name, _ in students if len(skipped[name]) == len(levels))
    result.pair_scores = {pair: round(sum(s) / len(s), 4) for pair, s in per_pair.items()}
    result.matches.sort(key=lambda m: (-m.score, m.a, m.b, m.level))
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


# ----------------------------------------------------------------------------- writing
def similarity_csv(result: Result) -> str:
    """One row per pair and level at or above the report floor, highest score first."""
    from ..core.csv_safe import csv_text

    rows: list[list] = [
        [
            "student_a",
            "student_b",
            "level",
            "score",
            "share_a",
            "share_b",
            "matched_tokens",
            "flagged",
            "lines_a",
            "lines_b",
            "pair_score",
        ]
    ]
    for m in result.matches:
        rows.append(
            [
                m.a,
                m.b,
                m.level,
                f"{m.score:.3f}",
                f"{m.share_a:.3f}",
                f"{m.share_b:.3f}",
                m.matched_tokens,
                "yes" if m.flagged else "no",
                _lines_text(m.lines_a),
                _lines_text(m.lines_b),
                f"{result.pair_scores.get((m.a, m.b), 0.0):.3f}",
            ]
        )
    return csv_text(rows)


def _lines_text(ranges: list[tuple[int, int]]) -> str:
    return " ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges)


def summary(result: Result) -> dict:
    """What the class summary records: counts, the flagged pairs, the time taken."""
    return {
        "pairs_compared": len(result.pair_scores),
        "threshold": result.options.threshold,
        "flagged": [{"a": m.a, "b": m.b, "level": m.level, "score": m.score} for m in result.flagged],
        "seconds": result.seconds,
        "students": len(result.students),
        "not_compared": result.not_compared,
        "notes": result.notes[:200],
        "commonplace_share": {str(lv): v for lv, v in result.commonplace.items()},
    }


def describe(s: dict, out: Path) -> str:
    """One line for the terminal (counts only: no student-derived text)."""
    left_out = len(s.get("not_compared", []))
    return (
        f"similarity: {s['pairs_compared']} pairs compared in {s['seconds']} s; {len(s['flagged'])} level(s) "
        f"flagged at {s['threshold']:g} (a reason to look, not proof)"
        + (f"; {left_out} student(s) compared at no level (named, with the reason, on the page)" if left_out else "")
        + f": {out}/similarity.html"
    )


def write_report(
    students: list[tuple[str, Path]], out: Path, levels: list[int], options: Options | None = None
) -> dict:
    """Compare the class and write OUT/similarity.csv and OUT/similarity.html; return the summary."""
    from ..core.report import write_atomic
    from ..render.similarity_html import similarity_page

    result = compare(students, levels, options)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "similarity.csv", similarity_csv(result))
    write_atomic(out / "similarity.html", similarity_page(result))
    return summary(result)


# ----------------------------------------------------------------------------- options
def add_options(p) -> None:
    """The similarity flags, shared by ``similarity`` and ``grade`` (class mode)."""
    p.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help=f"flag a level when the pair's score reaches this (0 to 1; default {DEFAULT_THRESHOLD}, "
        "chosen from measurement: see the README, 'find copies')",
    )
    p.add_argument(
        "--min-tokens",
        type=int,
        default=DEFAULT_MIN_TOKENS,
        help=f"fewer matched tokens never flag a level (default {DEFAULT_MIN_TOKENS})",
    )
    p.add_argument(
        "--common",
        type=float,
        default=DEFAULT_COMMON,
        help=f"ignore passages that more than this share of the class wrote (default {DEFAULT_COMMON}; "
        f"classes of {COMMON_MIN_CLASS} or more)",
    )


def options_from(args) -> Options:
    return Options(threshold=args.threshold, min_tokens=args.min_tokens, common=args.common)
