"""The attack corpus: what students have done to Python autograders (shared/reference/security.md §1).

Each attack is a level file made of a base (the stub, the reference, or a wrong solution) and an
attack. ``tests/test_attacks.py`` grades the attack and the same base without the attack, and
asserts that the attack gains nothing, the grader still answers with a valid report, and nothing
the attack started or wrote survives.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUB1 = (ROOT / "assignments" / "level1_numpy.py").read_text()
REF1 = (ROOT / "solutions" / "level1_numpy.py").read_text()
STUB2 = (ROOT / "assignments" / "level2_tensors.py").read_text()
REF7 = (ROOT / "solutions" / "level7_module.py").read_text()

# A level-1 answer that is wrong everywhere but never raises: zeros of the right shapes.
ZEROS1 = textwrap.dedent("""
    import numpy as np

    def forward(x, w1, w2):
        return np.zeros((x.shape[0], w2.shape[1])), np.zeros((x.shape[0], w1.shape[1]))

    def loss_fn(y_pred, y):
        return 0.0

    def backward(x, h, w2, y_pred, y):
        return np.zeros((x.shape[1], h.shape[1])), np.zeros(w2.shape)

    def sgd_step(params, grads, lr):
        pass

    def train(x, y, w1, w2, lr, steps):
        return [0.0] * steps
""")

# The same at level 2, with tensors that keep the inputs' dtype.
ZEROS2 = textwrap.dedent("""
    import torch

    def forward(x, w1, w2):
        return x.new_zeros(x.shape[0], w2.shape[1]), x.new_zeros(x.shape[0], w1.shape[1])

    def loss_fn(y_pred, y):
        return y.new_zeros(())

    def backward(x, h, w2, y_pred, y):
        return x.new_zeros(x.shape[1], h.shape[1]), torch.zeros_like(w2)

    def sgd_step(params, grads, lr):
        pass

    def train(x, y, w1, w2, lr, steps):
        return [0.0] * steps
""")

# Files the attacks try to create; none may exist after grading.
PLANTED = [
    "/tmp/kit-attack-planted",
    "/var/tmp/kit-attack-planted",
    "/dev/shm/kit-attack-planted",
    str(ROOT / "autograder" / "kit_attack_planted.py"),
    "/root/kit-attack-planted",
]


@dataclass
class Attack:
    name: str
    what: str
    base: str  # the level file without the attack
    attack: str  # code appended to the base (module level)
    level: int = 1
    extra_files: dict = field(default_factory=dict)  # other files in the submission directory
    limits: dict = field(default_factory=dict)

    def source(self) -> str:
        return self.base + "\n\n" + textwrap.dedent(self.attack)


ATTACKS = [
    Attack("exit_at_import", "sys.exit(0) while being imported", STUB1, "import sys\nsys.exit(0)\n"),
    Attack(
        "os_exit_in_call",
        "os._exit(0) inside a graded function",
        STUB1,
        """
        import os
        def forward(x, w1, w2):
            os._exit(0)
    """,
    ),
    Attack(
        "atexit_exit",
        "atexit hook that exits 0 (masks failures in naive harnesses)",
        ZEROS1,
        """
        import atexit, os
        atexit.register(os._exit, 0)
    """,
    ),
    Attack(
        "keyboard_interrupt",
        "KeyboardInterrupt from a graded function",
        STUB1,
        """
        def forward(x, w1, w2):
            raise KeyboardInterrupt
    """,
    ),
    Attack(
        "patch_comparisons",
        "numpy/torch comparison functions replaced by always-true ones",
        ZEROS1,
        """
        import numpy, torch
        numpy.allclose = lambda *a, **k: True
        numpy.array_equal = lambda *a, **k: True
        numpy.testing.assert_allclose = lambda *a, **k: None
        torch.allclose = lambda *a, **k: True
        torch.equal = lambda *a, **k: True
        torch.testing.assert_close = lambda *a, **k: None
    """,
    ),
    Attack(
        "patch_builtins",
        "builtins type/isinstance/len replaced",
        ZEROS1,
        """
        import builtins
        builtins.isinstance = lambda *a: True
        builtins.type = lambda *a: object
        builtins.len = lambda *a: 0
    """,
    ),
    Attack(
        "patch_the_grader",
        "import the grader and neuter its checks",
        ZEROS1,
        """
        try:
            import autograder.checks.common as common
            common.expect_close = lambda *a, **k: None
            common.CheckFailed = Exception
        except Exception:
            pass
    """,
    ),
    Attack(
        "always_equal",
        "return values whose __eq__ is always true",
        STUB1,
        """
        class Liar(float):
            def __eq__(self, other): return True
            def __ne__(self, other): return False
            def __abs__(self): return 0.0
            def __sub__(self, other): return 0.0
            def __rsub__(self, other): return 0.0
            def __lt__(self, other): return True
            def __le__(self, other): return True
        class LiarArray:
            shape = property(lambda self: (0,))
            def __eq__(self, other): return True
            def __array__(self, *a, **k):
                import numpy
                return numpy.zeros(1)
        def forward(x, w1, w2):
            return LiarArray(), LiarArray()
        def loss_fn(y_pred, y):
            return Liar(0.0)
        def backward(x, h, w2, y_pred, y):
            return LiarArray(), LiarArray()
    """,
    ),
    Attack(
        "tensor_subclass",
        "a Tensor subclass whose __torch_function__ lies",
        STUB2,
        """
        import torch
        class Liar(torch.Tensor):
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                if func in (torch.equal, torch.allclose, torch.Tensor.__eq__):
                    return True
                return super().__torch_function__(func, types, args, kwargs or {})
        def forward(x, w1, w2):
            z = torch.zeros(x.shape[0], w2.shape[1], dtype=x.dtype).as_subclass(Liar)
            return z, torch.zeros(x.shape[0], w1.shape[1], dtype=x.dtype).as_subclass(Liar)
        def loss_fn(y_pred, y):
            return torch.zeros((), dtype=y.dtype).as_subclass(Liar)
    """,
        level=2,
    ),
    Attack(
        "nan_everywhere",
        "NaN outputs (NaN == NaN games, equal_nan defaults)",
        ZEROS2,
        """
        import torch
        def forward(x, w1, w2):
            nan = float("nan")
            return (torch.full((x.shape[0], w2.shape[1]), nan, dtype=x.dtype),
                    torch.full((x.shape[0], w1.shape[1]), nan, dtype=x.dtype))
        def loss_fn(y_pred, y):
            return torch.tensor(float("nan"), dtype=y.dtype)
        def backward(x, h, w2, y_pred, y):
            return torch.full((x.shape[1], h.shape[1]), float("nan"), dtype=x.dtype), torch.full_like(w2, float("nan"))
        def train(x, y, w1, w2, lr, steps):
            return [float("nan")] * steps
    """,
        level=2,
    ),
    Attack(
        "pytest_and_shadowing",
        "conftest.py, pytest.ini, sitecustomize.py and modules named like real ones",
        STUB1,
        "",
        extra_files={
            "conftest.py": "import pytest\n@pytest.hookimpl(hookwrapper=True)\n"
            "def pytest_runtest_makereport(item, call):\n"
            "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n",
            "pytest.ini": "[pytest]\naddopts = -p no:autograder --co\n",
            "sitecustomize.py": "import builtins\nbuiltins.KIT_PWNED = True\n",
            "torch.py": "raise SystemExit('shadowed torch')\n",
            "numpy.py": "raise SystemExit('shadowed numpy')\n",
            "autograder.py": "raise SystemExit('shadowed grader')\n",
        },
    ),
    Attack(
        "forged_stdout",
        "prints a fake full-marks report, also at exit",
        STUB1,
        """
        import atexit, json, sys
        fake = json.dumps({"score": 100.0, "max_score": 100.0, "checks": []})
        print(fake)
        sys.__stdout__.write(fake + "\\n")
        atexit.register(lambda: print(fake))
    """,
    ),
    Attack(
        "write_outside_scratch",
        "writes files to /tmp, /var/tmp, /dev/shm, the grader and /root",
        STUB1,
        f"""
        for _p in {PLANTED!r}:
            try:
                with open(_p, "w") as _f:
                    _f.write("planted")
            except OSError:
                pass
    """,
    ),
    Attack(
        "read_the_solution",
        "reads the reference solution from the repository and runs it",
        STUB1,
        f"""
        _paths = [{str(ROOT / "solutions" / "level1_numpy.py")!r},
                  {str(ROOT / "autograder" / "core" / "reference.py")!r}]
        for _p in _paths:
            try:
                exec(compile(open(_p).read(), _p, "exec"), globals())
            except Exception:
                pass
    """,
    ),
    Attack(
        "gc_introspection",
        "walks gc.get_objects() for expected values",
        ZEROS1,
        """
        import gc
        _found = [o for o in gc.get_objects() if isinstance(o, dict) and ("expected" in o or "want" in o)]
        def forward(x, w1, w2):
            for o in gc.get_objects():
                if isinstance(o, dict) and "want" in o:
                    return o["want"], o.get("want_h")
            import numpy as np
            return np.zeros((x.shape[0], w2.shape[1])), np.zeros((x.shape[0], w1.shape[1]))
    """,
    ),
    Attack(
        "hang_ignoring_signals",
        "an endless loop that ignores SIGTERM and SIGINT",
        STUB1,
        """
        import signal
        def forward(x, w1, w2):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            while True:
                pass
    """,
        limits={"call_seconds": 3.0},
    ),
    Attack(
        "memory_grab",
        "allocates memory until something stops it",
        STUB1,
        """
        import numpy as np
        def forward(x, w1, w2):
            hoard = []
            while True:
                hoard.append(np.ones(2 ** 24))  # 128 MiB a time, touched
    """,
        limits={"memory_bytes": 1536 * 1024 * 1024, "call_seconds": 30.0},
    ),
    Attack(
        "fork_bomb",
        "forks without end",
        STUB1,
        """
        import os
        def forward(x, w1, w2):
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
    """,
        limits={"call_seconds": 4.0},
    ),
    Attack(
        "orphans_and_daemons",
        "leaves a detached daemon and a subprocess behind",
        ZEROS1,
        """
        import os, subprocess, time
        subprocess.Popen(["sleep", "300"], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(300)
            os._exit(0)
    """,
    ),
    Attack(
        "output_flood",
        "floods stdout and stderr",
        ZEROS1,
        """
        import sys
        for _ in range(20000):
            sys.stdout.write("x" * 4096)
            sys.stderr.write("y" * 4096)
    """,
    ),
    Attack(
        "kill_the_grader",
        "signals its parent, its process group's leader and every process it can see",
        ZEROS1,
        """
        import os, signal
        for _pid in [os.getppid(), 1] + [int(p) for p in os.listdir("/proc") if p.isdigit()]:
            if _pid != os.getpid():
                try:
                    os.kill(_pid, signal.SIGKILL)
                except OSError:
                    pass
    """,
    ),
    Attack(
        "network",
        "connects to a server on the loopback (the test listens there)",
        ZEROS1,
        """
        import os, socket
        try:
            port = int(os.environ.get("KIT_TEST_PORT", "1"))
            socket.create_connection(("127.0.0.1", port), timeout=2).sendall(b"leak")
        except OSError:
            pass
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"leak")
        except OSError:
            pass
    """,
    ),
    # --- issue 16: what the child could see, and what it could stall (each reproduced on the old main)
    Attack(
        "search_the_disk",
        "looks for the reference solutions (any checkout, its .git, the mount table, a "
        "course's source/) and runs what it finds",
        STUB1,
        """
        import glob, os
        _found = []
        _roots = {"/", "/work", "/home", "/root", "/srv", "/opt", "/tmp", "/var"}
        try:
            for _line in open("/proc/self/mountinfo"):
                _roots.add(_line.split()[4])
        except OSError:
            pass
        for _r in sorted(_roots):
            for _pat in ("*/solutions/level1_numpy.py", "*/*/solutions/level1_numpy.py",
                         "*/*/*/solutions/level1_numpy.py", "*/source/level1/level1_numpy.ipynb"):
                _found += glob.glob(os.path.join(_r, _pat))
        for _path in _found:
            try:
                _code = open(_path).read()
                if _path.endswith(".py") and "def forward" in _code:
                    exec(compile(_code, "stolen", "exec"), globals())
                    break
            except (OSError, SyntaxError, ValueError):
                pass
    """,
    ),
    Attack(
        "output_is_a_pipe",
        "replaces its output file with a named pipe (the grader reads it)",
        ZEROS1,
        """
        import os
        for _p in (".output", os.path.join(os.getcwd(), ".output")):
            try:
                os.unlink(_p)
            except OSError:
                pass
            try:
                os.mkfifo(_p)
            except OSError:
                pass
    """,
    ),
    Attack(
        "slow_reply",
        "answers on the grader's socket one byte a second",
        STUB1,
        """
        import os, stat, struct, time
        def forward(x, w1, w2):
            for _fd in range(3, 64):
                try:
                    if stat.S_ISSOCK(os.fstat(_fd).st_mode):
                        _body = b'{"value": null, "buffers": []}' + b" " * 200
                        os.write(_fd, struct.pack("<IQ", len(_body), 0))
                        for _b in _body:
                            os.write(_fd, bytes([_b]))
                            time.sleep(1)
                except OSError:
                    pass
            time.sleep(600)
    """,
        limits={"call_seconds": 4.0, "submission_seconds": 30.0},
    ),
    # The student's own failures must stay theirs: none of these may make a "grader error".
    Attack(
        "model_left_on_meta",
        "train leaves the model on the meta device (no values to read back)",
        REF7,
        """
        _train = train

        def train(model, *args, **kwargs):
            losses = _train(model, *args, **kwargs)
            model.to("meta")
            return losses
    """,
        level=7,
    ),
    Attack(
        "runtime_tampered",
        "replaces the child runtime's describe and encoders with liars",
        REF7,
        """
        import sys as _sys
        for _name, _mod in list(_sys.modules.items()):
            if _name.endswith(".runtime") and hasattr(_mod, "describe"):
                _mod.describe = lambda obj: {"type": 3, "children": "all"}
                _mod.device_of = lambda t, s: ["cuda"]
                _mod.Runtime._encode_tensor = lambda self, v, buffers, with_grad=True: {"t": "tensor", "h": "x"}
    """,
        level=7,
    ),
    Attack(
        "builtins_rebound",
        "rebinds isinstance, len and type in builtins once its work is done",
        REF7,
        """
        import builtins as _builtins
        _train = train

        def train(model, *args, **kwargs):
            losses = _train(model, *args, **kwargs)
            _builtins.isinstance = lambda *a: False
            _builtins.len = lambda *a: -1
            return losses
    """,
        level=7,
    ),
]
