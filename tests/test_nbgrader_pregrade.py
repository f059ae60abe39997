"""`nbgrader run`'s one grading pass (autograder/integrations/nbgrader/pregrade.py): a report is taken only for
the exact bytes and settings it was graded with, and only from this run's folder (issue 29:
`nbgrader run` took 13 times as long as `grade` on the same class)."""

from __future__ import annotations

import json

from autograder.core.report import Report
from autograder.integrations.nbgrader import pregrade as pg

SETTINGS = pg.Settings(seed=1, device="cpu", call_timeout=60.0, submission_timeout=600.0, require_isolation=True)


def test_the_key_follows_the_bytes_and_every_setting():
    base = pg.key(b"nb", 3, SETTINGS)
    assert base == pg.key(b"nb", 3, SETTINGS)
    others = [
        pg.key(b"nb ", 3, SETTINGS),
        pg.key(b"nb", 4, SETTINGS),
        pg.key(b"nb", 3, pg.Settings(2, "cpu", 60.0, 600.0, True)),
        pg.key(b"nb", 3, pg.Settings(1, "all", 60.0, 600.0, True)),
        pg.key(b"nb", 3, pg.Settings(1, "cpu", 30.0, 600.0, True)),
        pg.key(b"nb", 3, pg.Settings(1, "cpu", 60.0, 300.0, True)),
        pg.key(b"nb", 3, pg.Settings(1, "cpu", 60.0, 600.0, False)),
    ]
    assert base not in others and len(set(others)) == len(others)


def test_a_report_is_found_only_in_this_runs_folder(tmp_path, monkeypatch):
    report = Report(seed=1, levels=[3], submission="x")
    (tmp_path / f"{pg.key(b'nb', 3, SETTINGS)}.json").write_text(json.dumps(report.as_json()))
    monkeypatch.delenv(pg.ENV, raising=False)
    assert pg.lookup(b"nb", 3, SETTINGS) is None  # no pass in this run: graded as before
    monkeypatch.setenv(pg.ENV, str(tmp_path))
    assert pg.lookup(b"nb", 3, SETTINGS).seed == 1
    (tmp_path / pg.DONE).write_text("")  # the pass has ended: a lookup does not wait for more
    assert pg.lookup(b"nb!", 3, SETTINGS) is None  # other bytes (a kernel rewrote it, say)


def test_a_lookup_waits_only_while_the_pass_runs(tmp_path, monkeypatch):
    """No report yet and no DONE: the lookup waits (here at most its given wait), then grades as before."""
    import time

    monkeypatch.setenv(pg.ENV, str(tmp_path))
    t0 = time.monotonic()
    assert pg.lookup(b"nb", 3, SETTINGS, wait=0.3) is None
    assert 0.3 <= time.monotonic() - t0 < 5
