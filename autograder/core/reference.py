"""The trusted references: the network, its loss and gradients, and whole training trajectories.

All of it is computed here, in the grader's process, in float64 unless said otherwise; the
student's process never sees any of it. ``simulate`` replays a training loop from given initial
weights, either correctly or with one of the common mistakes, so that a student's trajectory can
be matched against each (``diagnose``), naming the likeliest mistake.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch

from .curriculum import LEVELS, Layer, Model
from .problems import Sizes, linear_init

# ------------------------------------------------------------------ the networks
# Each level's network is its record's Model (curriculum.LEVELS): layers, parameter names, depth.


def relu(t: torch.Tensor) -> torch.Tensor:
    return t.clamp(min=0)


def forward_nobias(x, w1, w2):
    """Levels 1-4: h = x @ w1, y_pred = relu(h) @ w2. Returns (y_pred, h)."""
    h = x @ w1
    return relu(h) @ w2, h


def sse(y_pred, y):
    return ((y_pred - y) ** 2).sum()


def grads_nobias(x, w1, w2, y):
    w1 = w1.detach().clone().requires_grad_(True)
    w2 = w2.detach().clone().requires_grad_(True)
    y_pred, _ = forward_nobias(x, w1, w2)
    return torch.autograd.grad(sse(y_pred, y), (w1, w2))


def _apply(model: Model, layer: Layer, p: dict, x: torch.Tensor) -> torch.Tensor:
    if model.kind == "weights":
        return x @ p[layer.name]
    return x @ p[layer.name + ".weight"].T + p[layer.name + ".bias"]


def model_forward(level: int, p: dict, x: torch.Tensor, k: int | None = None, with_relu: bool = True) -> torch.Tensor:
    """The level's network on parameters ``p``: a ReLU after every layer but the last, a repeated
    layer applied ``k`` times. ``with_relu=False``: the same without the ReLUs (a common mistake)."""
    model = LEVELS[level].model
    *hidden, last = model.layers
    for layer in hidden:
        for _ in range((k or 0) if layer.repeated else 1):
            x = _apply(model, layer, p, x)
            x = relu(x) if with_relu else x
    return _apply(model, last, p, x)


def init_params(level: int, s: Sizes, gen: torch.Generator, dtype=torch.float64) -> dict:
    """Initial weights from ``gen``: standard normal for bare weights, nn.Linear's default otherwise."""
    model = LEVELS[level].model
    p = {}
    for layer in model.layers:
        fan_in, fan_out = getattr(s, layer.fan_in), getattr(s, layer.fan_out)
        if model.kind == "weights":
            p[layer.name] = torch.randn(fan_in, fan_out, generator=gen, dtype=torch.float64).to(dtype)
        else:
            p[layer.name + ".weight"], p[layer.name + ".bias"] = linear_init(gen, fan_in, fan_out, dtype)
    return p


def depths(python_seed: int, n: int, max_depth: int = 3) -> list[int]:
    """The k of each forward call when Python's random is seeded with python_seed."""
    rnd = random.Random(python_seed)
    return [rnd.randint(0, max_depth) for _ in range(n)]


# ------------------------------------------------------------------ trajectories
@dataclass(frozen=True)
class Optim:
    kind: str  # "sgd" or "adam"
    lr: float
    momentum: float = 0.0


@dataclass
class Trajectory:
    losses: list[float]
    params: dict
    variant: str = "correct"
    band: list = field(default_factory=list)  # per step, the loss at each depth 0..3 (level 8, when asked)


#: the mistakes a trajectory can show, with the hint the report gives for each
MISTAKES = {
    "no_zero_grad": (
        "zero_grad",
        "each step moved the weights by the sum of all gradients so far: the gradients "
        "were never zeroed, so .backward() accumulated them. Zero the gradients every iteration",
    ),
    "mean_loss": (
        "loss",
        "the loss is the mean of the squared errors, not their sum: the tutorial uses the sum "
        "(MSELoss(reduction='sum')), which also sets the scale of the learning rate",
    ),
    "no_step": ("step", "the weights never changed: the loop computes gradients but never applies the update"),
    "ascent": (
        "step",
        "the weights moved uphill: the update adds the gradient instead of subtracting it "
        "(gradient ascent), so the loss grows",
    ),
    "step_before_backward": (
        "step",
        "each update used the previous iteration's gradients: the step runs before "
        "the backward pass of its own iteration",
    ),
    "optimizer_rebuilt": (
        "step",
        "the optimizer's state (momentum or Adam's moments) was lost every step: build "
        "the optimizer once, before the loop",
    ),
    "zeroed_before_step": (
        "zero_grad",
        "optimizer.step() ran with the gradients already zeroed: zero them before "
        "backward() (or after step()), not between backward() and step()",
    ),
    "no_momentum": (
        "discipline",
        "the trajectory is plain SGD without momentum: pass momentum=momentum to torch.optim.SGD",
    ),
}


class _WrittenOut:
    """What the grader's optimizers share: the parameters, and zero_grad as torch.optim's.

    The grader's references never construct a torch.optim optimizer: the first one imports
    torch._dynamo, a second of start-up for every grading process. tests/test_reference.py holds
    these to torch.optim's trajectories.
    """

    def __init__(self, params: list, lr: float, maximize: bool = False):
        self.params, self.lr, self.maximize = params, lr, maximize

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.detach_()
                p.grad.zero_()

    def _grad(self, p):
        return -p.grad if self.maximize else p.grad


class SGD(_WrittenOut):
    """torch.optim.SGD's update (momentum, maximize; no dampening, Nesterov or weight decay)."""

    def __init__(self, params: list, lr: float, momentum: float = 0.0, maximize: bool = False):
        super().__init__(params, lr, maximize)
        self.momentum = momentum
        self.buffers: list = [None] * len(params)

    @torch.no_grad()
    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = self._grad(p)
            if self.momentum:
                if self.buffers[i] is None:
                    self.buffers[i] = g.clone()
                else:
                    self.buffers[i].mul_(self.momentum).add_(g)
                g = self.buffers[i]
            p.add_(g, alpha=-self.lr)


class Adam(_WrittenOut):
    """torch.optim.Adam's update (default betas and eps, bias-corrected; maximize)."""

    def __init__(self, params: list, lr: float, betas=(0.9, 0.999), eps: float = 1e-8, maximize: bool = False):
        super().__init__(params, lr, maximize)
        self.betas, self.eps, self.t = betas, eps, [0] * len(params)
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self) -> None:
        b1, b2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = self._grad(p)
            self.t[i] += 1
            self.m[i].lerp_(g, 1 - b1)
            self.v[i].mul_(b2).addcmul_(g, g, value=1 - b2)
            step_size = self.lr / (1 - b1 ** self.t[i])
            denom = (self.v[i].sqrt() / (1 - b2 ** self.t[i]) ** 0.5).add_(self.eps)
            p.addcdiv_(self.m[i], denom, value=-step_size)


def loss_of(level, p, x, y, k=None):
    return sse(model_forward(level, p, x, k), y)


def simulate(
    level: int,
    params0: dict,
    x,
    y,
    opt: Optim,
    steps: int,
    variant: str = "correct",
    ks: list[int] | None = None,
    zero_to_none: bool = False,
    dtype=torch.float64,
    depth_band: bool = False,
) -> Trajectory:
    """Replay a training loop from params0 (in float64 unless told), correctly or with one named mistake.

    ``depth_band`` (a level of random depth): also record, at every step, the loss at each possible
    depth, so a chart can show where any correct run's loss may lie, whatever its random draws."""
    names = LEVELS[level].param_names
    p = {n: params0[n].detach().clone().to(dtype).requires_grad_(True) for n in names}
    x, y = x.to(dtype), y.to(dtype)
    plist = [p[n] for n in names]

    def make_opt():
        if opt.kind == "adam":
            return Adam(plist, lr=opt.lr, maximize=(variant == "ascent"))
        return SGD(plist, lr=opt.lr, momentum=opt.momentum, maximize=(variant == "ascent"))

    optimizer = make_opt()
    losses = []
    band: list[list[float]] = []
    previous = None
    for t in range(steps):
        k = ks[t] if ks is not None else None
        if depth_band:
            with torch.no_grad():
                band.append([float(loss_of(level, p, x, y, d)) for d in range(LEVELS[level].model.max_depth + 1)])
        loss = loss_of(level, p, x, y, k)
        if variant == "mean_loss":
            loss = loss / y.numel()
        losses.append(float(loss.detach()))
        if variant == "optimizer_rebuilt":
            optimizer = make_opt()
        if variant == "step_before_backward":  # each update applies the previous iteration's gradients
            grads = torch.autograd.grad(loss, plist, allow_unused=True)
            if previous is not None:
                for prm, g in zip(plist, previous):
                    prm.grad = None if g is None else g.clone()
                optimizer.step()
            previous = grads
            continue
        if variant != "no_zero_grad":
            optimizer.zero_grad(set_to_none=zero_to_none)
        loss.backward()
        if variant != "no_step":
            optimizer.step()
    return Trajectory(losses, {n: p[n].detach().clone() for n in names}, variant, band)


# ------------------------------------------------------------------ comparing trajectories
@dataclass
class Match:
    variant: str | None  # "correct", a key of MISTAKES, or None when nothing matched
    loss_error: float
    param_error: float
    details: dict = field(default_factory=dict)

    @property
    def stage(self) -> str | None:
        return MISTAKES[self.variant][0] if self.variant in MISTAKES else None

    @property
    def hint(self) -> str | None:
        return MISTAKES[self.variant][1] if self.variant in MISTAKES else None


def rel_error(got: torch.Tensor, want: torch.Tensor) -> float:
    """max |got - want| / max(|want|), with a floor: a global relative error that zeros cannot game."""
    got, want = got.to(torch.float64), want.to(torch.float64)
    scale = max(float(want.abs().max()) if want.numel() else 0.0, 1e-12)
    return float((got - want).abs().max()) / scale if want.numel() else 0.0


def trajectory_error(losses: list[float] | None, params: dict, ref: Trajectory) -> tuple[float, float]:
    """(loss error, weight error); losses=None when train returned none usable (judge the weights alone)."""
    if losses is None:
        losses = list(ref.losses)
    n = min(len(losses), len(ref.losses))
    le = (
        rel_error(torch.tensor(losses[:n], dtype=torch.float64), torch.tensor(ref.losses[:n], dtype=torch.float64))
        if n
        else float("inf")
    )
    if len(losses) != len(ref.losses):
        le = float("inf")
    pe = max(rel_error(params[k], ref.params[k]) for k in ref.params) if params else float("inf")
    return le, pe


LOCKSTEP_RTOL = 1e-6  # float64 lockstep: equivalent expressions differ by ~1e-13 (measured: bench/tolerances.py)


def diagnose(level, params0, x, y, opt: Optim, steps, losses, params, ks=None, accept_none_variant=False) -> Match:
    """Which trajectory (correct, or a named mistake) the student's losses and final weights follow."""
    candidates = [("correct", False)]
    if accept_none_variant:
        candidates.append(("correct", True))
    candidates += [(m, False) for m in MISTAKES if m not in ("zeroed_before_step", "no_momentum")]
    if opt.kind == "sgd" and opt.momentum == 0.0:
        candidates = [c for c in candidates if c[0] != "optimizer_rebuilt"]
    best = Match(None, float("inf"), float("inf"))
    for variant, to_none in candidates:
        ref = simulate(level, params0, x, y, opt, steps, variant, ks, zero_to_none=to_none)
        le, pe = trajectory_error(losses, params, ref)
        if le <= LOCKSTEP_RTOL and pe <= LOCKSTEP_RTOL:
            return Match(variant, le, pe)
        if variant == "correct" and (le + pe) < (best.loss_error + best.param_error):
            best = Match(None, le, pe)
    return best
