"""The grader's written-out optimizers follow torch.optim's trajectories (float64, many steps)."""

import pytest
import torch

from autograder.core import reference as ref
from autograder.core.curriculum import LEVELS
from autograder.core.problems import Sizes, generator, randn
from conftest import SEED


def _params(seed: int, shapes=((5, 3), (3,), (2, 3))):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=gen, dtype=torch.float64) for s in shapes]


def _run(make, params0, steps=25, set_to_none=True, rebuild_every=0):
    params = [p.clone().requires_grad_(True) for p in params0]
    opt = make(params)
    for t in range(steps):
        if rebuild_every and t % rebuild_every == 0:
            opt = make(params)
        opt.zero_grad(set_to_none=set_to_none)
        loss = sum((((p - 0.5) ** 2) * (i + 1) + p.sin()).sum() for i, p in enumerate(params))
        loss.backward()
        opt.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize(
    "kind,kwargs",
    [
        ("sgd", dict(lr=0.05)),
        ("sgd", dict(lr=0.05, momentum=0.9)),
        ("sgd", dict(lr=0.05, maximize=True)),
        ("sgd", dict(lr=0.02, momentum=0.5, maximize=True)),
        ("adam", dict(lr=0.01)),
        ("adam", dict(lr=0.03, maximize=True)),
    ],
)
@pytest.mark.parametrize("set_to_none", [True, False])
@pytest.mark.parametrize("rebuild_every", [0, 3])
def test_optimizer_matches_torch_optim(kind, kwargs, set_to_none, rebuild_every):
    ours = {"sgd": ref.SGD, "adam": ref.Adam}[kind]
    theirs = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[kind]
    p0 = _params(7)
    got = _run(lambda ps: ours(ps, **kwargs), p0, set_to_none=set_to_none, rebuild_every=rebuild_every)
    want = _run(lambda ps: theirs(ps, **kwargs), p0, set_to_none=set_to_none, rebuild_every=rebuild_every)
    for g, w, start in zip(got, want, p0):
        assert torch.isfinite(w).all() and not torch.equal(w, start)
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-14)


def test_a_parameter_without_gradient_is_left_alone():
    p = [torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)]
    (p[0] * 3).sum().backward()
    for opt in (ref.SGD(p, lr=0.1, momentum=0.9), ref.Adam(p, lr=0.1)):
        opt.step()
    assert torch.equal(p[1].detach(), torch.ones(2))
    assert not torch.equal(p[0].detach(), torch.ones(2))


@pytest.mark.parametrize(
    "level,opt", [(5, ref.Optim("sgd", 1e-3)), (6, ref.Optim("adam", 0.02)), (8, ref.Optim("sgd", 1e-3, 0.9))]
)
@pytest.mark.parametrize("to_none", [False, True])
def test_simulate_equals_a_torch_optim_loop(level, opt, to_none):
    s = Sizes(N=7, D_in=11, H=5, D_out=3)
    gen = generator(3, level, "test")
    x, y = randn(gen, s.N, s.D_in), randn(gen, s.N, s.D_out)
    params0 = ref.init_params(level, s, gen)
    ks = ref.depths(11, 30) if level == 8 else None
    got = ref.simulate(level, params0, x, y, opt, 30, ks=ks, zero_to_none=to_none)
    names = LEVELS[level].param_names
    p = {n: params0[n].clone().requires_grad_(True) for n in names}
    optimizer = (
        torch.optim.Adam(p.values(), lr=opt.lr)
        if opt.kind == "adam"
        else torch.optim.SGD(p.values(), lr=opt.lr, momentum=opt.momentum)
    )
    losses = []
    for t in range(30):
        loss = ref.loss_of(level, p, x, y, ks[t] if ks else None)
        losses.append(float(loss.detach()))
        optimizer.zero_grad(set_to_none=to_none)
        loss.backward()
        optimizer.step()
    assert got.losses == pytest.approx(losses, rel=1e-12)
    for n in names:
        torch.testing.assert_close(got.params[n], p[n].detach(), rtol=1e-12, atol=1e-14)


@pytest.mark.slow
def test_grading_never_imports_torch_dynamo_in_the_grader():
    """The grader's own start-up stays lean: no torch.optim optimizer (whose first construction
    imports torch._dynamo, about a second) anywhere on the trusted side, levels 1-8, with curves."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    code = (
        "import sys, torch; from pathlib import Path; from autograder.grading import grade; "
        f"r = grade(Path('solutions'), [1, 2, 3, 4, 5, 6, 7, 8], {SEED}, curves=True); "
        "print(r.score, 'torch._dynamo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["100.0", "False"], out.stderr[-2000:]
