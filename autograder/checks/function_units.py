"""Checks of a custom autograd Function (level 4's MyReLU): its forward, its backward, gradcheck,
several applications alive at once, and a forward that goes through it.

The student's Function runs in their process; its backward is reached by backpropagating there
(``sub.backward``), and gradcheck judges it through a local Function that forwards each backward
call to the student's process.
"""

from __future__ import annotations

import torch

from ..core import reference as ref
from ..core.problems import generator, randn, with_negatives
from ..sandbox.proxy import Leaf, Make, StudentError
from .by_hand import RTOL32, RTOL64, observe, unit
from .common import CheckFailed, data_of, expect_close, expect_sim_outputs, expect_tensor


def _inputs(seed, level, shape=(5, 7)):
    return with_negatives(generator(seed, level, "myrelu"), *shape)


def relu_forward(sub, seed, level):
    """MyReLU.apply(x) is max(x, 0), in float64 and float32, and keeps an input on the simulated GPU there."""
    x = _inputs(seed, level)
    for dt, name, rtol in ((torch.float64, "float64", RTOL64), (torch.float32, "float32", RTOL32)):
        r = sub.call("MyReLU.apply", x.to(dt))
        y = expect_tensor(r.value, f"MyReLU.apply(x) ({name})", tuple(x.shape), name, sub.device)
        expect_close(
            y,
            ref.relu(x),
            "MyReLU.apply(x)",
            rtol,
            f"x of shape {tuple(x.shape)} with both signs",
            hints={
                "negative inputs pass through: the ReLU is max(input, 0)": x,
                "the ReLU keeps the negative part instead of the positive one": x - ref.relu(x),
            },
        )
    expect_sim_outputs(sub, "MyReLU.apply", [x], [("MyReLU.apply(x)", tuple(x.shape))])


def _relu_grad(sub, x, g):
    """Run MyReLU.apply on a leaf in the child, backpropagate g, return (x.grad, g after)."""
    xh, gh = sub.put(Leaf(x)), sub.put(g)
    y = sub.call("MyReLU.apply", xh).value
    y = expect_tensor(y, "MyReLU.apply(x)", tuple(x.shape))
    if y.grad_fn is None:
        raise CheckFailed("MyReLU.apply(x) has no grad_fn: MyReLU.forward must return a tensor computed from input")
    sub.backward(y, gh)
    return sub.get(xh).grad, sub.get(gh)


def relu_backward(sub, seed, level):
    """MyReLU.backward passes grad_output where the input is positive, without changing it in place."""
    x = _inputs(seed, level)
    g = with_negatives(generator(seed, level, "upstream"), *x.shape)
    grad, g_after = _relu_grad(sub, x, g)
    if grad is None:
        raise CheckFailed("MyReLU.backward left no gradient on the input: return grad_input")
    expect_tensor(grad, "the gradient MyReLU.backward returns", tuple(x.shape), "float64", sub.device)
    expect_close(
        grad,
        g * (x > 0),
        "grad_input",
        RTOL64,
        "x with both signs and a random grad_output",
        hints={
            "the gradient passes everywhere: zero it where input < 0": g,
            "the mask is inverted: keep the gradient where input > 0": g * (x < 0),
            "the gradient is masked by the output's sign on grad_output, not by the input": g * (g > 0),
        },
    )
    if not torch.equal(data_of(g_after), g):
        raise CheckFailed(
            "MyReLU.backward changed grad_output in place: clone it before zeroing entries "
            "(autograd may reuse that tensor)"
        )


class _RemoteReLU(torch.autograd.Function):
    """A local Function whose backward is the student's MyReLU.backward, run in their process.

    Its forward is the true ReLU, so gradcheck judges the backward stage alone: a mistake in
    MyReLU.forward belongs to the forward check, not to this one.
    """

    @staticmethod
    def forward(ctx, x, sub):
        ctx.sub = sub
        ctx.save_for_backward(x)
        return ref.relu(x.detach())

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        grad, _ = _relu_grad(ctx.sub, x.detach(), g.detach())
        if grad is None:
            raise CheckFailed("MyReLU.backward left no gradient on the input")
        return data_of(grad), None


def relu_gradcheck(sub, seed, level):
    """MyReLU works as a Function (several applications alive at once: ``several_applications``)
    and passes torch.autograd.gradcheck in float64, on inputs away from the kink."""
    several_applications(sub, seed, level)
    x = _inputs(seed, level, (3, 4)).requires_grad_(True)
    try:
        torch.autograd.gradcheck(lambda t: _RemoteReLU.apply(t, sub), (x,), eps=1e-6, atol=1e-5, rtol=1e-3)
    except RuntimeError as exc:  # torch.autograd.gradcheck's GradcheckError
        first = str(exc).strip().splitlines()[0]
        raise CheckFailed(f"MyReLU fails torch.autograd.gradcheck (float64, inputs away from 0): {first}") from None


def forward_uses_function(sub, seed, level):
    """forward(x, w1, w2) goes through MyReLU.apply: a MyReLU node is in the graph it builds."""
    s, x, w1, w2, _ = unit(seed, level)
    r = observe(sub, "forward", x, Leaf(w1), Leaf(w2))
    if r is None:
        raise CheckFailed("forward failed, so there was no graph to inspect (see the forward checks)")
    y = expect_tensor(r.value, "y_pred", (s.N, s.D_out))
    nodes = sub.graph(y)
    if not any("MyReLU" in n for n in nodes):
        found = ", ".join(sorted(set(nodes))) or "no graph at all"
        raise CheckFailed(
            f"forward does not go through MyReLU.apply (the graph holds {found}): apply the custom "
            "Function, as in MyReLU.apply(x @ w1)"
        )


# ------------------------------------------------------------------ several applications at once
SHARED_STATE = (
    "MyReLU keeps what its backward needs outside ctx (a global, a class attribute): with several "
    "applications alive, one backward used another application's input. Save the input with "
    "ctx.save_for_backward(input) and read it back from ctx.saved_tensors"
)


def _apply(sub, leaf, what):
    y = expect_tensor(sub.call("MyReLU.apply", leaf).value, what, None, "float64")
    if y.grad_fn is None:
        raise CheckFailed(f"{what} has no grad_fn: MyReLU.forward must return a tensor computed from input")
    return y


def _expect_grad(sub, handle, x, g, what, other=None):
    grad = sub.get(handle).grad
    if grad is None:
        raise CheckFailed(f"{what}: MyReLU.backward left no gradient on the input")
    hints = {SHARED_STATE: g * (other > 0)} if other is not None and other.shape == x.shape else {}
    expect_close(
        expect_tensor(grad, what, tuple(x.shape), "float64"),
        g * (x > 0),
        what,
        RTOL64,
        "several MyReLU applications alive at once",
        hints=hints,
    )


def several_applications(sub, seed: int, level: int = 4) -> None:
    try:
        _several_applications(sub, seed, level)
    except StudentError as exc:
        if exc.not_implemented or exc.missing:
            raise
        raise CheckFailed(
            f"with several MyReLU applications alive at once, {exc}. Does MyReLU keep what its "
            "backward needs outside ctx (a global, a class attribute)? Save the input with "
            "ctx.save_for_backward(input) and read it back from ctx.saved_tensors"
        ) from None


def _several_applications(sub, seed: int, level: int) -> None:
    gen = generator(seed, level, "applications")
    # 1. Two graphs alive; each backward runs after the other's forward (first in, first out).
    x1, x2 = with_negatives(gen, 4, 6), with_negatives(gen, 3, 5)  # different inputs, different shapes
    g1, g2 = randn(gen, 4, 6), randn(gen, 3, 5)
    h1, h2 = sub.put(Leaf(x1)), sub.put(Leaf(x2))
    y1 = _apply(sub, h1, "MyReLU.apply(x1)")
    y2 = _apply(sub, h2, "MyReLU.apply(x2), applied while MyReLU.apply(x1) is alive")
    sub.backward(y1, g1)
    _expect_grad(sub, h1, x1, g1, "the gradient of x1 (its backward ran after the forward of x2)")
    sub.backward(y2, g2)
    _expect_grad(sub, h2, x2, g2, "the gradient of x2")
    # 2. Two applications in one graph, on inputs of the same shape, one backward through both.
    a, b = with_negatives(gen, 5, 4), with_negatives(gen, 5, 4)
    ga, gb = randn(gen, 5, 4), randn(gen, 5, 4)
    ha, hb = sub.put(Leaf(a)), sub.put(Leaf(b))
    ya = _apply(sub, ha, "MyReLU.apply(a)")
    yb = _apply(sub, hb, "MyReLU.apply(b), in the same graph as MyReLU.apply(a)")
    total = sub.put(Make("weighted_sum", (ya, ga, yb, gb)))
    sub.backward(total)
    _expect_grad(sub, ha, a, ga, "the gradient of a (two MyReLU applications in one graph)", other=b)
    _expect_grad(sub, hb, b, gb, "the gradient of b (two MyReLU applications in one graph)", other=a)
    if not torch.equal(data_of(sub.get(h1), "x1"), x1):
        raise CheckFailed("MyReLU changed its input in place: the forward must return a new tensor")
