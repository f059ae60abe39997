"""torch._dynamo imported when something uses it, not when an optimizer takes its first step.

torch.optim imports torch._dynamo (two seconds of a child's start, as long as torch itself) the
first time an optimizer is stepped or zeroed, for two things only: ``graph_break()``, a marker for
torch.compile's tracer, and ``disable(fn)``, which keeps that tracer out of ``fn``. When nothing is
being compiled, the first does nothing and the second's result calls ``fn`` as it is. A grading
child compiles nothing unless the student's code asks torch.compile to.

So ``install`` puts a stand-in where torch._dynamo would be (``sys.modules`` and ``torch._dynamo``)
that answers those two as eager torch does. The first use of anything else -- an attribute the
stand-in lacks (``torch.compile`` asks for one at once), an import of a ``torch._dynamo.<sub>``
module, ``importlib.import_module`` of one -- imports the real torch._dynamo, puts it in the
stand-in's place, and forgets every function the stand-in was asked to "disable", so that torch
disables each again with the real one on its next call. From then on everything is torch's own;
the import is paid by the child that needs it, where it is needed. ``tests/test_lazy_dynamo.py``
holds the stand-in to torch's own results, optimizer by optimizer, and to torch.compile.

Child-side (no ``autograder`` import): the zygote installs it before it forks, and every cold child
(spawn, portable) right after importing torch.
"""

from __future__ import annotations

import builtins
import importlib
import sys
import threading
import types

NAME = "torch._dynamo"
_LOCK = threading.RLock()
#: The functions the stand-in "disabled" (torch caches the result on each as ``__dynamo_disable``).
_DISABLED: list = []
#: The import functions as they were before ``install`` (its wrappers call through to them).
_REAL_IMPORT = builtins.__import__
_REAL_IMPORT_MODULE = importlib.import_module


class StandIn(types.ModuleType):
    """``sys.modules["torch._dynamo"]`` until something more than eager torch's two calls is asked."""

    def graph_break(self, msg: str = "") -> None:
        """A break in torch.compile's graph: nothing, where nothing is being compiled."""

    def disable(self, fn=None, recursive: bool = True, **kwargs):
        """Keep torch.compile out of ``fn``: ``fn`` itself, where nothing is being compiled (noted, so
        that the real torch._dynamo disables it again once it is imported)."""
        if fn is None:
            return lambda f: self.disable(f, recursive, **kwargs)
        with _LOCK:
            _DISABLED.append(fn)
        return fn

    def __getattr__(self, name: str):
        return getattr(materialize(), name)


def active() -> bool:
    """Whether torch._dynamo is still the stand-in."""
    return isinstance(sys.modules.get(NAME), StandIn)


def materialize() -> types.ModuleType:
    """Import the real torch._dynamo in the stand-in's place (once), and return it."""
    with _LOCK:
        module = sys.modules.get(NAME)
        if not isinstance(module, StandIn):
            return module if module is not None else _REAL_IMPORT_MODULE(NAME)
        del sys.modules[NAME]
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.__dict__.pop("_dynamo", None)  # (the import below sets it to the real module)
        try:
            real = _REAL_IMPORT_MODULE(NAME)
        except BaseException:
            sys.modules[NAME] = module  # as before: the next use tries again and meets the same error
            if torch is not None:
                torch._dynamo = module  # type: ignore[attr-defined]
            raise
        for fn in _DISABLED:
            try:
                fn.__dict__.pop("__dynamo_disable", None)  # (torch._compile._disable_dynamo's cache)
            except AttributeError:
                pass
        _DISABLED.clear()
        return real


def _absolute(name: str, globals_: dict | None, level: int) -> str:
    if level == 0 or not globals_:
        return name
    package = globals_.get("__package__") or ""
    base = package.rsplit(".", level - 1)[0] if level > 1 else package
    return f"{base}.{name}" if name else base


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if "_dynamo" in name and active() and _absolute(name, globals, level).startswith(NAME + "."):
        materialize()  # before the import system looks for the submodule under the stand-in
    return _REAL_IMPORT(name, globals, locals, fromlist, level)


def _import_module(name, package=None):
    if "_dynamo" in name and active():
        absolute = _absolute(name.lstrip("."), {"__package__": package}, len(name) - len(name.lstrip(".")))
        if absolute.startswith(NAME + "."):
            materialize()
    return _REAL_IMPORT_MODULE(name, package)


def install(torch: types.ModuleType) -> bool:
    """Put the stand-in in place, unless torch._dynamo is imported already (then nothing to save)."""
    if NAME in sys.modules:
        return False
    standin = StandIn(NAME, "torch._dynamo until it is used (autograder/child/lazy_dynamo.py)")
    sys.modules[NAME] = standin
    torch._dynamo = standin  # type: ignore[attr-defined]
    builtins.__import__ = _import
    importlib.import_module = _import_module
    return True
