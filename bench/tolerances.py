"""Measure the errors that the checks' tolerances must absorb, over many seeds.

    python bench/tolerances.py [--seeds 20] [--out docs/tolerances.md]

Runs the reference solutions (solutions/, imported here: this is a measurement, not grading) on
the grader's own problems and reports, per level, the worst error seen:
- float64 and float32 values against the float64 references (levels 1-2 forward and gradients);
- the lockstep trajectory (losses and weights after 4 steps) against ``reference.simulate``;
- the convergence ratio (final / initial trusted loss on the seed's problem, float32).
Each tolerance in the checks should sit well above the worst value seen here.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.checks import loops
from autograder.checks.by_hand import unit
from autograder.child.models import build_model
from autograder.core import reference as ref
from autograder.core.curriculum import LEVELS

torch.set_num_threads(1)


def load(level):
    path = ROOT / "solutions" / f"{LEVELS[level].module}.py"
    spec = importlib.util.spec_from_file_location(LEVELS[level].module, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def value_errors(seed):
    m1, m2 = load(1), load(2)
    out = {}
    s, x, w1, w2, y = unit(seed, 1)
    want_y, want_h = ref.forward_nobias(x, w1, w2)
    g1, g2 = ref.grads_nobias(x, w1, w2, y)
    yp, h = m1.forward(x.numpy(), w1.numpy(), w2.numpy())
    gw1, gw2 = m1.backward(x.numpy(), want_h.numpy(), w2.numpy(), want_y.numpy(), y.numpy())
    out["float64"] = max(ref.rel_error(torch.from_numpy(a), b) for a, b in ((yp, want_y), (gw1, g1), (gw2, g2)))
    x32, w132, w232, y32 = (t.float() for t in (x, w1, w2, y))
    yp, h = m2.forward(x32, w132, w232)
    gw1, gw2 = m2.backward(x32, want_h.float(), w232, want_y.float(), y32)
    out["float32"] = max(ref.rel_error(a.double(), b) for a, b in ((yp, want_y), (gw1, g1), (gw2, g2)))
    return out


def run_train(level, mod, p, dtype):
    """Call the solution's train the way the grader does (checks/loops.run_train, from the level's
    record), in this process; return (losses, params)."""
    lv = LEVELS[level]
    names = lv.param_names
    x, y = p["x"].to(dtype), p["y"].to(dtype)
    opt = p["opt"]
    if lv.model.dynamic:
        random.seed(p["python_seed"])
    model, weights = None, {}
    if lv.numpy:
        x, y = x.numpy(), y.numpy()
        weights = {n: p["params0"][n].to(dtype).numpy().copy() for n in names}
    elif lv.model.kind == "weights":
        weights = {n: p["params0"][n].to(dtype).clone().requires_grad_(lv.autograd) for n in names}
    else:
        model = build_model(*lv.model.spec(loops.sizes_of(level, x, y, p["params0"]))).to(dtype)
        with torch.no_grad():
            for n, prm in model.named_parameters():
                prm.copy_(p["params0"][n].to(dtype))
    given = dict(
        x=x,
        y=y,
        lr=opt.lr,
        steps=p["steps"],
        momentum=opt.momentum,
        model=model,
        loss_fn=torch.nn.MSELoss(reduction="sum"),
        **weights,
    )
    if "optimizer" in lv.train_args:
        make = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[opt.kind]
        given["optimizer"] = make(model.parameters(), lr=opt.lr, **({"momentum": opt.momentum} if opt.momentum else {}))
    losses = mod.train(*(given[a] for a in lv.train_args))
    if model is not None:
        return losses, {n: t.detach() for n, t in model.named_parameters()}
    return losses, {n: torch.from_numpy(w) if lv.numpy else w.detach() for n, w in weights.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    t0 = time.time()
    worst = {"float64": 0.0, "float32": 0.0}
    for seed in range(args.seeds):
        for k, v in value_errors(seed).items():
            worst[k] = max(worst[k], v)
    rows = []
    for level in sorted(LEVELS):
        mod = load(level)
        lock, conv = 0.0, 0.0
        for seed in range(args.seeds):
            p = loops.lockstep_problem(level, seed)
            losses, params = run_train(level, mod, p, torch.float64)
            errs = []
            # a random depth: zeroing to zeros or to None are both correct (loops._lockstep)
            for to_none in (False, True) if LEVELS[level].model.dynamic else (False,):
                want = ref.simulate(
                    level, p["params0"], p["x"], p["y"], p["opt"], p["steps"], ks=p["ks"], zero_to_none=to_none
                )
                errs.append(max(ref.trajectory_error([float(v) for v in losses], params, want)))
            lock = max(lock, min(errs))
            c = loops.convergence_problem(level, seed)
            _, params = run_train(level, mod, c, c["x"].dtype)
            start = loops.trusted_loss(level, c["params0"], c["x"], c["y"])
            end = loops.trusted_loss(level, params, c["x"], c["y"])
            conv = max(conv, end / start)
        rows.append((level, lock, conv, LEVELS[level].convergence.ratio))
        print(f"level {level}: lockstep worst {lock:.2g}, convergence worst ratio {conv:.3g}", flush=True)
    lines = [
        "# Measured tolerances",
        "",
        f"Measured by `python bench/tolerances.py --seeds {args.seeds}` (reference solutions, seeds 0-{args.seeds - 1},"
        f" CPU, torch {torch.__version__}), in {time.time() - t0:.0f} s.",
        "",
        "| comparison | worst seen | tolerance in the checks |",
        "|---|---|---|",
        f"| levels 1-2 values and gradients, float64 vs float64 reference | {worst['float64']:.2g} | 1e-10 |",
        f"| level 2 values and gradients, float32 vs float64 reference | {worst['float32']:.2g} | 1e-5 |",
    ]
    for level, lock, _conv, _bound in rows:
        lines.append(
            f"| level {level} lockstep (4 steps, float64), losses and weights | {lock:.2g} | {ref.LOCKSTEP_RTOL:g} |"
        )
    for level, _lock, conv, bound in rows:
        steps = LEVELS[level].convergence.steps
        lines.append(
            f"| level {level} convergence: final / initial loss (seed problem, {steps} steps) "
            f"| {conv:.3g} | {bound:g} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
