"""CSV for spreadsheets: cells that a spreadsheet cannot take for a formula.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula
by Excel, LibreOffice and Google Sheets when the file is opened (CSV injection). Student-derived
text (names, directory names, ids) reaches the kit's CSV files, so every text cell goes through
:func:`safe_cell`, which puts a ``'`` in front of such a cell (the OWASP advice: the spreadsheet
shows the text, and runs nothing). Numbers are written as numbers: a negative score is impossible
here, and a number is never a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from .neutralise import csv_cell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str | int | float:
    """One rule for every CSV the kit writes: ``neutralise.csv_cell`` (formula triggers prefixed,
    control characters shown, non-finite numbers empty), with None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    return csv_cell(value)  # type: ignore[return-value]


def csv_text(rows: Iterable[Iterable], safe: bool = True) -> str:
    """Rows as CSV text (``\\n`` line ends, every field that needs it quoted), cells made safe."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([safe_cell(v) if safe else v for v in row])
    return buf.getvalue()
