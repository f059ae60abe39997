"""Grading speed, all in one run on one machine: the table issue 7 asks for.

    python bench/speed_table.py [--repeat 3] [--n 12] [--skip-nbgrader]

Measures (medians of --repeat runs, wall clock; (a) and (b)'s commands run in turn, round by round,
after one round that is not counted):
  (a) `python -c "import torch"` — the baseline every ratio divides by;
  (b) `python -m autograder check` of one level and of all eight, on the reference; also one level
      on the cold path (KIT_SANDBOX_START=spawn: a fresh interpreter per child, for platforms where
      forking is unsafe), and the re-check `check --watch` does after a save (the grader warm), through
      the warm pool and the portable transport;
  (c) the batch grader on N mixed submissions (reference, stubs, broken corpus cases), --jobs 2;
  (d) `nbgrader autograde` on the same kind of N notebooks (bench/nbgrader_vs_kit.py, one run);
  (e) peak RSS of the grader process and of a sandboxed child (from the reports' timings).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def wall(cmd, env=None, **kw) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, **kw)
    if out.returncode not in (0,):
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return time.perf_counter() - t0


def interleaved(commands: dict, rounds: int) -> dict:
    """The median wall time of each command, ``{name: (argv, env)}``, run in turn round by round
    (after one unmeasured round): a busy spell of the machine then hits every row alike, and the
    ratios to the first row, taken in the same rounds, keep their meaning."""
    times = {name: [] for name in commands}
    for measured in [False] + [True] * rounds:
        for name, (cmd, env) in commands.items():
            elapsed = wall(cmd, env=env)
            if measured:
                times[name].append(elapsed)
    return {name: statistics.median(t) for name, t in times.items()}


def watch_rechecks(repeat: int, level: int = 3, env=None, pause: float = 2.0) -> list[float]:
    """Seconds from a save to the new result line, with `check --watch` running (warm). Each save
    comes ``pause`` seconds after the last result, a student's edit (the portable pool starts its
    next interpreters after a check: they import torch in that time)."""
    import os
    import queue
    import threading

    module = {1: "level1_numpy", 3: "level3_autograd"}[level] + ".py"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(ROOT / "solutions" / module, work / module)
        proc = subprocess.Popen(
            [PY, "-m", "autograder", "check", str(level), "--dir", str(work), "--watch"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()

        def next_total():
            while not lines.get(timeout=120).startswith("Total:"):
                pass
            return time.perf_counter()

        try:
            next_total()  # the first, cold check
            times = []
            for i in range(repeat):
                time.sleep(pause)
                t = time.time() + 1 + i
                t0 = time.perf_counter()
                os.utime(work / module, (t, t))  # a save
                times.append(next_total() - t0)
            return times
        finally:
            proc.terminate()
            proc.wait()


def make_class(n: int, level: int, where: Path) -> Path:
    module = {1: "level1_numpy", 3: "level3_autograd"}[level]
    sources = [ROOT / "solutions" / f"{module}.py", ROOT / "assignments" / f"{module}.py"]
    sources += sorted((ROOT / "tests" / "corpus" / "broken").glob(f"l{level}_*/{module}.py"))
    cls = where / "class"
    for i in range(n):
        d = cls / f"s{i:03d}"
        d.mkdir(parents=True)
        shutil.copy(sources[i % len(sources)], d / f"{module}.py")
    return cls


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n", type=int, default=12, help="submissions for the batch and nbgrader rows")
    ap.add_argument("--level", type=int, default=3, choices=[1, 3])
    ap.add_argument("--skip-nbgrader", action="store_true")
    ap.add_argument("--each-level", action="store_true", help="also time check of each level alone")
    args = ap.parse_args(argv)
    med = lambda f: statistics.median(f() for _ in range(args.repeat))  # noqa: E731
    check = [PY, "-m", "autograder", "check", "--dir", str(ROOT / "solutions")]
    import os

    spawn_env = dict(os.environ, KIT_SANDBOX_START="spawn")
    commands = {
        "(a) python -c 'import torch'": ([PY, "-c", "import torch"], None),
        "(b) check, one level (3)": (check + ["3"], None),
        "(b) check, all eight levels": (check, None),
        **{
            f"(b) check, level {level} alone": (check + [str(level)], None)
            for level in (range(1, 9) if args.each_level else ())
        },
        "(b) check, one level (3), cold path (spawn)": (check + ["3"], spawn_env),
    }
    rows = interleaved(commands, args.repeat)
    rows["(b) check --watch, one level (3): save to result"] = statistics.median(watch_rechecks(args.repeat))
    portable_env = dict(os.environ, KIT_SANDBOX_START="portable")
    rows["(b) check --watch, one level (3), portable: save to result"] = statistics.median(
        watch_rechecks(args.repeat, env=portable_env)
    )
    with tempfile.TemporaryDirectory() as tmp:
        cls = make_class(args.n, args.level, Path(tmp))
        out = Path(tmp) / "out"
        batch = [
            PY,
            "-m",
            "autograder",
            "grade",
            str(cls),
            "--out",
            str(out),
            "--jobs",
            "2",
            "--level",
            str(args.level),
            "--force",
        ]
        rows[f"(c) batch grader, {args.n} submissions, --jobs 2"] = med(lambda: wall(batch))
        reports = [json.loads(p.read_text()) for p in (out / "reports").glob("*.json")]
    base = rows["(a) python -c 'import torch'"]
    nb_line = None
    if not args.skip_nbgrader:
        t0 = time.perf_counter()
        res = subprocess.run(
            [
                PY,
                str(ROOT / "bench" / "nbgrader_vs_kit.py"),
                "--n",
                str(args.n),
                "--level",
                str(args.level),
                "--jobs",
                "2",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        nb_line = res.stdout.strip().splitlines()[-6:] if res.returncode == 0 else [f"failed: {res.stderr[-500:]}"]
        rows["(d) nbgrader_vs_kit.py (nbgrader autograde + kit batch)"] = time.perf_counter() - t0
    grader_rss = max(r["timings"].get("grader_peak_rss_mb", 0) for r in reports)
    child_rss = max(r["timings"].get("child_peak_rss_mb", 0) for r in reports)
    print(f"{'what':58} {'median s':>9} {'× import torch':>15}")
    for name, t in rows.items():
        print(f"{name:58} {t:9.2f} {t / base:15.2f}")
    print(f"(e) peak RSS: grader {grader_rss:.0f} MB, sandboxed child {child_rss:.0f} MB (batch run above)")
    print(
        f"    batch throughput: {args.n / rows[f'(c) batch grader, {args.n} submissions, --jobs 2']:.2f} submissions/s"
    )
    if nb_line:
        print("(d) nbgrader against the kit, as bench/nbgrader_vs_kit.py reports it:")
        for line in nb_line:
            print("    " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
