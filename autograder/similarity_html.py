"""The similarity report as one self-contained HTML page.

Styles inline, no script, no external asset: the page opens from a file, offline. Everything that
comes from students (names, file names, file contents) is escaped with ``html.escape`` before it is
written; anchors are numbers, never names. Pairs are ranked; each flagged level (and the closest
others, up to a cap) shows the two files side by side, the matched lines highlighted.
"""

from __future__ import annotations

import html

#: bounds on what one page shows, whatever the class sends
MAX_SIDE_BY_SIDE = 80  # flagged levels first
MAX_UNFLAGGED_SHOWN = 20  # then the closest of the others
MAX_LINES = 1500
MAX_RANKED_PAIRS = 100

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:90rem;padding:1rem;
color:#1d1d1f;line-height:1.4}
h1{font-size:1.5rem} h2{font-size:1.15rem;margin-top:1.8rem} h3{font-size:1rem;margin:1.4rem 0 .4rem}
.warn{border-left:4px solid #b45309;padding:.5rem .8rem;background:#fffbeb}
.scroll{overflow-x:auto} table{border-collapse:collapse;font-size:.9rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e5e7eb;vertical-align:top}
th{background:#f9fafb} td.num{text-align:right;font-variant-numeric:tabular-nums}
.flag{color:#b91c1c;font-weight:600}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:.6rem}
@media (max-width:50rem){.pair{grid-template-columns:1fr}}
pre{margin:0;font-size:.78rem;background:#f8fafc;border:1px solid #e5e7eb;padding:.4rem;overflow-x:auto}
.ln{color:#9ca3af;user-select:none;display:inline-block;min-width:3.2em}
.hit{background:#fde68a;display:inline-block;width:100%}
.meta{color:#6b7280;font-size:.8rem;margin-top:2rem}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _code(source: str, ranges: list[tuple[int, int]]) -> str:
    hit: set[int] = set()
    for a, b in ranges:
        hit.update(range(a, b + 1))
    lines = source.splitlines() or [""]
    out = []
    for n, line in enumerate(lines[:MAX_LINES], start=1):
        text = f'<span class="ln">{n}</span>{_e(line)}'
        out.append(f'<span class="hit">{text}</span>' if n in hit else text)
    if len(lines) > MAX_LINES:
        out.append(f"… {len(lines) - MAX_LINES} more lines not shown")
    return "<pre>" + "\n".join(out) + "</pre>"


def _lines(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in ranges) or "–"


def similarity_page(result) -> str:
    """The page of a ``similarity.Result`` (not imported here: similarity imports this module)."""
    o = result.options
    flagged = result.flagged
    shown = flagged + [m for m in result.matches if not m.flagged][:MAX_UNFLAGGED_SHOWN]
    shown = shown[:MAX_SIDE_BY_SIDE]
    anchor = {id(m): f"m{i}" for i, m in enumerate(shown)}
    parts = [
        (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            "<title>Similarity report</title>"
        ),
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Similarity report: {len(result.students)} students, levels {_e(', '.join(map(str, result.levels)))}</h1>",
        (
            "<p class='warn'><b>A high score is a reason to look at the two files, not proof of copying.</b> Students "
            "who follow the same tutorial closely, who worked together as allowed, or whose work was taken from them "
            "without their knowing, look alike too. Read the highlighted lines and ask before deciding anything.</p>"
        ),
        (
            f"<p>How it is measured: each level's code is normalised (comments, docstrings, formatting, names the "
            f"student chose and the order of independent statements do not count; what the stub gave everyone is "
            f"removed), then fingerprinted by winnowing (copydetect, the method behind MOSS) over {o.k} tokens. A "
            f"level's score is the mean of the two shares of each student's own code that the other covers; a level is "
            f"<span class='flag'>flagged</span> at {o.threshold:g} or more with at least {o.min_tokens} matched "
            f"tokens. "
            f"Passages that more than {o.common:.0%} of the class wrote are ignored (classes of 8 or more). "
            f"{len(result.pair_scores)} pairs compared in {result.seconds:g} s.</p>"
        ),
        f"<h2>Flagged levels ({len(flagged)})</h2>",
    ]
    crowded = {lv: share for lv, share in result.commonplace.items() if share >= 0.5}
    if crowded:
        parts.insert(
            -1,
            "<p class='warn'>Most of the class wrote the same code at "
            + ", ".join(f"level {lv} ({share:.0%} of a typical submission)" for lv, share in crowded.items())
            + ": that code is ignored, so copying there cannot show. Compare those levels by reading, "
            "or rerun with a higher <code>--common</code>.</p>",
        )
    if flagged:
        parts.append(
            "<div class='scroll'><table><tr><th>students</th><th>level</th><th>score</th>"
            "<th>shares</th><th>matched lines</th></tr>"
        )
        for m in flagged:
            parts.append(
                f"<tr><td><a href='#{anchor.get(id(m), '')}'>{_e(m.a)} / {_e(m.b)}</a></td>"
                f"<td class='num'>{m.level}</td><td class='num flag'>{m.score:.2f}</td>"
                f"<td class='num'>{m.share_a:.0%} / {m.share_b:.0%}</td>"
                f"<td>{_e(_lines(m.lines_a))} / {_e(_lines(m.lines_b))}</td></tr>"
            )
        parts.append("</table></div>")
    else:
        parts.append("<p>No level reached the threshold.</p>")
    parts.append(
        f"<h2>Pairs ranked (mean score over the levels both wrote; top {MAX_RANKED_PAIRS})</h2>"
        "<div class='scroll'><table><tr><th>#</th><th>students</th><th>pair score</th>"
        "<th>levels at or above the report floor</th></tr>"
    )
    by_pair: dict[tuple[str, str], list] = {}
    for m in result.matches:
        by_pair.setdefault((m.a, m.b), []).append(m)
    for rank, (pair, score) in enumerate(result.ranked_pairs()[:MAX_RANKED_PAIRS], start=1):
        levels = " ".join(
            (f"<a href='#{anchor[id(m)]}'>" if id(m) in anchor else "<span>")
            + f"<span class='{'flag' if m.flagged else ''}'>L{m.level}: {m.score:.2f}</span>"
            + ("</a>" if id(m) in anchor else "</span>")
            for m in sorted(by_pair.get(pair, []), key=lambda m: m.level)
        )
        parts.append(
            f"<tr><td class='num'>{rank}</td><td>{_e(pair[0])} / {_e(pair[1])}</td>"
            f"<td class='num'>{score:.2f}</td><td>{levels or '–'}</td></tr>"
        )
    parts.append("</table></div>")
    parts.append("<h2>Side by side</h2>")
    for m in shown:
        pa, pb = result.prints[(m.a, m.level)], result.prints[(m.b, m.level)]
        parts.append(
            f"<h3 id='{anchor[id(m)]}'>Level {m.level}: {_e(m.a)} ({_e(pa.filename)}) and {_e(m.b)} "
            f"({_e(pb.filename)}): score {m.score:.2f}{' — flagged' if m.flagged else ''}</h3>"
            f"<div class='pair'><div>{_code(pa.source, m.lines_a)}</div><div>{_code(pb.source, m.lines_b)}</div></div>"
        )
    if len(result.matches) > len(shown):
        parts.append(
            f"<p>{len(result.matches) - len(shown)} more pairs and levels above the report floor are in "
            f"similarity.csv.</p>"
        )
    if result.notes:
        parts.append("<h2>Not compared</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in result.notes[:200]) + "</ul>")
    parts.append(
        "<p class='meta'>Written by the PyTorch exercise kit (python -m autograder similarity).</p></body></html>\n"
    )
    return "\n".join(parts)
