"""A whole ``check`` of all eight levels, as a student runs it, through each transport, by core count.

    python bench/check_transports.py [--rounds 3] [--cores 2 4 8 16]

bench/transport_cost.py prices a cold child inside one long-lived grader (its pools started and
their interpreters imported before the clock starts). This script times what a student on macOS or
Windows waits for: ``python -m autograder check --dir solutions`` from a fresh process, which
imports the grader, starts its pool and grades all eight levels. Each round runs, in turn:

- ``fork``: the warm pool (Linux's default);
- ``portable``: a fresh interpreter per child over pipes (macOS's and Windows' default), with as
  many interpreters started ahead as the run allows (``Portable._wanted``: up to one per usable
  core but the grader's) and, where every torch interpreter then has a core, each level's
  convergence run in an interpreter of its own (``pools.both_lanes_fit``);
- ``portable, one lane``: the same with one interpreter per level (the convergence run after the
  level's other checks), the rule before both lanes were allowed on many cores;
- ``portable, one lane, 2 ahead``: and at most two interpreters started ahead, the rule before
  c809786;
- ``python -c "import torch"``, the scale.

``--cores N`` runs every command on the first N cores (CPU affinity, which the kit reads as its
usable cores); several values give one table per count. Medians of ``--rounds``, interleaved, so
that a busy spell of the machine hits every row alike. Ratios, not seconds, carry from machine to
machine. No GPU is used: ``KIT_ASSUME_GPU=0`` and ``CUDA_VISIBLE_DEVICES=`` in every command.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The portable pool held to one interpreter per level (``both_lanes_fit`` false) and, with
#: ``{two}`` true, to two interpreters started ahead: the CLI's own command line, run after the
#: rule is replaced.
OLD_RULES = (
    "import runpy, sys\n"
    "from autograder.sandbox import pools\n"
    "pools.both_lanes_fit = lambda levels: False\n"
    "wanted = pools.Portable._wanted\n"
    "if {two}:\n"
    "    pools.Portable._wanted = lambda self: min(wanted(self), self.SPARES)\n"
    "sys.argv = ['autograder', *sys.argv[1:]]\n"
    "runpy.run_module('autograder', run_name='__main__', alter_sys=True)\n"
)

CHECK = ["check", "--dir", str(ROOT / "solutions")]
ROWS = {
    "fork (warm pool)": ([sys.executable, "-m", "autograder", *CHECK], "fork"),
    "portable": ([sys.executable, "-m", "autograder", *CHECK], "portable"),
    "portable, one lane": ([sys.executable, "-c", OLD_RULES.format(two=False), *CHECK], "portable"),
    "portable, one lane, 2 ahead": ([sys.executable, "-c", OLD_RULES.format(two=True), *CHECK], "portable"),
    "python -c 'import torch'": ([sys.executable, "-c", "import torch"], None),
}


def _on_cores(cores: int | None):
    if cores is None:
        return None
    return lambda: os.sched_setaffinity(0, range(cores))


def timed(cmd: list[str], method: str | None, cores: int | None) -> float:
    env = dict(os.environ, KIT_HISTORY="off", KIT_ASSUME_GPU="0", CUDA_VISIBLE_DEVICES="")
    if method:
        env["KIT_SANDBOX_START"] = method
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, preexec_fn=_on_cores(cores))
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{cmd[:3]} ({method}) failed ({out.returncode}):\n{out.stdout[-1500:]}\n{out.stderr[-1500:]}")
    return elapsed


def table(cores: int | None, rounds: int) -> str:
    for cmd, method in ROWS.values():  # each command's first run compiles bytecode: out of the figures
        timed(cmd, method, cores)
    times: dict[str, list[float]] = {name: [] for name in ROWS}
    for _ in range(rounds):
        for name, (cmd, method) in ROWS.items():
            times[name].append(timed(cmd, method, cores))
    med = {name: statistics.median(t) for name, t in times.items()}
    scale, warm = med["python -c 'import torch'"], med["fork (warm pool)"]
    where = f"{cores} cores (affinity)" if cores else f"{os.cpu_count()} cores (all)"
    lines = [
        f"{where}, medians of {rounds}:",
        f"| {'what':<28} | {'median s':>8} | {'x import torch':>14} | {'x warm pool':>11} |",
        f"|{'-' * 30}|{'-' * 10}|{'-' * 16}|{'-' * 13}|",
    ]
    for name, m in med.items():
        lines.append(f"| {name:<28} | {m:>8.2f} | {m / scale:>14.2f} | {m / warm:>11.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cores", type=int, nargs="*", default=[], help="the first N cores (one table each)")
    args = ap.parse_args(argv)
    # (CPU affinity is Linux's: elsewhere the table is of all the machine's cores)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    for cores in args.cores or [None]:
        if cores is not None and (usable is None or not 1 <= cores <= usable):
            why = "this platform cannot pin a process to cores" if usable is None else f"this process may use {usable}"
            print(f"{cores} cores: {why}; skipped\n", flush=True)
            continue
        print(table(cores, args.rounds), flush=True)
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
