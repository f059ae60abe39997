"""What the submission proxy hands to the checks: the values rebuilt from the child's replies
(``TensorValue``, ``ArrayValue``, ``NpScalar``, ``ObjectValue``, ``CallResult``), what the checks ask
the child to build (``Make``, ``Leaf``), and the failures a call can end in (``StudentError``,
``StudentTimeout``, ``StudentCrash``, ``LevelUnavailable``, ``GraderError``).

``proxy.Submission`` makes and raises them; ``autograder.sandbox.proxy`` re-exports every name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


# ----------------------------------------------------------------------------- errors
class StudentError(Exception):
    """Student code raised (or a name it must define is missing)."""

    def __init__(self, info: dict, what: str):
        self.info = info
        self.type = info.get("type", "Exception")
        self.raw_message = info.get("message", "")
        self.frames = info.get("frames", [])
        self.what = what
        self.observations: dict = {}  # what the code did before it failed (spies.Observations)
        super().__init__(self.describe())

    @property
    def not_implemented(self) -> bool:
        return self.type == "NotImplementedError"

    @property
    def missing(self) -> bool:
        return self.info.get("kind") == "missing"

    def where(self) -> str:
        if not self.frames:
            return ""
        f = self.frames[-1]
        code = f" `{f['code']}`" if f.get("code") else ""
        return f" (line {f['line']}, in {f['function']}{code})"

    def describe(self) -> str:
        if self.not_implemented:
            msg = self.raw_message or self.what
            return f"not implemented yet: {msg}"
        if self.missing:
            return self.raw_message
        hint = ""
        if "the grader simulates a GPU" in self.raw_message:
            hint = (
                " — with the inputs on a GPU this code fails: the grader ran it with inputs on a simulated GPU "
                "(real values that report device cuda:0), to see where new tensors go. Create tensors with "
                "device=x.device, or from the inputs (torch.zeros_like(x), x.new_zeros(...)), and use .numpy() "
                "only after .cpu() (printing values with .item() is fine)"
            )
        if "not compiled with CUDA" in self.raw_message or "no NVIDIA driver" in self.raw_message:
            hint = (
                " — the code asks for 'cuda' by name: use the inputs' device (x.device), so it runs wherever "
                "the data is"
            )
        if "[Errno 27]" in self.raw_message:
            hint = " — the code wrote more than the output limit allows (prints or files); print less"
        return f"{self.what} raised {self.type}: {self.raw_message}{self.where()}{hint}"


class StudentTimeout(Exception):
    pass


class StudentCrash(Exception):
    pass


class LevelUnavailable(Exception):
    """The level's module could not be loaded at all: every check of the level scores 0 with this."""


class GraderError(Exception):
    """The grader itself failed: reported as an error, never as a score."""


# ----------------------------------------------------------------------------- values
@dataclass
class Remote:
    handle: int
    generation: int


@dataclass
class TensorValue:
    data: torch.Tensor | None  # a fresh CPU tensor rebuilt from bytes (None on the meta device)
    dtype: str
    shape: tuple
    device: str
    requires_grad: bool
    is_leaf: bool
    grad_fn: str | None
    parameter: bool
    remote: Remote
    grad: TensorValue | None = None

    def __repr__(self):
        return f"tensor(shape={list(self.shape)}, dtype={self.dtype}, device={self.device})"


@dataclass
class ArrayValue:
    data: np.ndarray
    remote: Remote

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype.name


@dataclass
class NpScalar:
    dtype: str
    value: Any


@dataclass
class ObjectValue:
    type_name: str
    remote: Remote

    def __repr__(self):
        return f"<{self.type_name}>"


@dataclass
class Make:
    """A standard torch object the child builds for the grader (a model, a loss, an optimizer)."""

    kind: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass
class Leaf:
    """A tensor the child should hold as a leaf that requires grad, optionally with a .grad already set."""

    value: torch.Tensor
    grad: torch.Tensor | None = None
    requires_grad: bool = True


@dataclass
class CallResult:
    value: Any
    args_after: list
    observations: dict
    python_next: float | None = None
