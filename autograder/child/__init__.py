"""The untrusted side: the process that holds a student's module and runs it on request.

``entry.py`` (the process's entry points), ``runtime.py`` (the requests), ``spies.py`` (what student
code did), ``confine.py`` (the protections), ``models.py`` (the grader's own models, built from plain
data), ``shared.py`` (the wire and codec, by path). None of them imports the ``autograder`` package:
run as a script, ``entry.py`` imports this folder under a private name. Nothing here may import
anything but the standard library, numpy, torch and siblings.
"""
