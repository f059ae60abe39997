"""The learner's commands: the self-check (in a notebook or a terminal), watch, solution, progress,
the self-study history, and JupyterLab on the assignments."""
