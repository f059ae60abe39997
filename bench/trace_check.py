"""Where the time of one ``check`` goes: a timeline from the grader's trace (autograder/core/trace.py).

    python bench/trace_check.py                 # check of all eight levels, the reference solutions
    python bench/trace_check.py 3               # one level
    KIT_SANDBOX_START=portable python bench/trace_check.py

Runs ``python -m autograder check --dir solutions`` once with ``KIT_TRACE`` set, after timing a bare
``python -c "import torch"`` (the scale every figure of docs/speed.md is a ratio of), and prints
seconds from the launch of the command: the grader's own steps, the zygote's imports and warm-up,
each child asked for and ready, each level's checks (first start to last end) and the slowest checks;
then the CPU seconds of the grader, the zygotes and the children (on Linux), and the floor they set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.core.machine import usable_cores


def import_torch_seconds(repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.time()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        times.append(time.time() - t0)
    return statistics.median(times)


def traced_check(levels: list[str]) -> tuple[float, float, list[dict]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.jsonl"
        env = dict(os.environ, KIT_TRACE=str(path), KIT_HISTORY="off")
        t0 = time.time()
        subprocess.run(
            [sys.executable, "-m", "autograder", "check", *levels, "--dir", str(ROOT / "solutions")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            check=True,
        )
        wall = time.time() - t0
        events = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return t0, wall, sorted(events, key=lambda e: e["t"])


def timeline(t0: float, events: list[dict], slowest: int) -> list[str]:
    lines = []
    checks = [e for e in events if e["what"] == "check"]
    for e in events:
        if e["what"] in ("check", "child ends", "zygote ends"):  # (the CPU summary's)
            continue
        where = " ".join(f"{k}={e[k]}" for k in ("level", "lane", "method") if k in e)
        lines.append(f"{e['t'] - t0:6.2f}  {e['what']}{'  ' + where if where else ''}")
    by_level: dict[str, list[dict]] = {}
    for c in checks:
        by_level.setdefault(c["id"].split(".")[0], []).append(c)
    for level, cs in by_level.items():
        first = min(c["t"] for c in cs)
        last = max(c["t"] + c["seconds"] for c in cs)
        busy = sum(c["seconds"] for c in cs)
        lines.append(
            f"{first - t0:6.2f}  level {level}: {len(cs)} checks, until {last - t0:.2f} ({busy:.2f} s inside checks)"
        )
    lines.sort(key=lambda ln: float(ln.split()[0]))
    top = sorted(checks, key=lambda c: -c["seconds"])[:slowest]
    lines.append("")
    lines.append("slowest checks: " + ", ".join(f"{c['id']} {c['seconds']:.2f} s" for c in top))
    return lines


def cpu_summary(events: list[dict], scale: float, cores: int) -> list[str]:
    """CPU seconds by process, as the trace reports them (Linux: /proc, read before each ends), and
    the floor they set on ``cores`` cores: the children need torch imported first, so at best the
    run is one ``import torch`` and then everything after it spread over every core."""
    grader = next((e["cpu"] for e in events if e["what"] == "grade: report built" and "cpu" in e), None)
    zygotes = [e["cpu"] for e in events if e["what"] == "zygote ends" and e.get("cpu") is not None]
    lanes: dict[str, list[float]] = {}
    for e in events:
        if e["what"] == "child ends":
            lanes.setdefault(e["lane"], []).append(e["cpu"])
    if grader is None and not lanes:
        return []
    children = sum(sum(v) for v in lanes.values())
    parts = [f"grader {grader:.2f} (its own import torch included)" if grader is not None else "grader ?"]
    parts += [f"zygotes {sum(zygotes):.2f}"] if zygotes else []
    parts += [f"{lane} lanes {sum(v):.2f} ({len(v)})" for lane, v in sorted(lanes.items())]
    total = (grader or 0.0) + sum(zygotes) + children
    floor = scale + children / cores
    return [
        "CPU seconds: " + ", ".join(parts) + f"; {total:.2f} in all",
        f"floor on {cores} cores, were the grader free: import torch + children / {cores} = {floor:.2f} s, "
        f"{floor / scale:.2f} x import torch",
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("levels", nargs="*", help="levels to check (default: all)")
    ap.add_argument("--repeat", type=int, default=3, help="bare torch imports timed (the median is the scale)")
    ap.add_argument("--slowest", type=int, default=8)
    args = ap.parse_args(argv)
    scale = import_torch_seconds(args.repeat)
    t0, wall, events = traced_check(args.levels)
    method = next((e.get("method") for e in events if e["what"] == "pool started"), "?")
    print(f"python -c 'import torch': {scale:.2f} s (median of {args.repeat})")
    print(
        f"check {' '.join(args.levels) or '(all levels)'} through {method}: {wall:.2f} s wall, "
        f"{wall / scale:.2f} x import torch"
    )
    print()
    print("\n".join(timeline(t0, events, args.slowest)))
    print(f"{wall:6.2f}  the command has exited")
    print("\n".join(cpu_summary(events, scale, usable_cores())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
