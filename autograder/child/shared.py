"""``wire.py`` and ``codec.py``, which both sides of the wire share, loaded by file path under
private names: the child never imports the ``autograder`` package (also when the ``Runtime`` runs
in-process, so that it behaves the same there)."""

from __future__ import annotations

import importlib.util
import os

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_kit_{name}", os.path.join(_PACKAGE_DIR, "core", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wire = _load("wire")
codec = _load("codec")
