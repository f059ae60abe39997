"""The command line, ``python -m autograder COMMAND``: each command's module registers its parser
(``main.COMMAND_MODULES``); ``check`` and ``grade`` live in ``main``."""

from .main import is_class, main

__all__ = ["is_class", "main"]
