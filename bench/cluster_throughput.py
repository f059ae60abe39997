"""Class throughput on a Dask cluster against local grading, measured in the same run.

    python bench/cluster_throughput.py [--n 16] [--level 1] [--repeat 1] [--json out.json]

Grades one generated class (correct work and the broken corpus, alternating) four ways, each
``--repeat`` times in rotating order (medians reported), each run a fresh ``python -m autograder
grade CLASS --out ...`` process with the same seed:

- local ``--jobs 1`` and ``--jobs 2`` (the baseline: batch.py's process pool),
- ``--scheduler local:1`` and ``--scheduler local:2`` (a Dask LocalCluster of 1 and 2 worker
  processes, each with its own warm sandbox pool; the client sends each student as data).

For each run: the wall time (start-up included), the start-up (until the first report is written)
and the steady throughput: students per second over the second half of the class, when every
worker is warm (reports are written as they arrive, so their modification times are the arrival
times). From those: the
cluster path's overhead per student (seconds per student per worker, cluster minus local, one
worker each: what sending a student as data and back costs), and how throughput scales from one
worker to two. It checks that every run gave every student the same checks. It also reports the
peak memory of the grading process and of a sandbox child (from the reports), for sizing workers.
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
SEED = 20240601


def make_class(root: Path, n: int, level: int) -> Path:
    from autograder.core.curriculum import LEVELS

    module = LEVELS[level].module
    solution = (ROOT / "solutions" / f"{module}.py").read_text()
    broken = sorted(
        p / f"{module}.py" for p in (ROOT / "tests" / "corpus" / "broken").iterdir() if (p / f"{module}.py").is_file()
    )
    cls = root / "class"
    for i in range(n):
        d = cls / f"student-{i:03d}"
        d.mkdir(parents=True)
        source = broken[(i // 2) % len(broken)].read_text() if (i % 2 and broken) else solution
        (d / f"{module}.py").write_text(source)
    return cls


def run(cls: Path, out: Path, level: int, extra: list[str]) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        str(cls),
        "--out",
        str(out),
        "--level",
        str(level),
        "--seed",
        str(SEED),
        "--format",
        "json",
        *extra,
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.time()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=3600, check=False)
    wall = time.time() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    reports = sorted((out / "reports").glob("*.json"))
    arrivals = sorted(p.stat().st_mtime for p in reports)
    half = len(arrivals) // 2  # the second half of the class: every worker is warm by then
    steady = arrivals[-1] - arrivals[half - 1]
    data = [json.loads(p.read_text()) for p in reports]
    return {
        "wall_s": round(wall, 2),
        "startup_s": round(arrivals[0] - t0, 2),
        "steady_students_per_s": round((len(arrivals) - half) / steady, 3) if steady > 0 else None,
        "class_students_per_s": round(len(arrivals) / wall, 3),
        "grader_peak_rss_mb": max(r["timings"].get("grader_peak_rss_mb", 0) for r in data),
        "child_peak_rss_mb": max(r["timings"].get("child_peak_rss_mb", 0) for r in data),
        "checks": {r["student"]: [(c["id"], c["score"], c["passed"]) for c in r["checks"]] for r in data},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=16, help="students in the class")
    ap.add_argument("--level", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each configuration (medians are reported)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    runs = {
        "local --jobs 1": ["--jobs", "1"],
        "local --jobs 2": ["--jobs", "2"],
        "dask local:1": ["--scheduler", "local:1"],
        "dask local:2": ["--scheduler", "local:2"],
    }
    measured: dict[str, list[dict]] = {name: [] for name in runs}
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        cls = make_class(Path(tmp), args.n, args.level)
        names = list(runs)
        for rep in range(args.repeat):
            for name in names[rep % len(names) :] + names[: rep % len(names)]:  # no run always goes first
                out = Path(tmp) / f"out-{rep}-{names.index(name)}"
                measured[name].append(run(cls, out, args.level, runs[name]))
                print(f"{name}: {measured[name][-1]['wall_s']} s", file=sys.stderr)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    reference = measured["local --jobs 1"][0]["checks"]
    same = all(r.pop("checks") == reference for rs in measured.values() for r in rs)
    results = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in measured.items()}

    def per_student(name):  # seconds per student per worker, steady state
        thr = results[name]["steady_students_per_s"]
        return 1 / thr if thr else float("nan")

    derived = {
        "same_checks_everywhere": same,
        "cluster_overhead_s_per_student": round(per_student("dask local:1") - per_student("local --jobs 1"), 3),
        "cluster_vs_local_2_workers_throughput": round(
            results["dask local:2"]["steady_students_per_s"] / results["local --jobs 2"]["steady_students_per_s"], 3
        ),
        "cluster_scaling_1_to_2_workers": round(
            results["dask local:2"]["steady_students_per_s"] / results["dask local:1"]["steady_students_per_s"], 3
        ),
        "local_scaling_1_to_2_jobs": round(
            results["local --jobs 2"]["steady_students_per_s"] / results["local --jobs 1"]["steady_students_per_s"], 3
        ),
    }
    print(
        f"{args.n} students, level {args.level}, {os.cpu_count()} cores, medians of {args.repeat} run(s); "
        f"load average {load_before} before, {load_after} after"
    )
    print(
        f"{'run':16} {'wall s':>7} {'start-up s':>10} {'steady st/s':>11} {'class st/s':>10} "
        f"{'grader MB':>9} {'child MB':>8}"
    )
    for name, r in results.items():
        print(
            f"{name:16} {r['wall_s']:7.2f} {r['startup_s']:10.2f} {r['steady_students_per_s']:11.3f} "
            f"{r['class_students_per_s']:10.3f} {r['grader_peak_rss_mb']:9.0f} {r['child_peak_rss_mb']:8.0f}"
        )
    for k, v in derived.items():
        print(f"{k}: {v}")
    if args.json:
        figures = {"runs": results, "every_run": measured, "load_average": [load_before, load_after], **derived}
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
