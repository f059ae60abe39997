"""``python -m autograder.integrations.gradescope run``: what a Gradescope bundle's ``run_autograder``
runs (and ``build``, as ``python -m autograder gradescope build`` does)."""

import sys

from .command import main

if __name__ == "__main__":
    sys.exit(main())
