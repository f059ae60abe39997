"""Checks shared by the two by-hand levels: numpy (level 1) and torch tensors (level 2).

The two levels ask for the same five functions; only the container differs (a float64 numpy
array, or a torch tensor that must keep its inputs' dtype and device). A ``Flavor`` says how to
send inputs and what to expect back, so each check is written once.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np
import torch

from ..core import reference as ref
from ..core.problems import generator, randn, unit_sizes, with_negatives
from ..sandbox.proxy import StudentError, TensorValue
from .common import (
    CheckFailed,
    as_float,
    data_of,
    describe_value,
    expect_array,
    expect_close,
    expect_sim_outputs,
    expect_tensor,
)

RTOL64 = 1e-10  # float64 values against float64 references; worst seen 4e-16 (bench/tolerances.py)
RTOL32 = 1e-5  # float32 results against float64 references; worst seen 3e-7


@dataclass
class Flavor:
    level: int
    numpy: bool

    def send(self, t: torch.Tensor, dtype=torch.float64):
        return t.numpy().astype(np.float64) if self.numpy else t.to(dtype)

    def expect(self, v, what, shape, dtype="float64", device=None):
        if self.numpy:
            return expect_array(v, what, shape)
        return expect_tensor(v, what, shape, dtype, device)


def unit(seed: int, level: int):
    s = unit_sizes(seed, level)
    gen = generator(seed, level, "unit")
    x = with_negatives(gen, s.N, s.D_in)
    w1, w2 = randn(gen, s.D_in, s.H), randn(gen, s.H, s.D_out)
    y = randn(gen, s.N, s.D_out)
    return s, x, w1, w2, y


def _dtypes(fl: Flavor):
    return [(torch.float64, "float64")] if fl.numpy else [(torch.float64, "float64"), (torch.float32, "float32")]


def _pair(v, what):
    if not isinstance(v, (tuple, list)) or len(v) != 2:
        raise CheckFailed(
            f"{what} should return a pair ({what.split('(')[0]} returns two values), got {describe_value(v)}"
        )
    return v


def forward_shapes(sub, seed, fl: Flavor):
    s, x, w1, w2, _ = unit(seed, fl.level)
    for dt, name in _dtypes(fl):
        r = sub.call("forward", fl.send(x, dt), fl.send(w1, dt), fl.send(w2, dt))
        y_pred, h = _pair(r.value, "forward(x, w1, w2)")
        fl.expect(y_pred, f"y_pred (with {name} inputs)", (s.N, s.D_out), name, sub.device)
        fl.expect(h, f"h (with {name} inputs)", (s.N, s.H), name, sub.device)
    if not fl.numpy:
        expect_sim_outputs(sub, "forward", [x, w1, w2], [("y_pred", (s.N, s.D_out)), ("h", (s.N, s.H))])


def forward_values(sub, seed, fl: Flavor):
    s, x, w1, w2, _ = unit(seed, fl.level)
    want_y, want_h = ref.forward_nobias(x, w1, w2)
    for dt, name in _dtypes(fl):
        r = sub.call("forward", fl.send(x, dt), fl.send(w1, dt), fl.send(w2, dt))
        y_pred, h = _pair(r.value, "forward(x, w1, w2)")
        rtol = RTOL64 if dt == torch.float64 else RTOL32
        inputs = f"x of shape ({s.N}, {s.D_in}) with negative entries ({name})"
        expect_close(
            fl.expect(h, "h", (s.N, s.H), name, sub.device),
            want_h,
            "h (the pre-activation x @ w1)",
            rtol,
            inputs,
            hints={
                "h is returned after the ReLU: return the pre-activation x @ w1 (backward needs it)": ref.relu(want_h)
            },
        )
        expect_close(
            fl.expect(y_pred, "y_pred", (s.N, s.D_out), name, sub.device),
            want_y,
            "y_pred",
            rtol,
            inputs,
            hints={
                "the ReLU is missing: y_pred = relu(h) @ w2": want_h @ w2,
                "the ReLU keeps the negative part: relu(h) is max(h, 0)": (want_h - ref.relu(want_h)) @ w2,
            },
        )


def loss_value(sub, seed, fl: Flavor):
    s, x, w1, w2, y = unit(seed, fl.level)
    gen = generator(seed, fl.level, "loss")
    y_pred = randn(gen, s.N, s.D_out)
    want = ref.sse(y_pred, y)
    diff = y_pred - y
    hints = {
        "this is the mean of the squared errors: the tutorial's loss is their sum": want / y.numel(),
        "the errors are not squared: sum (y_pred - y) ** 2": diff.sum(),
        "this is the sum of absolute errors: square them instead": diff.abs().sum(),
        "a square root is taken: the loss is the plain sum of squares": want.sqrt(),
    }
    for dt, name in _dtypes(fl):
        r = sub.call("loss_fn", fl.send(y_pred, dt), fl.send(y, dt))
        if fl.numpy:
            got = torch.tensor(as_float(r.value, "loss_fn's result"), dtype=torch.float64)
        else:
            t = expect_tensor(r.value, "loss_fn's result", (), name, sub.device)
            if t.data is None:
                raise CheckFailed("loss_fn's result has no values")
            got = t.data
            if t.shape != ():
                raise CheckFailed(f"loss_fn should return a 0-dim tensor, got shape {tuple(t.shape)}")
        expect_close(
            got,
            want,
            "the loss",
            RTOL64 if dt == torch.float64 else RTOL32,
            f"y_pred and y of shape ({s.N}, {s.D_out}) ({name})",
            hints=hints,
        )
    if not fl.numpy:
        expect_sim_outputs(sub, "loss_fn", [y_pred, y], [("the loss", ())])


def _reference_grads(x, w1, w2, y):
    y_pred, h = ref.forward_nobias(x, w1, w2)
    g1, g2 = ref.grads_nobias(x, w1, w2, y)
    return y_pred, h, g1, g2


def backward_call(sub, seed, fl: Flavor, dt=torch.float64):
    s, x, w1, w2, y = unit(seed, fl.level)
    y_pred, h, g1, g2 = _reference_grads(x, w1, w2, y)
    r = sub.call("backward", fl.send(x, dt), fl.send(h, dt), fl.send(w2, dt), fl.send(y_pred, dt), fl.send(y, dt))
    return s, (x, w1, w2, y, y_pred, h, g1, g2), _pair(r.value, "backward(x, h, w2, y_pred, y)")


def backward_shapes(sub, seed, fl: Flavor):
    for dt, name in _dtypes(fl):
        s, _, (gw1, gw2) = backward_call(sub, seed, fl, dt)
        fl.expect(gw1, f"grad_w1 (with {name} inputs)", (s.D_in, s.H), name, sub.device)
        fl.expect(gw2, f"grad_w2 (with {name} inputs)", (s.H, s.D_out), name, sub.device)
    if not fl.numpy:
        s, x, w1, w2, y = unit(seed, fl.level)
        y_pred, h = ref.forward_nobias(x, w1, w2)
        expect_sim_outputs(
            sub, "backward", [x, h, w2, y_pred, y], [("grad_w1", (s.D_in, s.H)), ("grad_w2", (s.H, s.D_out))]
        )


def backward_values(sub, seed, fl: Flavor):
    for dt, name in _dtypes(fl):
        s, (x, w1, w2, y, y_pred, h, g1, g2), (gw1, gw2) = backward_call(sub, seed, fl, dt)
        rtol = RTOL64 if dt == torch.float64 else RTOL32
        inputs = f"{s} ({name}), with both signs in h"
        gy = 2 * (y_pred - y)
        expect_close(
            fl.expect(gw2, "grad_w2", (s.H, s.D_out), name, sub.device),
            g2,
            "grad_w2",
            rtol,
            inputs,
            hints={
                "grad_w2 is half the reference: d/dy_pred of (y_pred - y)² is 2·(y_pred - y)": g2 / 2,
                "grad_w2 uses h instead of relu(h): grad_w2 = relu(h).T @ grad_y_pred": h.T @ gy,
                "grad_w2 has the wrong sign: grad_y_pred = 2·(y_pred - y)": -g2,
            },
        )
        gh_nomask = gy @ w2.T
        expect_close(
            fl.expect(gw1, "grad_w1", (s.D_in, s.H), name, sub.device),
            g1,
            "grad_w1",
            rtol,
            inputs,
            hints={
                "grad_w1 is half the reference: d/dy_pred of (y_pred - y)² is 2·(y_pred - y)": g1 / 2,
                "the ReLU's gradient is missing: zero grad_h where h < 0": x.T @ gh_nomask,
                "the ReLU's mask is inverted: keep grad_h where h > 0, zero it where h < 0": x.T
                @ (gh_nomask * (h < 0)),
                "grad_w1 has the wrong sign: grad_y_pred = 2·(y_pred - y)": -g1,
            },
        )


def step(sub, seed, fl: Flavor, times: int):
    s, x, w1, w2, y = unit(seed, fl.level)
    gen = generator(seed, fl.level, "step")
    g1, g2 = randn(gen, *w1.shape), randn(gen, *w2.shape)
    lr = 0.01
    for dt, name in _dtypes(fl):
        h1, h2 = sub.put(fl.send(w1, dt)), sub.put(fl.send(w2, dt))
        for _ in range(times):
            sub.call("sgd_step", [h1, h2], [fl.send(g1, dt), fl.send(g2, dt)], lr)
        rtol = RTOL64 if dt == torch.float64 else RTOL32
        for handle, w, g, label in ((h1, w1, g1, "w1"), (h2, w2, g2, "w2")):
            after = sub.get(handle)
            got = data_of(fl.expect(after, f"{label} after sgd_step", tuple(w.shape), name, sub.device))
            if torch.equal(got, w.to(got.dtype)):
                raise CheckFailed(
                    f"{label} is unchanged after sgd_step: the update must change the array it was "
                    "given, in place (`p -= lr * g`; `p = p - lr * g` only rebinds a local name)"
                )
            want = w - times * lr * g
            expect_close(
                got,
                want,
                f"{label} after {times} sgd_step(s) with lr={lr}",
                rtol,
                f"{name} inputs",
                hints={
                    "the step adds the gradient: p -= lr * g (descent), not p += lr * g": w + times * lr * g,
                    "the learning rate is not applied: p -= lr * g": w - times * g,
                    "only the first step took effect": w - lr * g,
                },
            )


def observe(sub, target, *args, seen: list | None = None, **kwargs):
    """Call a unit to watch what it does: 'not implemented' fails the check; other faults belong to
    the unit's own checks, so they only leave nothing to observe (None), except what the code was
    seen doing before it failed (appended to ``seen``)."""
    try:
        return sub.call(target, *args, **kwargs)
    except StudentError as exc:
        if exc.not_implemented or exc.missing:
            raise
        if seen is not None:
            seen.append(exc.observations)
        return None


def imported_modules(source: str) -> set[str]:
    """Top-level module names the code imports (statements, __import__ and importlib calls)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            f = node.func
            fname = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if fname in ("__import__", "import_module"):
                names.add(node.args[0].value.split(".")[0])
    return names


def no_torch(sub, seed):
    """Level 1: no torch, judged from the imports the code contains and the ones it ran."""
    static = imported_modules(sub.source or "")
    ran = {n.split(".")[0] for n in sub.load_observations.get("imports", [])}
    s, x, w1, w2, y = unit(seed, 1)
    seen: list[dict] = []
    r = observe(sub, "forward", x.numpy(), w1.numpy(), w2.numpy(), seen=seen)
    r2 = observe(sub, "train", x.numpy(), y.numpy(), w1.numpy(), w2.numpy(), 1e-4, 2, seen=seen)
    seen += [res.observations for res in (r, r2) if res is not None]
    for obs in seen:  # (in the numpy-only child, torch reached through sys.modules counts as imported)
        ran |= {n.split(".")[0] for n in obs.get("imports", [])}
    found = sorted(n for n in static | ran if n == "torch" or n.startswith("torch"))
    if found:
        raise CheckFailed(
            f"the numpy level imports {', '.join(found)}: write it with numpy only "
            "(the point is to see every gradient by hand)"
        )
    if r is not None and isinstance(r.value, (tuple, list)) and any(isinstance(v, TensorValue) for v in r.value):
        raise CheckFailed("forward returned torch tensors: the numpy level works with numpy arrays only")


AUTOGRAD_NAMES = {"backward", "requires_grad", "requires_grad_", "grad", "autograd"}


def autograd_uses(source: str) -> set[str]:
    """Autograd used in the code (attributes, keywords and calls; comments and strings do not count)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("backward", "requires_grad", "requires_grad_", "autograd"):
            found.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg == "requires_grad":
            found.add("requires_grad=")
        elif isinstance(node, ast.ImportFrom) and node.module and "autograd" in node.module.split("."):
            found.add(node.module)  # a whole name: the kit's own `autograder.progress` is not autograd
    return found


def no_autograd(sub, seed):
    static = autograd_uses(sub.source or "")
    s, x, w1, w2, y = unit(seed, 2)
    y_pred, h, _, _ = _reference_grads(x, w1, w2, y)
    calls, seen = [], []
    r = observe(sub, "backward", x, h, w2, y_pred, y, watch_autograd=True, seen=seen)
    r2 = observe(sub, "train", x, y, w1.clone(), w2.clone(), 1e-4, 2, watch_autograd=True, seen=seen)
    seen += [res.observations for res in (r, r2) if res is not None]
    for obs in seen:
        calls += obs.get("autograd_calls", [])
        graphs = obs.get("autograd_graphs") or []
        if graphs:  # what autograd did, however it was reached
            calls.append(f"an autograd graph built (by {graphs[0][:80]})")
    value = r.value if r is not None else ()
    outs = [v for v in (value if isinstance(value, (tuple, list)) else ()) if isinstance(v, TensorValue)]
    if any(v.requires_grad for v in outs):
        calls.append("tensors that require grad")
    used = sorted(set(calls) | static)
    if used:
        raise CheckFailed(
            f"autograd is used at the tensors level ({', '.join(used)}): compute the gradients by hand, "
            "as at the numpy level, with torch operations"
        )
