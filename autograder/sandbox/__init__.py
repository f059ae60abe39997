"""Processes that run student code, seen from the trusted side.

A ``ChildPool`` is where children come from, of two kinds. A ``Zygote`` is a ``python -I``
interpreter that has imported torch and numpy and nothing else; ``Zygote.fork`` asks it for a fresh
child connected to us by its own socket. Where forking is unsafe a ``Spawner`` starts a fresh
interpreter per child instead (``start_pool`` chooses; ``shared_pool`` keeps one per process). A
``Channel`` sends one request to a child and waits for the reply under a wall-clock limit; when
the limit passes, or the child dies, the child's whole process group is killed and the channel
reports why. ``InProcessChannel`` has the same interface over a ``Runtime`` in this very process (the
notebook self-check).

The modules, one job each: ``errors`` (SandboxFailure, ChildGone), ``limits`` (a child's bounds, and
what official grading requires), ``uids`` (sandbox uid leases), ``processes`` (finding, measuring and
killing a child's processes), ``channels`` (the request/reply channels), ``environment`` (a child's
command line, environment, configuration and handshake), ``gpu`` (whether a GPU may be visible) and
``pools`` (where children come from). This package re-exports their names. A global that a test
replaces is read where it is defined, and is not re-exported here: patch
``environment.CHILD_PRELUDE`` and ``pools.GPU_PROBE``.
"""

from .channels import Channel, InProcessChannel, PipeChannel
from .environment import RUNTIME_PATH, child_command, clean_env, unusable_reason
from .errors import ChildGone, SandboxFailure
from .gpu import GPU_DEVICE_NODES, _torch_build_has_gpu, accelerator_visible
from .limits import (
    REQUIRED_RLIMITS,
    Limits,
    cap_strings,
    isolation_refusal,
    isolation_shortfall,
    max_reply_bytes,
    read_regular_capped,
)
from .pools import (
    START_METHODS,
    ChildPool,
    Portable,
    Spawner,
    Zygote,
    close_shared_pool,
    expect_run,
    fork_is_safe,
    probe_isolation,
    shared_pool,
    start_method,
    start_pool,
)
from .processes import _alive, _descendants, _tree_rss, kill_tree, processes_of, resident_bytes
from .uids import SANDBOX_UID_BASE, SANDBOX_UID_COUNT, UidLease, held_uids

__all__ = [
    "Channel",
    "ChildGone",
    "ChildPool",
    "GPU_DEVICE_NODES",
    "InProcessChannel",
    "Limits",
    "PipeChannel",
    "Portable",
    "REQUIRED_RLIMITS",
    "RUNTIME_PATH",
    "SANDBOX_UID_BASE",
    "SANDBOX_UID_COUNT",
    "START_METHODS",
    "SandboxFailure",
    "Spawner",
    "UidLease",
    "Zygote",
    "_alive",
    "_descendants",
    "_torch_build_has_gpu",
    "_tree_rss",
    "accelerator_visible",
    "cap_strings",
    "child_command",
    "clean_env",
    "close_shared_pool",
    "fork_is_safe",
    "held_uids",
    "isolation_refusal",
    "isolation_shortfall",
    "kill_tree",
    "max_reply_bytes",
    "probe_isolation",
    "processes_of",
    "read_regular_capped",
    "resident_bytes",
    "shared_pool",
    "start_method",
    "start_pool",
    "expect_run",
    "unusable_reason",
]
