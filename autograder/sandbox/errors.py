"""The two ways the sandbox reports failure to its caller: the sandbox itself could not give a
usable child (``SandboxFailure``, a grader error), or a child cannot answer (``ChildGone``)."""

from __future__ import annotations


class SandboxFailure(RuntimeError):
    """The sandbox could not give a child that can run the grader's work (it did not start, or it
    cannot run torch: CUDA cannot initialise there, autograd refuses after a fork). No student code
    has run in it: a grader error, never the student's failure (``proxy.Submission`` says so)."""


class ChildGone(Exception):
    """The child cannot answer: it timed out, crashed, or broke the protocol."""

    def __init__(self, reason: str, kind: str):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # "timeout" | "crash" | "protocol"
