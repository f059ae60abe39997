"""Imports whose objects live as long as the process, made without the cyclic garbage collector.

``import torch`` allocates about 250,000 objects that the process keeps to its end. While they are
being made, the collector's thresholds trip again and again, and each full collection walks every
object made so far: 75 ms of a 0.85 s import here (8 %), on the way of every ``check``. Once they
exist, each later full collection walks them all again (67 ms, once per ``check``, in the middle of
the checks). So the imports run with the collector paused, and what they made is then frozen
(``gc.freeze``): moved to a generation the collector never walks. Objects made later are collected
as before.

What the imports left as cyclic garbage (about 7,000 objects) is frozen with the rest and never
freed: a fixed cost, once per process.

Only for the kit's own processes: the grader of a ``check``, ``grade``, ``watch`` or ``hint``, the
batch workers (a class's, nbgrader's pass ahead of ``autograde``), a cluster worker, the Gradescope
runner. Never in a student's notebook kernel (``learner/selfcheck.py``), whose objects at that
moment would be frozen with them. The sandbox's children do the same on their own side
(``child/entry.py``: they never import this package).
"""

from __future__ import annotations

import gc
import importlib
import sys

#: What the kit's own processes import so: the grading run, and with it torch, pytest's plugin and
#: the checks' helpers. (A name, not an import: this layer sits below the grading package.)
GRADER = "autograder.grading.run"


def import_long_lived(name: str = GRADER) -> None:
    """Import the module ``name`` with the collector paused, then freeze what exists. A second call,
    once it is imported, does nothing."""
    if name in sys.modules:
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        importlib.import_module(name)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
