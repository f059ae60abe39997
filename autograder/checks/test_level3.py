"""Level 3 — autograd: the graph computes the gradients, the update is still written by hand."""

from . import autograd_units as units
from .common import check
from .loops import expect_convergence, expect_lockstep

LEVEL = 3


@check("3.forward.values")
def test_forward_values(sub, seed):
    units.forward_values(sub, seed, LEVEL)


@check("3.loss.value")
def test_loss_value(sub, seed):
    units.loss_value(sub, seed, LEVEL)


@check("3.backward.grads")
def test_backward_grads(sub, seed):
    units.backward_grads(sub, seed, LEVEL)


@check("3.step.update")
def test_step_update(sub, seed):
    units.step(sub, seed, LEVEL, times=1)


@check("3.step.repeat")
def test_step_repeat(sub, seed):
    units.step(sub, seed, LEVEL, times=2)


@check("3.zero_grad.resets")
def test_zero_grad_resets(sub, seed):
    units.zero_grad(sub, seed, LEVEL, with_none=False)


@check("3.zero_grad.none_ok")
def test_zero_grad_none_ok(sub, seed):
    units.zero_grad(sub, seed, LEVEL, with_none=True)


@check("3.train.lockstep")
def test_train_lockstep(sub, shared, seed):
    expect_lockstep(sub, shared, LEVEL, seed)


@check("3.train.converges")
def test_train_converges(sub, seed, curves, converging):
    expect_convergence(sub, LEVEL, seed, curves, converging)


@check("3.discipline.autograd")
def test_uses_autograd(sub, seed):
    units.autograd_used(sub, seed, LEVEL)
