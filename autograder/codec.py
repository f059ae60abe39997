"""Values to bytes and back, the same on both sides of the wire: which dtypes may cross, and how a
tensor's or an array's contents become a buffer (``wire.py`` frames the buffers).

Like ``wire.py``, the child loads this file by path (it never imports the ``autograder`` package),
so it depends on numpy and torch only.
"""
from __future__ import annotations

import numpy as np

try:
    import torch
except ImportError:  # the numpy-only child (child/entry.py): arrays only
    torch = None  # type: ignore[assignment]

#: dtypes that may cross the wire, by name; both numpy and torch understand these names (numpy has
#: no bfloat16: such a tensor travels as the bit pattern of int16).
DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return str(dtype).replace("torch.", "")


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of a name in DTYPES (ValueError for any other name)."""
    if name not in DTYPES:
        raise ValueError(f"dtype {name!r} may not cross the wire")
    return getattr(torch, name)


def tensor_bytes(t: torch.Tensor) -> bytes:
    """The contents of a tensor (any device but meta), as C-ordered bytes of its dtype."""
    data = t.detach().to("cpu").contiguous()
    if data.dtype == torch.bfloat16:
        data = data.view(torch.int16)
    return data.numpy().tobytes()


def tensor_from_bytes(raw: bytes, name: str, shape) -> torch.Tensor:
    """A CPU tensor of its own memory, rebuilt from ``tensor_bytes``."""
    dtype = torch_dtype(name)
    buf = bytearray(raw)
    if not buf:
        x = torch.empty(0, dtype=dtype)
    elif dtype == torch.bfloat16:
        x = torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16)
    else:
        x = torch.frombuffer(buf, dtype=dtype)
    return x.reshape(shape).clone()


def array_bytes(a: np.ndarray) -> bytes:
    """The contents of an array, as C-ordered bytes of its dtype."""
    return np.ascontiguousarray(a).tobytes()


def array_from_bytes(raw: bytes, name: str, shape) -> np.ndarray:
    """An array of its own memory, rebuilt from ``array_bytes``."""
    if name not in DTYPES:
        raise ValueError(f"dtype {name!r} may not cross the wire")
    return np.frombuffer(raw, dtype=np.dtype(name)).reshape(shape).copy()
