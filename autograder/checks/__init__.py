"""The graded checks, one pytest module per level (``test_levelN.py``).

Each test is tied to an entry of ``curriculum.CHECKS`` by ``@check("<level>.<stage>.<name>")``,
reaches student code only through the ``sub`` fixture (a ``proxy.Submission``), and compares
against references computed in this process (``reference.py``).
"""
