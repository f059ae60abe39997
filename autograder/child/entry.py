"""The child's entry points: ``python -I entry.py --zygote FD`` (a warm interpreter that forks a
fresh child per level) or ``--child FD`` (one cold child per interpreter, where forking is unsafe).

The child never imports the ``autograder`` package, the references, or ``solutions/``. Run as a
script, this file makes its own folder a package of a private name (``_kit_child``) and imports its
siblings from there; they load ``wire.py`` and ``codec.py`` by path (``shared.py``). The zygote
imports torch and numpy once and forks a fresh child per level; each child loads one student
module and answers requests over a socket in the plain-data wire format. The trusted side holds
every reference value and decides every score: a child can lie, but it can only answer with data
that is then checked.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
import types

if __name__ == "__main__" and not __package__:  # run as a script: this folder, as a private package
    import importlib.util

    _HERE = os.path.dirname(os.path.abspath(__file__))
    _spec = importlib.util.spec_from_file_location(
        "_kit_child", os.path.join(_HERE, "__init__.py"), submodule_search_locations=[_HERE]
    )
    _package = importlib.util.module_from_spec(_spec)
    sys.modules["_kit_child"] = _package
    _spec.loader.exec_module(_package)
    __package__ = "_kit_child"

#: The numpy-only flavour (the numpy level): torch is never imported, and cannot be (``block_torch``).
NUMPY_ONLY = "--numpy-only" in sys.argv[2:]  # (after --zygote FD, --child FD or --pipe)
#: A zygote or a portable interpreter where a GPU may be visible (``sandbox.Zygote``,
#: ``sandbox.Portable``): no warm-up (``prepare_children``).
IMPORTS_ONLY = "--imports-only" in sys.argv[2:]
FLAGS = {"--numpy-only", "--imports-only"}
TORCH_BLOCKED = "the numpy level runs without torch: torch cannot be imported here (write it with numpy only)"


class _NoTorch:
    """A meta-path finder that refuses torch and its submodules, whatever sys.modules holds."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(TORCH_BLOCKED, name=name)
        return None


def block_torch() -> None:
    sys.meta_path.insert(0, _NoTorch)
    sys.modules["torch"] = None  # `import torch` fails at once, also for the runtime's own imports


if NUMPY_ONLY:
    block_torch()

# What the imports below make (torch's 250,000 objects) lives as long as this process: they run with
# the cyclic garbage collector paused, and what they made is then frozen, out of every collection's
# walk (the grader does the same: autograder/core/long_lived.py says why). Student code runs later,
# with the collector on, and its objects are collected as ever. (Left as it was found where a test
# imports this module: a fresh interpreter starts with the collector on.)
_COLLECTOR_WAS_ON = gc.isenabled()
gc.disable()
from . import lazy_modules  # noqa: E402
from .confine import confine, die_with_parent, install_paths  # noqa: E402
from .runtime import Runtime, _safe_str, torch  # noqa: E402
from .shared import wire  # noqa: E402
from .spies import _SPIES  # noqa: E402

if torch is not None:  # before any optimizer or backward pass: torch._dynamo and sympy only where used
    lazy_modules.install(torch)
gc.freeze()
if _COLLECTOR_WAS_ON:
    gc.enable()


class _TorchStub(types.ModuleType):
    """What ``import torch`` gives in the numpy-only child: a module with nothing in it, so that a
    leftover import costs the discipline check only, while any use of torch fails with the reason."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        rt = _SPIES.get("runtime")
        if rt is not None and rt.student_running:  # reached without an import: through sys.modules
            rt.obs.imports.append("torch")
        raise ImportError(TORCH_BLOCKED)


if NUMPY_ONLY:
    sys.modules["torch"] = _TorchStub("torch")


def serve(sock, runtime: Runtime) -> None:
    """Answer requests until told to exit or the grader hangs up. ``sock``: a socket, or
    ``wire.PipeEnds`` (the portable transport)."""
    while True:
        try:
            req, buffers = wire.recv_message(sock)
        except (wire.WireError, OSError):
            return
        if req.get("op") == "exit":
            return
        reply, out = runtime.handle(req, buffers)
        try:
            wire.send_message(sock, reply, out)
        except (OSError, ValueError, TypeError) as exc:
            try:
                wire.send_message(
                    sock, {"error": {"kind": "runtime", "type": type(exc).__name__, "message": _safe_str(exc)}}
                )
            except OSError:
                return


def _detach() -> None:
    """A session of our own, default SIGCHLD, and writes past the file-size limit that fail rather
    than kill: each only where the platform has it (Windows has none of them)."""
    if hasattr(os, "setsid"):
        try:
            os.setsid()
        except OSError:
            pass
    for name, action in (("SIGCHLD", signal.SIG_DFL), ("SIGXFSZ", signal.SIG_IGN)):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), action)


def _apply_rlimits(limits: dict, held: dict) -> None:
    """Set the rlimits the platform has; name the ones that did not hold (all of them without ``resource``)."""
    try:
        import resource
    except ImportError:
        if limits:
            held["limits_failed"] = sorted(limits)
        return
    for name, value in limits.items():
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError, AttributeError):
            held.setdefault("limits_failed", []).append(name)


def child_main(conn, config: dict) -> None:
    """In a fresh child: detach, confine, bound, redirect output, then serve requests on ``conn``
    (a socket, or ``wire.PipeEnds`` whose descriptors are already off 0, 1 and 2)."""
    _detach()
    out_path = config.get("output")
    if out_path:
        # never through a link, never blocked by a pipe (the grader created it just now, as a file)
        out = os.open(
            out_path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0), 0o600
        )
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    held = confine(config)
    scratch = config.get("scratch")
    if scratch:
        os.chdir(scratch)
    limits = dict(config.get("limits") or {})
    if "uid" not in held:
        limits.pop("RLIMIT_NPROC", None)  # per-user: only meaningful for a user of our own
    _apply_rlimits(limits, held)
    die_with_parent()
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    name_the_user(scratch)
    hide_unused_accelerators(config.get("device") or "cpu")
    hello = {"hello": config.get("nonce"), "pid": os.getpid(), "protections": held}
    unusable = self_test(config.get("device") or "cpu")
    if unusable:  # the grader's failure, said before any student code: it never grades in this child
        hello["unusable"] = unusable
        wire.send_message(conn, hello)
        return
    runtime = Runtime()
    wire.send_message(conn, hello)
    serve(conn, runtime)


#: The user name the child's environment gives (``getpass.getuser()`` reads it before the passwd
#: file, where a sandbox uid has no entry: torch._dynamo asks it for its cache directory).
SANDBOX_USER = "kit-sandbox"


def name_the_user(scratch: str | None) -> None:
    """A user name, a home and cache directories that any torch accepts, for a uid with no passwd
    entry: the name in the environment, the home and every cache in the child's own scratch (private,
    writable, gone with the child)."""
    os.environ["USER"] = os.environ["LOGNAME"] = SANDBOX_USER
    if not scratch:
        return
    cache = os.path.join(scratch, ".cache")
    os.environ["HOME"] = scratch
    os.environ["XDG_CACHE_HOME"] = cache
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(cache, "torchinductor")
    os.environ["TRITON_CACHE_DIR"] = os.path.join(cache, "triton")


def hide_unused_accelerators(device: str) -> None:
    """A child that grades on the CPU sees no GPU. Its address-space cap (a CPU-only backstop) makes
    CUDA's start fail as "CUDA error: out of memory", a false lead for a student who hard-coded
    ``.cuda()``; with the devices hidden, torch says "No CUDA GPUs are available". Read when CUDA
    starts, which no process before this one has done (the zygote only imports)."""
    if device != "cuda":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        os.environ["HIP_VISIBLE_DEVICES"] = ""  # (ROCm's torch reads both)


def self_test(device: str) -> str | None:
    """Run the grader's smallest torch work here, before any student code: a backward pass, and on
    a GPU a CUDA tensor. None when it ran; else why not (CUDA cannot initialise in this child,
    autograd refuses after a fork): then the grader reports its own error, never the student's."""
    if torch is None:
        return None
    try:
        x = torch.ones(2, requires_grad=True)
        (x * 2).sum().backward()
        if device == "cuda":
            y = torch.ones(2, device="cuda", requires_grad=True)
            (y * 2).sum().backward()
            torch.cuda.synchronize()
    except Exception as exc:  # noqa: BLE001 - whatever torch raises here is the grader's to report
        return f"{type(exc).__name__}: {_safe_str(exc)[:400]}"
    return None


def _warm_up() -> None:
    """Run the cheap kinds of torch work once (a module's forward, backward, autograd.grad, a step of
    SGD with momentum and of Adam), so their lazy set-up happens here rather than in every forked
    child. The optimizers' torch._dynamo and the given gradient's symbolic_shapes (sympy) are
    stand-ins (lazy_modules.py): nothing of them is imported."""
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    torch.nn.MSELoss(reduction="sum")(model(torch.ones(4, 3)), torch.zeros(4, 1)).backward()
    model(torch.ones(4, 3)).backward(torch.ones(4, 1))  # (given its gradient: the stand-in answers)
    torch.autograd.grad(
        (torch.ones(2, requires_grad=True) * 2).sum(), [torch.ones(1, requires_grad=True)], allow_unused=True
    )
    for opt in (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), torch.optim.Adam(model.parameters())):
        opt.zero_grad()
        model(torch.ones(2, 3)).sum().backward()
        opt.step()
    # Every call a child serves starts with torch.manual_seed (runtime.op_call), which queues the
    # seed for each lazily initialised accelerator with traceback.format_stack(): the first one reads
    # the source of every file on the stack into linecache. Read here once, the children inherit it.
    # The random state is put back: the children start from the state they always started from.
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    torch.random.set_rng_state(state)


def prepare_children() -> None:
    """What every forked child would otherwise do again, done once in the zygote before it forks:
    torch's lazy set-up (``_warm_up``), and the walk of the packages' metadata that finds what
    confinement keeps visible (``confine.install_paths``: the zygote's installation and imports are
    its children's, the numpy-only flavour's included). A portable interpreter does the same for
    itself while it waits for its configuration (``portable_main``)."""
    install_paths()
    if torch is not None:
        torch.set_num_threads(1)
        if not IMPORTS_ONLY:  # (a backward pass before a fork breaks every child where a GPU is visible)
            _warm_up()


#: When the zygote finished each part of its start (time.time()), sent with each fork's answer for
#: the grader's trace (core/trace.py): trusted facts, taken before any student code existed.
_STARTED: dict[str, float] = {}


def zygote_main(ctrl_fd: int) -> None:
    import time

    _STARTED["zygote imported"] = time.time()
    try:  # orphans of student code become our children, so the grader can find and end them
        import ctypes

        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError, TypeError):  # no prctl (macOS), no C library by that name (Windows)
        pass
    die_with_parent()
    prepare_children()
    gc.freeze()  # (what the warm-up made too: every child inherits it, out of its collections' walk)
    if torch is not None:
        _STARTED["zygote warmed up"] = time.time()
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked children are reaped automatically
    ctrl = socket.socket(fileno=ctrl_fd)
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctrl, 1 << 16, 1)
        except OSError:
            return
        if not msg:
            return
        config = json.loads(msg)
        if not fds:  # (not a request: nothing to fork)
            continue
        pid = os.fork()
        if pid == 0:
            ctrl.close()
            code = 0
            try:
                child_main(socket.socket(fileno=fds[0]), config)
            except BaseException:  # noqa: BLE001
                code = 70
            finally:
                os._exit(code)
        os.close(fds[0])
        ctrl.send(json.dumps({"pid": pid, "started": _STARTED}).encode())


def spawned_main(fd: int) -> None:
    """The cold path (``sandbox.Spawner``): this fresh interpreter is the child itself. Its first
    message is the configuration a zygote would have been sent."""
    die_with_parent()
    if torch is not None:
        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
    sock = socket.socket(fileno=fd)
    sock.settimeout(120)
    config, _ = wire.recv_message(sock)
    sock.settimeout(None)
    code = 0
    try:
        child_main(sock, config)
    except BaseException:  # noqa: BLE001
        code = 70
    finally:
        os._exit(code)


def portable_main() -> None:
    """The portable transport (``sandbox.Portable``): this fresh interpreter is the child, and the
    wire runs over its standard input and output, which every platform has. They are moved off
    descriptors 0 and 1 first, so that what the student prints goes to the output file, never
    into the wire. The first message is the configuration."""
    conn = wire.PipeEnds(os.dup(0), os.dup(1))
    quiet = os.open(os.devnull, os.O_WRONLY)  # (nothing written to descriptor 1 from here reaches the wire)
    os.dup2(quiet, 1)
    os.close(quiet)
    # What the zygote does once for all its children, this interpreter does for itself while it
    # waits, started ahead (sandbox.Portable): then the level's first backward pass, optimizer
    # step and confinement find it done (a level 0.03-0.05 s sooner). Where a GPU may be visible
    # (--imports-only) no backward pass runs before the child hides the devices it does not use.
    try:
        prepare_children()
    except Exception:  # noqa: BLE001 - a head start only: the child's own self_test says whether torch works
        pass
    gc.freeze()  # (what the warm-up made: out of every later collection's walk, as in the zygote)
    if torch is not None:  # (None in the numpy-only child)
        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
    config, _ = wire.recv_message(conn)
    code = 0
    try:
        child_main(conn, config)
    except BaseException:  # noqa: BLE001
        code = 70
    finally:
        os._exit(code)


def _usage() -> None:
    sys.stderr.write(
        "usage: entry.py --zygote FD [--numpy-only] [--imports-only] | --child FD [--numpy-only] "
        "| --pipe [--numpy-only] [--imports-only]\n"
    )
    sys.exit(2)


if __name__ == "__main__":
    _mode = sys.argv[1:2]
    _fd_args = sys.argv[2:3] if _mode in (["--zygote"], ["--child"]) else []
    if not set(sys.argv[2 + len(_fd_args) :]) <= FLAGS or (_mode != ["--pipe"] and not _fd_args):
        _usage()
    if _mode == ["--pipe"]:  # the portable transport (numpy-only too)
        portable_main()
    elif _mode == ["--zygote"]:
        zygote_main(int(_fd_args[0]))
    elif _mode == ["--child"]:
        spawned_main(int(_fd_args[0]))
    else:
        _usage()
