"""Checks of a custom autograd Function (level 4's MyReLU): its forward, its backward, gradcheck,
and a forward that goes through it.

The student's Function runs in their process; its backward is reached by backpropagating there
(``sub.backward``), and gradcheck judges it through a local Function that forwards each backward
call to the student's process.
"""
from __future__ import annotations

import torch

from .. import reference as ref
from ..problems import generator, with_negatives
from ..proxy import Leaf
from .by_hand import RTOL32, RTOL64, observe, unit
from .common import CheckFailed, data_of, expect_close, expect_meta_outputs, expect_tensor


def _inputs(seed, level, shape=(5, 7)):
    return with_negatives(generator(seed, level, "myrelu"), *shape)


def relu_forward(sub, seed, level):
    """MyReLU.apply(x) is max(x, 0), in float64 and float32, and keeps a meta input on the meta device."""
    x = _inputs(seed, level)
    for dt, name, rtol in ((torch.float64, "float64", RTOL64), (torch.float32, "float32", RTOL32)):
        r = sub.call("MyReLU.apply", x.to(dt))
        y = expect_tensor(r.value, f"MyReLU.apply(x) ({name})", tuple(x.shape), name, sub.device)
        expect_close(y, ref.relu(x), "MyReLU.apply(x)", rtol, f"x of shape {tuple(x.shape)} with both signs",
                     hints={"negative inputs pass through: the ReLU is max(input, 0)": x,
                            "the ReLU keeps the negative part instead of the positive one": x - ref.relu(x)})
    expect_meta_outputs(sub, "MyReLU.apply", [x.to("meta")], [("MyReLU.apply(x)", tuple(x.shape))])


def _relu_grad(sub, x, g):
    """Run MyReLU.apply on a leaf in the child, backpropagate g, return (x.grad, g after)."""
    xh, gh = sub.put(Leaf(x)), sub.put(g)
    y = sub.call("MyReLU.apply", xh).value
    y = expect_tensor(y, "MyReLU.apply(x)", tuple(x.shape))
    if y.grad_fn is None:
        raise CheckFailed("MyReLU.apply(x) has no grad_fn: MyReLU.forward must return a tensor computed "
                          "from input")
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
    expect_close(grad, g * (x > 0), "grad_input", RTOL64, "x with both signs and a random grad_output",
                 hints={"the gradient passes everywhere: zero it where input < 0": g,
                        "the mask is inverted: keep the gradient where input > 0": g * (x < 0),
                        "the gradient is masked by the output's sign on grad_output, not by the input": g * (g > 0)})
    if not torch.equal(data_of(g_after), g):
        raise CheckFailed("MyReLU.backward changed grad_output in place: clone it before zeroing entries "
                          "(autograd may reuse that tensor)")


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
    """MyReLU passes torch.autograd.gradcheck in float64, on inputs away from the kink."""
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
        raise CheckFailed(f"forward does not go through MyReLU.apply (the graph holds {found}): apply the custom "
                          "Function, as in MyReLU.apply(x @ w1)")
