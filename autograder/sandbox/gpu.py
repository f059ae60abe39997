"""Whether a GPU may be visible here, decided without importing torch or initialising CUDA."""

from __future__ import annotations

import os
from pathlib import Path

#: The device nodes through which torch reaches a GPU: NVIDIA's, AMD's (ROCm), WSL2's.
GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def _torch_build_has_gpu() -> bool:
    """Whether the installed torch was built for CUDA, ROCm or XPU, read from ``torch/version.py``
    as text: importing torch here would delay the pool's start by its whole import."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False
    try:
        text = (Path(list(spec.submodule_search_locations)[0]) / "version.py").read_text()
    except OSError:
        return True  # cannot tell: assume the careful case (a warm-up that never forks after device work)
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if name.split(":")[0].strip() in ("cuda", "hip", "rocm", "xpu") and value.strip() not in ("None", ""):
            return True
    return False


def accelerator_visible() -> bool:
    """Whether torch may see a GPU here, decided without initialising CUDA (a process that has
    initialised it, or run a backward pass while a GPU is visible, can no longer fork children that
    use torch): a torch built for a GPU, and a GPU's device node. ``KIT_ASSUME_GPU=1`` (or ``0``)
    decides instead: the tests use it to grade as on a machine with a GPU."""
    forced = os.environ.get("KIT_ASSUME_GPU", "")
    if forced in ("0", "1"):
        return forced == "1"
    return any(os.path.exists(p) for p in GPU_DEVICE_NODES) and _torch_build_has_gpu()
