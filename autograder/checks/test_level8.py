"""Level 8 — a dynamic network: a random depth per call, one middle layer reused (weight sharing)."""

from ..core.curriculum import LEVELS
from . import nn_units as units
from .common import check
from .loops import expect_convergence, expect_lockstep, expect_stage_in_loop

LEVEL = 8


@check("8.forward.init")
def test_init(sub, seed):
    units.module_init(sub, seed, LEVEL, "DynamicNet")


@check("8.forward.values")
def test_forward(sub, seed):
    units.dynamic_forward(sub, seed)


@check("8.forward.one_draw")
def test_one_draw(sub, seed):
    units.one_draw(sub, seed)


@check("8.discipline.sharing")
def test_weight_sharing(sub, seed):
    units.sharing(sub, seed)


@check("8.loss.train")
def test_loss_in_loop(sub, shared, seed):
    expect_stage_in_loop(sub, shared, LEVEL, seed, "loss")


@check("8.zero_grad.train")
def test_zero_grad_in_loop(sub, shared, seed):
    expect_stage_in_loop(sub, shared, LEVEL, seed, "zero_grad")


@check("8.step.train")
def test_step_in_loop(sub, shared, seed):
    expect_stage_in_loop(sub, shared, LEVEL, seed, "step")


@check("8.train.lockstep")
def test_train_lockstep(sub, shared, seed):
    expect_lockstep(sub, shared, LEVEL, seed)


@check("8.train.converges")
def test_train_converges(sub, seed, curves, converging):
    expect_convergence(sub, LEVEL, seed, curves, converging)


@check("8.discipline.sgd_momentum")
def test_uses_sgd_momentum(sub, shared, seed):
    units.loop_optimizer(sub, shared, seed, LEVEL, momentum=LEVELS[LEVEL].schedule.momentum)
