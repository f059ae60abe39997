"""Progressive hints: one rung more each time the learner asks, for the stage that fails.

The ladders are the course's (``autograder/course/hints.py``: written with the solutions, shipped in
``hints.json``). Which rung: the record (``history.py``) says what the last check of each stage found
and which rungs were shown since that stage last passed. A mistake the report named (a loop
diagnosis, or a check's message that names one) gets its own rung first; then the ladder goes on from
where it stopped; a pass resets it. ``python -m autograder hint LEVEL [STAGE]`` and, in a notebook,
``hint(level, stage)`` show it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..core.curriculum import LEVELS, STAGES
from ..course.hints import (
    DIAGNOSES,
    MESSAGE_MISTAKES,
    MISTAKES,
    NoHints,
    load_table,
)


def mistakes_of(check) -> list[str]:
    """The mistakes a failed check names: its loop diagnosis first, then its message's."""
    found = []
    if getattr(check, "diagnosis", None) in DIAGNOSES:
        found.append(check.diagnosis)
    message = getattr(check, "message", "") or ""
    for key, phrases in MESSAGE_MISTAKES.items():
        if key not in found and any(p in message for p in phrases):
            found.append(key)
    return found


# --- recording a check --------------------------------------------------------------------------


def check_events(report, stage: str | None = None) -> list[dict]:
    """The events of one check run: one per level, each stage's result and the mistakes named."""
    events = []
    for level in report.levels:
        stages: dict[str, dict] = {}
        for c in report.checks:
            if c.level != level:
                continue
            s = stages.setdefault(c.stage, {"score": 0.0, "max": 0.0, "passed": True, "mistakes": {}})
            s["score"] = round(s["score"] + float(c.score), 4)
            s["max"] = round(s["max"] + float(c.max_score), 4)
            s["passed"] = s["passed"] and bool(c.passed)
            if not c.passed and not c.error:
                for key in mistakes_of(c):
                    s["mistakes"].setdefault(key, (c.message or "")[:400])
        if any(c.error for c in report.checks if c.level == level):
            continue  # a grader error says nothing about the learner's work
        events.append({"event": "check", "level": level, "stage": stage, "stages": stages})
    return events


def record_check(report, directory: Path | str | None = None, stage: str | None = None) -> None:
    """Append the check's events to the record (history.py) of ``directory``."""
    from . import history

    for event in check_events(report, stage):
        history.append(event, directory)


# --- choosing the rung ------------------------------------------------------------------------------


@dataclass
class Hint:
    level: int
    stage: str
    text: str
    rung: int  # 1-based position in the ladder, 0 for a mistake's rung
    rungs: int  # rungs in the ladder
    mistake: str | None = None
    note: str = ""  # what the choice was based on
    last: bool = False  # the ladder is exhausted: this is its last rung

    def event(self) -> dict:
        return {"event": "hint", "level": self.level, "stage": self.stage, "rung": self.rung, "mistake": self.mistake}


def latest_results(events: list[dict], level: int) -> dict[str, dict]:
    """Each stage's result in the last check that ran it."""
    latest: dict[str, dict] = {}
    for e in events:
        if e.get("event") == "check" and e.get("level") == level and isinstance(e.get("stages"), dict):
            for stage, result in e["stages"].items():
                if stage in STAGES and isinstance(result, dict):
                    latest[stage] = result
    return latest


def first_failing(events: list[dict], level: int) -> str | None:
    latest = latest_results(events, level)
    failing = [s for s, r in latest.items() if not r.get("passed")]
    return min(failing, key=STAGES.index) if failing else None


def since_reset(events: list[dict], level: int, stage: str) -> list[dict]:
    """The hint events of a stage since it last passed a check."""
    shown: list[dict] = []
    for e in events:
        if e.get("level") != level:
            continue
        if e.get("event") == "check":
            stages = e.get("stages")
            result = stages.get(stage) if isinstance(stages, dict) else None
            if isinstance(result, dict) and result.get("passed"):
                shown = []
        elif e.get("event") == "hint" and e.get("stage") == stage:
            shown.append(e)
    return shown


def choose(table: dict, events: list[dict], level: int, stage: str) -> Hint:
    """The next rung of ``stage`` at ``level`` given what the record holds."""
    entry = _level_table(table, level).get(stage)
    if not isinstance(entry, dict) or not entry.get("ladder"):
        raise NoHints(f"there are no hints for level {level}, stage {stage}")
    ladder = [str(t) for t in entry["ladder"]]
    mistakes = entry.get("mistakes", {}) if isinstance(entry.get("mistakes"), dict) else {}
    shown = since_reset(events, level, stage)
    latest = latest_results(events, level).get(stage, {})
    named = latest.get("mistakes", {}) if isinstance(latest.get("mistakes"), dict) else {}
    already = {e.get("mistake") for e in shown}
    for mistake, message in named.items():
        if mistake in already or mistake not in MISTAKES:
            continue
        text = mistakes.get(mistake) or _rung_elsewhere(table, level, mistake)
        if text is None:
            text = f"Your last check said: {message}"
        return Hint(
            level,
            stage,
            str(text),
            0,
            len(ladder),
            mistake,
            note=f"your last check found a likely mistake ({mistake.replace('_', ' ')})",
        )
    n = sum(1 for e in shown if e.get("mistake") is None)
    position = min(n, len(ladder) - 1)
    note = (
        "this stage passed your last check"
        if latest.get("passed")
        else ("from your last check" if latest else "no check of this stage recorded yet")
    )
    return Hint(
        level, stage, ladder[position], position + 1, len(ladder), None, note=note, last=position == len(ladder) - 1
    )


def _level_table(table: dict, level: int) -> dict:
    entry = table.get(str(level))
    return entry if isinstance(entry, dict) else {}


def _rung_elsewhere(table: dict, level: int, mistake: str) -> str | None:
    """A mistake's rung written under another stage of the level (a diagnosis that fails "train")."""
    for entry in _level_table(table, level).values():
        if isinstance(entry, dict) and isinstance(entry.get("mistakes"), dict) and mistake in entry["mistakes"]:
            return str(entry["mistakes"][mistake])
    return None


def next_hint(level: int, stage: str | None, directory: Path | str | None = None, record: bool = True) -> Hint:
    """Choose the next rung (for the first failing stage when ``stage`` is None) and record it."""
    from . import history

    if level not in LEVELS:
        raise ValueError(f"no level {level} (levels are 1 to 8)")
    table = load_table(directory)
    events = history.read(directory)
    if stage is None:
        stage = first_failing(events, level)
        if stage is None:
            raise NoHints(
                f"level {level}: every stage passed your last check, so there is nothing to hint. "
                f"Ask for one stage by name, e.g. hint {level} {_stages(level)[0]}"
                if latest_results(events, level)
                else f"level {level} has no check recorded yet: run its check first, or name a stage "
                f"({', '.join(_stages(level))})"
            )
    elif stage not in _stages(level):
        raise ValueError(f"level {level} has no stage {stage!r}; its stages are {', '.join(_stages(level))}")
    chosen = choose(table, events, level, stage)
    if record:
        history.append(chosen.event(), directory)
    return chosen


def _stages(level: int) -> list[str]:
    from ..core.curriculum import stages_of

    return stages_of(level)


def footer(h: Hint, notebook: bool) -> str:
    again = f'hint({h.level}, "{h.stage}")' if notebook else f"python -m autograder hint {h.level} {h.stage}"
    if h.last:
        return (
            f"That was the last hint for this stage. To see the worked solution (self-study): "
            f"python -m autograder solution {h.level} {h.stage}"
        )
    return f"Still stuck? {again} gives the next one."


def title(h: Hint) -> str:
    rung = f"hint {h.rung} of {h.rungs}" if h.rung else "about the mistake your check found"
    return f"Level {h.level} · {h.stage}: {rung}"


# --- showing it ------------------------------------------------------------------------------------


def render_terminal(h: Hint, console=None) -> None:
    """Through rich, as plain Text: nothing in a hint is read as markup or as a control sequence."""
    from rich.console import Console
    from rich.panel import Panel
    from rich.text import Text

    console = console or Console(highlight=False)
    body = Text(_printable(h.text))
    body.append("\n\n" + _printable(footer(h, notebook=False)), style="dim")
    console.print(
        Panel(
            body,
            title=Text(title(h)),
            subtitle=Text(f"({h.note})"),
            title_align="left",
            subtitle_align="left",
            expand=False,
            width=min(console.width, 100),
        )
    )


def _printable(text: str) -> str:
    """Drop control characters (escape sequences included) but keep newlines and tabs."""
    return "".join(
        ch for ch in text if ch in "\n\t" or (ord(ch) >= 32 and ord(ch) != 127 and not 0x80 <= ord(ch) < 0xA0)
    )


_CODE = re.compile(r"`([^`\n]+)`")


def _code_spans(text: str) -> list[tuple[str, bool]]:
    """The hint's text as (text, is_code) pieces: `code` spans are marked, everything stays text."""
    pieces = _CODE.split(text)  # odd indices: what stood between backticks
    return [(piece, i % 2 == 1) for i, piece in enumerate(pieces) if piece]


def render_html(h: Hint) -> str:
    """A self-contained HTML fragment (``templates/hint.html.j2``, escaped by default)."""
    from ..render import pages

    return pages.render(
        "hint.html.j2",
        level=h.level,
        stage=h.stage,
        rung=h.rung,
        rungs=h.rungs,
        mistake=h.mistake or "",
        title=title(h),
        body=_code_spans(_printable(h.text)),
        note=h.note,
        footer=footer(h, notebook=True),
    )


def render_text(h: Hint, notebook: bool = True) -> str:
    return f"{title(h)} ({h.note})\n{_printable(h.text)}\n{footer(h, notebook)}\n"


def hint(level: int, stage: str | None = None) -> Hint | None:
    """In a notebook: show the next hint for ``stage`` of ``level`` (or its first failing stage).

    The record is the kernel's working directory's (the notebook's folder). Returns the Hint outside
    IPython; under IPython it shows it and returns None (no repr under the output).
    """
    shell = _ipython()
    try:
        chosen = next_hint(level, stage)
    except (NoHints, ValueError) as exc:
        if shell is None:
            print(str(exc))
            return None
        from IPython.display import display

        from ..render import pages

        display(
            {
                "text/plain": str(exc),
                "text/html": pages.render("hint_missing.html.j2", reason=str(exc)),
            },
            raw=True,
        )
        return None
    if shell is None:
        print(render_text(chosen), end="")
        return chosen
    from IPython.display import display

    display({"text/plain": render_text(chosen), "text/html": render_html(chosen)}, raw=True)
    return None


# --- the command ------------------------------------------------------------------------------------


def _ipython():
    """The running IPython shell (a Jupyter kernel), or None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def register(subparsers) -> None:
    from ..core.settings import repo_root

    p = subparsers.add_parser(
        "hint",
        help="the next hint for a level's first failing stage (or the one named)",
        description="Show the next hint, one rung further each time you ask: for the stage "
        "named, or the first stage of LEVEL that failed your last check. A mistake your check "
        "named gets its own hint first; the ladder starts again once the stage passes.",
    )
    p.add_argument("level", type=int)
    p.add_argument("stage", nargs="?", choices=STAGES, default=None)
    p.add_argument(
        "--dir",
        default=str(repo_root() / "assignments"),
        help="your work, where the record of your checks is kept (default: assignments/)",
    )
    p.set_defaults(func=cmd_hint)


def cmd_hint(args) -> int:
    import sys

    from rich.console import Console
    from rich.text import Text

    directory = Path(args.dir)
    if args.level not in LEVELS:
        print(f"autograder: no level {args.level} (levels are 1 to 8)", file=sys.stderr)
        return 2
    if args.stage is None and not latest_results(_read(directory), args.level) and directory.is_dir():
        _check_first(directory, args.level)
    try:
        chosen = next_hint(args.level, args.stage, directory)
    except (NoHints, ValueError) as exc:
        Console(stderr=True, highlight=False).print(Text(_printable(str(exc))))
        return 1 if isinstance(exc, NoHints) else 2
    render_terminal(chosen)
    return 0


def _read(directory: Path) -> list[dict]:
    from . import history

    return history.read(directory)


def _check_first(directory: Path, level: int) -> None:
    """No check of the level recorded yet: run one (quietly) to know which stage fails first."""
    import sys

    from ..core.long_lived import import_long_lived
    from ..core.settings import default_seed
    from ..sandbox import start_pool

    print(f"checking level {level} first, to find the stage that fails...", file=sys.stderr, flush=True)
    pool = start_pool(levels=[level])  # (first: its zygote imports torch while this process does)
    try:
        import_long_lived()
        from ..grading.run import grade

        report = grade(directory, [level], default_seed(), "cpu", pool=pool)
    finally:
        pool.close()
    record_check(report, directory)
