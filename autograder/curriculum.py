"""The curriculum as data: levels, their modules, and every check with its stage and points.

This table is the single place where points live. The checks (``autograder/checks``) look their
metadata up here by id, the notebook builder sizes the nbgrader grade cells from it, and a test
asserts that every level is worth the same (12.5 points, so a full grade is 100).
"""
from __future__ import annotations

from dataclasses import dataclass

STAGES = ("forward", "loss", "zero_grad", "backward", "step", "train", "discipline")
LEVEL_POINTS = 12.5


@dataclass(frozen=True)
class Level:
    number: int
    module: str
    title: str
    #: the names a submission must define (functions, or classes for levels 4, 7 and 8)
    names: tuple[str, ...]

    @property
    def uses_optim(self) -> bool:
        """The level's own code builds torch.optim optimizers (from level 6 on)."""
        return self.number >= 6

    def needs_dynamo(self, lane: str) -> bool:
        """Whether this level's child in ``lane`` ("main": the unit checks, or "converge": the long
        training run) will import torch._dynamo (a second): the first meta-device operation (the
        unit checks of levels 2-8) and the first torch.optim optimizer (levels 6-8) import it."""
        return (lane == "main" and self.number >= 2) or self.uses_optim


def dynamo_first(levels) -> bool:
    """Whether the zygote should import torch._dynamo before anything is asked of it. Every level
    from 2 on needs it, but the convergence runs of levels 1-5 do not: with two or more of those,
    the zygote forks them first (they keep the second core busy while it imports torch._dynamo);
    with at most one, importing it at once starts it 0.1-0.15 s earlier (bench/speed_table.py
    --each-level)."""
    return any(lv >= 2 for lv in levels) and sum(lv <= 5 for lv in levels) <= 1


@dataclass(frozen=True)
class CheckSpec:
    id: str  # "<level>.<stage>.<short>"
    level: int
    stage: str
    points: float
    name: str


LEVELS: dict[int, Level] = {
    1: Level(1, "level1_numpy", "numpy by hand", ("forward", "loss_fn", "backward", "sgd_step", "train")),
    2: Level(2, "level2_tensors", "torch tensors by hand", ("forward", "loss_fn", "backward", "sgd_step", "train")),
    3: Level(3, "level3_autograd", "autograd", ("forward", "loss_fn", "backward", "sgd_step", "zero_grad", "train")),
    4: Level(4, "level4_function", "a custom autograd Function", ("MyReLU", "forward", "train")),
    5: Level(5, "level5_nn", "torch.nn", ("build_model", "build_loss", "zero_grad", "sgd_step", "train")),
    6: Level(6, "level6_optim", "torch.optim", ("build_optimizer", "train")),
    7: Level(7, "level7_module", "a custom nn.Module", ("TwoLayerNet", "train")),
    8: Level(8, "level8_dynamic", "a dynamic network with weight sharing", ("DynamicNet", "train")),
}


def _c(level: int, stage: str, short: str, points: float, name: str) -> CheckSpec:
    return CheckSpec(f"{level}.{stage}.{short}", level, stage, points, name)


_CHECKS = [
    # Level 1 — numpy
    _c(1, "forward", "shapes", 0.5, "forward returns (y_pred, h) as float64 arrays of the right shapes"),
    _c(1, "forward", "values", 1.5, "forward matches the reference, ReLU included"),
    _c(1, "loss", "value", 1.5, "loss_fn is the sum of squared errors, as a float"),
    _c(1, "backward", "shapes", 0.5, "backward returns gradients shaped like w1 and w2"),
    _c(1, "backward", "values", 2.5, "backward matches the reference gradients"),
    _c(1, "step", "inplace", 1.0, "sgd_step updates every parameter in place"),
    _c(1, "step", "repeat", 1.0, "two sgd_steps move the parameters by 2·lr·g"),
    _c(1, "train", "lockstep", 2.0, "train matches the reference loop step by step"),
    _c(1, "train", "converges", 1.5, "train converges on the seed's problem and learning rate"),
    _c(1, "discipline", "no_torch", 0.5, "the numpy level uses no torch"),
    # Level 2 — tensors, gradients by hand
    _c(2, "forward", "shapes", 0.5, "forward keeps shapes, dtype and device"),
    _c(2, "forward", "values", 1.5, "forward matches the reference, ReLU included"),
    _c(2, "loss", "value", 1.5, "loss_fn returns a 0-dim tensor: the sum of squared errors"),
    _c(2, "backward", "shapes", 0.5, "backward keeps shapes, dtype and device"),
    _c(2, "backward", "values", 2.5, "backward matches the reference gradients"),
    _c(2, "step", "inplace", 1.0, "sgd_step updates every parameter in place"),
    _c(2, "step", "repeat", 1.0, "two sgd_steps move the parameters by 2·lr·g"),
    _c(2, "train", "lockstep", 2.0, "train matches the reference loop step by step"),
    _c(2, "train", "converges", 1.0, "train converges on the seed's problem and learning rate"),
    _c(2, "discipline", "no_autograd", 1.0, "gradients are computed by hand, without autograd"),
    # Level 3 — autograd
    _c(3, "forward", "values", 1.5, "forward matches the reference and builds an autograd graph"),
    _c(3, "loss", "value", 1.0, "loss_fn returns a 0-dim sum of squared errors in the graph"),
    _c(3, "backward", "grads", 2.0, "backward fills w1.grad and w2.grad with dloss/dw"),
    _c(3, "step", "update", 1.5, "sgd_step updates in place without recording history"),
    _c(3, "step", "repeat", 0.5, "two sgd_steps move the parameters by 2·lr·g"),
    _c(3, "zero_grad", "resets", 1.0, "zero_grad resets every gradient (to zeros or None)"),
    _c(3, "zero_grad", "none_ok", 0.5, "zero_grad accepts parameters whose gradient is None"),
    _c(3, "train", "lockstep", 2.0, "train matches the reference loop step by step"),
    _c(3, "train", "converges", 1.5, "train converges on the seed's problem and learning rate"),
    _c(3, "discipline", "autograd", 1.0, "train gets its gradients from autograd (loss.backward)"),
    # Level 4 — custom autograd Function
    _c(4, "forward", "myrelu", 1.5, "MyReLU.forward computes max(input, 0)"),
    _c(4, "backward", "myrelu", 2.0, "MyReLU.backward passes the gradient only where input > 0"),
    _c(4, "backward", "gradcheck", 2.0, "MyReLU passes torch.autograd.gradcheck in float64"),
    _c(4, "forward", "values", 1.5, "forward(x, w1, w2) matches the reference"),
    _c(4, "discipline", "uses_myrelu", 1.0, "forward goes through MyReLU.apply (seen in the graph)"),
    _c(4, "train", "lockstep", 2.5, "train matches the reference loop step by step"),
    _c(4, "train", "converges", 2.0, "train converges on the seed's problem and learning rate"),
    # Level 5 — torch.nn, updates by hand
    _c(5, "forward", "build_model", 2.0, "build_model is Linear(D_in, H), ReLU, Linear(H, D_out)"),
    _c(5, "loss", "build_loss", 2.0, "build_loss computes the sum of squared errors"),
    _c(5, "zero_grad", "resets", 1.5, "zero_grad(model) resets every gradient"),
    _c(5, "step", "update", 2.0, "sgd_step updates every parameter in place without history"),
    _c(5, "step", "repeat", 0.5, "two sgd_steps move the parameters by 2·lr·g"),
    _c(5, "train", "lockstep", 2.0, "train matches the reference loop step by step"),
    _c(5, "train", "converges", 1.5, "train converges on the seed's problem and learning rate"),
    _c(5, "discipline", "no_optim", 1.0, "the update is written by hand, without torch.optim"),
    # Level 6 — torch.optim
    _c(6, "step", "build_optimizer", 2.0, "build_optimizer returns Adam over all parameters with lr"),
    _c(6, "zero_grad", "train", 2.0, "train zeroes the gradients every iteration"),
    _c(6, "step", "train", 2.0, "train steps the optimizer after the backward pass"),
    _c(6, "train", "lockstep", 2.5, "train matches the reference loop step by step"),
    _c(6, "train", "converges", 2.0, "train converges on the seed's problem and learning rate"),
    _c(6, "discipline", "optimizer_only", 2.0, "parameters change only inside optimizer.step()"),
    # Level 7 — custom nn.Module
    _c(7, "forward", "init", 1.5, "TwoLayerNet creates linear1 and linear2 (nn.Linear with bias)"),
    _c(7, "forward", "values", 2.0, "TwoLayerNet.forward matches the reference"),
    _c(7, "loss", "train", 1.0, "train uses the sum of squared errors"),
    _c(7, "zero_grad", "train", 1.5, "train zeroes the gradients every iteration"),
    _c(7, "step", "train", 1.5, "train steps the optimizer after the backward pass"),
    _c(7, "train", "lockstep", 2.0, "train matches the reference loop step by step"),
    _c(7, "train", "converges", 1.5, "train converges on the seed's problem and learning rate"),
    _c(7, "discipline", "sgd", 1.5, "train steps through torch.optim.SGD"),
    # Level 8 — dynamic graph, weight sharing
    _c(8, "forward", "init", 1.0, "DynamicNet creates input_linear, middle_linear and output_linear"),
    _c(8, "forward", "values", 2.5, "forward matches the reference at every depth k = 0..3"),
    _c(8, "forward", "one_draw", 0.5, "forward draws random.randint(0, 3) exactly once per call"),
    _c(8, "discipline", "sharing", 1.5, "the middle layer is reused: its gradient sums over its k uses"),
    _c(8, "loss", "train", 1.0, "train uses the sum of squared errors"),
    _c(8, "zero_grad", "train", 1.0, "train zeroes the gradients every iteration"),
    _c(8, "step", "train", 1.0, "train steps the optimizer after the backward pass"),
    _c(8, "train", "lockstep", 2.0, "train matches the reference loop step by step"),
    _c(8, "train", "converges", 1.0, "train converges on the seed's problem and learning rate"),
    _c(8, "discipline", "sgd_momentum", 1.0, "train uses torch.optim.SGD with the given momentum"),
]

CHECKS: dict[str, CheckSpec] = {c.id: c for c in _CHECKS}


def checks_for(level: int, stage: str | None = None) -> list[CheckSpec]:
    return [c for c in _CHECKS if c.level == level and (stage is None or c.stage == stage)]


def stages_of(level: int) -> list[str]:
    """The stages a level is graded on, in the canonical order of ``STAGES``."""
    present = {c.stage for c in _CHECKS if c.level == level}
    return [s for s in STAGES if s in present]


def stage_points(level: int, stage: str) -> float:
    return sum(c.points for c in checks_for(level, stage))


#: The seed document's hyper-parameters (CONTRACT.md), used by the stubs' demos and the
#: convergence checks.
SEED_SIZES = dict(N=64, D_in=1000, H=100, D_out=10)
SEED_SCHEDULE = {
    1: dict(lr=1e-6, steps=500),
    2: dict(lr=1e-6, steps=500),
    3: dict(lr=1e-6, steps=500),
    4: dict(lr=1e-6, steps=500),
    5: dict(lr=1e-4, steps=500),
    6: dict(lr=1e-4, steps=500),
    7: dict(lr=1e-4, steps=500),
    8: dict(lr=1e-4, momentum=0.9, steps=500),
}
