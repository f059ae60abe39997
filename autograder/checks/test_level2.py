"""Level 2 — torch tensors by hand: the numpy level again, on tensors that keep their dtype and device."""

from . import by_hand
from .common import check
from .loops import expect_convergence, expect_lockstep

LEVEL = 2
FLAVOR = by_hand.Flavor(LEVEL, numpy=False)


@check("2.forward.shapes")
def test_forward_shapes(sub, seed):
    by_hand.forward_shapes(sub, seed, FLAVOR)


@check("2.forward.values")
def test_forward_values(sub, seed):
    by_hand.forward_values(sub, seed, FLAVOR)


@check("2.loss.value")
def test_loss_value(sub, seed):
    by_hand.loss_value(sub, seed, FLAVOR)


@check("2.backward.shapes")
def test_backward_shapes(sub, seed):
    by_hand.backward_shapes(sub, seed, FLAVOR)


@check("2.backward.values")
def test_backward_values(sub, seed):
    by_hand.backward_values(sub, seed, FLAVOR)


@check("2.step.inplace")
def test_step_inplace(sub, seed):
    by_hand.step(sub, seed, FLAVOR, times=1)


@check("2.step.repeat")
def test_step_repeat(sub, seed):
    by_hand.step(sub, seed, FLAVOR, times=2)


@check("2.train.lockstep")
def test_train_lockstep(sub, shared, seed):
    expect_lockstep(sub, shared, LEVEL, seed)


@check("2.train.converges")
def test_train_converges(sub, seed, curves, converging):
    expect_convergence(sub, LEVEL, seed, curves, converging)


@check("2.discipline.no_autograd")
def test_no_autograd(sub, seed):
    by_hand.no_autograd(sub, seed)
