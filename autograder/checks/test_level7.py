"""Level 7 — a custom nn.Module: TwoLayerNet, trained with MSELoss(sum) and torch.optim.SGD."""

from . import nn_units as units
from .common import check
from .loops import expect_convergence, expect_lockstep, expect_stage_in_loop

LEVEL = 7


@check("7.forward.init")
def test_init(sub, seed):
    units.module_init(sub, seed, LEVEL, "TwoLayerNet")


@check("7.forward.values")
def test_forward(sub, seed):
    units.module_forward(sub, seed, LEVEL, "TwoLayerNet")


@check("7.loss.train")
def test_loss_in_loop(sub, shared, seed):
    expect_stage_in_loop(sub, shared, LEVEL, seed, "loss")


@check("7.zero_grad.train")
def test_zero_grad_in_loop(sub, shared, seed):
    expect_stage_in_loop(sub, shared, LEVEL, seed, "zero_grad")


@check("7.step.train")
def test_step_in_loop(sub, shared, seed):
    expect_stage_in_loop(sub, shared, LEVEL, seed, "step")


@check("7.train.lockstep")
def test_train_lockstep(sub, shared, seed):
    expect_lockstep(sub, shared, LEVEL, seed)


@check("7.train.converges")
def test_train_converges(sub, seed, curves, converging):
    expect_convergence(sub, LEVEL, seed, curves, converging)


@check("7.discipline.sgd")
def test_uses_sgd(sub, shared, seed):
    units.loop_optimizer(sub, shared, seed, LEVEL, momentum=None)
