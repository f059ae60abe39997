"""An autograder for the eight levels of "Learning PyTorch with Examples".

The folders are the layers, lowest first (docs/architecture.md; ``tests/test_layers.py`` holds each
to what it may import): ``core`` (the model of the course), ``sandbox`` (processes that run student
code, seen from the trusted side; ``child`` is the other side), ``checks``, ``grading``, ``render``,
``course`` (what students receive, built from the single source), ``learner``, ``instructor``,
``integrations`` (nbgrader, Gradescope) and ``cli``.

``from autograder import check, hint`` is the notebook's entry point (loaded on first use, so that
importing any part of the package stays cheap).
"""

__version__ = "0.1.0"

__all__ = ["__version__", "check", "hint"]


def __getattr__(name: str):
    if name in ("check", "hint"):
        from .learner import selfcheck

        return getattr(selfcheck, name)
    raise AttributeError(f"module 'autograder' has no attribute {name!r}")
