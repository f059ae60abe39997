"""Training-loop checks shared by every level: lockstep against the reference, then convergence.

The lockstep run hands the student's ``train`` small all-different sizes, float64 data, known
initial weights and a learning rate chosen so one step moves the loss by about 20%; its losses
and final weights are matched against the reference trajectory and against the trajectories of
the common mistakes (``reference.diagnose``). One run serves every stage check that reads it.

The convergence run is the seed document's problem (N=64, D_in=1000, H=100, D_out=10, the seed's
learning rate) for the level's ``Convergence.steps`` in float32; the trusted side recomputes the
loss from the weights the student's loop leaves behind, never from what it printed or returned.

Everything about a level (its network, how train is called, its optimizer, schedule and bound)
comes from its record in ``curriculum.LEVELS``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..core import reference as ref
from ..core.curriculum import LEVELS
from ..core.problems import SEED_PROBLEM, Sizes, generator, python_seed, randn, unit_sizes
from ..sandbox.proxy import Leaf, Make, StudentCrash, StudentError, StudentTimeout
from .common import CheckFailed, data_of, expect_array, expect_losses, expect_tensor, preview

LOCKSTEP_STEPS = 4


def optim_for(level: int, lr: float) -> ref.Optim:
    lv = LEVELS[level]
    return ref.Optim(lv.optimizer, lr, lv.schedule.momentum)


def depths_for(level: int, python_seed: int, n: int) -> list[int] | None:
    """The depth of each of n forward calls, for a level whose depth is random (else None)."""
    model = LEVELS[level].model
    return ref.depths(python_seed, n, model.max_depth) if model.dynamic else None


def lockstep_problem(level: int, seed: int) -> dict:
    lv = LEVELS[level]
    s = unit_sizes(seed, level, "lockstep")
    gen = generator(seed, level, "lockstep")
    x, y = randn(gen, s.N, s.D_in), randn(gen, s.N, s.D_out)
    params0 = ref.init_params(level, s, gen)
    pseed = python_seed(seed, level, "lockstep")
    ks = depths_for(level, pseed, LOCKSTEP_STEPS)
    # a learning rate that moves the loss by ~20% in one step, so every mistake shows
    p = {k: v.clone().requires_grad_(True) for k, v in params0.items()}
    loss = ref.loss_of(level, p, x, y, ks[0] if ks else None)
    grads = torch.autograd.grad(loss, list(p.values()), allow_unused=True)
    gnorm2 = sum(float((g**2).sum()) for g in grads if g is not None)
    lr = float(f"{0.2 * float(loss.detach()) / gnorm2:.2g}")
    if lv.lockstep_lr is not None:
        lr = lv.lockstep_lr
    elif lv.lockstep_lr_scale != 1.0:
        lr = float(f"{lr * lv.lockstep_lr_scale:.2g}")
    return dict(
        sizes=s, x=x, y=y, params0=params0, opt=optim_for(level, lr), steps=LOCKSTEP_STEPS, python_seed=pseed, ks=ks
    )


def sizes_of(level: int, x, y, params: dict) -> Sizes:
    """The problem's sizes, read off its data and the shapes of its parameters."""
    model = LEVELS[level].model
    found = {"N": x.shape[0], "D_in": x.shape[1], "D_out": y.shape[1]}
    for layer in model.layers:
        if model.kind == "weights":
            found[layer.fan_in], found[layer.fan_out] = params[layer.name].shape
        else:
            found[layer.fan_out], found[layer.fan_in] = params[layer.name + ".weight"].shape
    return Sizes(**{k: int(v) for k, v in found.items()})


def run_train(
    sub,
    level: int,
    x,
    y,
    params0: dict,
    opt: ref.Optim,
    steps: int,
    dtype: torch.dtype,
    python_seed: int | None = None,
    watch: bool = False,
    background: bool = False,
):
    """Call the student's train() on objects the grader built; return (value, final params, observations).

    What train is handed, in which order, follows the level's record (``Level.train_args``): the
    bare weights themselves (levels 1-4), or a model the student's process builds from the record's
    spec, with the grader's weights. With background=True the call is only started: the return
    value is a function that waits for it and returns that same triple (the grader does other
    checks meanwhile).
    """
    lv = LEVELS[level]
    names = lv.param_names
    kw = dict(background=background)
    model = None
    if lv.numpy:
        xs, ys = x.numpy().astype(np.float64), y.numpy().astype(np.float64)
        weights = {n: params0[n].numpy().astype(np.float64) for n in names}
    elif lv.model.kind == "weights":
        xs, ys = x.to(dtype), y.to(dtype)
        weights = {n: Leaf(params0[n].to(dtype)) if lv.autograd else params0[n].to(dtype) for n in names}
    else:
        model = sub.make(
            "model",
            *lv.model.spec(sizes_of(level, x, y, params0)),
            dtype=str(dtype).replace("torch.", ""),
            device=sub.device,
        )
        sub.set_params(model, {n: params0[n].to(dtype) for n in names})
        xs, ys, weights = x.to(dtype), y.to(dtype), {}
    given = dict(
        x=xs, y=ys, lr=opt.lr, steps=steps, momentum=opt.momentum, model=model, loss_fn=Make("mse_sum"), **weights
    )
    args = []
    for name in lv.train_args:
        if name == "optimizer":  # the grader's own torch.optim optimizer, built in the student's process
            hyper = dict(lr=opt.lr, **({"momentum": opt.momentum} if opt.momentum else {}))
            given[name] = sub.make(opt.kind, model, **hyper)
        args.append(given[name])
    if model is None:
        r = sub.call("train", *args, return_args=True, **kw)
    else:
        r = sub.call(
            "train", *args, watch=model if watch else None, python_seed=python_seed if lv.model.dynamic else None, **kw
        )

    def collect(r=r):
        if background:
            r = sub.finish(r)
        if model is not None:
            params = sub.params(model)
            missing = [n for n in names if n not in params]
            if missing:
                raise CheckFailed(
                    f"after train the model has no parameter {missing[0]}: train must keep the model "
                    "it was given (and its layers)"
                )
            return (
                r.value,
                {
                    n: data_of(
                        expect_tensor(params[n], f"{n} after train", tuple(params0[n].shape)), f"{n} after train"
                    )
                    for n in names
                },
                r.observations,
            )
        after = [r.args_after[lv.train_args.index(n)] for n in names]
        if lv.numpy:
            after = [expect_array(a, f"{n} after train", params0[n].shape) for a, n in zip(after, names)]
        else:
            after = [expect_tensor(a, f"{n} after train", tuple(params0[n].shape)) for a, n in zip(after, names)]
        return r.value, {n: data_of(a) for n, a in zip(names, after)}, r.observations

    return collect if background else collect()


def lockstep(sub, shared: dict, level: int, seed: int) -> dict:
    """Run (once per level and device) the student's loop for a few steps and classify it."""
    if "lockstep" not in shared:
        try:
            shared["lockstep"] = _lockstep(sub, level, seed)
        except (StudentError, StudentTimeout, StudentCrash, CheckFailed) as exc:
            shared["lockstep"] = exc
    result = shared["lockstep"]
    if isinstance(result, Exception):
        raise result
    return result


def _lockstep(sub, level, seed):
    lv = LEVELS[level]
    p = lockstep_problem(level, seed)
    value, params, obs = run_train(
        sub,
        level,
        p["x"],
        p["y"],
        p["params0"],
        p["opt"],
        p["steps"],
        torch.float64,
        python_seed=p["python_seed"],
        watch=lv.lockstep_watch,
    )
    try:
        losses, losses_problem = expect_losses(value, p["steps"]), None
    except CheckFailed as exc:  # the train check fails on it; the stages are judged from the weights alone
        losses, losses_problem = None, exc
    # A layer a call skips (a random depth of 0) gets no gradient: zeroing to None or to zeros then
    # differ under momentum, and both are correct (CONTRACT.md).
    match = ref.diagnose(
        level,
        p["params0"],
        p["x"],
        p["y"],
        p["opt"],
        p["steps"],
        losses,
        params,
        ks=p["ks"],
        accept_none_variant=lv.model.dynamic,
    )
    return dict(
        problem=p,
        losses=losses,
        params=params,
        observations=obs,
        match=refine(match, obs),
        losses_problem=losses_problem,
    )


def refine(match: ref.Match, obs: dict) -> ref.Match:
    """Tell apart mistakes whose trajectories coincide, from what the loop was seen doing."""
    built = obs.get("optimizers", [])
    if match.variant == "no_step" and obs.get("steps"):
        match.variant = "zeroed_before_step"  # step() ran, but on gradients already zeroed
    elif match.variant == "optimizer_rebuilt" and len(built) == 1 and not built[0]["defaults"].get("momentum"):
        match.variant = "no_momentum"  # one optimizer, without momentum: the same trajectory
    return match


def expect_lockstep(sub, shared, level, seed) -> None:
    r = lockstep(sub, shared, level, seed)
    if r["losses_problem"] is not None:
        raise r["losses_problem"]
    m: ref.Match = r["match"]
    if m.variant == "correct":
        return
    p = r["problem"]
    want = ref.simulate(level, p["params0"], p["x"], p["y"], p["opt"], p["steps"], ks=p["ks"])
    msg = (
        f"the loop's trajectory differs from the reference ({p['sizes']}, lr={p['opt'].lr:g}, "
        f"{p['steps']} steps): losses expected {preview(torch.tensor(want.losses))}, got "
        f"{preview(torch.tensor(r['losses']))}"
    )
    if m.hint:
        raise CheckFailed(f"{msg}. Likely mistake ({m.stage}): {m.hint}", diagnosis=m.variant)
    if not all(math.isfinite(v) for v in r["losses"]):
        raise CheckFailed(msg + ". The losses are not finite")
    raise CheckFailed(
        msg
        + (
            ". The losses match but the final weights do not"
            if m.loss_error <= ref.LOCKSTEP_RTOL
            else ". Check that each loss is computed before that iteration's update"
        )
    )


def expect_stage_in_loop(sub, shared, level, seed, stage: str) -> None:
    """A stage check read off the lockstep run: fails only when that stage's mistake is diagnosed."""
    r = lockstep(sub, shared, level, seed)
    m: ref.Match = r["match"]
    if m.stage == stage:
        raise CheckFailed(f"in train: {m.hint}", diagnosis=m.variant)


def convergence_problem(level: int, seed: int, dtype: torch.dtype | None = None) -> dict:
    """The seed's problem for the level's convergence run, in ``dtype`` (default: float64 for a
    numpy level, float32 for the others)."""
    if dtype is None:
        dtype = torch.float64 if LEVELS[level].numpy else torch.float32
    s = SEED_PROBLEM
    gen = generator(seed, level, "converge")
    x, y = randn(gen, s.N, s.D_in, dtype=dtype), randn(gen, s.N, s.D_out, dtype=dtype)
    params0 = {k: v.to(dtype) for k, v in ref.init_params(level, s, gen).items()}
    lv = LEVELS[level]
    return dict(
        x=x,
        y=y,
        params0=params0,
        opt=optim_for(level, lv.schedule.lr),
        steps=lv.convergence.steps,
        python_seed=python_seed(seed, level, "converge"),
    )


def trusted_loss(level, params, x, y) -> float:
    p = {k: v.to(torch.float64) for k, v in params.items()}
    x, y = x.to(torch.float64), y.to(torch.float64)
    model = LEVELS[level].model
    if model.dynamic:  # the depth is random: judge the mean over every depth
        return sum(float(ref.loss_of(level, p, x, y, k)) for k in range(model.max_depth + 1)) / (model.max_depth + 1)
    return float(ref.loss_of(level, p, x, y))


def start_convergence(sub, level: int, seed: int):
    """Start the convergence run in its own process, to be collected by expect_convergence.

    Returns a function that waits for the run, or the exception that stopped it from starting.
    """
    p = convergence_problem(level, seed)
    try:
        return run_train(
            sub,
            level,
            p["x"],
            p["y"],
            p["params0"],
            p["opt"],
            p["steps"],
            p["x"].dtype,
            python_seed=p["python_seed"],
            background=True,
        )
    except Exception as exc:  # noqa: BLE001 - re-raised by the check itself, with its verdict
        return exc


def expect_convergence(sub, level: int, seed: int, curves: dict | None = None, started=None) -> None:
    """The convergence check; with ``curves`` (a dict), also record the loss curves for the HTML report.

    ``started``: what start_convergence returned, when the run was started ahead of time.
    """
    p = convergence_problem(level, seed)
    if curves is not None:
        ref_run = ref.simulate(
            level,
            p["params0"],
            p["x"],
            p["y"],
            p["opt"],
            p["steps"],
            ks=depths_for(level, p["python_seed"], p["steps"]),
            dtype=p["x"].dtype,  # the run's own precision, so the curves compare
            depth_band=LEVELS[level].model.dynamic,
        )
        curves[level] = {"reference": ref_run.losses, "student": None}
        if ref_run.band:  # level 8: one line cannot match every correct run's draws; the band can
            curves[level]["band"] = ref_run.band
    if isinstance(started, Exception):
        raise started
    if started is not None:
        value, params, _ = started()
    else:
        value, params, _ = run_train(
            sub, level, p["x"], p["y"], p["params0"], p["opt"], p["steps"], p["x"].dtype, python_seed=p["python_seed"]
        )
    losses = expect_losses(value, p["steps"])
    if curves is not None:
        curves[level]["student"] = losses
    start = trusted_loss(level, p["params0"], p["x"], p["y"])
    end = trusted_loss(level, params, p["x"], p["y"])
    if curves is not None and not LEVELS[level].model.dynamic and losses and math.isfinite(losses[0]):
        n = p["y"].numel()  # a mean loss is the sum over n: say so on the chart, draw it comparable
        if abs(losses[0] * n - start) <= 1e-3 * abs(start) and abs(losses[0] - start) > 1e-3 * abs(start):
            curves[level].update(student_scale="mean", student_factor=float(n))
    bound = LEVELS[level].convergence.ratio
    where = f"({SEED_PROBLEM}, lr={p['opt'].lr:g}, {p['steps']} steps)"
    if not math.isfinite(end):
        raise CheckFailed(
            f"after training on the seed's problem {where} the weights give a non-finite loss: the loop diverged"
        )
    if all(torch.equal(params[k], p["params0"][k].to(params[k].dtype)) for k in params):
        raise CheckFailed(
            f"the weights handed to train are unchanged after {p['steps']} steps {where}: update the "
            "objects you were given, in place"
        )
    if end > bound * start:
        raise CheckFailed(
            f"the loss did not fall enough on the seed's problem {where}: from {start:.4g} to "
            f"{end:.4g} (a factor {start / max(end, 1e-300):.3g}; at least {1 / bound:.0g} expected)"
        )
    first = losses[0]
    first_depth = depths_for(level, p["python_seed"], 1)
    if first_depth:  # the first loss is at the depth of the first call
        start = float(
            ref.loss_of(
                level,
                {k: v.to(torch.float64) for k, v in p["params0"].items()},
                p["x"].to(torch.float64),
                p["y"].to(torch.float64),
                first_depth[0],
            )
        )
    if not (math.isfinite(first) and abs(first - start) <= 1e-3 * abs(start) + 1e-6):
        raise CheckFailed(
            f"the first loss train returned ({first:.6g}) is not the loss of the initial weights "
            f"({start:.6g}): record each iteration's loss before its update"
        )
