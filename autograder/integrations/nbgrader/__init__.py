"""nbgrader: a ready course (``course``), the preprocessors its ``nbgrader_config.py`` names, and one
parallel grading pass for ``nbgrader run`` (``pregrade``)."""
