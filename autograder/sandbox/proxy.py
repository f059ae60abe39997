"""The submission proxy: how checks reach a student's functions, with plain data only.

A check asks ``sub.call("forward", x, w1, w2)`` and gets back fresh values rebuilt from bytes
(``TensorValue``, ``ArrayValue``, numbers, lists) or a handle to an object that stays in the
child (``ObjectValue``). Student exceptions come back as ``StudentError``; a hang or a crash as
``StudentTimeout`` or ``StudentCrash``. The checks never touch a student object directly, so
the proxy can sit on a process boundary (``sandbox.Channel``) or, for the notebook self-check,
in-process (``sandbox.InProcessChannel``), without any change to the checks.

The values and the failures are defined in ``values.py`` and importable from here; the checks on
what the child replies are in ``replies.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..core import codec
from . import ChildGone, SandboxFailure
from .channels import reap_all
from .replies import _checked_description, _clean_observations, _shape, _typed
from .values import (
    ArrayValue,
    CallResult,
    GraderError,
    Leaf,
    LevelUnavailable,
    Make,
    NpScalar,
    ObjectValue,
    Remote,
    StudentCrash,
    StudentError,
    StudentTimeout,
    TensorValue,
)


@dataclass
class _Pending:
    what: str


# ----------------------------------------------------------------------------- the proxy
class Submission:
    """One level of one submission, reached through a channel to the process that holds it."""

    def __init__(
        self,
        module: str,
        source: str | None,
        filename: str,
        open_channel: Callable[[], Any],
        device: str = "cpu",
        unavailable: str | None = None,
        budget: float | None = None,
        deadline: float | None = None,
    ):
        self.module = module
        self.source = source
        self.filename = filename
        self.device = device
        self._open_channel = open_channel
        self._channel = None
        self._generation = 0
        self._load_error: Exception | None = None
        self.unavailable = unavailable
        self.names: dict[str, str] = {}
        self.load_observations: dict = {}
        self.outputs: list[str] = []
        self.budget = budget  # wall-clock seconds for the whole submission (every level and lane)...
        self.deadline = deadline  # ...which end at this time.monotonic() value
        self.peak_rss = 0  # the most resident memory its processes were seen to use (bytes)
        self._spent_before = 0.0
        self._closed = None  # the channel close(wait=False) left for reap()
        self._sandbox_failure: str | None = None  # why no child could be had (every later check: the same)

    # -- lifecycle
    def _ensure(self):
        if self.unavailable:
            raise LevelUnavailable(self.unavailable)
        if self._channel is not None and not self._channel.dead:
            return
        if self._channel is not None:
            self.outputs.append(self._channel.output())
            self._spent_before += self._channel.spent
            self.peak_rss = max(self.peak_rss, getattr(self._channel, "peak_rss", 0))
        if self._sandbox_failure is not None:
            raise GraderError(self._sandbox_failure)
        self._generation += 1
        try:
            self._channel = self._open_channel()
        except ChildGone as exc:
            raise StudentCrash(exc.reason) from None
        except SandboxFailure as exc:  # no student code ran: the grader's failure, never the student's
            self._sandbox_failure = f"the student's process could not be started: {exc}"
            raise GraderError(self._sandbox_failure) from None
        if self.source is not None:
            reply, _ = self._request(
                {"op": "load", "module": self.module, "filename": self.filename, "source": self.source},
                what=f"importing {self.filename}",
                loading=True,
            )
            self.names = reply.get("names", {}) if isinstance(reply.get("names"), dict) else {}
            self.load_observations = self._decoded(
                lambda: _clean_observations(reply.get("observations", {})), f"importing {self.filename}"
            )

    def load(self) -> None:
        """Start the child and import the module; raise LevelUnavailable if it cannot be imported."""
        if self._load_error is not None:
            raise self._load_error
        try:
            self._ensure()
        except StudentError as exc:
            if exc.type == "SyntaxError":
                msg = f"{self.filename} has a syntax error: {exc.raw_message}{exc.where()}"
            else:
                msg = f"{self.filename} fails on import: {exc.type}: {exc.raw_message}{exc.where()}"
            self._load_error = LevelUnavailable(msg)
            self.unavailable = msg
            raise self._load_error from None
        except (StudentTimeout, StudentCrash) as exc:
            self._load_error = LevelUnavailable(f"{self.filename} could not be imported: {exc}")
            self.unavailable = str(self._load_error)
            raise self._load_error from None

    def close(self, wait: bool = True):
        """End the child. wait=False: signal its processes only; reap() then waits for them."""
        if self._channel is not None:
            self.outputs.append(self._channel.output())
            self._closed = self._channel
            self._channel.close(wait=wait)
            self.peak_rss = max(self.peak_rss, getattr(self._channel, "peak_rss", 0))
            self._channel = None

    def reap(self):
        if self._closed is not None:
            self._closed.reap()

    @staticmethod
    def reap_all(submissions) -> None:
        """``reap`` for many submissions closed with wait=False, waiting for all of them together."""
        reap_all([s._closed for s in submissions if s._closed is not None])

    def output(self) -> str:
        parts = list(self.outputs)
        if self._channel is not None:
            parts.append(self._channel.output())
        return "".join(parts)

    def reply_ready(self) -> bool:
        """Whether the reply to a call started in the background is there (or its child is gone):
        the grader asks to decide what else to start, never to wait."""
        return self._channel is None or self._channel.reply_ready()

    def spent(self) -> float:
        return self._spent_before + (self._channel.spent if self._channel is not None else 0.0)

    def _request(self, header, buffers=None, what="", loading=False, timeout=None, background=False):
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise StudentTimeout(
                    f"{what or 'the call'} was not run: the submission used up its time budget ({self.budget:g} s)"
                )
            timeout = min(timeout if timeout is not None else self._channel.limits.call_seconds, left)
        try:
            self._channel.start(header, buffers, timeout=timeout)
        except ChildGone as exc:
            raise StudentCrash(f"{what or 'the call'}: {exc.reason}") from None
        if background:
            return _Pending(what)
        return self._finish(what)

    def _finish(self, what):
        try:
            reply, out = self._channel.finish()
        except ChildGone as exc:
            if exc.kind == "timeout":
                raise StudentTimeout(f"{what or 'the call'} {exc.reason}") from None
            if exc.kind == "memory":
                raise StudentCrash(f"{what or 'the call'} {exc.reason}") from None
            raise StudentCrash(f"{what or 'the call'}: {exc.reason}") from None
        err = reply.get("error") if isinstance(reply, dict) else {"kind": "runtime", "message": "not a reply"}
        if err:
            if not isinstance(err, dict):
                err = {"kind": "runtime", "type": "ValueError", "message": "a malformed error"}
            if err.get("kind") in ("student", "missing"):
                failure = StudentError(err, what)
                try:
                    failure.observations = _clean_observations(reply.get("observations", {}))
                except (TypeError, ValueError, AttributeError):
                    pass
                raise failure
            if err.get("kind") == "protocol" or self.source is None:
                raise GraderError(f"{what}: the grader's request failed: {err.get('type')}: {err.get('message')}")
            # The child is the student's process: once it has run their code, what it fails to do
            # (its runtime's own code may have been changed, builtins rebound) is theirs.
            raise StudentError(
                {
                    "kind": "student",
                    "type": str(err.get("type", "Error"))[:100],
                    "message": f"the student's process could not answer the grader's request "
                    f"({str(err.get('message', ''))[:500]}): does the code change Python "
                    "or torch themselves (builtins, modules)?",
                },
                what,
            )
        return reply, out

    def request(self, header, buffers=None, what="", timeout=None):
        self.load()
        return self._request(header, buffers, what=what, timeout=timeout)

    # -- encoding
    def _enc(self, v, buffers):
        if v is None or isinstance(v, (bool, int, float, str)):
            if v is None:
                return None
            return {"t": type(v).__name__ if type(v) in (bool, int, float, str) else "float", "v": v}
        if isinstance(v, (TensorValue, ArrayValue, ObjectValue)):
            v = v.remote
        if isinstance(v, Remote):
            if v.generation != self._generation:
                raise StudentCrash("the student's process was restarted after an earlier failure")
            return {"t": "ref", "h": v.handle}
        if isinstance(v, torch.Tensor) and v.device.type == "meta":  # shapes and devices, no values
            return {
                "t": "tensor",
                "dtype": codec.dtype_name(v.dtype),
                "shape": list(v.shape),
                "b": None,
                "device": "meta",
                "requires_grad": bool(v.requires_grad),
            }
        if isinstance(v, torch.Tensor):
            buffers.append(codec.tensor_bytes(v))
            return {
                "t": "tensor",
                "dtype": codec.dtype_name(v.dtype),
                "shape": list(v.shape),
                "b": len(buffers) - 1,
                "device": self.device if v.device.type == "cpu" else str(v.device),
                "requires_grad": bool(v.requires_grad),
            }
        if isinstance(v, np.ndarray):
            buffers.append(codec.array_bytes(v))
            return {"t": "ndarray", "dtype": v.dtype.name, "shape": list(v.shape), "b": len(buffers) - 1}
        if isinstance(v, (list, tuple)):
            return {"t": "list" if isinstance(v, list) else "tuple", "items": [self._enc(x, buffers) for x in v]}
        if isinstance(v, Leaf):
            return {
                "t": "leaf",
                "value": self._enc(v.value.detach(), buffers),
                "requires_grad": v.requires_grad,
                "grad": None if v.grad is None else self._enc(v.grad.detach(), buffers),
            }
        if isinstance(v, Make):
            return {
                "t": "make",
                "kind": v.kind,
                "args": [self._enc(a, buffers) for a in v.args],
                "kwargs": {k: self._enc(a, buffers) for k, a in v.kwargs.items()},
            }
        raise TypeError(f"cannot send {type(v).__name__} to a student process")

    def _dec(self, d, buffers):
        if d is None:
            return None
        t = d["t"]
        if t in ("bool", "int", "float", "str"):
            return d["v"]
        if t in ("list", "tuple"):
            items = [self._dec(x, buffers) for x in d["items"]]
            return items if t == "list" else tuple(items)
        if t == "npscalar":
            return NpScalar(d["dtype"], d["v"])
        remote = Remote(_typed(d["h"], int), self._generation)
        if t == "ndarray":
            arr = codec.array_from_bytes(buffers[_typed(d["b"], int)], _typed(d["dtype"], str), _shape(d["shape"]))
            return ArrayValue(arr, remote)
        if t == "tensor":
            data = None
            shape = _shape(d["shape"])
            if d.get("b") is not None:
                data = codec.tensor_from_bytes(buffers[_typed(d["b"], int)], _typed(d["dtype"], str), shape)
            grad = self._dec(d["grad"], buffers) if d.get("grad") else None
            if grad is not None and not isinstance(grad, TensorValue):
                raise TypeError("grad")
            return TensorValue(
                data,
                _typed(d["dtype"], str)[:40],
                shape,
                _typed(d["device"], str)[:100],
                _typed(d["requires_grad"], bool),
                _typed(d["is_leaf"], bool),
                None if d["grad_fn"] is None else _typed(d["grad_fn"], str)[:200],
                _typed(d["parameter"], bool),
                remote,
                grad,
            )
        if t == "object":
            return ObjectValue(_typed(d["type"], str)[:200], remote)
        raise GraderError(f"unexpected value type {t!r} from the student process")

    # -- operations
    def has(self, name: str) -> bool:
        self.load()
        return name in self.names

    def call(
        self,
        target: str | Any,
        *args,
        return_args=False,
        watch=None,
        python_seed=None,
        timeout=None,
        background=False,
        sim_device=False,
        watch_autograd=False,
        **kwargs,
    ) -> CallResult:
        """Call student code. With background=True, return at once; finish(pending) gives the result.
        ``sim_device``: with the arguments (tensors, models) on the simulated GPU (child/simdevice.py).
        ``watch_autograd``: note every torch call whose result takes part in an autograd graph."""
        self.load()
        buffers: list[bytes] = []
        if isinstance(target, str):
            spec, what = {"name": target}, f"{target}()"
        else:  # (value, "attr") or a value: call an object (a model) or one of its methods
            obj, attr = target if isinstance(target, tuple) else (target, None)
            ref = self._enc(obj, buffers)
            spec, what = (
                {"ref": ref["h"], "attr": attr},
                f"{getattr(obj, 'type_name', 'object')}.{attr or '__call__'}()",
            )
        header = {
            "op": "call",
            "target": spec,
            "args": [self._enc(a, buffers) for a in args],
            "kwargs": {k: self._enc(v, buffers) for k, v in kwargs.items()},
            "return_args": return_args,
        }
        if watch is not None:
            header["watch"] = self._enc(watch, buffers)["h"]
        if python_seed is not None:
            header["python_seed"] = python_seed
        if sim_device:
            header["sim_device"] = True
        if watch_autograd:
            header["watch_autograd"] = True
        if background:
            return self._request(header, buffers, what=what, timeout=timeout, background=True)
        return self._call_result(*self._request(header, buffers, what=what, timeout=timeout))

    def finish(self, pending: _Pending) -> CallResult:
        return self._call_result(*self._finish(pending.what))

    def _decoded(self, build, what: str):
        """Decode a reply from the student's process: a reply that cannot be read is theirs to lose."""
        try:
            return build()
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError, OverflowError) as exc:
            raise StudentError(
                {
                    "kind": "student",
                    "type": "MalformedReply",
                    "message": f"the student's process sent a reply the grader cannot read "
                    f"({type(exc).__name__}): does the code change the grader's runtime?",
                },
                what,
            ) from None

    def _call_result(self, reply, out) -> CallResult:
        def build():
            value = self._dec(reply.get("value"), out)
            after = [self._dec(a, out) for a in reply.get("args_after", [])]
            obs = _clean_observations(reply.get("observations", {}))
            return CallResult(value, after, obs, reply.get("python_next"))

        return self._decoded(build, "a call")

    def put(self, value) -> Any:
        buffers: list[bytes] = []
        reply, out = self.request({"op": "put", "value": self._enc(value, buffers)}, buffers, what="sending data")
        return self._decoded(lambda: self._dec(reply["value"], out), "sending data")

    def make(self, kind: str, *args, **kwargs) -> ObjectValue:
        return self.put(Make(kind, args, kwargs))

    def get(self, obj, attr: str = "") -> Any:
        buffers: list[bytes] = []
        ref = self._enc(obj, buffers)
        reply, out = self.request({"op": "get", "target": {"ref": ref["h"], "attr": attr}}, what=f"reading {attr}")
        return self._decoded(lambda: self._dec(reply["value"], out), f"reading {attr}")

    def params(self, module) -> dict[str, TensorValue]:
        ref = self._enc(module, [])
        reply, out = self.request({"op": "params", "ref": ref["h"]}, what="reading the parameters")
        return self._decoded(
            lambda: {str(name): self._dec(enc, out) for name, enc in reply["value"]}, "reading the parameters"
        )

    def set_params(self, module, values: dict | None = None, grads: dict | None = None) -> None:
        buffers: list[bytes] = []
        header = {
            "op": "set_params",
            "ref": self._enc(module, buffers)["h"],
            "values": {k: self._enc(v, buffers) for k, v in (values or {}).items()},
            "grads": {k: self._enc(v, buffers) for k, v in (grads or {}).items()},
        }
        self.request(header, buffers, what="setting the parameters")

    def set_grad(self, tensor, grad) -> None:
        buffers: list[bytes] = []
        header = {"op": "set_grad", "ref": self._enc(tensor, buffers)["h"], "grad": self._enc(grad, buffers)}
        self.request(header, buffers, what="setting a gradient")

    def describe(self, obj) -> dict:
        reply, _ = self.request({"op": "describe", "ref": self._enc(obj, [])["h"]}, what="describing an object")
        return self._decoded(lambda: _checked_description(reply["value"]), "describing an object")

    def graph(self, tensor) -> list[str]:
        reply, _ = self.request({"op": "graph", "ref": self._enc(tensor, [])["h"]}, what="reading the graph")
        return self._decoded(lambda: [str(n)[:200] for n in reply["value"]][:10_000], "reading the graph")

    def backward(self, tensor, grad=None) -> None:
        buffers: list[bytes] = []
        header = {"op": "backward", "ref": self._enc(tensor, buffers)["h"], "grad": self._enc(grad, buffers)}
        self.request(header, buffers, what="the backward pass")

    def release(self) -> None:
        if self._channel is not None and not self._channel.dead:
            self.request({"op": "release"}, what="releasing objects")
