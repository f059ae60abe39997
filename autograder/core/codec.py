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


def _own_array(raw, name: str, shape) -> np.ndarray:
    """An array over raw's memory when it is writable and aligned (a block received for this one
    message: no copy), else over a copy. (numpy spells bfloat16 as the bits of int16.)"""
    arr = np.frombuffer(raw, dtype=np.dtype("int16" if name == "bfloat16" else name))
    if not (arr.flags.writeable and arr.flags.aligned):
        arr = arr.copy()
    return arr.reshape(shape)


def tensor_from_bytes(raw, name: str, shape) -> torch.Tensor:
    """A CPU tensor rebuilt from ``tensor_bytes`` (a writable received block is used in place)."""
    dtype = torch_dtype(name)
    if not len(raw):
        return torch.empty(0, dtype=dtype).reshape(shape)
    x = torch.from_numpy(_own_array(raw, name, shape))
    return x.view(torch.bfloat16) if dtype == torch.bfloat16 else x


def array_bytes(a: np.ndarray) -> bytes:
    """The contents of an array, as C-ordered bytes of its dtype."""
    return np.ascontiguousarray(a).tobytes()


def array_from_bytes(raw, name: str, shape) -> np.ndarray:
    """An array rebuilt from ``array_bytes`` (a writable received block is used in place)."""
    if name not in DTYPES or name == "bfloat16":
        raise ValueError(f"dtype {name!r} may not cross the wire")
    return _own_array(raw, name, shape)
