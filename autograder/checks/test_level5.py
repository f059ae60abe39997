"""Level 5 — torch.nn: the model and the loss come from torch.nn, the update is still by hand."""

from . import nn_units as units
from .common import check
from .loops import expect_convergence, expect_lockstep

LEVEL = 5


@check("5.forward.build_model")
def test_build_model(sub, seed):
    units.build_model(sub, seed)


@check("5.loss.build_loss")
def test_build_loss(sub, seed):
    units.build_loss(sub, seed)


@check("5.zero_grad.resets")
def test_zero_grad(sub, seed):
    units.zero_grad(sub, seed)


@check("5.step.update")
def test_sgd_step(sub, seed):
    units.sgd_step(sub, seed, times=1)


@check("5.step.repeat")
def test_sgd_step_repeat(sub, seed):
    units.sgd_step(sub, seed, times=2)


@check("5.train.lockstep")
def test_train_lockstep(sub, shared, seed):
    expect_lockstep(sub, shared, LEVEL, seed)


@check("5.train.converges")
def test_train_converges(sub, seed, curves, converging):
    expect_convergence(sub, LEVEL, seed, curves, converging)


@check("5.discipline.no_optim")
def test_no_optim(sub, shared, seed):
    units.no_optim(sub, shared, seed)
