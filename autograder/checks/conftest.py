"""Lets plain ``pytest autograder/checks --submission DIR`` run the checks (see README)."""

from ..grading.plugin import *  # noqa: F403 - fixtures and hooks
