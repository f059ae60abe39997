"""A loss-curve figure in words and numbers, for readers who cannot see the picture.

The figure (``render_html.loss_plot``) shows a student's loss against the reference's; its
alternative text says what it shows, where the two part and what each ends at, and ``rows`` are
the numbers behind it, one per iteration, for the table beside the figure. Both come from the same
values the figure draws (the student's rescaled by ``student_factor`` where the report found a
mean instead of a sum), so the words cannot disagree with the picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: two losses "agree" within this relative difference (the figure's log scale hides less)
AGREE = 0.01


def _value(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _fmt(v: float | None) -> str:
    return "not a finite number" if v is None else f"{v:.4g}"


@dataclass
class CurveText:
    alt: str  # the figure's alternative text
    columns: list[str]  # the table's header cells
    rows: list[list[str]]  # one per iteration, as display strings


def describe(level: int, curve: dict) -> CurveText:
    reference = [_value(v) for v in curve.get("reference") or []]
    factor = curve.get("student_factor") or 1.0
    student = [None if v is None else v * factor for v in (_value(v) for v in curve.get("student") or [])]
    band = [[x for x in (_value(v) for v in b) if x is not None] for b in curve.get("band") or []]
    lows = [min(b) if b else None for b in band]
    highs = [max(b) if b else None for b in band]

    def parted(i: int) -> bool:
        s = student[i]
        if s is None:
            return True
        if band and i < len(band) and lows[i] is not None and highs[i] is not None:
            return not lows[i] * (1 - AGREE) <= s <= highs[i] * (1 + AGREE)  # type: ignore[operator]
        r = reference[i] if i < len(reference) else None
        return r is None or abs(s - r) > AGREE * abs(r)

    against = (
        "the reference's loss at each of the 4 possible depths (a shaded band) and for the depth of each of your draws"
        if band
        else "the reference's loss (solid blue line)"
    )
    scaled = f", rescaled ×{factor:g} from a mean to a sum" if factor != 1.0 else ""
    yours = f"your train()'s loss at each iteration (dashed red line{scaled}) against " if student else ""
    same = "same problem, starting weights and learning rate"
    words = [f"Level {level} loss curve, log scale: {yours}{against}, {same}."]
    n = min(len(student), max(len(reference), len(band)))
    if not student:
        words.append("Your train() gave no losses to draw: only the reference is shown.")
    else:
        first = next((i for i in range(n) if parted(i)), None)
        inside = "inside the band" if band else "within 1%"
        if first is None:
            words.append(f"The two agree ({inside}) at every one of the {n} iterations.")
        else:
            r_at = reference[first] if first < len(reference) else None
            words.append(
                f"They part at iteration {first}: yours {_fmt(student[first])}, the reference {_fmt(r_at)}."
                if first
                else f"They differ from the first iteration: yours {_fmt(student[0])}, the reference {_fmt(r_at)}."
            )
    finals = [f"yours {_fmt(student[-1])} after {len(student)} iterations"] if student else []
    if reference:
        finals.append(f"the reference {_fmt(reference[-1])} after {len(reference)}")
    if finals:
        words.append("Final loss: " + "; ".join(finals) + ".")
    alt = " ".join(words)
    columns = ["iteration", "your loss", "reference loss"] + (
        ["reference, lowest depth", "reference, highest depth"] if band else []
    )
    rows = []
    for i in range(max(len(student), len(reference), len(band))):
        row = [
            str(i),
            _fmt(student[i]) if i < len(student) else "—",
            _fmt(reference[i]) if i < len(reference) else "—",
        ]
        if band:
            row += [_fmt(lows[i]) if i < len(band) else "—", _fmt(highs[i]) if i < len(band) else "—"]
        rows.append(row)
    return CurveText(alt, columns, rows)
