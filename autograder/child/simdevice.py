"""A simulated second device, for catching device mistakes on a machine without a GPU.

The grader hands a unit inputs that hold real values on the CPU but are *marked* as living on a
GPU ('cuda:0'). While the unit runs, a ``TorchFunctionMode`` sees every torch call and keeps the
marks, as a GPU would keep the device:

- a tensor made from marked tensors is marked; a factory asked for ``device=x.device`` (or
  ``.to(x.device)``, ``.cuda()``) makes a marked tensor;
- a factory without a device (``torch.zeros(n)``, ``torch.tensor([...])``, ``torch.from_numpy``),
  ``.cpu()`` and ``.to("cpu")`` make a tensor known to be on the CPU;
- a model's parameters and buffers are marked; a tensor kept as a plain attribute of a module
  is known to be on the CPU (``model.to("cuda")`` leaves it there);
- a call that mixes a marked tensor with a CPU tensor of one element or more raises exactly the
  error CUDA raises ("Expected all tensors to be on the same device"); a 0-dim CPU tensor is
  accepted, as CUDA accepts it, and so is indexing with CPU indices;
- ``.numpy()`` of a marked tensor raises the error CUDA raises; ``.item()``, ``float()``,
  ``.tolist()``, printing and ``.cpu().numpy()`` work, as they do on a GPU.

A tensor of unknown origin (a gradient the autograd engine made, say) carries no mark and never
causes an error: where the simulation cannot decide, it does not fail the code.
"""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

SIM = "sim"
CPU = "cpu"
MARK = "_kit_device"
SIM_DEVICE = torch.device("cuda", 0)  # what a marked tensor reports as its device
SAME_DEVICE = (
    "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu! "
    "(in {name}; the grader simulates a GPU for the inputs)"
)
NUMPY = (
    "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory "
    "first. (the grader simulates a GPU for the inputs)"
)

# Calls that may mix devices on a real GPU: copies between devices, indexing with CPU indices,
# and what only reads metadata or prints.
_MIXING_ALLOWED = {
    "copy_",
    "__getitem__",
    "__setitem__",
    "to",
    "__repr__",
    "__format__",
    "__str__",
    "__get__",
    "__set__",
    "size",
    "dim",
    "numel",
    "type_as",
    "new_tensor",
    "backward",
}


def mark_of(t) -> str | None:
    return getattr(t, MARK, None) if isinstance(t, torch.Tensor) else None


def mark(t, how: str | None) -> None:
    if how is not None and isinstance(t, torch.Tensor):
        try:
            setattr(t, MARK, how)
        except (AttributeError, TypeError, RuntimeError):
            pass


def mark_module(obj) -> None:
    """Put a model on the simulated device as ``model.to("cuda")`` puts it on a GPU: its parameters,
    their gradients and its buffers. A tensor kept as a plain attribute of one of its modules
    (``self.scale = torch.ones(n)`` in ``__init__``: neither a parameter nor a buffer) is not moved by
    ``.to()``: it is marked as on the CPU, where a GPU leaves it (it then collides with the inputs,
    unless it has no dimension, as there)."""
    if isinstance(obj, torch.nn.Module):
        for p in obj.parameters():
            mark(p, SIM)
            mark(p.grad, SIM)
        for b in obj.buffers():
            mark(b, SIM)
        for m in obj.modules():
            for value in vars(m).values():
                if isinstance(value, torch.Tensor) and mark_of(value) is None:
                    mark(value, CPU)


def _device_kind(d) -> str | None:
    """SIM for a GPU device (the simulated one), CPU for the CPU, None when not a device."""
    if isinstance(d, torch.Tensor):
        return mark_of(d)
    if isinstance(d, int) and not isinstance(d, bool):
        return SIM  # .to(0), .cuda(0)
    if isinstance(d, (str, torch.device)):
        try:
            kind = torch.device(d).type
        except (RuntimeError, TypeError, ValueError):
            return None
        return SIM if kind == "cuda" else CPU if kind == "cpu" else None
    return None


def _name(func) -> str:
    return getattr(func, "__name__", "") or ""


def _to_target(args, kwargs):
    """The device asked of Tensor.to(...), with the arguments rewritten for the CPU."""
    args = list(args)
    target = None
    if "device" in kwargs:
        target = _device_kind(kwargs["device"])
        if target == SIM:
            kwargs["device"] = "cpu"
    for i, a in enumerate(args[1:], start=1):
        kind = _device_kind(a) if not isinstance(a, torch.dtype) else None
        if kind is not None:
            target = kind
            if isinstance(a, torch.Tensor):  # .to(other): its dtype, on its device
                args[i] = a.dtype
            elif kind == SIM:
                args[i] = "cpu"
    return target, tuple(args), kwargs


class SimulatedDevice(TorchFunctionMode):
    """Keep device marks through every torch call made while it is active (see the module doc)."""

    def __init__(self):
        super().__init__()
        self.mixed: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        name = _name(func)
        self_t = args[0] if args and isinstance(args[0], torch.Tensor) else None
        self_mark = mark_of(self_t)
        if self_mark == SIM:
            getter = _getter(func, self_t)
            if getter is not _NOTHING:
                return getter
            if name in ("numpy", "__array__"):
                raise TypeError(NUMPY)
            if name == "get_device":
                return SIM_DEVICE.index
        if name in ("cpu",) and self_t is not None:
            out = func(*args, **kwargs)
            if out is self_t:
                out = self_t.clone()
            mark(out, CPU)
            return out
        if name in ("cuda",) and self_t is not None:
            out = self_t.clone() if self_mark != SIM else self_t
            mark(out, SIM)
            return out
        target = None
        if name == "to" and self_t is not None:
            target, args, kwargs = _to_target(args, kwargs)
            if target is not None and target != self_mark:  # a move between devices: a new tensor
                out = func(*args, **kwargs)
                if out is self_t:
                    out = self_t.clone()
                mark(out, target)
                return out
        elif "device" in kwargs:
            target = _device_kind(kwargs["device"])
            if target == SIM:
                kwargs["device"] = "cpu"
        flat, _ = tree_flatten((args, kwargs))
        tensors = [t for t in flat if isinstance(t, torch.Tensor)]
        marks = [mark_of(t) for t in tensors]
        if SIM in marks and name not in _MIXING_ALLOWED:
            if any(m == CPU and t.dim() > 0 for t, m in zip(tensors, marks)):
                self.mixed.append(name)
                raise RuntimeError(SAME_DEVICE.format(name=name or "a torch call"))
        out = func(*args, **kwargs)
        if name in ("__get__", "__set__") and target is None:
            if self_mark is not None and name == "__get__" and isinstance(out, torch.Tensor) and mark_of(out) is None:
                mark(out, self_mark)  # .grad and .data of a tensor live where it lives
            return out
        how = target
        if how is None:
            if SIM in marks:
                how = SIM
            elif CPU in marks or not tensors:
                how = CPU  # made on the CPU: a factory without device=, or from CPU tensors only
        if name in _MIXING_ALLOWED - {"to", "new_tensor"}:
            return out
        for o in tree_flatten(out)[0]:
            if isinstance(o, torch.Tensor) and not (o is self_t and self_mark is not None):
                mark(o, how)
        return out


_NOTHING = object()


def _getter(func, t):
    """What a property of a marked tensor reports on a GPU (its device), or _NOTHING."""
    owner = getattr(func, "__self__", None)
    if getattr(func, "__name__", "") != "__get__" or owner is None:
        return _NOTHING
    prop = getattr(owner, "__name__", "")
    if prop == "device":
        return SIM_DEVICE
    if prop == "is_cuda":
        return True
    if prop == "is_cpu":
        return False
    return _NOTHING


def device_of(t: torch.Tensor, simulated: bool) -> str:
    """The device a tensor reports to the grader: its mark in a simulated call."""
    if not simulated:
        return str(t.device)
    how = mark_of(t)
    return "cuda:0 (simulated)" if how == SIM else "cpu" if how == CPU else "unknown"
