"""Stand-ins for two of torch's modules, each imported the moment something more than eager torch's
few calls is asked of it.

A grading child runs eager torch. Two modules that eager torch imports on first use cost a child more
than anything the student's code does at most levels:

- ``torch._dynamo`` (two seconds, as long as torch itself): torch.optim imports it the first time an
  optimizer is stepped or zeroed, for two things only: ``graph_break()``, a marker for
  torch.compile's tracer, and ``disable(fn)``, which keeps that tracer out of ``fn``. When nothing is
  being compiled, the first does nothing and the second's result calls ``fn`` as it is.
- ``torch.fx.experimental.symbolic_shapes`` (sympy among it, 0.6 s): a backward pass given its
  gradient (``tensor.backward(grad)``, ``torch.autograd.grad(..., grad_outputs)``) imports it to
  compare the gradient's shape with the output's through ``expect_true(sym_eq(a, b))``, which for
  shapes made of plain integers is ``a == b``. The grader's checks backpropagate a given gradient at
  most levels.

So ``install`` puts a stand-in where each would be (``sys.modules`` and the parent package's
attribute) that answers those calls as eager torch does: for plain values with the same code as
torch's own, for anything symbolic by handing the call to the real module. The first use of anything
else -- an attribute the stand-in lacks (``torch.compile`` asks for one at once), an import of a
submodule, ``importlib.import_module`` of one -- imports the real module, puts it in the stand-in's
place (for torch._dynamo: and forgets every function the stand-in was asked to "disable", so that
torch disables each again with the real one on its next call). From then on everything is torch's
own; the import is paid by the child that needs it, where it is needed. ``tests/test_lazy_modules.py``
holds the stand-ins to torch's own results (optimizers, backward passes, wrong shapes, torch.compile).

Child-side (no ``autograder`` import, no sibling import: the tests load this file alone): the zygote
installs them before it forks, and every cold child (spawn, portable) right after importing torch.
The grader installs the second alone (``grading.run.grade``): its own backward passes given a
gradient (level 4's gradcheck) would import sympy for the same comparison of plain integers.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import sys
import threading
import types

DYNAMO = "torch._dynamo"
SYMBOLIC_SHAPES = "torch.fx.experimental.symbolic_shapes"
NAME = DYNAMO  # (the name ``active()`` and ``materialize()`` mean when given none)
_LOCK = threading.RLock()
#: The import functions as they were before ``install`` (its wrappers call through to them).
_REAL_IMPORT = builtins.__import__
_REAL_IMPORT_MODULE = importlib.import_module


class StandIn(types.ModuleType):
    """``sys.modules[name]`` until something more than eager torch's calls is asked of it."""

    #: Whether the real module is a package (it has ``__path__``, and submodules to import).
    PACKAGE = True

    def __getattr__(self, name: str):
        if name == "__path__" and not self.PACKAGE:
            # (``from M import f`` asks whether M is a package: the real module is not one either)
            raise AttributeError(name)
        return getattr(materialize(self.__name__), name)

    def replaced(self) -> None:
        """The real module has taken this stand-in's place."""


class DynamoStandIn(StandIn):
    """torch._dynamo: what torch.optim asks of it."""

    def __init__(self, name: str, doc: str) -> None:
        super().__init__(name, doc)
        #: The functions this stand-in "disabled" (torch caches the result on each as ``__dynamo_disable``).
        self.__dict__["_disabled"] = []

    def graph_break(self, msg: str = "") -> None:
        """A break in torch.compile's graph: nothing, where nothing is being compiled."""

    def disable(self, fn=None, recursive: bool = True, **kwargs):
        """Keep torch.compile out of ``fn``: ``fn`` itself, where nothing is being compiled (noted, so
        that the real torch._dynamo disables it again once it is imported)."""
        if fn is None:
            return lambda f: self.disable(f, recursive, **kwargs)
        with _LOCK:
            self._disabled.append(fn)
        return fn

    def replaced(self) -> None:
        for fn in self._disabled:
            try:
                fn.__dict__.pop("__dynamo_disable", None)  # (torch._compile._disable_dynamo's cache)
            except AttributeError:
                pass
        self._disabled.clear()


def _plain_shape(x) -> bool:
    return isinstance(x, tuple) and all(type(n) is int for n in x)


class SymbolicShapesStandIn(StandIn):
    """torch.fx.experimental.symbolic_shapes: what a backward pass given its gradient asks of it
    (torch/autograd/__init__.py, ``_make_grads``)."""

    PACKAGE = False

    def expect_true(self, a, skip: int = 0):
        if type(a) is bool:  # (torch's own: a plain bool is returned as it is)
            return a
        return materialize(SYMBOLIC_SHAPES).expect_true(a, skip + 1)  # (+1: this frame)

    def sym_eq(self, x, y):
        if _plain_shape(x) and _plain_shape(y):  # (torch's own, for tuples of plain ints: all equal)
            return len(x) == len(y) and all(a == b for a, b in zip(x, y))
        return materialize(SYMBOLIC_SHAPES).sym_eq(x, y)


def active(name: str = NAME) -> bool:
    """Whether ``name`` is still its stand-in."""
    return isinstance(sys.modules.get(name), StandIn)


def materialize(name: str = NAME) -> types.ModuleType:
    """Import the real module ``name`` in its stand-in's place (once), and return it."""
    with _LOCK:
        module = sys.modules.get(name)
        if not isinstance(module, StandIn):
            return module if module is not None else _REAL_IMPORT_MODULE(name)
        parent_name, _, attr = name.rpartition(".")
        parent = sys.modules.get(parent_name)
        del sys.modules[name]
        if parent is not None:
            parent.__dict__.pop(attr, None)  # (the import below sets it to the real module)
        try:
            real = _REAL_IMPORT_MODULE(name)
        except BaseException:
            sys.modules[name] = module  # as before: the next use tries again and meets the same error
            if parent is not None:
                setattr(parent, attr, module)
            raise
        module.replaced()
        return real


def _absolute(name: str, globals_: dict | None, level: int) -> str:
    if level == 0 or not globals_:
        return name
    package = globals_.get("__package__") or ""
    base = package.rsplit(".", level - 1)[0] if level > 1 else package
    return f"{base}.{name}" if name else base


def _materialize_for(absolute: str) -> None:
    """Before the import system looks for a submodule under a stand-in: the real module."""
    for name in (DYNAMO, SYMBOLIC_SHAPES):
        if absolute.startswith(name + ".") and active(name):
            materialize(name)


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if "_dynamo" in name or "symbolic_shapes" in name:  # (every import statement comes here: keep it cheap)
        _materialize_for(_absolute(name, globals, level))
    return _REAL_IMPORT(name, globals, locals, fromlist, level)


def _import_module(name, package=None):
    if "_dynamo" in name or "symbolic_shapes" in name:
        dots = len(name) - len(name.lstrip("."))
        _materialize_for(_absolute(name.lstrip("."), {"__package__": package}, dots))
    return _REAL_IMPORT_MODULE(name, package)


STAND_INS = {DYNAMO: DynamoStandIn, SYMBOLIC_SHAPES: SymbolicShapesStandIn}


def install(torch: types.ModuleType, names: tuple[str, ...] = (DYNAMO, SYMBOLIC_SHAPES)) -> list[str]:
    """Put the stand-in of each of ``names`` in place, unless its module is imported already (then
    nothing to save); the names of those put in place. The import functions are wrapped only for
    torch._dynamo, a package whose submodules must find the real one: symbolic_shapes is a plain
    module, which every import finds in ``sys.modules`` (so the grader, which wants that one alone,
    keeps its import functions as they are)."""
    installed = []
    for name, cls in ((n, STAND_INS[n]) for n in names):
        parent_name, _, attr = name.rpartition(".")
        parent = sys.modules.get(parent_name)
        if name in sys.modules or parent is None:  # (torch.fx.experimental is imported with torch)
            continue
        standin = cls(name, f"{name} until it is used (autograder/child/lazy_modules.py)")
        # The real module's file, found without running it: introspection asks every module in
        # sys.modules for its __file__ (inspect.getmodule, which torch.library calls as each custom
        # op is registered -- torch.distributed's, torchvision's), and the real import that the
        # question would otherwise start, in the middle of another import, can meet that one half
        # done (a circular ImportError where torch alone imports fine).
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            standin.__file__ = spec.origin
        sys.modules[name] = standin
        setattr(parent, attr, standin)
        installed.append(name)
    if DYNAMO in installed:
        builtins.__import__ = _import
        importlib.import_module = _import_module
    return installed
