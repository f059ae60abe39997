"""What every check uses: the marker that ties a test to its curriculum entry, and assertions
whose failure messages show expected against got, compactly, with a hint that names the mistake.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..core.curriculum import CHECKS
from ..core.reference import rel_error
from ..sandbox.proxy import ArrayValue, NpScalar, ObjectValue, TensorValue


class CheckFailed(AssertionError):
    """A check's verdict: the student's work is wrong in the way the message says."""

    def __init__(self, message: str, diagnosis: str | None = None):
        super().__init__(message)
        self.message = message
        self.diagnosis = diagnosis


def check(check_id: str):
    """Tie a test function to its entry in curriculum.CHECKS (level, stage, points, name)."""
    if check_id not in CHECKS:
        raise KeyError(f"unknown check id {check_id!r}")
    import pytest  # (here, when pytest collects the checks: the grader starts its children before it imports pytest)

    return pytest.mark.check(check_id)


# ------------------------------------------------------------------ formatting
def preview(t, k: int = 4) -> str:
    """A few values of a tensor or array, e.g. [0.12, -3.4, 0, ...] (no walls of numbers)."""
    if isinstance(t, (TensorValue, ArrayValue)):
        t = t.data
    if t is None:
        return "(no values)"
    flat = torch.as_tensor(np.asarray(t) if isinstance(t, np.ndarray) else t).reshape(-1)
    vals = ", ".join(f"{float(v):.4g}" for v in flat[:k])
    return f"[{vals}{', ...' if flat.numel() > k else ''}]"


def describe_value(v) -> str:
    if isinstance(v, TensorValue):
        return f"a tensor of shape {tuple(v.shape)}, dtype {v.dtype}, on {v.device}"
    if isinstance(v, ArrayValue):
        return f"an array of shape {tuple(v.shape)}, dtype {v.dtype}"
    if isinstance(v, ObjectValue):
        return f"an object of type {v.type_name}"
    if isinstance(v, NpScalar):
        return f"a numpy {v.dtype} scalar"
    if isinstance(v, (list, tuple)):
        return f"a {type(v).__name__} of {len(v)} items"
    if v is None:
        return "None"
    return f"a {type(v).__name__} ({v!r})"[:120]


def shape_str(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# ------------------------------------------------------------------ expectations
def expect_tensor(v, what: str, shape=None, dtype: str | None = None, device: str | None = None) -> TensorValue:
    if isinstance(v, ObjectValue) and ("Tensor" in v.type_name or "Parameter" in v.type_name):
        raise CheckFailed(f"{what} is {v.type_name}, a subclass of torch.Tensor: return a plain torch.Tensor")
    if not isinstance(v, TensorValue):
        raise CheckFailed(f"{what} should be a torch.Tensor, got {describe_value(v)}")
    if shape is not None and tuple(v.shape) != tuple(shape):
        raise CheckFailed(
            f"{what} has shape {shape_str(v.shape)}, expected {shape_str(shape)}" + _transpose_hint(v.shape, shape)
        )
    if dtype is not None and v.dtype != dtype:
        raise CheckFailed(
            f"{what} has dtype {v.dtype}, expected {dtype} (the inputs' dtype): "
            "create new tensors with dtype=x.dtype, or from the inputs"
        )
    if device is not None and _dev(v.device) != _dev(device):
        raise CheckFailed(
            f"{what} is on {v.device}, expected {device} (the inputs' device): create new tensors with device=x.device"
        )
    _expect_finite(v.data, what)
    return v


def _expect_finite(data, what):
    if data is None:
        return
    t = torch.as_tensor(data)
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise CheckFailed(f"{what} contains {bad} NaN or infinite value(s): got {preview(t)}")


def _dev(d: str) -> str:
    return "cuda" if d.startswith("cuda") else d


def expect_array(v, what: str, shape=None, dtype: str = "float64") -> ArrayValue:
    if isinstance(v, TensorValue):
        raise CheckFailed(f"{what} is a torch.Tensor: at this level return a numpy array")
    if isinstance(v, ObjectValue) and "ndarray" in v.type_name:
        raise CheckFailed(f"{what} is {v.type_name}: return a plain numpy.ndarray of float64")
    if not isinstance(v, ArrayValue):
        raise CheckFailed(f"{what} should be a numpy array, got {describe_value(v)}")
    if shape is not None and tuple(v.shape) != tuple(shape):
        raise CheckFailed(
            f"{what} has shape {shape_str(v.shape)}, expected {shape_str(shape)}" + _transpose_hint(v.shape, shape)
        )
    if dtype is not None and v.dtype != dtype:
        raise CheckFailed(f"{what} has dtype {v.dtype}, expected {dtype}")
    _expect_finite(v.data, what)
    return v


def _transpose_hint(got, want) -> str:
    if len(got) == 2 and len(want) == 2 and tuple(got) == tuple(want)[::-1]:
        return " — it looks transposed"
    return ""


def data_of(v, what: str = "a value the code returned") -> torch.Tensor:
    """The values of what came back, as float64 (CheckFailed when there are none to read)."""
    if isinstance(v, TensorValue):
        if v.data is None:
            raise CheckFailed(
                f"{what} holds no values the grader can read ({v!r}): keep tensors on the "
                "inputs' device (not 'meta'), with a numeric dtype"
            )
        return v.data.to(torch.float64)
    if isinstance(v, ArrayValue):
        try:
            return torch.from_numpy(v.data.astype(np.float64))
        except (TypeError, ValueError) as exc:
            raise CheckFailed(f"{what} cannot be read as numbers ({exc})") from None
    if isinstance(v, torch.Tensor):
        return v.to(torch.float64)
    try:
        return torch.as_tensor(np.asarray(v, dtype=np.float64))
    except (TypeError, ValueError, OverflowError):
        raise CheckFailed(f"{what} should hold numbers, got {describe_value(v)}") from None


def expect_close(
    got, want: torch.Tensor, what: str, rtol: float, inputs: str = "", hints: dict[str, torch.Tensor] | None = None
) -> None:
    """Global relative error (max|got-want| / max|want|) at most rtol; NaN and inf never pass."""
    g, w = data_of(got), want.to(torch.float64)
    if g.shape != w.shape:
        raise CheckFailed(f"{what} has shape {shape_str(g.shape)}, expected {shape_str(w.shape)}")
    if not bool(torch.isfinite(g).all()):
        bad = int((~torch.isfinite(g)).sum())
        raise CheckFailed(f"{what} contains {bad} NaN or infinite value(s): got {preview(g)}{_for(inputs)}")
    err = rel_error(g, w)
    if err <= rtol:
        return
    msg = (
        f"{what} differs from the reference (relative error {err:.2g}){_for(inputs)}: "
        f"expected {preview(w)}, got {preview(g)}"
    )
    hint = None
    for text, candidate in (hints or {}).items():
        if candidate.shape == g.shape and rel_error(g, candidate.to(torch.float64)) <= max(rtol, 1e-6) * 10:
            hint = text
            break
    raise CheckFailed(msg + (f". Hint: {hint}" if hint else ""))


def _for(inputs: str) -> str:
    return f" for {inputs}" if inputs else ""


def as_float(v, what: str, allow_tensor: bool = False) -> float:
    """A Python number (np.float64 is accepted where a float is asked for)."""
    if isinstance(v, bool):
        raise CheckFailed(f"{what} should be a number, got a bool")
    if isinstance(v, (int, float)):
        return _finite_number(float(v), what)
    if isinstance(v, NpScalar) and isinstance(v.value, (int, float)) and not isinstance(v.value, bool):
        return _finite_number(float(v.value), what)
    if allow_tensor and isinstance(v, TensorValue) and v.data is not None and v.data.numel() == 1:
        return _finite_number(float(v.data.reshape(())), what)
    raise CheckFailed(
        f"{what} should be a Python float, got {describe_value(v)}"
        + (": use loss.item() to turn a 0-dim tensor into a float" if isinstance(v, TensorValue) else "")
    )


def _finite_number(x: float, what: str) -> float:
    if not math.isfinite(x):
        raise CheckFailed(f"{what} is {x} (NaN or infinite): every value must be a finite number")
    return x


def expect_zero_grad(grad, what: str) -> None:
    """A gradient after zeroing: None, or all zeros (NaN and inf are not zero)."""
    if grad is None:
        return
    g = data_of(grad, what)
    if not bool(torch.isfinite(g).all()):
        bad = int((~torch.isfinite(g)).sum())
        raise CheckFailed(
            f"{what} holds {bad} NaN or infinite value(s) after zero_grad: got {preview(g)}; reset it "
            "with p.grad.zero_() or p.grad = None"
        )
    if bool((g != 0).any()):
        raise CheckFailed(f"{what} still holds values after zero_grad: reset it with p.grad.zero_() or p.grad = None")


def expect_losses(v, steps: int, what: str = "train's return value") -> list[float]:
    if not isinstance(v, list):
        raise CheckFailed(
            f"{what} should be a list of {steps} floats (one loss per iteration), got {describe_value(v)}"
        )
    if len(v) != steps:
        raise CheckFailed(f"{what} has {len(v)} losses for {steps} iterations: record one loss per iteration")
    out = []
    for i, item in enumerate(v):
        out.append(as_float(item, f"loss {i} in {what}"))
    return out


def finite(x: float) -> bool:
    return math.isfinite(x)


SIM_NOTE = (
    "with the inputs on a simulated GPU (real values that report device cuda:0: how the grader sees, "
    "without a GPU, where new tensors are created)"
)
SIM_DEVICE = "cuda:0 (simulated)"


def expect_sim_outputs(sub, target, args, outputs, **call_kwargs):
    """Call a unit with its inputs (and the model it belongs to) on the simulated GPU of
    child/simdevice.py: every output must be there too, with its shape.

    A tensor created on the CPU inside the computation (torch.zeros(n, m) without device=...) makes
    the call fail, or ends up on the CPU, exactly as with inputs on a real GPU; printing values
    (.item(), float(), .tolist()) works, as it does there. An output whose device the simulation
    cannot tell (made by the autograd engine, say) passes.
    """
    if sub.device != "cpu":  # a real GPU: the checks' own runs put the inputs there, a simulation adds nothing
        return None
    r = sub.call(target, *args, sim_device=True, **call_kwargs)
    values = list(r.value) if isinstance(r.value, (tuple, list)) else [r.value]
    if len(values) < len(outputs):
        raise CheckFailed(f"{target} returned {len(values)} value(s) {SIM_NOTE}, expected {len(outputs)}")
    for v, (what, shape) in zip(values, outputs):
        t = expect_tensor(v, f"{what} ({SIM_NOTE})", shape)
        if t.device == "cpu":
            raise CheckFailed(
                f"{what} is on the CPU while the inputs were on a GPU ({SIM_NOTE}): create new "
                "tensors with device=x.device, or from the inputs (torch.zeros_like(x), x.new_zeros)"
            )
    return r
