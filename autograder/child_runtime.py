"""The untrusted side: the process that holds a student's module and runs it on request.

It is started as ``python -I child_runtime.py --zygote FD`` (or ``--child FD``, one cold child
per interpreter, where forking is unsafe) and never imports the ``autograder`` package, the
references, or ``solutions/``. The zygote imports torch and numpy once and forks a fresh child
per level; each child loads one student module and answers requests (call this
function with these values, read this attribute, describe this object) over a socket, in the
plain-data wire format of ``wire.py``. The trusted side holds every reference value and decides
every score: a child can lie, but it can only answer with data that is then checked.

The same ``Runtime`` also runs in-process (``InProcessChannel``) for the self-check in a
student's own notebook kernel, where convenience matters more than isolation.
"""
from __future__ import annotations

import builtins
import importlib
import importlib.util
import json
import os
import random
import signal
import socket
import sys
import traceback
import types

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load_wire():
    if __name__ != "__main__":  # imported by the grader itself (in-process self-check)
        from autograder import wire
        return wire
    else:  # the sandbox: load the one file by path, never the grader's package
        spec = importlib.util.spec_from_file_location("_kit_wire", os.path.join(_HERE, "wire.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod


wire = _load_wire()

import numpy as np  # noqa: E402
import torch  # noqa: E402

MAX_ITEMS = 100_000  # longest list a child may return
MAX_DEPTH = 6


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
        self.changed_outside_step = 0
        self.watch: list | None = None
        self._snapshot = None

    def as_json(self):
        return {
            "imports": sorted(set(self.imports)),
            "autograd_calls": self.autograd_calls[:50],
            "optimizers": self.optimizers[:50],
            "steps": self.steps,
            "changed_outside_step": self.changed_outside_step,
        }


_SPIES = {"installed": False, "runtime": None}


class _Active:
    """Forwards to the runtime in charge, so the spies, installed once per process, serve each runtime."""

    def __getattr__(self, name):
        return getattr(_SPIES["runtime"], name)


def _install_spies():
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

    real_opt_init = torch.optim.Optimizer.__init__

    def spy_opt_init(self, params, defaults, *args, **kwargs):
        real_opt_init(self, params, defaults, *args, **kwargs)
        if rt.student_running:
            d = {k: v for k, v in (defaults or {}).items() if isinstance(v, (int, float, bool)) and not isinstance(v, bool)}
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


class Runtime:
    def __init__(self):
        self.objects: dict[int, object] = {}
        self.module: types.ModuleType | None = None
        self.module_name = ""
        self.filename = ""
        self.student_running = False
        self.obs = Observations()
        torch.backends.cuda.matmul.allow_tf32 = False  # tolerances assume true float32 matmuls on GPUs too
        torch.backends.cudnn.allow_tf32 = False
        _SPIES["runtime"] = self
        if not _SPIES["installed"]:
            _install_spies()
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
            if v.dtype.name not in wire.DTYPES:
                return {"t": "object", "h": self._keep(v), "type": f"numpy.ndarray[{v.dtype}]"}
            buffers.append(np.ascontiguousarray(v).tobytes())
            return {"t": "ndarray", "h": self._keep(v), "dtype": v.dtype.name, "shape": list(v.shape), "b": len(buffers) - 1}
        if t is torch.Tensor or t is torch.nn.Parameter:
            return self._encode_tensor(v, buffers, with_grad)
        if t in (list, tuple) and depth < MAX_DEPTH:
            if len(v) > MAX_ITEMS:
                return {"t": "object", "h": self._keep(v), "type": f"{t.__name__} of {len(v)} items (too long)"}
            return {"t": t.__name__, "items": [self.encode(x, buffers, depth + 1) for x in v]}
        return {"t": "object", "h": self._keep(v), "type": f"{t.__module__}.{t.__qualname__}"}

    def _encode_tensor(self, v, buffers, with_grad=True):
        dtype = str(v.dtype).replace("torch.", "")
        out = {
            "t": "tensor", "h": self._keep(v), "dtype": dtype, "shape": list(v.shape),
            "device": str(v.device), "requires_grad": bool(v.requires_grad), "is_leaf": bool(v.is_leaf),
            "grad_fn": type(v.grad_fn).__name__ if v.grad_fn is not None else None,
            "parameter": type(v) is torch.nn.Parameter, "b": None,
        }
        if v.device.type != "meta" and dtype in wire.DTYPES:
            data = v.detach().to("cpu").contiguous()
            if dtype == "bfloat16":
                data = data.view(torch.int16)
            buffers.append(data.numpy().tobytes())
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
            return np.frombuffer(buffers[d["b"]], dtype=d["dtype"]).reshape(d["shape"]).copy()
        if t == "leaf":
            x = self.decode(d["value"], buffers)
            x.requires_grad_(bool(d.get("requires_grad", True)))
            if d.get("grad") is not None:
                x.grad = self.decode(d["grad"], buffers)
            return x
        if t == "tensor":
            dtype = getattr(torch, d["dtype"])
            device = d.get("device", "cpu")
            if d.get("b") is None:
                x = torch.empty(d["shape"], dtype=dtype, device=device)
            else:
                raw = bytearray(buffers[d["b"]])
                if d["dtype"] == "bfloat16":
                    x = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16) if raw else torch.empty(0, dtype=dtype)
                else:
                    x = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
                x = x.reshape(d["shape"]).clone().to(device)
            if d.get("requires_grad"):
                x.requires_grad_(True)
            return x
        if t == "make":
            return self.make(d["kind"], [self.decode(a, buffers) for a in d.get("args", [])],
                             {k: self.decode(v, buffers) for k, v in d.get("kwargs", {}).items()})
        raise ValueError(f"unknown value type {t!r}")

    # --------------------------------------------------- standard objects
    def make(self, kind, args, kwargs):
        """Build the standard torch objects the grader hands to student code (never student code)."""
        nn = torch.nn
        if "dtype" in kwargs:
            kwargs["dtype"] = getattr(torch, kwargs["dtype"])
        if kind == "two_layer_sequential":
            d_in, h, d_out = args
            return nn.Sequential(nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, d_out)).to(**kwargs)
        if kind == "two_layer_module":
            return _TwoLayerNet(*args).to(**kwargs)
        if kind == "dynamic_module":
            return _DynamicNet(*args).to(**kwargs)
        if kind == "sse_nobias":  # the level-3 loss graph, built without student code
            x, w1, w2, y = args
            return ((x.mm(w1).clamp(min=0).mm(w2) - y) ** 2).sum()
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
        except _StudentFailure as exc:
            return {"error": exc.info}, []
        except Exception as exc:  # a bad request from the grader, or a value the grader asked for is unusable
            return {"error": {"kind": "runtime", "type": type(exc).__name__, "message": _safe_str(exc)}}, []

    def _run_student(self, fn, *args, **kwargs):
        self.student_running = True
        try:
            with torch.enable_grad():  # the default state, also when called in-process from a no_grad region
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
            raise _StudentFailure({"kind": "student", "type": "RuntimeError", "message": "the module is not loaded", "frames": []})
        obj = self.module
        for part in spec["name"].split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise _StudentFailure({"kind": "missing", "type": "AttributeError",
                                       "message": f"{spec['name']} is not defined", "frames": []}) from None
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
        if not callable(fn):
            raise _StudentFailure({"kind": "student", "type": "TypeError",
                                   "message": f"{req['target'].get('name', 'the target')} is not callable", "frames": []})
        value = self._run_student(fn, *args, **kwargs)
        if self.obs.watch is not None and self.obs._snapshot is not None and self.obs.steps and self._params_changed():
            self.obs.changed_outside_step += 1
        reply = {"value": self.encode(value, out), "observations": self.obs.as_json()}
        if req.get("return_args"):
            reply["args_after"] = [self.encode(a, out) for a in args]
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
            raise _StudentFailure({"kind": "missing", "type": "AttributeError", "frames": [],
                                   "message": f"the model has no parameter {unknown[0]} (its parameters: {have}); "
                                              "levels 5-8 use nn.Linear layers, with their bias, named as the "
                                              "contract says"})
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
            groups.append({"n_params": len(g["params"]), "param_ids": [id(p) for p in g["params"]],
                           **{k: v for k, v in g.items() if k != "params" and isinstance(v, (int, float, bool, type(None)))}})
        d["param_groups"] = groups
    if isinstance(obj, torch.nn.Module):
        d["param_ids"] = [id(p) for p in obj.parameters()]
    return d


class _TwoLayerNet(torch.nn.Module):
    """The grader's own level-7 model, handed to a student's train()."""

    def __init__(self, d_in, h, d_out):
        super().__init__()
        self.linear1 = torch.nn.Linear(d_in, h)
        self.linear2 = torch.nn.Linear(h, d_out)

    def forward(self, x):
        return self.linear2(self.linear1(x).clamp(min=0))


class _DynamicNet(torch.nn.Module):
    """The grader's own level-8 model: one draw of random.randint(0, 3) per call."""

    def __init__(self, d_in, h, d_out):
        super().__init__()
        self.input_linear = torch.nn.Linear(d_in, h)
        self.middle_linear = torch.nn.Linear(h, h)
        self.output_linear = torch.nn.Linear(h, d_out)

    def forward(self, x):
        h = self.input_linear(x).clamp(min=0)
        for _ in range(random.randint(0, 3)):
            h = self.middle_linear(h).clamp(min=0)
        return self.output_linear(h)


# ----------------------------------------------------------------- process entry points
def serve(sock: socket.socket, runtime: Runtime) -> None:
    while True:
        try:
            req, buffers = wire.recv_message(sock)
        except (wire.WireError, OSError):
            return
        if req.get("op") == "exit":
            return
        reply, out = runtime.handle(req, buffers)
        try:
            wire.send_message(sock, reply, out)
        except (OSError, ValueError, TypeError) as exc:
            try:
                wire.send_message(sock, {"error": {"kind": "runtime", "type": type(exc).__name__, "message": _safe_str(exc)}})
            except OSError:
                return


_CLONE_NEWNS = 0x00020000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 8, 4096, 0x4000, 1 << 18


def _blocked_ancestor(path: str):
    """The highest directory above path that other users cannot traverse (None if all can)."""
    parts = os.path.abspath(path).split(os.sep)
    for i in range(2, len(parts)):
        anc = os.sep.join(parts[:i]) or os.sep
        try:
            if not os.stat(anc).st_mode & 0o001:
                return anc
        except OSError:
            return None
    return None


def _expose(libc, paths, workdir) -> bool:
    """Inside our own mount namespace, make the Python installation reachable by another user.

    When Python lives under a private directory (e.g. /root/.pyenv), an unprivileged child could
    not import anything. Bind the installation aside, lay an empty world-traversable tmpfs over the
    private directory (which also hides the rest of it), and bind the installation back in place.
    """
    for i, path in enumerate(paths):
        blocked = _blocked_ancestor(path)
        if blocked is None or not os.path.isdir(path):
            continue
        staging = os.path.join(workdir, f".expose-{i}")  # removed with the scratch directory
        os.makedirs(staging, exist_ok=True)
        if libc.mount(path.encode(), staging.encode(), None, _MS_BIND | _MS_REC, None) != 0:
            return False
        if libc.mount(b"tmpfs", blocked.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=64k,mode=0755") != 0:
            return False
        os.makedirs(path, exist_ok=True)
        if libc.mount(staging.encode(), path.encode(), None, _MS_BIND | _MS_REC, None) != 0:
            return False
    return True


def _private_tmp(libc, scratch) -> bool:
    """Lay empty tmpfs over /tmp, /var/tmp and /dev/shm, so nothing written there outlives the
    child, keeping the scratch directory reachable at its own path (through a bind mount)."""
    ok, staging = True, None
    flags = _MS_NOSUID | _MS_NODEV
    if os.path.isdir("/dev/shm") and libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", flags, b"size=64m,mode=1777") == 0:
        if scratch and os.path.isdir(scratch):
            staging = "/dev/shm/.kit-scratch"
            os.makedirs(staging, exist_ok=True)
            ok = libc.mount(scratch.encode(), staging.encode(), None, _MS_BIND, None) == 0
    else:
        ok = False
    for d in ("/tmp", "/var/tmp"):
        if os.path.isdir(d):
            ok &= libc.mount(b"tmpfs", d.encode(), b"tmpfs", flags, b"size=256m,mode=1777") == 0
    if staging and ok:
        os.makedirs(scratch, exist_ok=True)
        ok = libc.mount(staging.encode(), scratch.encode(), None, _MS_BIND, None) == 0
    return bool(ok)


def _confine(config: dict) -> dict:
    """Apply the protections the machine allows; say which ones held (the grader reports them)."""
    import ctypes
    held = {"network": "not isolated", "hidden_paths": "not hidden", "user": "same user as the grader"}
    libc = ctypes.CDLL(None, use_errno=True)
    private_ns = False
    if config.get("isolate", True):
        if libc.unshare(_CLONE_NEWNET | _CLONE_NEWNS) == 0:
            held["network"] = "isolated (empty network namespace)"
            private_ns = libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) == 0
        elif libc.unshare(_CLONE_NEWNET) == 0:
            held["network"] = "isolated (empty network namespace)"
        else:
            held["network"] = f"not isolated (unshare: {os.strerror(ctypes.get_errno())})"
    if private_ns:
        held["temp_dirs"] = "private" if _private_tmp(libc, config.get("scratch")) else "shared"
    hide = [p for p in config.get("hide", []) if os.path.isdir(p)]  # (what was under /tmp is gone already)
    if private_ns and config.get("hide") and held.get("temp_dirs") == "private" and not hide:
        held["hidden_paths"] = "hidden"  # everything to hide lay under the private temporary directories
    if private_ns and hide:
        ok = all(libc.mount(b"tmpfs", p.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
                            b"size=64k,mode=0555") == 0 for p in hide)
        held["hidden_paths"] = "hidden" if ok else "partly hidden"
    uid = config.get("uid")
    if uid is not None and os.getuid() == 0:
        install = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(torch.__file__)),
                   os.path.dirname(os.path.dirname(np.__file__))}
        reachable = all(_blocked_ancestor(p) is None for p in install) or (private_ns and bool(config.get("scratch"))
                                                                        and _expose(libc, sorted(install), config["scratch"]))
        if reachable:
            uid = int(uid) + os.getpid() % 100_000
            for path in (config.get("scratch"), config.get("output")):
                if path and os.path.exists(path):
                    os.chown(path, uid, uid)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            held["user"] = f"uid {uid} (unprivileged)"
            held["uid"] = uid
        else:
            held["user"] = "same user as the grader (the Python installation is private and could not be exposed)"
    return held


def child_main(fd: int, config: dict) -> None:
    """In a freshly forked child: detach, confine, bound, redirect output, then serve requests."""
    try:
        os.setsid()
    except OSError:
        pass
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing past the file-size limit fails, not kills
    sock = socket.socket(fileno=fd)
    out_path = config.get("output")
    if out_path:
        out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    held = _confine(config)
    scratch = config.get("scratch")
    if scratch:
        os.chdir(scratch)
    limits = dict(config.get("limits") or {})
    if "uid" not in held:
        limits.pop("RLIMIT_NPROC", None)  # per-user: only meaningful for a user of our own
    import resource
    for name, value in limits.items():
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError, AttributeError):
            held.setdefault("limits_failed", []).append(name)
    _die_with_parent()
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    runtime = Runtime()
    wire.send_message(sock, {"hello": config.get("nonce"), "pid": os.getpid(), "protections": held})
    serve(sock, runtime)


def _warm_up() -> None:
    """Run the cheap kinds of torch work once (a module's forward, backward, autograd.grad), so their
    lazy set-up happens here rather than in every forked child."""
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    torch.nn.MSELoss(reduction="sum")(model(torch.ones(4, 3)), torch.zeros(4, 1)).backward()
    torch.autograd.grad((torch.ones(2, requires_grad=True) * 2).sum(), [torch.ones(1, requires_grad=True)],
                        allow_unused=True)


def _warm_up_dynamo() -> None:
    """Import torch._dynamo, and step torch.optim's optimizers once. Both the first optimizer and
    the first operation on the meta device import torch._dynamo (about a second), so this is done
    only when a child that will need it is asked for: the others are not kept waiting for it."""
    x = torch.ones(2, 3, device="meta")
    (x @ torch.ones(3, 1, device="meta", requires_grad=True)).clamp(min=0).sum().backward()
    model = torch.nn.Linear(3, 1)
    for opt in (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), torch.optim.Adam(model.parameters())):
        opt.zero_grad()
        model(torch.ones(2, 3)).sum().backward()
        opt.step()


def _die_with_parent() -> None:
    """Be killed when the parent dies (set after any change of user, which clears it)."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def zygote_main(ctrl_fd: int) -> None:
    try:  # orphans of student code become our children, so the grader can find and end them
        import ctypes
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass
    _die_with_parent()
    torch.set_num_threads(1)
    _warm_up()
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked children are reaped automatically
    ctrl = socket.socket(fileno=ctrl_fd)
    dynamo_warm = False
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctrl, 1 << 16, 1)
        except OSError:
            return
        if not msg:
            return
        config = json.loads(msg)
        if (config.get("dynamo") or config.get("warm") == "dynamo") and not dynamo_warm:
            _warm_up_dynamo()
            dynamo_warm = True
        if not fds:  # a hint ({"warm": "dynamo"}: the grader knows it will need it), not a request
            continue
        pid = os.fork()
        if pid == 0:
            ctrl.close()
            code = 0
            try:
                child_main(fds[0], config)
            except BaseException:  # noqa: BLE001
                code = 70
            finally:
                os._exit(code)
        os.close(fds[0])
        ctrl.send(json.dumps({"pid": pid}).encode())


def spawned_main(fd: int) -> None:
    """The cold path (``sandbox.Spawner``): this fresh interpreter is the child itself. Its first
    message is the configuration a zygote would have been sent."""
    _die_with_parent()
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    sock = socket.socket(fileno=fd)
    sock.settimeout(120)
    config, _ = wire.recv_message(sock)
    sock.settimeout(None)
    code = 0
    try:
        child_main(sock.detach(), config)
    except BaseException:  # noqa: BLE001
        code = 70
    finally:
        os._exit(code)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--zygote":
        zygote_main(int(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--child":
        spawned_main(int(sys.argv[2]))
    else:
        sys.stderr.write("usage: child_runtime.py --zygote FD | --child FD\n")
        sys.exit(2)
