"""An alias kept for the `nbgrader_config.py` of courses made before
(`autograder.nbgrader_preprocessors.IsolatedGrades`, ...): the code is in
``autograder.integrations.nbgrader.preprocessors``, and this name is that very module (a patch or an
attribute set through either name is seen through both)."""

import sys

from .integrations.nbgrader import preprocessors as _module

sys.modules[__name__] = _module
