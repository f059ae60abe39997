"""nbgrader: a ready course and the preprocessors its ``nbgrader_config.py`` names
(``preprocessors``), with one parallel grading pass for ``nbgrader run`` (``pregrade``). The course
is in modules of one job each: ``notebooks``, ``new_course`` (``init``), ``submissions``, ``gradebook``, ``runner``
(the nbgrader CLI) and ``commands`` (the subcommands and the ``run`` pipeline); ``course`` gathers
their names for the callers and courses made before the split."""
