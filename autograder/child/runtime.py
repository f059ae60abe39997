"""The ``Runtime``: holds a student's module and answers the grader's requests about it (call this
function with these values, read this attribute, describe this object), encoding every value as
plain data for the wire. It runs in a sandboxed child (``entry.py``), or in-process
(``sandbox.InProcessChannel``) for the self-check in a student's own notebook kernel, where
convenience matters more than isolation."""

from __future__ import annotations

import contextlib
import os
import random
import sys
import traceback
import types

# The runtime's own references to the builtins it uses: student code that rebinds them in the
# builtins module (isinstance, type, len, ...) changes its own behaviour, not the runtime's.
from builtins import (  # noqa: UP029
    BaseException,
    Exception,
    bool,
    callable,
    dict,
    float,
    getattr,
    int,
    isinstance,
    len,
    list,
    str,
    tuple,
    type,
)

import numpy as np

try:
    import torch
except ImportError:  # the numpy-only child: torch cannot be reached there (entry.py)
    torch = None

from .shared import codec
from .spies import _SPIES, AutogradWatch, Observations, install_spies

#: The torch random state each call of student code starts from (op_call).
CALL_TORCH_SEED = 0

if torch is not None:  # (models.py needs torch: not in the numpy-only child)
    from .models import build_model
    from .simdevice import SIM, SimulatedDevice, device_of, mark, mark_module

MAX_ITEMS = 100_000  # longest list a child may return
MAX_DEPTH = 6


class Runtime:
    def __init__(self):
        self.objects: dict[int, object] = {}
        self.module: types.ModuleType | None = None
        self.module_name = ""
        self.filename = ""
        self.student_running = False
        self.obs = Observations()
        self.simulated = False  # encoding the reply of a call on the simulated device (simdevice.py)
        if torch is not None:
            torch.backends.cuda.matmul.allow_tf32 = False  # tolerances assume true float32 matmuls on GPUs too
            torch.backends.cudnn.allow_tf32 = False
        _SPIES["runtime"] = self
        if not _SPIES["installed"]:
            install_spies()
            _SPIES["installed"] = True

    def _params_changed(self):
        snap = self.obs._snapshot
        return any(not torch.equal(p.detach(), s) for p, s in zip(self.obs.watch, snap))

    # --------------------------------------------------------------- encoding
    def _keep(self, obj) -> int:
        h = len(self.objects) + 1
        while h in self.objects:
            h += 1
        self.objects[h] = obj
        return h

    def encode(self, v, buffers: list, depth=0, with_grad=True):
        if v is None:
            return None
        t = type(v)
        if t is bool:
            return {"t": "bool", "v": v}
        if t is int:
            return {"t": "int", "v": v if abs(v) < 2**53 else float(v)}
        if t is float:
            return {"t": "float", "v": v}
        if t is str:
            return {"t": "str", "v": v[:2000]}
        if isinstance(v, np.generic) and t.__module__ == "numpy":
            return {"t": "npscalar", "dtype": str(v.dtype), "v": v.item() if v.dtype.kind in "fiub" else str(v)}
        if t is np.ndarray:
            if v.dtype.name not in codec.DTYPES:
                return {"t": "object", "h": self._keep(v), "type": f"numpy.ndarray[{v.dtype}]"}
            buffers.append(codec.array_bytes(v))
            return {
                "t": "ndarray",
                "h": self._keep(v),
                "dtype": v.dtype.name,
                "shape": list(v.shape),
                "b": len(buffers) - 1,
            }
        if torch is not None and (t is torch.Tensor or t is torch.nn.Parameter):
            return self._encode_tensor(v, buffers, with_grad)
        if t in (list, tuple) and depth < MAX_DEPTH:
            if len(v) > MAX_ITEMS:
                return {"t": "object", "h": self._keep(v), "type": f"{t.__name__} of {len(v)} items (too long)"}
            return {"t": t.__name__, "items": [self.encode(x, buffers, depth + 1) for x in v]}
        return {"t": "object", "h": self._keep(v), "type": f"{t.__module__}.{t.__qualname__}"}

    def _encode_tensor(self, v, buffers, with_grad=True):
        dtype = codec.dtype_name(v.dtype)
        out = {
            "t": "tensor",
            "h": self._keep(v),
            "dtype": dtype,
            "shape": list(v.shape),
            "device": device_of(v, self.simulated),
            "requires_grad": bool(v.requires_grad),
            "is_leaf": bool(v.is_leaf),
            "grad_fn": type(v.grad_fn).__name__ if v.grad_fn is not None else None,
            "parameter": type(v) is torch.nn.Parameter,
            "b": None,
        }
        if v.device.type != "meta" and dtype in codec.DTYPES:
            buffers.append(codec.tensor_bytes(v))
            out["b"] = len(buffers) - 1
        if with_grad and v.is_leaf and v.grad is not None:
            out["grad"] = self.encode(v.grad, buffers, with_grad=False)
        return out

    def decode(self, d, buffers):
        if d is None:
            return None
        t = d["t"]
        if t in ("bool", "int", "float", "str"):
            return d["v"]
        if t == "list":
            return [self.decode(x, buffers) for x in d["items"]]
        if t == "tuple":
            return tuple(self.decode(x, buffers) for x in d["items"])
        if t == "ref":
            return self.objects[d["h"]]
        if t == "ndarray":
            return codec.array_from_bytes(buffers[d["b"]], d["dtype"], d["shape"])
        if t == "leaf":
            x = self.decode(d["value"], buffers)
            x.requires_grad_(bool(d.get("requires_grad", True)))
            if d.get("grad") is not None:
                x.grad = self.decode(d["grad"], buffers)
            return x
        if t == "tensor":
            device = d.get("device", "cpu")
            if d.get("b") is None:
                x = torch.empty(d["shape"], dtype=codec.torch_dtype(d["dtype"]), device=device)
            else:
                x = codec.tensor_from_bytes(buffers[d["b"]], d["dtype"], d["shape"]).to(device)
            if d.get("requires_grad"):
                x.requires_grad_(True)
            return x
        if t == "make":
            return self.make(
                d["kind"],
                [self.decode(a, buffers) for a in d.get("args", [])],
                {k: self.decode(v, buffers) for k, v in d.get("kwargs", {}).items()},
            )
        raise ValueError(f"unknown value type {t!r}")

    # --------------------------------------------------- standard objects
    def make(self, kind, args, kwargs):
        """Build the standard torch objects the grader hands to student code (never student code)."""
        nn = torch.nn
        if "dtype" in kwargs:
            kwargs["dtype"] = getattr(torch, kwargs["dtype"])
        if kind == "model":  # a level's network, from its record's spec (curriculum.Model.spec)
            return build_model(*args).to(**kwargs)
        if kind == "sse_nobias":  # the level-3 loss graph, built without student code
            x, w1, w2, y = args
            return ((x.mm(w1).clamp(min=0).mm(w2) - y) ** 2).sum()
        if kind == "weighted_sum":  # one scalar from several outputs: sum_i (t_i * g_i).sum()
            return sum((t * g).sum() for t, g in zip(args[::2], args[1::2]))
        if kind == "mse_sum":
            return nn.MSELoss(reduction="sum")
        if kind == "sgd":
            return torch.optim.SGD(args[0].parameters(), **kwargs)
        if kind == "adam":
            return torch.optim.Adam(args[0].parameters(), **kwargs)
        raise ValueError(f"unknown object kind {kind!r}")

    # ------------------------------------------------------------- requests
    def handle(self, req: dict, buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        op = req.get("op")
        out: list[bytes] = []
        try:
            fn = getattr(self, "op_" + str(op))
        except AttributeError:
            return {"error": {"kind": "protocol", "type": "ValueError", "message": f"unknown op {op!r}"}}, out
        try:
            return fn(req, buffers, out), out
        except _StudentFailure as exc:  # what the code did before it failed comes back too
            return {"error": exc.info, "observations": self.obs.as_json()}, []
        except Exception as exc:  # noqa: BLE001 - a bad request from the grader, or a value it asked for is unusable
            return {"error": {"kind": "runtime", "type": type(exc).__name__, "message": _safe_str(exc)}}, []

    def _run_student(self, fn, *args, _modes=(), **kwargs):
        self.student_running = True
        try:
            with contextlib.ExitStack() as stack:
                if torch is not None:  # the default state, also when called in-process from a no_grad region
                    stack.enter_context(torch.enable_grad())
                for mode in _modes:
                    stack.enter_context(mode)
                return fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are student faults too
            raise _StudentFailure(self._describe_exception(exc)) from None
        finally:
            self.student_running = False

    def _describe_exception(self, exc):
        frames = []
        tb = exc.__traceback__
        for fs in traceback.extract_tb(tb):
            if fs.filename == self.filename:
                frames.append({"line": fs.lineno, "function": fs.name, "code": (fs.line or "")[:200]})
        info = {"kind": "student", "type": type(exc).__name__, "message": _safe_str(exc)[:2000], "frames": frames[-5:]}
        if isinstance(exc, SyntaxError):
            info["frames"] = [{"line": exc.lineno, "function": "<module>", "code": (exc.text or "").strip()[:200]}]
        return info

    def op_ping(self, req, buffers, out):
        return {"ok": True, "pid": os.getpid()}

    def op_load(self, req, buffers, out):
        name, filename, source = req["module"], req["filename"], req["source"]
        module = types.ModuleType(name)
        module.__file__ = filename
        self.module_name, self.filename = name, filename
        sys.modules[name] = module
        self.obs.reset()
        code = self._run_student(compile, source, filename, "exec", dont_inherit=True)
        self._run_student(exec, code, module.__dict__)
        self.module = module
        return {"ok": True, "names": self._names(), "observations": self.obs.as_json()}

    def adopt(self, name, namespace):
        """In-process use: the 'module' is a live namespace (a notebook kernel's globals)."""
        module = types.ModuleType(name)
        module.__dict__.update(namespace)
        self.module, self.module_name = module, name
        self.filename = "<notebook>"

    def _names(self):
        names = {}
        for k, v in vars(self.module).items():
            if k.startswith("__"):
                continue
            names[k] = "class" if isinstance(v, type) else "function" if callable(v) else "value"
        return names

    def _target(self, spec):
        if "ref" in spec:
            obj = self.objects[spec["ref"]]
            for part in filter(None, (spec.get("attr") or "").split(".")):
                obj = getattr(obj, part)
            return obj
        if self.module is None:
            raise _StudentFailure(
                {"kind": "student", "type": "RuntimeError", "message": "the module is not loaded", "frames": []}
            )
        obj = self.module
        for part in spec["name"].split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise _StudentFailure(
                    {
                        "kind": "missing",
                        "type": "AttributeError",
                        "message": f"{spec['name']} is not defined",
                        "frames": [],
                    }
                ) from None
        return obj

    def op_call(self, req, buffers, out):
        fn = self._target(req["target"])
        args = [self.decode(a, buffers) for a in req.get("args", [])]
        kwargs = {k: self.decode(v, buffers) for k, v in req.get("kwargs", {}).items()}
        if req.get("reset_observations", True):
            self.obs.reset()
        if req.get("watch") is not None:
            self.obs.watch = [p for p in self.objects[req["watch"]].parameters()]
            self.obs._snapshot = [p.detach().clone() for p in self.obs.watch]
        if req.get("python_seed") is not None:
            random.seed(req["python_seed"])
        if torch is not None:
            # Every call starts from the same torch random state: a student's own draws (a Linear
            # made inside forward, an unused layer left at its random init) give the same values on
            # every run, so the same submission and seed give the same report, messages included
            # (which child served the call, and what it ran before, no longer shows).
            torch.manual_seed(CALL_TORCH_SEED)
        if not callable(fn):
            raise _StudentFailure(
                {
                    "kind": "student",
                    "type": "TypeError",
                    "message": f"{req['target'].get('name', 'the target')} is not callable",
                    "frames": [],
                }
            )
        modes = []
        if req.get("sim_device"):  # the inputs, and the models among them, on the simulated GPU
            for a in [fn, *args, *kwargs.values()]:
                _mark_simulated(a)
            modes.append(SimulatedDevice())
        if req.get("watch_autograd"):
            modes.append(AutogradWatch(self.obs))
        value = self._run_student(fn, *args, _modes=modes, **kwargs)
        if self.obs.watch is not None and self.obs._snapshot is not None and self.obs.steps and self._params_changed():
            self.obs.changed_outside_step += 1
        self.simulated = bool(req.get("sim_device"))
        try:
            reply = {"value": self.encode(value, out), "observations": self.obs.as_json()}
            if req.get("return_args"):
                reply["args_after"] = [self.encode(a, out) for a in args]
        finally:
            self.simulated = False
        if req.get("python_seed") is not None:
            reply["python_next"] = random.random()
        self.obs.watch = None
        return reply

    def op_put(self, req, buffers, out):
        value = self.decode(req["value"], buffers)
        return {"value": self.encode(value, out)}

    def op_get(self, req, buffers, out):
        obj = self._target(req["target"])
        return {"value": self.encode(obj, out)}

    def op_params(self, req, buffers, out):
        module = self.objects[req["ref"]]
        return {"value": [[n, self.encode(p, out)] for n, p in module.named_parameters()]}

    def op_set_params(self, req, buffers, out):
        module = self.objects[req["ref"]]
        params = dict(module.named_parameters())
        unknown = sorted(set(req.get("values", {})) - set(params))
        if unknown:
            have = ", ".join(params) or "none"
            raise _StudentFailure(
                {
                    "kind": "missing",
                    "type": "AttributeError",
                    "frames": [],
                    "message": f"the model has no parameter {unknown[0]} (its parameters: {have}); "
                    "levels 5-8 use nn.Linear layers, with their bias, named as the "
                    "contract says",
                }
            )
        with torch.no_grad():
            for name, enc in req.get("values", {}).items():
                params[name].copy_(self.decode(enc, buffers))
        for name, enc in req.get("grads", {}).items():
            g = self.decode(enc, buffers)
            params[name].grad = None if g is None else g.to(params[name].device)
        return {"ok": True}

    def op_set_grad(self, req, buffers, out):
        t = self.objects[req["ref"]]
        t.grad = self.decode(req.get("grad"), buffers)
        return {"ok": True}

    def op_describe(self, req, buffers, out):
        obj = self.objects[req["ref"]]
        return {"value": describe(obj)}

    def op_graph(self, req, buffers, out):
        t = self.objects[req["ref"]]
        names, seen, todo = [], set(), [t.grad_fn] if isinstance(t, torch.Tensor) and t.grad_fn is not None else []
        while todo and len(names) < 10_000:
            node = todo.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            names.append(type(node).__name__)
            todo.extend(n for n, _ in getattr(node, "next_functions", ()))
        return {"value": names}

    def op_backward(self, req, buffers, out):
        """Backpropagate from a tensor the grader holds a handle to (not a student call)."""
        t = self.objects[req["ref"]]
        grad = self.decode(req.get("grad"), buffers)
        self.student_running = True  # student backward code runs inside (a custom Function)
        try:
            with torch.enable_grad():
                t.backward(grad)
        except BaseException as exc:  # noqa: BLE001
            raise _StudentFailure(self._describe_exception(exc)) from None
        finally:
            self.student_running = False
        return {"ok": True}

    def op_release(self, req, buffers, out):
        self.objects.clear()
        return {"ok": True}


def _mark_simulated(v, depth=0) -> None:
    """Put a value the grader passes to a simulated call on the simulated GPU (tensors, models)."""
    if depth > 4:
        return
    if isinstance(v, torch.Tensor):
        mark(v, SIM)
        mark(v.grad, SIM)
    elif isinstance(v, torch.nn.Module):
        mark_module(v)
    elif isinstance(v, (list, tuple)):
        for x in v:
            _mark_simulated(x, depth + 1)
    elif isinstance(getattr(v, "__self__", None), torch.nn.Module):  # a bound method of a model
        mark_module(v.__self__)


class _StudentFailure(Exception):
    def __init__(self, info):
        super().__init__(info.get("message", ""))
        self.info = info


def _safe_str(exc) -> str:
    try:
        return str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        return f"<{type(exc).__name__} whose message cannot be printed>"


def describe(obj) -> dict:
    """A plain description of a module or optimizer: its class, children, sizes and settings."""
    t = type(obj)
    d = {"type": t.__name__, "module": t.__module__, "mro": [c.__name__ for c in t.__mro__][:12]}
    if torch is None:
        return d
    if isinstance(obj, torch.nn.Module):
        children = []
        for name, child in obj.named_children():
            c = {"name": name, "type": type(child).__name__, "module": type(child).__module__}
            if isinstance(child, torch.nn.Linear):
                c.update(in_features=child.in_features, out_features=child.out_features, bias=child.bias is not None)
            children.append(c)
        d["children"] = children
        d["parameters"] = [[n, list(p.shape)] for n, p in obj.named_parameters()]
        d["n_modules"] = sum(1 for _ in obj.modules())
        d["linear_modules"] = [n for n, m in obj.named_modules() if isinstance(m, torch.nn.Linear)]
        if isinstance(obj, torch.nn.MSELoss):
            d["reduction"] = obj.reduction
    if isinstance(obj, torch.optim.Optimizer):
        groups = []
        for g in obj.param_groups:
            groups.append(
                {
                    "n_params": len(g["params"]),
                    "param_ids": [id(p) for p in g["params"]],
                    **{k: v for k, v in g.items() if k != "params" and _plain_setting(v)},
                }
            )
        d["param_groups"] = groups
    if isinstance(obj, torch.nn.Module):
        d["param_ids"] = [id(p) for p in obj.parameters()]
    return d


def _plain_setting(v) -> bool:
    """A setting the wire carries as it is: a number, a flag, None, or a short tuple of numbers (betas)."""
    if isinstance(v, (tuple, list)):
        return len(v) <= 8 and all(isinstance(x, (int, float, bool)) for x in v)
    return isinstance(v, (int, float, bool, type(None)))
