"""Level 4 — a custom autograd Function: MyReLU's forward and backward, and a loop through it."""
import torch

from .. import reference as ref
from ..problems import generator, with_negatives
from ..proxy import Leaf
from . import autograd_units as units
from .by_hand import RTOL32, RTOL64, observe, unit
from .common import CheckFailed, check, data_of, expect_close, expect_meta_outputs, expect_tensor
from .loops import expect_convergence, expect_lockstep

LEVEL = 4


def _inputs(seed, shape=(5, 7)):
    return with_negatives(generator(seed, LEVEL, "myrelu"), *shape)


@check("4.forward.myrelu")
def test_myrelu_forward(sub, seed):
    x = _inputs(seed)
    for dt, name, rtol in ((torch.float64, "float64", RTOL64), (torch.float32, "float32", RTOL32)):
        r = sub.call("MyReLU.apply", x.to(dt))
        y = expect_tensor(r.value, f"MyReLU.apply(x) ({name})", tuple(x.shape), name, sub.device)
        expect_close(y, ref.relu(x), "MyReLU.apply(x)", rtol, f"x of shape {tuple(x.shape)} with both signs",
                     hints={"negative inputs pass through: the ReLU is max(input, 0)": x,
                            "the ReLU keeps the negative part instead of the positive one": x - ref.relu(x)})
    expect_meta_outputs(sub, "MyReLU.apply", [x.to("meta")], [("MyReLU.apply(x)", tuple(x.shape))])


def _myrelu_grad(sub, x, g):
    """Run MyReLU.apply on a leaf in the child, backpropagate g, return (x.grad, g after)."""
    xh, gh = sub.put(Leaf(x)), sub.put(g)
    y = sub.call("MyReLU.apply", xh).value
    y = expect_tensor(y, "MyReLU.apply(x)", tuple(x.shape))
    if y.grad_fn is None:
        raise CheckFailed("MyReLU.apply(x) has no grad_fn: MyReLU.forward must return a tensor computed from input")
    sub.backward(y, gh)
    return sub.get(xh).grad, sub.get(gh)


@check("4.backward.myrelu")
def test_myrelu_backward(sub, seed):
    x = _inputs(seed)
    g = with_negatives(generator(seed, LEVEL, "upstream"), *x.shape)
    grad, g_after = _myrelu_grad(sub, x, g)
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


class _RemoteMyReLU(torch.autograd.Function):
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
        grad, _ = _myrelu_grad(ctx.sub, x.detach(), g.detach())
        if grad is None:
            raise CheckFailed("MyReLU.backward left no gradient on the input")
        return data_of(grad), None


@check("4.backward.gradcheck")
def test_myrelu_gradcheck(sub, seed):
    x = _inputs(seed, (3, 4)).requires_grad_(True)
    try:
        torch.autograd.gradcheck(lambda t: _RemoteMyReLU.apply(t, sub), (x,), eps=1e-6, atol=1e-5, rtol=1e-3)
    except RuntimeError as exc:  # torch.autograd.gradcheck's GradcheckError
        first = str(exc).strip().splitlines()[0]
        raise CheckFailed(f"MyReLU fails torch.autograd.gradcheck (float64, inputs away from 0): {first}") from None


@check("4.forward.values")
def test_forward_values(sub, seed):
    units.forward_values(sub, seed, LEVEL)


@check("4.discipline.uses_myrelu")
def test_uses_myrelu(sub, seed):
    s, x, w1, w2, _ = unit(seed, LEVEL)
    r = observe(sub, "forward", x, Leaf(w1), Leaf(w2))
    if r is None:
        raise CheckFailed("forward failed, so there was no graph to inspect (see the forward checks)")
    y = expect_tensor(r.value, "y_pred", (s.N, s.D_out))
    nodes = sub.graph(y)
    if not any("MyReLU" in n for n in nodes):
        found = ", ".join(sorted(set(nodes))) or "no graph at all"
        raise CheckFailed(f"forward does not go through MyReLU.apply (the graph holds {found}): apply the custom "
                          "Function, as in MyReLU.apply(x @ w1)")


@check("4.train.lockstep")
def test_train_lockstep(sub, shared, seed):
    expect_lockstep(sub, shared, LEVEL, seed)


@check("4.train.converges")
def test_train_converges(sub, seed, curves, converging):
    expect_convergence(sub, LEVEL, seed, curves, converging)
