"""Student-derived text made harmless for the output it goes to: one function per kind of output.

Everything a submission controls — exception names and messages, frame names, reprs, file and
directory names — may carry terminal escape sequences, HTML tags, Markdown table syntax,
spreadsheet formulas or non-finite numbers. Every renderer passes such text through the function
for its output, here, and nowhere else:

- ``terminal``: control and escape characters (C0, DEL, C1, bidirectional overrides) are *shown*
  as ``\\x1b``-style escapes, never interpreted; newlines and tabs stay.
- ``html``: escaped (``<``, ``>``, ``&``, quotes), control characters shown as for the terminal.
- ``markdown``: one table cell's worth — pipes, tags, backticks and emphasis escaped, newlines
  folded, control characters shown.
- ``csv_cell``: a cell never starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return
  (OWASP's "CSV injection": such a cell is prefixed with ``'``); control characters shown.
- ``json_safe`` / ``json_dumps``: finite numbers only; a NaN or an infinity becomes ``null`` with
  the reason beside it (``"<key>_nonfinite": "nan"``), so strict parsers (jq, JavaScript) accept it.
- ``cap``: a string cut to a length, saying how much was cut (applied on the trusted side before a
  student-derived string enters a result).

This module depends on the standard library only, so any writer may import it (CSV exports too).
"""

from __future__ import annotations

import html as _html
import json
import math
import re

#: control characters a terminal (or a browser's bidi algorithm) would act on; \n and \t excepted
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")

#: the longest student-derived string that enters a result (messages, type names, reprs)
MAX_TEXT = 2000


def _shown(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """Control characters replaced by a visible escape (``\\x1b``); newlines and tabs kept."""
    return _CONTROL.sub(lambda m: _shown(m.group()), str(text))


def cap(text: object, limit: int = MAX_TEXT) -> str:
    """At most ``limit`` characters (plus a note of how many were cut)."""
    text = str(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit} more characters cut]"


def terminal(text: object) -> str:
    """For a terminal: escape and control sequences shown, not interpreted. (rich markup is not a
    concern when the result goes into a ``rich.text.Text``, which never parses markup.)"""
    return visible(text)


def html(text: object) -> str:
    """For an HTML page: tags and entities escaped, control characters shown."""
    return _html.escape(visible(text), quote=True)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


def markdown(text: object) -> str:
    """For one cell of a Markdown table (or one line of Markdown): no pipe can end the cell, no tag
    or code span opens, no emphasis or link forms, no line break splits the row."""
    text = visible(text).replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    text = _html.escape(text, quote=False)  # <img onerror=...> stays text
    return _MD_SPECIAL.sub(r"\\\1", text)


_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A value safe for a spreadsheet cell: numbers as they are (finite ones; NaN and infinities
    become empty), text never starting with a formula trigger (it is prefixed with ``'``)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else ""
    text = visible(value)  # (a bare carriage return would also split the row for some readers)
    if text.startswith(_CSV_TRIGGERS) or text.lstrip(" ").startswith(_CSV_TRIGGERS):
        text = "'" + text
    return text


def csv_row(row: dict) -> dict:
    """Every cell of a row through ``csv_cell``."""
    return {k: csv_cell(v) for k, v in row.items()}


def _nonfinite_name(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def json_safe(value):
    """A copy with every non-finite float replaced by ``None``; in a dict, the reason sits beside it
    (``"loss": null, "loss_nonfinite": "nan"``); in a list, the list's key gets
    ``"<key>_nonfinite": "some values were not finite (written as null)"``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(v, float) and not math.isfinite(v):
                out[k] = None
                out[f"{k}_nonfinite"] = _nonfinite_name(v)
            elif isinstance(v, (list, tuple)) and _has_nonfinite(v):
                out[k] = json_safe(v)
                out[f"{k}_nonfinite"] = "some values were not finite (written as null)"
            else:
                out[k] = json_safe(v)
        return out
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _has_nonfinite(seq) -> bool:
    return any(
        (isinstance(v, float) and not math.isfinite(v))
        or (isinstance(v, (list, tuple, dict)) and _has_nonfinite(v.values() if isinstance(v, dict) else v))
        for v in seq
    )


def json_dumps(value, **kwargs) -> str:
    """``json.dumps`` of ``json_safe(value)``, refusing any non-finite number that slipped through."""
    return json.dumps(json_safe(value), allow_nan=False, **kwargs)
