"""Run the sandbox's children as torch behaves on other machines, to test the grader for them here.

    python -I tests/torch_sim.py MODES entry.py ARGS...   (a child: sandbox.environment.CHILD_PRELUDE)
    python tests/torch_sim.py MODES -m autograder ARGS... (the grader, whose children get MODES)

MODES is a comma-separated list of:

- ``gpu``: torch where an NVIDIA GPU is visible. There, a backward pass starts autograd's
  per-device threads and an optimizer step asks CUDA whether a graph is being captured; a process
  forked after either cannot run a backward pass (torch raises the error below, as it does). The
  simulation keeps that rule, with torch's own message, on a machine without a GPU.
- ``getuser``: torch 2.11, whose torch._dynamo asks ``getpass.getuser()`` for its cache directory
  when it is first imported (a uid with no passwd entry and no USER in the environment: KeyError).

Standard library and torch only: the child runs it under ``python -I``.
"""

from __future__ import annotations

import os
import runpy
import sys

#: torch's own message (torch/csrc/autograd/engine.cpp) for a backward pass after a bad fork.
BAD_FORK = (
    "Unable to handle autograd's threading in combination with fork-based multiprocessing. "
    "See https://github.com/pytorch/pytorch/wiki/Autograd-and-Fork"
)

_state = {"device_work": False, "bad_fork": False}


def _after_fork_in_child() -> None:
    if _state["device_work"]:
        _state["bad_fork"] = True


def simulate_gpu() -> None:
    """Device work (a backward pass, an optimizer step) marks the process; its forked children
    cannot run a backward pass."""
    import torch

    os.register_at_fork(after_in_child=_after_fork_in_child)

    def guarded(original):
        def run(*args, **kwargs):
            if _state["bad_fork"]:
                raise RuntimeError(BAD_FORK)
            _state["device_work"] = True
            return original(*args, **kwargs)

        return run

    torch.autograd.backward = guarded(torch.autograd.backward)
    torch.autograd.grad = guarded(torch.autograd.grad)
    check = torch.optim.Optimizer._cuda_graph_capture_health_check

    def health_check(self):
        _state["device_work"] = True  # (on a GPU: torch.cuda.is_current_stream_capturing(), CUDA's runtime)
        return check(self)

    torch.optim.Optimizer._cuda_graph_capture_health_check = health_check


class _GetuserOnDynamo:
    """A meta-path finder that calls getpass.getuser() when torch._dynamo is first imported."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "torch._dynamo":
            import getpass

            getpass.getuser()  # KeyError: 'getpwuid(): uid not found: ...' where the uid has no name
        return None


def simulate_getuser() -> None:
    sys.meta_path.insert(0, _GetuserOnDynamo)


def apply(modes: list[str], numpy_only: bool = False) -> None:
    if numpy_only:  # the numpy-only child never imports torch
        return
    if "gpu" in modes:
        simulate_gpu()
    if "getuser" in modes:
        simulate_getuser()


def main() -> None:
    modes, args = sys.argv[1].split(","), sys.argv[2:]
    if args[:1] == ["-m"]:  # the grader: its children start through this file, with the same modes
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # (the checkout)
        from autograder import sandbox

        sandbox.environment.CHILD_PRELUDE[:] = [os.path.abspath(__file__), ",".join(modes)]
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        return
    apply(modes, numpy_only="--numpy-only" in args)
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()
