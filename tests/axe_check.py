"""axe-core in the system's Chromium: what the accessibility tests share.

axe-core (Deque's engine, the one browsers' own audits use) comes vendored in the
``axe-playwright-python`` package (``axe.min.js``); it is injected into the page and run with the
WCAG 2.1 A and AA rules only. Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright
with no browser download and flags that keep it off the network, as in the JupyterLab test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: the rules asked for: WCAG 2.0 and 2.1, levels A and AA
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).is_file():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import axe_playwright_python  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install -e .[test]; no browser download needed)"
    return None


def axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def run_axe(page, context=None) -> dict:
    """axe's results for the page as it stands (``context``: axe's include/exclude, default the whole
    document), WCAG 2.1 A/AA rules only."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    return page.evaluate(
        "([context, tags]) => axe.run(context || document, {runOnly: {type: 'tag', values: tags}})",
        [context, TAGS],
    )


def rules_run(results: dict) -> list[str]:
    """Every rule axe ran on the page, whatever its outcome."""
    return sorted(
        {r["id"] for kind in ("passes", "violations", "incomplete", "inapplicable") for r in results.get(kind, [])}
    )


def describe(violations: list[dict]) -> str:
    """The violations, readable in a test failure: rule, impact, what it says, where."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v.get('impact')}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {node.get('failureSummary', '')[:300]}")
    return "\n".join(lines)
