"""A grading run: the context one run shares, the pytest plugin that turns the checks into a grade,
and ``grade`` itself (``autograder.grading.grade``, the entry point for code that grades)."""

from .run import grade, run_checks

__all__ = ["grade", "run_checks"]
