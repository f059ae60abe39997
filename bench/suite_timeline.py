"""Where the suite's time goes: read the timeline the tests wrote (tests/conftest.py) and print, per
worker, how long it was busy and idle, the longest tests, the longest files, and the tail (the
time after the first worker ran out of tests).

    mkdir -p /tmp/timeline && KIT_TEST_TIMELINE=/tmp/timeline python -m pytest -n auto --dist loadgroup
    python bench/suite_timeline.py /tmp/timeline
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def read(folder: Path) -> dict[str, list[tuple[str, float, float]]]:
    """worker file -> [(test, start, end)], in order."""
    out: dict[str, list[tuple[str, float, float]]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        started: dict[str, float] = {}
        runs = []
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec["what"] == "start":
                started[rec["test"]] = rec["at"]
            elif rec["test"] in started:
                runs.append((rec["test"], started.pop(rec["test"]), rec["at"]))
        if runs:
            out[path.stem] = runs
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    workers = read(args.folder)
    if not workers:
        print(f"no timeline in {args.folder}")
        return 1
    # One file per process: an xdist worker is the gwN file with the most tests (a test that runs
    # pytest in a subprocess leaves a small file under its worker's name, inherited from the env).
    xdist: dict[str, list] = {}
    for w, runs in workers.items():
        name = w.split("-")[0]
        if name.startswith("gw") and len(runs) > len(xdist.get(name, [])):
            xdist[name] = runs
    xdist = xdist or workers
    t0 = min(r[0][1] for r in xdist.values())
    t1 = max(r[-1][2] for r in xdist.values())
    print(f"{sum(len(r) for r in xdist.values())} tests on {len(xdist)} workers: {t1 - t0:.0f} s from the first start")
    ends = []
    for w, runs in sorted(xdist.items()):
        busy = sum(e - s for _, s, e in runs)
        ends.append(runs[-1][2])
        print(f"  {w}: {len(runs)} tests, busy {busy:.0f} s, last test ended at {runs[-1][2] - t0:.0f} s")
    print(f"tail: {t1 - min(ends):.0f} s with fewer workers than at the start")
    tests = sorted(((e - s, t) for runs in xdist.values() for t, s, e in runs), reverse=True)
    total = sum(d for d, _ in tests)
    print(f"worker-seconds in tests: {total:.0f}")
    print(f"longest tests (of {len(tests)}):")
    for d, t in tests[: args.top]:
        print(f"  {d:7.1f}  {t}")
    files: dict[str, float] = defaultdict(float)
    for d, t in tests:
        files[t.split("::")[0]] += d
    print("longest files:")
    for f, d in sorted(files.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {d:7.1f}  {100 * d / total:4.1f}%  {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
