"""The curriculum as data: levels, their modules, and every check with its stage and points.

This table is the single place where points live. The checks (``autograder/checks``) look their
metadata up here by id, the notebook builder sizes the nbgrader grade cells from it, and a test
asserts that every level is worth the same (12.5 points, so a full grade is 100).

A level is one record (``Level``): its module and names, its network (``Model``: layers and
parameters), how ``train`` is called, the optimizer and schedule the reference replays, and the
convergence bound. ``reference.py``, ``checks/loops.py`` and the child's model factory read the
record; none of them branches on a level's number for its data. docs/contributing.md says how to
add a level; ``register_level`` adds one at run time (a course's own level, or a test's toy one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

STAGES = ("forward", "loss", "zero_grad", "backward", "step", "train", "discipline")
LEVEL_POINTS = 12.5
CHECKS_DIR = Path(__file__).resolve().parent.parent / "checks"

#: The seed document's problem sizes (CONTRACT.md), used by the stubs' demos and the convergence checks.
SEED_SIZES = dict(N=64, D_in=1000, H=100, D_out=10)
SIZE_NAMES = ("N", "D_in", "H", "D_out")


@dataclass(frozen=True)
class Layer:
    """One layer of a level's network, between two of the problem's sizes."""

    #: a bare weight matrix's own name ("w1": x @ w1, shape (fan_in, fan_out)), or an nn.Linear's
    #: ("0", "linear1"): its parameters are name.weight (fan_out, fan_in) and name.bias
    name: str
    fan_in: str  # one of SIZE_NAMES
    fan_out: str
    #: applied k times per call, k = random.randint(0, Model.max_depth) drawn once per call (level 8)
    repeated: bool = False


@dataclass(frozen=True)
class Model:
    """The network a level trains: its layers in order, a ReLU after each one but the last."""

    #: "weights": bare matrices, no bias (levels 1-4); "sequential": an nn.Sequential of Linear and
    #: ReLU (layer i at index 2i); "module": an nn.Module holding the nn.Linear layers as attributes
    kind: str
    layers: tuple[Layer, ...]
    #: the largest k of a repeated layer (0 when none repeats)
    max_depth: int = 0

    def __post_init__(self):
        if self.kind not in ("weights", "sequential", "module"):
            raise ValueError(f"unknown model kind {self.kind!r}")
        for i, layer in enumerate(self.layers):
            if {layer.fan_in, layer.fan_out} - set(SIZE_NAMES):
                raise ValueError(f"layer {layer.name}: sizes are named {SIZE_NAMES}")
            if self.kind == "sequential" and layer.name != str(2 * i):
                raise ValueError(f"an nn.Sequential's layer {i} is named {2 * i}, not {layer.name!r}")
        if self.dynamic != (self.max_depth > 0) or (self.dynamic and self.kind != "module"):
            raise ValueError("a repeated layer needs max_depth > 0, in a model of kind 'module'")

    @property
    def dynamic(self) -> bool:
        """The depth changes from call to call (a repeated layer)."""
        return any(layer.repeated for layer in self.layers)

    @property
    def param_names(self) -> tuple[str, ...]:
        """The parameters, in named_parameters() order (or train's, for bare weights)."""
        if self.kind == "weights":
            return tuple(layer.name for layer in self.layers)
        return tuple(f"{layer.name}.{p}" for layer in self.layers for p in ("weight", "bias"))

    def spec(self, sizes) -> tuple:
        """The model as plain data for the student's process, which builds it without this package
        (``Runtime.make("model", *spec)``): (kind, ((name, fan_in, fan_out, repeated), ...), max_depth)."""
        return (
            self.kind,
            tuple(
                (layer.name, getattr(sizes, layer.fan_in), getattr(sizes, layer.fan_out), layer.repeated)
                for layer in self.layers
            ),
            self.max_depth,
        )


@dataclass(frozen=True)
class Schedule:
    """The seed document's hyper-parameters for a level (CONTRACT.md): the stubs' demos use them,
    the convergence check runs their problem and learning rate."""

    lr: float
    steps: int = 500
    momentum: float = 0.0


@dataclass(frozen=True)
class Convergence:
    #: The trusted loss of the final weights must fall below this fraction of the initial loss.
    #: Measured with bench/tolerances.py (reference solutions, many seeds, float32): see
    #: docs/tolerances.md for the worst ratio seen at each level; each bound is 40 times the worst
    #: or more, level 8's (whose depth is random) 6 times.
    ratio: float
    #: Steps of the seed's problem and learning rate (its schedule runs 500). Measured by
    #: bench/detection_power.py (docs/speed.md): over the broken corpus, the reference and the
    #: stubs, 300 and 200 steps change no verdict of the 500-step check and 100 steps change four;
    #: 300 keeps every level deep in convergence (level 8 excepted, by design) for 54% of the compute.
    steps: int = 300


#: what ``train`` may be handed, besides the model's own weights (``Model.param_names``, for bare weights)
TRAIN_ARGS = ("x", "y", "lr", "steps", "momentum", "model", "loss_fn", "optimizer")


@dataclass(frozen=True)
class Level:
    number: int
    module: str
    title: str
    #: the names a submission must define (functions, or classes for levels 4, 7 and 8)
    names: tuple[str, ...]
    model: Model
    #: train's parameters in order: names of TRAIN_ARGS, or of the model's bare weights
    train_args: tuple[str, ...]
    schedule: Schedule
    convergence: Convergence
    #: the update the references replay: "sgd" (torch.optim.SGD's, with the schedule's momentum) or
    #: "adam"; it is also the torch.optim optimizer the grader builds when train takes "optimizer"
    optimizer: str = "sgd"
    #: the level works with float64 numpy arrays, on the CPU only
    numpy: bool = False
    #: the bare weights handed to the level's code require grad (autograd computes the gradients)
    autograd: bool = False
    #: The lockstep run's learning rate. None: the one that moves the loss by about 20% in one
    #: step (so every mistake shows), times lockstep_lr_scale; a number: that one (Adam's lr is a
    #: step size, not a multiple of the gradient).
    lockstep_lr: float | None = None
    lockstep_lr_scale: float = 1.0
    #: the lockstep run records every change of the model's parameters (checks that judge where
    #: the update happens read it)
    lockstep_watch: bool = False
    #: Where the notebook puts each stage's grade cell (autograder/course/notebooks.py): right after the
    #: definition that the stage mainly tests. A stage not named (one spread over several
    #: definitions) goes at the end, after every definition, so that all its code has run.
    grade_cells_after: dict[str, str] = field(default_factory=dict, compare=False)
    #: the pytest module of the level's checks; None: autograder/checks/test_level<number>.py
    checks_file: Path | None = field(default=None, compare=False)

    def __post_init__(self):
        weights = self.model.param_names if self.model.kind == "weights" else ()
        unknown = [a for a in self.train_args if a not in TRAIN_ARGS and a not in weights]
        if unknown:
            raise ValueError(f"level {self.number}: train takes unknown arguments {unknown}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"level {self.number}: unknown optimizer {self.optimizer!r}")

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.model.param_names

    @property
    def checks_path(self) -> Path:
        return self.checks_file or CHECKS_DIR / f"test_level{self.number}.py"


@dataclass(frozen=True)
class CheckSpec:
    id: str  # "<level>.<stage>.<short>"
    level: int
    stage: str
    points: float
    name: str


_NOBIAS = Model("weights", (Layer("w1", "D_in", "H"), Layer("w2", "H", "D_out")))
_SEQUENTIAL = Model("sequential", (Layer("0", "D_in", "H"), Layer("2", "H", "D_out")))
_BY_HAND = ("x", "y", "w1", "w2", "lr", "steps")

LEVELS: dict[int, Level] = {
    1: Level(
        1,
        "level1_numpy",
        "numpy by hand",
        ("forward", "loss_fn", "backward", "sgd_step", "train"),
        _NOBIAS,
        _BY_HAND,
        Schedule(lr=1e-6),
        Convergence(ratio=1e-5),
        numpy=True,
        grade_cells_after={
            "forward": "forward",
            "loss": "loss_fn",
            "backward": "backward",
            "step": "sgd_step",
            "train": "train",
        },
    ),
    2: Level(
        2,
        "level2_tensors",
        "torch tensors by hand",
        ("forward", "loss_fn", "backward", "sgd_step", "train"),
        _NOBIAS,
        _BY_HAND,
        Schedule(lr=1e-6),
        Convergence(ratio=1e-5),
        grade_cells_after={
            "forward": "forward",
            "loss": "loss_fn",
            "backward": "backward",
            "step": "sgd_step",
            "train": "train",
        },
    ),
    3: Level(
        3,
        "level3_autograd",
        "autograd",
        ("forward", "loss_fn", "backward", "sgd_step", "zero_grad", "train"),
        _NOBIAS,
        _BY_HAND,
        Schedule(lr=1e-6),
        Convergence(ratio=1e-5),
        autograd=True,
        grade_cells_after={
            "forward": "forward",
            "loss": "loss_fn",
            "backward": "backward",
            "step": "sgd_step",
            "zero_grad": "zero_grad",
            "train": "train",
        },
    ),
    # MyReLU's backward is checked on its own; "forward" covers MyReLU.forward and forward().
    4: Level(
        4,
        "level4_function",
        "a custom autograd Function",
        ("MyReLU", "forward", "train"),
        _NOBIAS,
        _BY_HAND,
        Schedule(lr=1e-6),
        Convergence(ratio=1e-5),
        autograd=True,
        grade_cells_after={"backward": "MyReLU", "forward": "forward", "train": "train"},
    ),
    5: Level(
        5,
        "level5_nn",
        "torch.nn",
        ("build_model", "build_loss", "zero_grad", "sgd_step", "train"),
        _SEQUENTIAL,
        ("model", "loss_fn", "x", "y", "lr", "steps"),
        Schedule(lr=1e-4),
        Convergence(ratio=2e-3),
        grade_cells_after={
            "forward": "build_model",
            "loss": "build_loss",
            "zero_grad": "zero_grad",
            "step": "sgd_step",
            "train": "train",
        },
    ),
    # "step" checks build_optimizer and train together: all of level 6 is graded after train.
    6: Level(
        6,
        "level6_optim",
        "torch.optim",
        ("build_optimizer", "train"),
        _SEQUENTIAL,
        ("model", "loss_fn", "optimizer", "x", "y", "steps"),
        Schedule(lr=1e-4),
        Convergence(ratio=2e-3),
        optimizer="adam",
        lockstep_lr=0.02,
        lockstep_watch=True,
    ),
    7: Level(
        7,
        "level7_module",
        "a custom nn.Module",
        ("TwoLayerNet", "train"),
        Model("module", (Layer("linear1", "D_in", "H"), Layer("linear2", "H", "D_out"))),
        ("model", "x", "y", "lr", "steps"),
        Schedule(lr=1e-4),
        Convergence(ratio=2e-3),
        grade_cells_after={"forward": "TwoLayerNet"},
    ),
    # momentum, and up to four layers deep: a quarter of the usual lockstep step keeps it stable
    8: Level(
        8,
        "level8_dynamic",
        "a dynamic network with weight sharing",
        ("DynamicNet", "train"),
        Model(
            "module",
            (
                Layer("input_linear", "D_in", "H"),
                Layer("middle_linear", "H", "H", repeated=True),
                Layer("output_linear", "H", "D_out"),
            ),
            max_depth=3,
        ),
        ("model", "x", "y", "lr", "momentum", "steps"),
        Schedule(lr=1e-4, momentum=0.9),
        Convergence(ratio=0.15),
        lockstep_lr_scale=0.25,
        grade_cells_after={"forward": "DynamicNet"},
    ),
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
    _c(
        4,
        "backward",
        "gradcheck",
        2.0,
        "MyReLU works as a Function: several applications alive at once, and gradcheck in float64",
    ),
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


def register_level(level: Level, checks: Iterable[CheckSpec]) -> None:
    """Add a level and its checks to the curriculum at run time: a course's own level kept outside
    this repository (give it a ``checks_file``), or a test's toy level. A level of the kit itself
    is written into LEVELS and _CHECKS above instead (docs/contributing.md)."""
    checks = list(checks)
    if level.number in LEVELS:
        raise ValueError(f"level {level.number} exists already")
    problems = [
        c.id
        for c in checks
        if c.level != level.number
        or c.stage not in STAGES
        or c.id in CHECKS
        or not c.id.startswith(f"{level.number}.{c.stage}.")
    ]
    if problems:
        raise ValueError(f"checks that do not belong to a new level {level.number}: {problems}")
    if abs(sum(c.points for c in checks) - LEVEL_POINTS) > 1e-9:
        raise ValueError(
            f"level {level.number}'s checks are worth {sum(c.points for c in checks):g} points, "
            f"every level is worth {LEVEL_POINTS:g}"
        )
    LEVELS[level.number] = level
    _CHECKS.extend(checks)
    CHECKS.update({c.id: c for c in checks})


def unregister_level(number: int) -> None:
    """Take away a level that ``register_level`` added."""
    LEVELS.pop(number, None)
    _CHECKS[:] = [c for c in _CHECKS if c.level != number]
    for key in [k for k, c in CHECKS.items() if c.level == number]:
        del CHECKS[key]
