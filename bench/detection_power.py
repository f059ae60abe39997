"""What the convergence check still catches with fewer steps: its detection power against the corpus.

    python bench/detection_power.py [--steps 100 200 300 500] [--seeds 8] [--margin 30] [--out FILE]

For each candidate number of steps S (500 is the seed's schedule, the baseline):
1. the reference solutions train on the convergence problem of seeds 0..--seeds-1 for S steps; the
   worst final/initial trusted-loss ratio per level, times --margin, is the bound a check at S
   steps would use (capped at 0.5);
2. every corpus case (tests/corpus: broken and correct), the reference solutions and the stubs are
   graded (train stage only: lockstep and convergence) with S steps and that bound;
3. each verdict (which train checks fail, and the diagnosis) is compared with the 500-step one.
A last row grades with what the checks ship (loops.CONVERGENCE_STEPS and CONVERGENCE_RATIO).

A size "keeps the detection power" when no verdict changes. Also reported: the child time of the
convergence runs (the reference's train for S steps, summed over the levels) — what shrinking saves.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from autograder.checks import loops  # noqa: E402
from autograder.curriculum import LEVELS  # noqa: E402
from autograder.grading import grade  # noqa: E402
from autograder.sandbox import Zygote  # noqa: E402

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


def reference_ratios(steps: int, seeds: int) -> tuple[dict, dict]:
    """Worst final/initial trusted-loss ratio per level over the seeds, and the mean seconds of one run."""
    import tolerances  # bench/tolerances.py: calls the solutions' train the way the grader does

    worst, secs = {}, {}
    for level in LEVELS:
        mod = tolerances.load(level)
        ratios, times = [], []
        for seed in range(seeds):
            c = loops.convergence_problem(level, seed, torch.float64 if level == 1 else torch.float32)
            c["steps"] = steps
            t0 = time.perf_counter()
            _, params = tolerances.run_train(level, mod, c, c["x"].dtype)
            times.append(time.perf_counter() - t0)
            ratios.append(loops.trusted_loss(level, params, c["x"], c["y"]) /
                          loops.trusted_loss(level, c["params0"], c["x"], c["y"]))
        worst[level], secs[level] = max(ratios), statistics.median(times)
    return worst, secs


def verdicts(cases, steps: int, bounds: dict, zygote) -> dict:
    saved = dict(loops.CONVERGENCE_STEPS), dict(loops.CONVERGENCE_RATIO)
    loops.CONVERGENCE_STEPS.update({lv: steps for lv in LEVELS})
    loops.CONVERGENCE_RATIO.update(bounds)
    try:
        out = {}
        for name, level, directory in cases:
            report = grade(directory, [level], SEED, stage="train", zygote=zygote)
            out[name] = tuple(sorted((c.id, c.passed, c.diagnosis or "") for c in report.checks))
        return out
    finally:
        loops.CONVERGENCE_STEPS.update(saved[0])
        loops.CONVERGENCE_RATIO.update(saved[1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, nargs="+", default=[100, 200, 300, 500])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--margin", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=None, help="also write the table (markdown) here")
    args = ap.parse_args(argv)
    steps = sorted(set(args.steps) | {500})
    shipped_steps = loops.CONVERGENCE_STEPS[1]
    cases = corpus_cases()
    zygote = Zygote()
    results, lines = {}, []
    try:
        for s in steps:
            worst, secs = reference_ratios(s, args.seeds)
            bounds = {lv: min(0.5, worst[lv] * args.margin) for lv in LEVELS}
            t0 = time.perf_counter()
            results[s] = dict(worst=worst, secs=secs, bounds=bounds, verdicts=verdicts(cases, s, bounds, zygote),
                              grading_s=time.perf_counter() - t0)
            print(f"{s} steps: graded {len(cases)} cases in {results[s]['grading_s']:.0f} s", flush=True)
        shipped = dict(loops.CONVERGENCE_RATIO)
        worst, secs = reference_ratios(shipped_steps, args.seeds)
        results["shipped"] = dict(worst=worst, secs=secs, bounds=shipped,
                                  verdicts=verdicts(cases, shipped_steps, shipped, zygote))
    finally:
        zygote.close()
    base = results[500]["verdicts"]
    lines += [f"Convergence steps against the corpus ({len(cases)} cases: tests/corpus, the reference, the stubs; "
              f"train stage; seed {SEED}). Bound at S steps: the reference's worst ratio over {args.seeds} seeds "
              f"× {args.margin:g}; last row: the checks as shipped ({shipped_steps} steps, their own bounds).", "",
              "| steps | child s, sum over levels | verdicts changed vs 500 | bounds (levels 1-8) |", "|---|---|---|---|"]
    for s in [*steps, "shipped"]:
        r = results[s]
        changed = [n for n in base if r["verdicts"][n] != base[n]]
        r["changed"] = changed
        label = f"{shipped_steps}, as shipped" if s == "shipped" else s
        lines.append(f"| {label} | {sum(r['secs'].values()):.2f} | {len(changed)}"
                     f"{': ' + ', '.join(changed) if changed else ''} | "
                     + ", ".join(f"{r['bounds'][lv]:.2g}" for lv in LEVELS) + " |")
    lines += ["", "Reference worst ratio per level:", "",
              "| steps | " + " | ".join(f"L{lv}" for lv in LEVELS) + " |", "|---|" + "---|" * len(LEVELS)]
    for s in steps:
        lines.append(f"| {s} | " + " | ".join(f"{results[s]['worst'][lv]:.2g}" for lv in LEVELS) + " |")
    for s in [*steps, "shipped"]:
        for name in results[s]["changed"]:
            lines.append(f"\n{s} steps, {name}:\n  500: {base[name]}\n  {s}: {results[s]['verdicts'][name]}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
