"""Level 6 — torch.optim: Adam does the update; the loop zeroes, backpropagates and steps."""

from . import nn_units as units
from .common import check
from .loops import expect_convergence, expect_lockstep, expect_stage_in_loop

LEVEL = 6


@check("6.step.build_optimizer")
def test_build_optimizer(sub, seed):
    units.build_optimizer(sub, seed)


@check("6.zero_grad.train")
def test_zero_grad_in_loop(sub, shared, seed):
    expect_stage_in_loop(sub, shared, LEVEL, seed, "zero_grad")


@check("6.step.train")
def test_step_in_loop(sub, shared, seed):
    expect_stage_in_loop(sub, shared, LEVEL, seed, "step")


@check("6.train.lockstep")
def test_train_lockstep(sub, shared, seed):
    expect_lockstep(sub, shared, LEVEL, seed)


@check("6.train.converges")
def test_train_converges(sub, seed, curves, converging):
    expect_convergence(sub, LEVEL, seed, curves, converging)


@check("6.discipline.optimizer_only")
def test_optimizer_only(sub, shared, seed):
    units.optimizer_only(sub, shared, seed)
