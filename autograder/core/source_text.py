"""Bytes of a student's file to the text Python would run, or the reason Python would not.

Students save files from every editor: a UTF-8 byte-order mark (Notepad), CRLF or old-Mac CR line
ends, a ``# -*- coding: latin-1 -*-`` cookie. The interpreter runs all of these, so the grader
must read them the same way (a file that ``python level1_numpy.py`` runs never scores 0 for its
bytes). ``importlib.util.decode_source`` is the interpreter's own reader: the encoding from the
BOM or the cookie (PEP 263, ``tokenize.detect_encoding``), then universal newlines. The text it
returns compiles as a ``str``, for which Python ignores the cookie, so nothing is decoded twice.

Notebooks are JSON: ``json.loads`` of the bytes detects a BOM (and UTF-16/32) as the JSON RFC
asks, and a document nested deeper than the parser's recursion (a 200 KB file of 100,000 nested
arrays) is a notebook that cannot be read, never a crash of the grader.
"""

from __future__ import annotations

import importlib.util
import json


class Unreadable(ValueError):
    """The file cannot be read as what it claims to be; the message says why, for the student."""


def python_source(raw: bytes) -> str:
    """The text of a ``.py`` file as the interpreter decodes it (raises ``Unreadable``)."""
    try:
        text = importlib.util.decode_source(raw)
    except SyntaxError as exc:  # tokenize's verdict on the first two lines (bytes, cookie): Python refuses it too
        raise Unreadable(f"is not Python source text (binary file? {exc.msg}; save it as UTF-8)") from None
    except (UnicodeDecodeError, LookupError) as exc:  # bytes that are not the declared (or UTF-8) encoding
        raise Unreadable(
            f"is not text in its declared encoding (binary file? UTF-8 unless a coding line says otherwise: {exc})"
        ) from None
    if "\x00" in text:
        raise Unreadable("contains NUL bytes (binary file?)")
    return text


def notebook_json(raw: bytes) -> object:
    """A notebook file's JSON document (raises ``Unreadable`` with the reason)."""
    try:
        return json.loads(raw)  # bytes: a BOM, UTF-16 and UTF-32 are recognised (RFC 8259)
    except RecursionError:
        raise Unreadable("cannot be read: its JSON is nested too deeply") from None
    except MemoryError:
        raise Unreadable("cannot be read: its JSON is too large to hold in memory") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unreadable(f"is not a valid notebook (not JSON: {exc})") from None


def lines(text: str) -> list[str]:
    """``text`` split where Python's tokenizer ends a line (``\\n``, ``\\r\\n``, ``\\r``): unlike
    ``str.splitlines``, a form feed or U+2028 inside a string literal stays where it was."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
