"""What student code does while it runs, watched from inside the child: its imports, autograd
calls, optimizers built and stepped (``Observations``). The spies are installed once per process
and report to whichever ``Runtime`` is in charge."""

from __future__ import annotations

import builtins
import importlib

try:
    import torch
    from torch.overrides import TorchFunctionMode
except ImportError:  # the numpy-only child (entry.py)
    torch = None
    TorchFunctionMode = object


class Observations:
    """What student code did while it ran: imports, autograd calls, optimizers built and stepped.

    Discipline checks read these. They are reports from the untrusted side, so a submission that
    tampers with them can only hide its own discipline, never raise another check's score.
    """

    def __init__(self):
        self.reset()

    def reset(self):
        self.imports: list[str] = []
        self.autograd_calls: list[str] = []
        self.optimizers: list[dict] = []
        self.steps = 0
        self.graphs: list[str] = []  # torch calls that produced a tensor in an autograd graph (AutogradWatch)
        self.changed_outside_step = 0
        self.watch: list | None = None
        self._snapshot = None

    def as_json(self):
        return {
            "imports": sorted(set(self.imports)),
            "autograd_calls": self.autograd_calls[:50],
            "optimizers": self.optimizers[:50],
            "steps": self.steps,
            "autograd_graphs": self.graphs[:20],
            "changed_outside_step": self.changed_outside_step,
        }


_SPIES = {"installed": False, "runtime": None}


class _Active:
    """Forwards to the runtime in charge, so the spies, installed once per process, serve each runtime."""

    def __getattr__(self, name):
        return getattr(_SPIES["runtime"], name)


class AutogradWatch(TorchFunctionMode):
    """Sees every torch call of a student call and notes those whose result takes part in autograd
    (requires grad, or has a grad_fn): however autograd was reached, a graph is what it builds."""

    def __init__(self, obs: Observations):
        super().__init__()
        self.obs = obs

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if len(self.obs.graphs) < 20:
            for o in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(o, torch.Tensor) and (o.requires_grad or o.grad_fn is not None):
                    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", "a torch call")
                    self.obs.graphs.append(str(name))
                    break
        return out


class _CountingEngine:
    """The autograd engine, seen through a counter: every backward pass runs through
    ``run_backward``, whichever way it was reached (Tensor.backward, torch.autograd, getattr)."""

    def __init__(self, real, rt):
        self._real = real
        self._rt = rt

    def run_backward(self, *args, **kwargs):
        if self._rt.student_running:
            self._rt.obs.autograd_calls.append("the autograd engine")
        return self._real.run_backward(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._real, name)


def install_spies():
    """Watch what student code does (imports, autograd calls, optimizers): see Observations."""
    rt = _Active()
    real_import = builtins.__import__

    def spy_import(name, globals=None, locals=None, fromlist=(), level=0):
        if globals is not None and rt.module_name and globals.get("__name__") == rt.module_name and level == 0:
            rt.obs.imports.append(name)
            for item in fromlist or ():
                rt.obs.imports.append(f"{name}.{item}")
        return real_import(name, globals, locals, fromlist, level)

    builtins.__import__ = spy_import
    real_import_module = importlib.import_module

    def spy_import_module(name, package=None):
        if rt.student_running:
            rt.obs.imports.append(name)
        return real_import_module(name, package)

    importlib.import_module = spy_import_module
    if torch is not None:
        _install_torch_spies(rt)


def _install_torch_spies(rt):
    def wrap_autograd(owner, attr, label):
        real = getattr(owner, attr)

        def spy(*args, **kwargs):
            if rt.student_running:
                rt.obs.autograd_calls.append(label)
            return real(*args, **kwargs)

        spy.__name__ = getattr(real, "__name__", attr)
        spy.__doc__ = getattr(real, "__doc__", None)
        setattr(owner, attr, spy)

    wrap_autograd(torch.Tensor, "backward", "Tensor.backward")
    wrap_autograd(torch.Tensor, "requires_grad_", "Tensor.requires_grad_")
    wrap_autograd(torch.autograd, "backward", "torch.autograd.backward")
    wrap_autograd(torch.autograd, "grad", "torch.autograd.grad")
    from torch.autograd.variable import Variable

    Variable._execution_engine = _CountingEngine(Variable._execution_engine, rt)

    real_opt_init = torch.optim.Optimizer.__init__

    def spy_opt_init(self, params, defaults, *args, **kwargs):
        real_opt_init(self, params, defaults, *args, **kwargs)
        if rt.student_running:
            d = {
                k: v
                for k, v in (defaults or {}).items()
                if isinstance(v, (int, float, bool)) and not isinstance(v, bool)
            }
            rt.obs.optimizers.append({"type": type(self).__name__, "module": type(self).__module__, "defaults": d})

    torch.optim.Optimizer.__init__ = spy_opt_init

    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

    def pre_hook(opt, args, kwargs):
        if rt.student_running and rt.obs.watch is not None:
            if rt.obs._snapshot is not None and rt._params_changed():
                rt.obs.changed_outside_step += 1

    def post_hook(opt, args, kwargs):
        if rt.student_running:
            rt.obs.steps += 1
            if rt.obs.watch is not None:
                rt.obs._snapshot = [p.detach().clone() for p in rt.obs.watch]

    register_optimizer_step_pre_hook(pre_hook)
    register_optimizer_step_post_hook(post_hook)
