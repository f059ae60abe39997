"""The GPU record: run every check's CUDA variant on the reference and time each level on GPU and CPU.

    python bench/gpu_record.py [--out docs/gpu.md] [--seeds 5]

Meant for a machine with a CUDA device (the `device` tool's machine: one prepared run). It grades
the reference with --device cuda and --device cpu for several seeds (TF32 is off in the grader
and in the student's process), counts checks run and passed, and writes a markdown record with
the date, the device, the torch version and the time per level on each device. Without a CUDA
device it says so and exits 2, writing nothing.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.curriculum import LEVELS
from autograder.grading import grade
from autograder.sandbox import Zygote


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "gpu.md")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device on this machine: nothing to record", file=sys.stderr)
        return 2
    levels = sorted(LEVELS)
    zygote = Zygote()
    rows, failures, ran = [], [], 0
    try:
        for seed in range(args.seeds):
            for device in ("cuda", "cpu"):
                t0 = time.perf_counter()
                r = grade(ROOT / "solutions", levels, seed, device, pool=zygote)
                wall = time.perf_counter() - t0
                ran += len(r.checks) if device == "cuda" else 0
                failures += [(seed, device, c.id, c.message) for c in r.checks if not c.passed]
                rows.append(
                    (seed, device, wall, {lv: sum(c.seconds for c in r.checks if c.level == lv) for lv in levels})
                )
    finally:
        zygote.close()
    name = torch.cuda.get_device_name(0)
    lines = [
        f"# GPU record — {datetime.date.today().isoformat()}",
        "",
        f"Device: {name}; torch {torch.__version__} (CUDA {torch.version.cuda}); TF32 off.",
        f"Command: `python bench/gpu_record.py --seeds {args.seeds}` (reference solutions, seeds 0-{args.seeds - 1}).",
        "",
        f"CUDA checks run: {ran}; failed: {sum(1 for f in failures if f[1] == 'cuda')}.",
        f"CPU checks failed: {sum(1 for f in failures if f[1] == 'cpu')}.",
        "",
        "| level | GPU s (median over seeds) | CPU s |",
        "|---|---|---|",
    ]
    for lv in levels:

        def med(dev, lv=lv):
            vals = sorted(r[3][lv] for r in rows if r[1] == dev)
            return vals[len(vals) // 2]

        lines.append(f"| {lv} | {med('cuda'):.3f} | {med('cpu'):.3f} |")
    if failures:
        lines += ["", "Failures:", ""] + [f"- seed {s} {d} {i}: {m}" for s, d, i, m in failures[:50]]
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
