"""The similarity report as one self-contained HTML page.

Styles inline, no script, no external asset: the page opens from a file, offline. The page is the
template ``templates/similarity.html.j2``, escaped by default: everything that comes from students
(names, file names, file contents) reaches it as plain text; anchors are numbers, never names.
Pairs are ranked; each flagged level (and the closest others, up to a cap) shows the two files side
by side, the matched lines highlighted.
"""

from __future__ import annotations

#: bounds on what one page shows, whatever the class sends
MAX_SIDE_BY_SIDE = 80  # flagged levels first
MAX_UNFLAGGED_SHOWN = 20  # then the closest of the others
MAX_LINES = 1500
MAX_RANKED_PAIRS = 100


def _code(student: str, filename: str, source: str, ranges: list[tuple[int, int]]) -> dict:
    """One side of a side-by-side view: its lines (at most ``MAX_LINES``), each marked when matched."""
    hit: set[int] = set()
    for a, b in ranges:
        hit.update(range(a, b + 1))
    lines = source.splitlines() or [""]
    return {
        "student": student,
        "file": filename,
        "lines": [{"n": n, "text": line, "hit": n in hit} for n, line in enumerate(lines[:MAX_LINES], start=1)],
        "more": max(0, len(lines) - MAX_LINES),
    }


def _lines(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in ranges) or "–"


def similarity_page(result) -> str:
    """The page of a ``similarity.Result`` (not imported here: similarity imports this module)."""
    from . import pages
    from .html import levels_text

    o = result.options
    flagged = result.flagged
    shown = flagged + [m for m in result.matches if not m.flagged][:MAX_UNFLAGGED_SHOWN]
    shown = shown[:MAX_SIDE_BY_SIDE]
    anchor = {id(m): f"m{i}" for i, m in enumerate(shown)}
    crowded = {lv: share for lv, share in result.commonplace.items() if share >= 0.5}
    by_pair: dict[tuple[str, str], list] = {}
    for m in result.matches:
        by_pair.setdefault((m.a, m.b), []).append(m)
    views = []
    for m in shown:
        pa, pb = result.prints[(m.a, m.level)], result.prints[(m.b, m.level)]
        views.append(
            {
                "anchor": anchor[id(m)],
                "level": m.level,
                "a": m.a,
                "b": m.b,
                "file_a": pa.filename,
                "file_b": pb.filename,
                "score": f"{m.score:.2f}",
                "flagged": m.flagged,
                "lines_a": _lines(m.lines_a),
                "lines_b": _lines(m.lines_b),
                "sides": [_code(m.a, pa.filename, pa.source, m.lines_a), _code(m.b, pb.filename, pb.source, m.lines_b)],
            }
        )
    title = f"Similarity report: {len(result.students)} students, {levels_text(result.levels)}"
    return pages.render(
        "similarity.html.j2",
        title=title,
        heading=title,
        k=o.k,
        threshold=o.threshold,
        min_tokens=o.min_tokens,
        common=f"{o.common:.0%}",
        n_pairs=len(result.pair_scores),
        seconds=result.seconds,
        crowded=", ".join(f"level {lv} ({share:.0%} of a typical submission)" for lv, share in crowded.items()),
        flagged=[
            {
                "anchor": anchor.get(id(m), ""),
                "a": m.a,
                "b": m.b,
                "level": m.level,
                "score": f"{m.score:.2f}",
                "shares": f"{m.share_a:.0%} / {m.share_b:.0%}",
                "lines": f"{_lines(m.lines_a)} / {_lines(m.lines_b)}",
            }
            for m in flagged
        ],
        max_ranked=MAX_RANKED_PAIRS,
        ranked=[
            {
                "rank": rank,
                "a": pair[0],
                "b": pair[1],
                "score": f"{score:.2f}",
                "levels": [
                    {"level": m.level, "score": f"{m.score:.2f}", "flagged": m.flagged, "anchor": anchor.get(id(m), "")}
                    for m in sorted(by_pair.get(pair, []), key=lambda m: m.level)
                ],
            }
            for rank, (pair, score) in enumerate(result.ranked_pairs()[:MAX_RANKED_PAIRS], start=1)
        ],
        views=views,
        more=max(0, len(result.matches) - len(shown)),
        notes=list(result.notes[:200]),
    )
