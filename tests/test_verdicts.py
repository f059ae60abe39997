"""Grades that are right (issue 15): one test per defect the kit had, each failing before its fix.

1. printing values inside a unit is never a "device mistake" (the simulated GPU, child/simdevice.py);
2. NaN is not zero: zero_grad that fills the gradients with NaN fails;
3. MyReLU is judged as a Function: its state kept outside ctx fails (tests/corpus has the case too);
4. discipline a casual bypass does not escape: torch through sys.modules at the numpy level, autograd
   reached without the watched words at the tensors level;
5. the student's failures are the student's: no submission makes a "grader error".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.core.curriculum import LEVEL_POINTS, LEVELS
from autograder.grading import grade

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240601


def solution(level: int) -> str:
    return (ROOT / "solutions" / f"{LEVELS[level].module}.py").read_text()


def edited(level: int, *pairs: tuple[str, str]) -> str:
    src = solution(level)
    for old, new in pairs:
        assert old in src, f"the solution changed: {old!r} not found"
        src = src.replace(old, new, 1)
    return src


def grade_source(tmp_path, level: int, source: str, pool):
    d = tmp_path / f"sub{level}"
    d.mkdir(exist_ok=True)
    (d / f"{LEVELS[level].module}.py").write_text(source)
    r = grade(d, [level], SEED, pool=pool)
    assert r.errors == [] and not [c.id for c in r.checks if c.error], [
        (c.id, c.message) for c in r.checks if c.error
    ] or r.errors
    return r


def failed(r) -> dict[str, str]:
    return {c.id: c.message for c in r.checks if not c.passed}


# ------------------------------------------------------------------ 1. prints are not device mistakes
PRINTS = {
    2: [
        ("    h = x @ w1\n", "    h = x @ w1\n    print('h', h.sum().item(), float(h[0, 0]), h[0, :2].tolist())\n"),
        (
            "    return (y_pred - y).pow(2).sum()",
            "    loss = (y_pred - y).pow(2).sum()\n"
            "    print(f'loss {loss.item():.3f} {float(loss)}', loss.cpu().numpy())\n"
            "    return loss",
        ),
        (
            "    grad_w1 = x.t() @ grad_h\n",
            "    grad_w1 = x.t() @ grad_h\n"
            "    print('grad', grad_w1.norm().item(), grad_w1.cpu().numpy().shape, f'{grad_w1.sum()}')\n",
        ),
    ],
    3: [
        (
            "    y_pred = h_relu @ w2\n",
            "    y_pred = h_relu @ w2\n    print('y', y_pred.sum().item(), y_pred[0].tolist())\n",
        ),
        (
            "    return (y_pred - y).pow(2).sum()",
            "    loss = (y_pred - y).pow(2).sum()\n"
            "    print('loss', loss.item(), float(loss), f'{loss:.2f}')\n    return loss",
        ),
    ],
    4: [
        (
            "        return input.clamp(min=0)",
            "        print('relu in', input.sum().item(), input.detach().cpu().numpy().shape)\n"
            "        return input.clamp(min=0)",
        )
    ],
    7: [
        (
            "        y_pred = self.linear2(h_relu)\n",
            "        y_pred = self.linear2(h_relu)\n"
            "        print('out', y_pred.sum().item(), float(y_pred.mean()), y_pred[0].tolist())\n",
        )
    ],
    8: [
        (
            "        y_pred = self.output_linear(h_relu)\n",
            "        y_pred = self.output_linear(h_relu)\n"
            "        print(f'k={k}', y_pred.norm().item(), y_pred.detach().cpu().numpy().shape)\n",
        )
    ],
}


@pytest.mark.parametrize("level", sorted(PRINTS))
def test_printing_values_inside_units_gets_full_marks(zygote, tmp_path, level):
    r = grade_source(tmp_path, level, edited(level, *PRINTS[level]), zygote)
    assert failed(r) == {} and r.score == pytest.approx(LEVEL_POINTS)


def test_a_cpu_tensor_is_still_caught_next_to_prints(zygote, tmp_path):
    src = edited(
        2,
        (
            "    h = x @ w1\n",
            "    print(x.sum().item())\n    h = x @ w1 + torch.zeros(x.shape[0], w1.shape[1], dtype=x.dtype)\n",
        ),
    )
    r = grade_source(tmp_path, 2, src, zygote)
    assert set(failed(r)) == {"2.forward.shapes"}
    assert "same device" in failed(r)["2.forward.shapes"] and "simulated GPU" in failed(r)["2.forward.shapes"]


# ------------------------------------------------------------------ 2. NaN is not zero
def test_zero_grad_filling_nan_fails(zygote, tmp_path):
    src = edited(3, ("            p.grad.zero_()", "            p.grad.fill_(float('nan'))"))
    r = grade_source(tmp_path, 3, src, zygote)
    bad = failed(r)
    assert {"3.zero_grad.resets", "3.zero_grad.none_ok"} <= set(bad)
    assert "NaN" in bad["3.zero_grad.resets"]


def test_zero_grad_filling_nan_fails_at_level5(zygote, tmp_path):
    src = edited(
        5,
        (
            "    model.zero_grad()",
            "    for p in model.parameters():\n        if p.grad is not None:\n            p.grad.fill_(float('nan'))",
        ),
    )
    r = grade_source(tmp_path, 5, src, zygote)
    assert "5.zero_grad.resets" in failed(r) and "NaN" in failed(r)["5.zero_grad.resets"]


# ------------------------------------------------------------------ 3. MyReLU judged as a Function
def test_myrelu_state_outside_ctx_fails(zygote, tmp_path):
    src = edited(
        4,
        ("        ctx.save_for_backward(input)\n", "        MyReLU.saved = input\n"),
        ("        input, = ctx.saved_tensors\n", "        input = MyReLU.saved\n"),
    )
    r = grade_source(tmp_path, 4, src, zygote)
    bad = failed(r)
    assert "4.backward.gradcheck" in bad and "ctx" in bad["4.backward.gradcheck"]
    assert set(bad) <= {"4.backward.gradcheck", "4.train.lockstep", "4.train.converges"}


# ------------------------------------------------------------------ 4. discipline from behaviour
def test_numpy_level_cannot_reach_torch_through_sys_modules(zygote, tmp_path):
    src = edited(
        1,
        ("import numpy as np\n", "import numpy as np\nimport sys\n"),
        (
            "    h = x.dot(w1)\n" if "    h = x.dot(w1)\n" in solution(1) else "    h = x @ w1\n",
            "    torch = sys.modules['torch']\n    h = torch.from_numpy(x).matmul(torch.from_numpy(w1)).numpy()\n",
        ),
    )
    r = grade_source(tmp_path, 1, src, zygote)
    bad = failed(r)
    assert "1.discipline.no_torch" in bad, bad
    assert "forward" in " ".join(bad) and "torch" in bad["1.discipline.no_torch"]


BYPASS = """
def backward(x, h, w2, y_pred, y):
    ag = getattr(torch, "auto" + "grad")
    hh = torch.nn.Parameter(h.clone())
    ww = torch.nn.Parameter(w2.clone())
    loss = ((hh.clamp(min=0) @ ww - y) ** 2).sum()
    engine = ag.variable.Variable._execution_engine
    engine.run_backward((loss,), (torch.ones_like(loss),), False, False, (), True, True)
    return (x.t() @ hh.grad).detach(), ww.grad.detach()
"""


def test_tensors_level_autograd_through_a_casual_bypass_fails(zygote, tmp_path):
    src = solution(2) + "\n" + BYPASS
    r = grade_source(tmp_path, 2, src, zygote)
    bad = failed(r)
    assert set(bad) == {"2.discipline.no_autograd"}, bad
    assert "autograd" in bad["2.discipline.no_autograd"]


# ------------------------------------------------------------------ 5. no student makes a grader error
GRADER_ERROR_ATTEMPTS = [  # each made the report list a grader error (exit status 3) before
    (7, ("    return losses", "    model.to('meta')  # a wrong train: the model ends on meta\n    return losses")),
    (5, ("    return losses", "    model.to('meta')\n    return losses")),
    (3, ("    return losses", "    import builtins\n    builtins.isinstance = lambda *a: 1 / 0\n    return losses")),
    (2, ("    return losses", "    import builtins\n    builtins.isinstance = builtins.len = None\n    return losses")),
    (
        5,
        (
            "        torch.nn.Linear(H, D_out),\n    )\n",
            "        torch.nn.Linear(H, D_out),\n    ).train()\n"
            "    __import__('builtins').isinstance = lambda *a: False\n",
        ),
    ),
]


@pytest.mark.parametrize(
    "level,pair",
    GRADER_ERROR_ATTEMPTS,
    ids=["l7_meta", "l5_meta", "l3_isinstance", "l2_builtins", "l5_isinstance_false"],
)
def test_student_failures_are_never_grader_errors(zygote, tmp_path, level, pair):
    r = grade_source(tmp_path, level, edited(level, pair), zygote)  # asserts no grader error
    if "meta" in pair[1]:  # a wrong train; rebinding builtins after the work is done costs nothing
        assert r.score < LEVEL_POINTS and "after train" in " ".join(failed(r).values())


def test_tampering_with_the_childs_runtime_is_the_students_failure(zygote, tmp_path):
    src = (
        solution(7)
        + """
import sys as _sys
for _name, _mod in list(_sys.modules.items()):
    if _name.endswith(".runtime") and hasattr(_mod, "describe"):
        _mod.describe = lambda obj: {"nonsense": 1}
        _mod.device_of = lambda t, s: 42
"""
    )
    r = grade_source(tmp_path, 7, src, zygote)
    assert r.score < LEVEL_POINTS


def test_meta_model_in_train_exits_zero_from_the_cli(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    (d / "level7_module.py").write_text(edited(7, GRADER_ERROR_ATTEMPTS[0][1]))
    out = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(d), "--format", "json", "--level", "7"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode != 3, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert not any(c.get("error") for c in report["checks"])
