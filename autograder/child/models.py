"""The grader's own models, handed to a student's train(): built in the child from plain data
(a level record's ``Model.spec``), since the child never imports the package."""

from __future__ import annotations

import random

import torch


def build_model(kind: str, layers, max_depth: int = 0) -> torch.nn.Module:
    """``layers``: (name, fan_in, fan_out, repeated) in order, a ReLU after each but the last;
    ``kind``: "sequential" (an nn.Sequential, the layers at even indices) or "module" (the layers
    as attributes, a repeated one applied random.randint(0, max_depth) times per call)."""
    if kind == "sequential":
        parts: list = []
        for _, fan_in, fan_out, _ in layers:
            parts += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
        return torch.nn.Sequential(*parts[:-1])
    if kind == "module":
        return _GraderNet(layers, max_depth)
    raise ValueError(f"unknown model kind {kind!r}")


class _GraderNet(torch.nn.Module):
    """nn.Linear layers held as attributes (levels 7 and 8); one draw of
    random.randint(0, max_depth) per call when a layer repeats."""

    def __init__(self, layers, max_depth: int = 0):
        super().__init__()
        self._plan = [(str(name), bool(repeated)) for name, _, _, repeated in layers]
        self._max_depth = int(max_depth)
        for name, fan_in, fan_out, _ in layers:
            setattr(self, str(name), torch.nn.Linear(fan_in, fan_out))

    def forward(self, x):
        depth = random.randint(0, self._max_depth) if any(r for _, r in self._plan) else 1
        *hidden, (last, _) = self._plan
        for name, repeated in hidden:
            for _ in range(depth if repeated else 1):
                x = getattr(self, name)(x).clamp(min=0)
        return getattr(self, last)(x)
