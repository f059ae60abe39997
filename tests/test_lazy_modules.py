"""The stand-ins of the grading children (autograder/child/lazy_modules.py): optimizers step, and
backward passes given their gradient run, exactly as with the real torch._dynamo and
torch.fx.experimental.symbolic_shapes, and import nothing; anything else of either gets the real
module, and torch's own behaviour from then on. Each case runs in a process where torch was imported
and nothing else done (a stand-in must be installed before anything imports its module): a child
forked from one interpreter that imported torch (tests/forked_interpreters.py), or a fresh
interpreter where there is no fork."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from forked_interpreters import TorchForks

pytestmark = pytest.mark.slow  # (torch._dynamo imported for real by many: `make test` runs them, `make test-fast` not)

_FORKS: list[TorchForks] = []


@pytest.fixture(scope="module", autouse=True)
def _forks():
    forks = TorchForks()
    _FORKS.append(forks)
    yield forks
    _FORKS.remove(forks)
    forks.close()


LAZY = Path(__file__).resolve().parent.parent / "autograder" / "child" / "lazy_modules.py"

PRELUDE = f"""
import importlib.util, json, sys
import torch
spec = importlib.util.spec_from_file_location("lazy_modules", {str(LAZY)!r})
lazy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lazy)
"""

TRAIN = """
def train(opt_name, **kw):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    opt = getattr(torch.optim, opt_name)(model.parameters(), **kw)
    x, y = torch.randn(8, 5), torch.randn(8, 2)
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y, reduction="sum").backward()
        opt.step()
    opt.load_state_dict(opt.state_dict())
    return [p.detach().double().flatten().tolist() for p in model.parameters()]

OPTIMIZERS = [("SGD", dict(lr=0.1, momentum=0.9)), ("SGD", dict(lr=0.1)), ("Adam", dict(lr=1e-3)),
              ("Adam", dict(lr=1e-3, amsgrad=True, weight_decay=1e-4)), ("AdamW", {}), ("RMSprop", {}),
              ("Adagrad", {})]
"""


#: What the grader installs (grading.run.grade): the symbolic_shapes stand-in alone.
GRADERS = "lazy.install(torch, names=(lazy.SYMBOLIC_SHAPES,))\n"


def run(body: str, install: bool | str = True) -> dict:
    """``install``: the children's stand-ins (True), none (False), or this line's."""
    setup = install if isinstance(install, str) else ("lazy.install(torch)\n" if install else "")
    code = PRELUDE + setup + TRAIN + textwrap.dedent(body)
    out = _FORKS[0].run(code, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_optimizers_step_as_with_the_real_module_and_import_nothing():
    body = """
    params = [train(name, **kw) for name, kw in OPTIMIZERS]
    print(json.dumps({"params": params, "standin": lazy.active(), "real_loaded": "torch._dynamo.utils" in sys.modules}))
    """
    with_standin = run(body)
    real = run(body, install=False)
    assert with_standin["standin"] is True and with_standin["real_loaded"] is False
    assert real["real_loaded"] is True  # (without it, the first optimizer imports torch._dynamo)
    assert with_standin["params"] == real["params"]  # bit for bit


@pytest.mark.parametrize(
    "use",
    [
        "import torch._dynamo.config",
        "from torch._dynamo import config",
        "importlib.import_module('torch._dynamo.config')",
        "torch._dynamo.reset()",
    ],
)
def test_any_other_use_imports_the_real_module_in_the_stand_ins_place(use):
    body = f"""
    import importlib
    train("Adam", lr=1e-3)                      # (the stand-in "disables" the optimizer's methods)
    {use}
    real = sys.modules["torch._dynamo"]
    disabled = torch.optim.Optimizer.zero_grad.__wrapped__
    cleared = not hasattr(disabled, "__dynamo_disable")
    train("Adam", lr=1e-3)                      # torch disables them again, with the real module
    print(json.dumps({{"standin": lazy.active(), "same": torch._dynamo is real,
                      "config_once": sys.modules["torch._dynamo.config"] is real.config,
                      "cleared": cleared, "redisabled": hasattr(disabled, "__dynamo_disable")}}))
    """
    got = run(body)
    assert got == {"standin": False, "same": True, "config_once": True, "cleared": True, "redisabled": True}


def test_torch_compile_works_after_the_stand_in():
    body = """
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad(); model(torch.ones(2, 3)).sum().backward(); opt.step()
    f = torch.compile(lambda x: (x * 2).relu().sum(), backend="eager")
    print(json.dumps({"value": f(torch.ones(3)).item(), "standin": lazy.active()}))
    """
    assert run(body) == {"value": 6.0, "standin": False}


def test_introspection_and_custom_ops_meet_the_stand_ins_file_not_a_half_done_import():
    """inspect.getmodule asks every module for its __file__, and torch.library asks it as each
    custom op is registered (torch.distributed's at its import, torchvision's): the stand-ins answer
    with the real module's file, so no real import starts in the middle of another (torch.distributed
    then met itself half imported: a circular ImportError only the stand-in caused)."""
    body = """
    import inspect, os

    @torch.library.custom_op("kit_test::twice", mutates_args=())
    def twice(x: torch.Tensor) -> torch.Tensor:
        return 2 * x

    @twice.register_fake
    def _(x):
        return torch.empty_like(x)

    value = twice(torch.ones(2)).tolist()
    module = inspect.getmodule(train)
    files = [sys.modules[name].__file__ for name in (lazy.DYNAMO, lazy.SYMBOLIC_SHAPES)]
    print(json.dumps({"main": module.__name__, "files": all(os.path.isfile(f) for f in files), "value": value,
                      "still": lazy.active(lazy.DYNAMO) and lazy.active(lazy.SYMBOLIC_SHAPES)}))
    """
    assert run(body) == {"main": "__main__", "files": True, "value": [2.0, 2.0], "still": True}
    body = """
    distributed = None
    if torch.distributed.is_available():  # (it needs the real torch._dynamo: imported in its place)
        import torch.distributed.tensor
        distributed = "DTensor" in dir(torch.distributed.tensor)
    print(json.dumps({"distributed": distributed}))
    """
    assert run(body)["distributed"] in (True, None)  # (None: a build without torch.distributed)


def test_nothing_to_do_where_torch_dynamo_is_imported_already():
    body = """
    import torch._dynamo
    before = sys.modules["torch._dynamo"]
    print(json.dumps({"installed": lazy.install(torch), "same": sys.modules["torch._dynamo"] is before}))
    """
    assert run(body, install=False) == {"installed": [], "same": True}  # (torch._dynamo imports symbolic_shapes)


BACKWARDS = """
def backwards():
    torch.manual_seed(0)
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    g = torch.randn(6, 3, dtype=torch.float64)
    out = {}
    (x @ w).relu().backward(g)                                   # tensor.backward(grad)
    out["backward"] = [x.grad.flatten().tolist(), w.grad.flatten().tolist()]
    gx, = torch.autograd.grad((x @ w).tanh(), [x], grad_outputs=g)  # autograd.grad(grad_outputs=)
    out["grad"] = gx.flatten().tolist()
    y = (x.float() @ w.float())                                   # a float64 gradient for float32
    y.backward(g)
    out["promoted"] = w.grad.flatten().tolist()
    # (a wrong shape's error message may import the real module: torch 2.4's does, for nested tensors)
    pure = dict(standin=lazy_active(), sympy="sympy" in sys.modules)
    for bad in (torch.ones(3, 6, dtype=torch.float64), torch.ones(6, 3, 1, dtype=torch.float64), torch.ones(())):
        try:
            (x @ w).backward(bad)
            out.setdefault("errors", []).append(None)
        except RuntimeError as exc:
            out.setdefault("errors", []).append(str(exc))
    return out, pure


def lazy_active():
    return "lazy" in globals() and lazy.active(lazy.SYMBOLIC_SHAPES)
"""


def run_backwards(body: str, install: bool | str = True) -> dict:
    return run(BACKWARDS + textwrap.dedent(body), install)


def test_backward_given_its_gradient_runs_as_with_the_real_module_and_imports_nothing():
    body = """
    import builtins, importlib
    got, pure = backwards()
    hooks = [builtins.__import__ is lazy._REAL_IMPORT, importlib.import_module is lazy._REAL_IMPORT_MODULE]
    print(json.dumps({"got": got, **pure, "real_imports": hooks, "dynamo": lazy.active(lazy.DYNAMO)}))
    """
    with_standin = run_backwards(body)
    graders = run_backwards(body, install=GRADERS)
    real = run_backwards(body, install=False)
    for run_ in (with_standin, graders):
        assert run_["standin"] is True and run_["sympy"] is False  # (before the wrong shapes)
        assert run_["got"] == real["got"]  # bit for bit, and the same errors for wrong shapes
    assert real["sympy"] is True  # (without it, the first backward given its gradient imports sympy)
    assert [e is not None and "Mismatch in shape" in e for e in real["got"]["errors"]] == [True, True, True]
    # the grader's stand-in alone leaves torch._dynamo and the import functions as they are
    assert with_standin["dynamo"] is True and with_standin["real_imports"] == [False, False]
    assert graders["dynamo"] is False and graders["real_imports"] == [True, True]


@pytest.mark.parametrize(
    "use",
    [
        "from torch.fx.experimental.symbolic_shapes import ShapeEnv",
        "import torch.fx.experimental.symbolic_shapes as m; m.ShapeEnv",
        "importlib.import_module('torch.fx.experimental.symbolic_shapes').ShapeEnv",
        "torch.fx.experimental.symbolic_shapes.ShapeEnv",
    ],
)
@pytest.mark.parametrize("install", [True, GRADERS], ids=["childs", "graders"])
def test_any_other_use_of_symbolic_shapes_imports_the_real_module(use, install):
    body = f"""
    import importlib
    before = backwards()[0]
    {use}
    real = sys.modules["torch.fx.experimental.symbolic_shapes"]
    print(json.dumps({{"standin": lazy.active(lazy.SYMBOLIC_SHAPES), "sympy": "sympy" in sys.modules,
                      "attribute": torch.fx.experimental.symbolic_shapes is real, "same": backwards()[0] == before}}))
    """
    assert run_backwards(body, install) == {"standin": False, "sympy": True, "attribute": True, "same": True}


def test_torch_compile_with_dynamic_shapes_works_after_the_stand_ins():
    body = """
    backwards()
    f = torch.compile(lambda x: (x * 2).relu().sum(), backend="eager", dynamic=True)
    x = torch.ones(3, requires_grad=True)
    f(x).backward()
    x2 = torch.ones(5, requires_grad=True)
    f(x2).backward()
    print(json.dumps({"grads": [x.grad.tolist(), x2.grad.tolist()], "standin": lazy.active(lazy.SYMBOLIC_SHAPES)}))
    """
    assert run_backwards(body) == {"grads": [[2.0] * 3, [2.0] * 5], "standin": False}


def test_the_grader_grades_level_4_without_importing_sympy():
    """Level 4's gradcheck backpropagates given gradients in the grader: with the stand-in there, a
    whole grading of the level imports no sympy (0.3-0.6 CPU-seconds of every check of level 4),
    and the reference keeps its full marks."""
    root = Path(__file__).resolve().parent.parent
    code = textwrap.dedent(f"""
        import builtins, sys
        real_import = builtins.__import__
        from autograder.grading import grade
        r = grade({str(root / "solutions")!r}, [4], 20240601)
        assert r.errors == [] and r.score == r.max_score, (r.errors, r.score)
        assert "sympy" not in sys.modules, "the grader imported sympy"
        assert builtins.__import__ is real_import, "the grader's import function was wrapped"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().endswith("ok"), out.stderr[-3000:]
