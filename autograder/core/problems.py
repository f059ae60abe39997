"""Hidden inputs, derived from the run's seed: sizes, data, initial weights, learning rates.

Everything a check feeds to student code comes from here, so grading the same submission with
the same seed is reproducible bit for bit, and a different seed gives different sizes and values.
Sizes are never all equal (so a transposed matrix cannot hide) and differ from the seed
document's, except for the convergence runs, which use the seed's own problem and schedule.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from .curriculum import SEED_SIZES


@dataclass(frozen=True)
class Sizes:
    N: int
    D_in: int
    H: int
    D_out: int

    def __str__(self):
        return f"N={self.N}, D_in={self.D_in}, H={self.H}, D_out={self.D_out}"


def _key(*parts) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


def generator(seed: int, *purpose) -> torch.Generator:
    return torch.Generator().manual_seed(_key(seed, *purpose) % (2**63))


def python_seed(seed: int, *purpose) -> int:
    return _key("python", seed, *purpose) % (2**31)


def unit_sizes(seed: int, level: int, purpose: str = "unit") -> Sizes:
    """Small, all-different sizes for unit checks and lockstep runs."""
    rng = np.random.default_rng(_key(seed, level, purpose))
    while True:
        n, d_in, h, d_out = (int(rng.integers(lo, hi)) for lo, hi in ((5, 17), (6, 21), (7, 25), (2, 7)))
        if len({n, d_in, h, d_out}) == 4:
            return Sizes(n, d_in, h, d_out)


SEED_PROBLEM = Sizes(**SEED_SIZES)


def randn(gen: torch.Generator, *shape, dtype=torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)


def with_negatives(gen: torch.Generator, *shape, dtype=torch.float64) -> torch.Tensor:
    """Values well away from 0 on both sides, so ReLU is exercised and no input sits on the kink."""
    x = randn(gen, *shape)
    return (x + torch.sign(x) * 0.1).to(dtype)


def nobias_weights(gen: torch.Generator, s: Sizes, dtype=torch.float64, scale: float = 1.0):
    return randn(gen, s.D_in, s.H, dtype=dtype) * scale, randn(gen, s.H, s.D_out, dtype=dtype) * scale


def linear_init(gen: torch.Generator, fan_in: int, fan_out: int, dtype=torch.float64):
    """nn.Linear's default initialisation (uniform in ±1/sqrt(fan_in)), drawn from our generator."""
    bound = 1.0 / fan_in**0.5
    w = (torch.rand(fan_out, fan_in, generator=gen, dtype=torch.float64) * 2 - 1) * bound
    b = (torch.rand(fan_out, generator=gen, dtype=torch.float64) * 2 - 1) * bound
    return w.to(dtype), b.to(dtype)
