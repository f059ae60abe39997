"""Level 1 — numpy by hand: forward, loss, gradients and the update, all written out."""

from . import by_hand
from .common import check
from .loops import expect_convergence, expect_lockstep

LEVEL = 1
FLAVOR = by_hand.Flavor(LEVEL, numpy=True)


@check("1.forward.shapes")
def test_forward_shapes(sub, seed):
    by_hand.forward_shapes(sub, seed, FLAVOR)


@check("1.forward.values")
def test_forward_values(sub, seed):
    by_hand.forward_values(sub, seed, FLAVOR)


@check("1.loss.value")
def test_loss_value(sub, seed):
    by_hand.loss_value(sub, seed, FLAVOR)


@check("1.backward.shapes")
def test_backward_shapes(sub, seed):
    by_hand.backward_shapes(sub, seed, FLAVOR)


@check("1.backward.values")
def test_backward_values(sub, seed):
    by_hand.backward_values(sub, seed, FLAVOR)


@check("1.step.inplace")
def test_step_inplace(sub, seed):
    by_hand.step(sub, seed, FLAVOR, times=1)


@check("1.step.repeat")
def test_step_repeat(sub, seed):
    by_hand.step(sub, seed, FLAVOR, times=2)


@check("1.train.lockstep")
def test_train_lockstep(sub, shared, seed):
    expect_lockstep(sub, shared, LEVEL, seed)


@check("1.train.converges")
def test_train_converges(sub, seed, curves, converging):
    expect_convergence(sub, LEVEL, seed, curves, converging)


@check("1.discipline.no_torch")
def test_no_torch(sub, seed):
    by_hand.no_torch(sub, seed)
