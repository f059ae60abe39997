"""What the convergence check still catches when it is cheaper: its detection power against the corpus.

    python bench/detection_power.py [--steps 100 200 300 500] [--sizes 64x1000x100x10 64x250x50x10]
                                    [--seeds 8] [--margin 30] [--out FILE]

For each candidate problem size (N x D_in x H x D_out; the seed's is 64x1000x100x10) and number of
steps S (the baseline: the seed's size and schedule, 500 steps):
1. the reference solutions train on the convergence problem of seeds 0..--seeds-1; the worst
   final/initial trusted-loss ratio per level, times --margin, is the bound a check of that size
   and length would use (capped at 0.5);
2. every corpus case (tests/corpus: broken and correct), the reference solutions and the stubs are
   graded (train stage only: lockstep and convergence) with that size, length and bound;
3. each verdict (which train checks fail, and the diagnosis) is compared with the baseline's.
A last row grades with what the checks ship (each level's record: curriculum.LEVELS[lv].convergence).

A size "keeps the detection power" when no verdict changes. Also reported: the child time of the
convergence runs (the reference's train for S steps, summed over the levels) — what shrinking saves.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from autograder.checks import loops
from autograder.core.curriculum import LEVELS
from autograder.core.problems import SEED_PROBLEM, Sizes
from autograder.grading import grade
from autograder.sandbox import Zygote

torch.set_num_threads(1)
SEED = 20240601


def corpus_cases() -> list[tuple[str, int, Path]]:
    spec = importlib.util.spec_from_file_location("manifest", ROOT / "tests" / "corpus" / "manifest.py")
    manifest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(manifest)
    cases = [(c["case"], c["level"], ROOT / "tests" / "corpus" / c["kind"] / c["case"]) for c in manifest.CASES]
    cases += [(f"reference l{lv}", lv, ROOT / "solutions") for lv in LEVELS]
    cases += [(f"stub l{lv}", lv, ROOT / "assignments") for lv in LEVELS]
    return cases


@contextlib.contextmanager
def configured(size: Sizes, steps: int, bounds: dict | None = None):
    """The convergence check with another problem size, length and bounds, for the duration."""
    saved = loops.SEED_PROBLEM, dict(LEVELS)
    loops.SEED_PROBLEM = size
    for lv, level in saved[1].items():
        ratio = (bounds or {}).get(lv, level.convergence.ratio)
        LEVELS[lv] = dataclasses.replace(
            level, convergence=dataclasses.replace(level.convergence, steps=steps, ratio=ratio)
        )
    try:
        yield
    finally:
        loops.SEED_PROBLEM = saved[0]
        LEVELS.update(saved[1])


def reference_ratios(seeds: int) -> tuple[dict, dict]:
    """Worst final/initial trusted-loss ratio per level over the seeds, and the median seconds of one run."""
    import tolerances  # bench/tolerances.py: calls the solutions' train the way the grader does

    worst, secs = {}, {}
    for level in LEVELS:
        mod = tolerances.load(level)
        ratios, times = [], []
        for seed in range(seeds):
            c = loops.convergence_problem(level, seed)
            t0 = time.perf_counter()
            _, params = tolerances.run_train(level, mod, c, c["x"].dtype)
            times.append(time.perf_counter() - t0)
            ratios.append(
                loops.trusted_loss(level, params, c["x"], c["y"])
                / loops.trusted_loss(level, c["params0"], c["x"], c["y"])
            )
        worst[level], secs[level] = max(ratios), statistics.median(times)
    return worst, secs


def verdicts(cases, zygote) -> dict:
    out = {}
    for name, level, directory in cases:
        report = grade(directory, [level], SEED, stage="train", pool=zygote)
        out[name] = tuple(sorted((c.id, c.passed, c.diagnosis or "") for c in report.checks))
    return out


def parse_size(text: str) -> Sizes:
    n, d_in, h, d_out = (int(v) for v in text.lower().split("x"))
    return Sizes(N=n, D_in=d_in, H=h, D_out=d_out)


def label(size: Sizes, steps) -> str:
    return f"{size.N}x{size.D_in}x{size.H}x{size.D_out}, {steps} steps"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, nargs="+", default=[100, 200, 300, 500])
    ap.add_argument(
        "--sizes",
        type=parse_size,
        nargs="+",
        default=[SEED_PROBLEM],
        help="problem sizes NxD_inxHxD_out (default: the seed's, 64x1000x100x10)",
    )
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--margin", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=None, help="also write the tables (markdown) here")
    args = ap.parse_args(argv)
    baseline = (SEED_PROBLEM, 500)
    configs = [baseline] + [(z, s) for z in args.sizes for s in sorted(set(args.steps)) if (z, s) != baseline]
    shipped_steps = LEVELS[1].convergence.steps
    shipped_bounds = {lv: level.convergence.ratio for lv, level in LEVELS.items()}
    cases = corpus_cases()
    zygote = Zygote()
    rows = []  # (label, worst, secs, bounds, verdicts)
    try:
        for size, steps in configs:
            with configured(size, steps):
                worst, secs = reference_ratios(args.seeds)
            bounds = {lv: min(0.5, worst[lv] * args.margin) for lv in LEVELS}
            t0 = time.perf_counter()
            with configured(size, steps, bounds):
                found = verdicts(cases, zygote)
            rows.append((label(size, steps), worst, secs, bounds, found))
            print(f"{rows[-1][0]}: graded {len(cases)} cases in {time.perf_counter() - t0:.0f} s", flush=True)
        with configured(SEED_PROBLEM, shipped_steps, shipped_bounds):
            worst, secs = reference_ratios(args.seeds)
            rows.append(
                (
                    label(SEED_PROBLEM, shipped_steps) + ", as shipped",
                    worst,
                    secs,
                    shipped_bounds,
                    verdicts(cases, zygote),
                )
            )
    finally:
        zygote.close()
    base = rows[0][4]
    lines = [
        f"The convergence check against the corpus ({len(cases)} cases: tests/corpus, the reference, the "
        f"stubs; train stage; seed {SEED}). Bound: the reference's worst ratio over {args.seeds} seeds "
        f"× {args.margin:g}; last row: the checks as shipped (their own bounds). Baseline: the first row.",
        "",
        "| problem, steps | child s, sum over levels | verdicts changed vs baseline | bounds (levels 1-8) |",
        "|---|---|---|---|",
    ]
    changes = []
    for name, _worst, secs, bounds, found in rows:
        changed = [n for n in base if found[n] != base[n]]
        changes += [(name, n, found[n]) for n in changed]
        lines.append(
            f"| {name} | {sum(secs.values()):.2f} | {len(changed)}{': ' + ', '.join(changed) if changed else ''}"
            " | " + ", ".join(f"{bounds[lv]:.2g}" for lv in LEVELS) + " |"
        )
    lines += [
        "",
        "Reference worst ratio per level:",
        "",
        "| problem, steps | " + " | ".join(f"L{lv}" for lv in LEVELS) + " |",
        "|---|" + "---|" * len(LEVELS),
    ]
    for name, worst, *_ in rows[:-1]:
        lines.append(f"| {name} | " + " | ".join(f"{worst[lv]:.2g}" for lv in LEVELS) + " |")
    for name, case, verdict in changes:
        lines.append(f"\n{name}, {case}:\n  baseline: {base[case]}\n  here:     {verdict}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
