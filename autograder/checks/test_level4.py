"""Level 4 — a custom autograd Function: MyReLU's forward and backward, and a loop through it."""

from . import autograd_units as units
from . import function_units as function
from .common import check
from .loops import expect_convergence, expect_lockstep

LEVEL = 4


@check("4.forward.myrelu")
def test_myrelu_forward(sub, seed):
    function.relu_forward(sub, seed, LEVEL)


@check("4.backward.myrelu")
def test_myrelu_backward(sub, seed):
    function.relu_backward(sub, seed, LEVEL)


@check("4.backward.gradcheck")
def test_myrelu_gradcheck(sub, seed):
    function.relu_gradcheck(sub, seed, LEVEL)


@check("4.forward.values")
def test_forward_values(sub, seed):
    units.forward_values(sub, seed, LEVEL)


@check("4.discipline.uses_myrelu")
def test_uses_myrelu(sub, seed):
    function.forward_uses_function(sub, seed, LEVEL)


@check("4.train.lockstep")
def test_train_lockstep(sub, shared, seed):
    expect_lockstep(sub, shared, LEVEL, seed)


@check("4.train.converges")
def test_train_converges(sub, seed, curves, converging):
    expect_convergence(sub, LEVEL, seed, curves, converging)
