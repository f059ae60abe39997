"""Device mistakes are caught on a machine without a GPU (through the simulated GPU of
child/simdevice.py, and the dtype checks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.core.curriculum import LEVELS
from autograder.grading import grade
from conftest import SEED

ROOT = Path(__file__).resolve().parent.parent


# (name, level, text in the solution, replacement, checks that must fail, words in the message)
MISTAKES = [
    (
        "cpu_tensor_in_forward",
        2,
        "    h = x @ w1\n",
        "    h = x @ w1 + torch.zeros(x.shape[0], w1.shape[1], dtype=x.dtype)\n",
        {"2.forward.shapes"},
        "device",
    ),
    (
        "cpu_mask_in_backward",
        2,
        "grad_h[h < 0] = 0",
        "grad_h = grad_h * torch.tensor((h >= 0).numpy(), dtype=h.dtype)",
        {"2.backward.shapes"},
        "device",
    ),
    (
        "hard_coded_cuda",
        2,
        "    h = x @ w1\n",
        "    h = (x.to('cuda') @ w1.to('cuda')).to(x.device)\n",
        {"2.forward.shapes", "2.forward.values"},
        "cuda",
    ),
    (
        "dtype_changed_on_the_way",
        2,
        "    h = x @ w1\n",
        "    h = x.float() @ w1.float()\n",
        {"2.forward.shapes"},
        "dtype",
    ),
    (
        "item_inside_the_loss",
        3,
        "return (y_pred - y).pow(2).sum()",
        "return (y_pred - y).pow(2).sum().item()",
        {"3.loss.value"},
        "float",
    ),
    (
        "cpu_tensor_in_module_forward",
        7,
        "y_pred = self.linear2(h_relu)",
        "y_pred = self.linear2(h_relu) + torch.zeros(x.shape[0], self.linear2.out_features)",
        {"7.forward.values"},
        "device",
    ),
    (
        # model.to("cuda") moves parameters and buffers; a tensor kept as a plain attribute stays on the CPU
        "cpu_tensor_kept_as_module_attribute",
        7,
        ("        self.linear2 = torch.nn.Linear(H, D_out)\n", "y_pred = self.linear2(h_relu)"),
        (
            "        self.linear2 = torch.nn.Linear(H, D_out)\n        self.scale = torch.ones(D_out)\n",
            "y_pred = self.linear2(h_relu) * self.scale",
        ),
        {"7.forward.values"},
        "device",
    ),
]


@pytest.mark.parametrize("name,level,old,new,failing,word", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_device_mistake_is_caught_on_cpu(zygote, tmp_path, name, level, old, new, failing, word):
    _write_edited(tmp_path, level, old, new)
    r = grade(tmp_path, [level], SEED, pool=zygote)
    failed = {c.id for c in r.checks if not c.passed}
    assert failing <= failed, [(c.id, c.message) for c in r.checks if not c.passed]
    assert all(not c.error for c in r.checks)
    messages = " ".join(c.message for c in r.checks if c.id in failing)
    assert word in messages, messages
    assert r.score < r.max_score


def _write_edited(folder: Path, level: int, old, new) -> None:
    """The level's solution with one edit (or several: tuples of texts and their replacements)."""
    module = LEVELS[level].module
    src = (ROOT / "solutions" / f"{module}.py").read_text()
    for o, n in zip(*((old, new) if isinstance(old, tuple) else ((old,), (new,)))):
        assert o in src, f"the solution changed: {o!r} not found"
        src = src.replace(o, n, 1)
    (folder / f"{module}.py").write_text(src)


# What CUDA allows must stay allowed: correct code on a GPU, full marks in the simulation too.
LEGAL = [
    (
        "zero_dim_cpu_tensor_kept_as_module_attribute",  # a 0-dim CPU tensor mixes with CUDA tensors
        7,
        ("        self.linear2 = torch.nn.Linear(H, D_out)\n", "y_pred = self.linear2(h_relu)"),
        (
            "        self.linear2 = torch.nn.Linear(H, D_out)\n        self.scale = torch.tensor(1.0)\n",
            "y_pred = self.linear2(h_relu) * self.scale",
        ),
    ),
    (
        "attribute_moved_to_the_inputs_device",  # kept on the CPU, moved where x is before use
        7,
        ("        self.linear2 = torch.nn.Linear(H, D_out)\n", "y_pred = self.linear2(h_relu)"),
        (
            "        self.linear2 = torch.nn.Linear(H, D_out)\n        self.scale = torch.ones(D_out)\n",
            "y_pred = self.linear2(h_relu) * self.scale.to(x.device)",
        ),
    ),
    (
        "zero_dim_cpu_scalar_added_to_the_loss",
        3,
        "return (y_pred - y).pow(2).sum()",
        "return (y_pred - y).pow(2).sum() + torch.tensor(0.0, dtype=y.dtype)",
    ),
]


@pytest.mark.parametrize("name,level,old,new", LEGAL, ids=[m[0] for m in LEGAL])
def test_what_a_gpu_allows_gets_full_marks(zygote, tmp_path, name, level, old, new):
    _write_edited(tmp_path, level, old, new)
    r = grade(tmp_path, [level], SEED, pool=zygote)
    assert (r.score, r.errors) == (r.max_score, []), [(c.id, c.message) for c in r.checks if not c.passed]
