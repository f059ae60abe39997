"""A machine with a GPU is another machine: what the grader must get right there, tested here.

torch behaves differently where a GPU is visible (tests/torch_sim.py simulates it): a backward pass
or an optimizer step in a process that then forks breaks every forked child's backward pass, and
torch 2.11's torch._dynamo asks for the user's name. The warm pool must stay fork-safe there, the
cold children must run under a uid with no name, a pool that cannot run torch must be the grader's
error (exit status 3), never the student's 0, and every check must put the model and its data on
one device.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from autograder import sandbox
from autograder.checks import nn_units as units
from autograder.checks.common import CheckFailed
from autograder.core.curriculum import LEVELS
from autograder.grading import grade
from autograder.grading.context import GradingContext
from autograder.sandbox import Portable, Spawner, Zygote
from autograder.sandbox.proxy import StudentError
from conftest import SEED

pytestmark = pytest.mark.slow  # (cold children and whole CLI runs: `make test` runs them, `make test-fast` not)


ROOT = Path(__file__).resolve().parent.parent
SIM = str(ROOT / "tests" / "torch_sim.py")


@pytest.fixture
def simulated(monkeypatch):
    """Children started through torch_sim.py with the given modes (for this test only)."""

    def use(modes: str) -> None:
        monkeypatch.setattr(sandbox.environment, "CHILD_PRELUDE", [SIM, modes])

    return use


def test_the_simulation_breaks_a_child_forked_after_a_backward_pass(simulated):
    """The premise: through torch_sim's gpu mode, a zygote that warms up with a backward pass (as it
    did, believing no GPU was there) gives children that cannot run one, with torch's message."""
    simulated("gpu")
    pool = Zygote(gpu=False)
    try:
        r = grade(ROOT / "solutions", [4], SEED, pool=pool)
    finally:
        pool.close()
    assert r.score < r.max_score
    assert any("autograd's threading" in c.message for c in r.checks), [c.message for c in r.checks]


@pytest.mark.slow
def test_the_warm_pool_grades_the_reference_in_full_where_a_gpu_is_visible(simulated, monkeypatch):
    """A pool told that a GPU is visible (the injectable probe) runs no backward pass, no optimizer
    step and no CUDA before it forks: every level of the reference gets full marks (52 / 100 when
    the warm-up ran them)."""
    simulated("gpu")
    monkeypatch.setattr(sandbox.pools, "GPU_PROBE", lambda: True)
    pool = sandbox.start_pool("fork", levels=sorted(LEVELS))
    try:
        assert isinstance(pool, Zygote) and pool.gpu
        r = grade(ROOT / "solutions", sorted(LEVELS), SEED, pool=pool)
    finally:
        pool.close()
    assert (r.score, r.errors) == (r.max_score, []), [(c.id, c.message) for c in r.checks if not c.passed]


@pytest.mark.parametrize("gpu", [False, True], ids=["no_gpu", "gpu_visible"])
def test_portable_interpreters_warm_up_ahead_only_where_no_gpu_may_be_visible(monkeypatch, gpu):
    """The portable pool's interpreters run the zygote's warm-up while they wait for their
    configuration, except where the probe says a GPU may be visible (``--imports-only``: no backward
    pass before the child hides the devices it does not use); either way the reference gets full
    marks through them."""
    monkeypatch.setattr(sandbox.pools, "GPU_PROBE", lambda: gpu)
    pool = Portable()
    try:
        assert pool.gpu is gpu
        pool.start_ahead(1, numpy_only=1)
        started = [list(p.args) for p in pool._spares + pool._numpy_spares]
        assert len(started) == 2 and all(("--imports-only" in args) is gpu for args in started), started
        r = grade(ROOT / "solutions", [1, 3], SEED, pool=pool)
    finally:
        pool.close()
    assert (r.score, r.errors) == (r.max_score, []), [(c.id, c.message) for c in r.checks if not c.passed]


def test_the_probe_finds_a_gpu_without_initialising_cuda(monkeypatch):
    """KIT_ASSUME_GPU decides where it is set; else a GPU's device node and a torch built for one."""
    monkeypatch.setenv("KIT_ASSUME_GPU", "1")
    assert sandbox.accelerator_visible()
    monkeypatch.setenv("KIT_ASSUME_GPU", "0")
    assert not sandbox.accelerator_visible()
    monkeypatch.delenv("KIT_ASSUME_GPU")
    built = bool(torch.version.cuda or torch.version.hip)
    assert sandbox._torch_build_has_gpu() == built
    nodes = any(os.path.exists(p) for p in sandbox.GPU_DEVICE_NODES)
    assert sandbox.accelerator_visible() == (built and nodes)


def test_a_pool_that_cannot_run_torch_is_a_grader_error_not_the_students_zero(simulated):
    """The children cannot run a backward pass (a zygote that ran one before forking, where a GPU is
    visible): every check of the level is a grader error that names the cause, no check is the
    student's failure, and nothing suggests the student tampered with Python or torch."""
    simulated("gpu")
    pool = Zygote(gpu=False)  # the probe missed the GPU
    try:
        r = grade(ROOT / "solutions", [3], SEED, pool=pool)
    finally:
        pool.close()
    assert r.errors
    assert all(c.error for c in r.checks), [(c.id, c.message) for c in r.checks if not c.error]
    for c in r.checks:
        assert c.message.startswith("grader error:"), c.message
        assert "autograd's threading" in c.message
        assert "builtins" not in c.message


@pytest.mark.slow
def test_the_command_line_exits_3_when_the_pool_cannot_run_torch(tmp_path):
    out = subprocess.run(
        [sys.executable, SIM, "gpu", "-m", "autograder", "grade", "solutions", "--level", "3", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KIT_ASSUME_GPU": "0", "KIT_SANDBOX_START": "fork"},
    )
    assert out.returncode == 3, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["errors"] and all(c["error"] for c in report["checks"])
    assert "grader error" in out.stderr


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root: a sandbox uid of its own")
@pytest.mark.parametrize("pool_kind", [Spawner, Portable], ids=["spawn", "portable"])
@pytest.mark.parametrize("uses_dynamo", [False, True], ids=["reference", "reference_importing_dynamo"])
def test_a_cold_child_under_a_uid_without_a_name_grades_level_6(simulated, pool_kind, uses_dynamo, tmp_path):
    """torch 2.11's torch._dynamo asks getpass.getuser() for its cache directory when it is first
    imported; the sandbox uid has no passwd entry. The child's environment names a user (and a home
    in its scratch), so level 6 gets full marks (a KeyError cost it 7 points). The optimizers no
    longer import it (child/lazy_modules.py), so a correct submission that uses torch._dynamo itself
    makes the child import the real one."""
    import pwd

    simulated("getuser")
    where = ROOT / "solutions"
    if uses_dynamo:
        where = tmp_path / "work"
        where.mkdir()
        source = (ROOT / "solutions" / "level6_optim.py").read_text()
        (where / "level6_optim.py").write_text(source + "\n_CONFIG = torch._dynamo.config  # the real torch._dynamo\n")
    pool = pool_kind()
    try:
        r = grade(where, [6], SEED, pool=pool)
    finally:
        pool.close()
    uid = r.sandbox.get("user", "")
    assert uid.startswith("uid "), r.sandbox
    with pytest.raises(KeyError):
        pwd.getpwuid(int(uid.split()[1]))
    assert (r.score, r.errors) == (r.max_score, []), [(c.id, c.message) for c in r.checks if not c.passed]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
@pytest.mark.parametrize("command", [["grade", "solutions", "--level", "1"], ["check", "1", "--dir", "solutions"]])
def test_device_cuda_without_cuda_is_refused(command):
    out = subprocess.run(
        [sys.executable, "-m", "autograder", *command, "--device", "cuda"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "no CUDA device" in out.stderr
    assert "Total" not in out.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_device_auto_grades_on_the_cpu_and_says_so():
    out = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "solutions", "--level", "1", "--device", "auto"]
        + ["--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["device"] == "cpu" and report["score"] == report["max_score"]
    assert {c["device"] for c in report["checks"]} == {"cpu"}
    assert "no CUDA device" in out.stderr and "CPU" in out.stderr


@pytest.mark.parametrize(
    "level,unit",
    [
        (5, lambda sub: units.build_model(sub, SEED)),
        (7, lambda sub: units.module_forward(sub, SEED, 7, "TwoLayerNet")),
        (8, lambda sub: units.dynamic_forward(sub, SEED)),
        (8, lambda sub: units.one_draw(sub, SEED)),
        (8, lambda sub: units.sharing(sub, SEED)),
    ],
    ids=["5.build_model", "7.forward", "8.forward", "8.one_draw", "8.sharing"],
)
def test_checks_run_the_students_model_on_the_device_of_its_inputs(zygote, level, unit):
    """The checks that run a model the student built move it to the check's device first. The meta
    device stands in for a GPU here: torch refuses to mix it with the CPU, as it refuses CUDA
    ("Expected all tensors to be on the same device" on a GPU). Past the forward pass a meta tensor
    holds no values to compare, so the check may end there, but never on a device mix-up."""
    ctx = GradingContext(ROOT / "solutions", [level], SEED, ["meta"], pool=zygote)
    try:
        sub = ctx.submission(level)
        sub.device = "meta"
        try:
            unit(sub)
        except CheckFailed as exc:
            assert "holds no values" in exc.message, exc.message
        except StudentError as exc:
            pytest.fail(f"the check mixed devices: {exc}")
    finally:
        ctx.close()


@pytest.mark.slow
def test_the_gpu_record_script_runs_as_prepared(tmp_path):
    """bench/gpu_record.py is the device check a session with a GPU runs once, in a few minutes of
    lent time: it must work the first time there. Here it runs as a stand-in ('cuda' graded on the
    CPU) on one submission of each kind, and writes its record with the lines the issue asks for."""
    out = tmp_path / "gpu.md"
    run = subprocess.run(
        [sys.executable, "bench/gpu_record.py", "--stand-in", "cpu", "--limit", "1", "--methods", "fork"]
        + ["--jobs", "2", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    text = out.read_text()
    assert "A stand-in run" in text
    assert "CUDA checks run: " in text and "; failed: 0." in text
    assert "differing: 0, of which 0 because the submission ignores its device and 0 unexplained." in text
    assert "| fork | 100 / 100 | 100 / 100 |" in text
    for kind in ("attack", "broken", "correct", "device", "legal"):
        assert f"| {kind} | cuda | 1 |" in text, text


def test_the_gpu_record_tells_the_submissions_device_mistakes_from_the_graders():
    """A verdict that differs between the devices is the submission's only when it is broken and the
    failing side names the device; a correct submission that differs, or a difference without such
    a message, is the grader's and fails the record."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import gpu_record
    finally:
        sys.path.remove(str(ROOT / "bench"))

    def grade(case, kind, device, passed, message=""):
        return {
            "case": case,
            "kind": kind,
            "method": "fork",
            "device": device,
            "checks": {"2.forward.values": (passed, False, message)},
        }

    mismatch = "forward() raised RuntimeError: Expected all tensors to be on the same device, cuda:0 and cpu!"
    results = [
        grade("cpu_tensor", "broken", "cpu", True),
        grade("cpu_tensor", "broken", "cuda", False, mismatch),
        grade("hard_coded", "device", "cpu", False, "forward() raised RuntimeError: No CUDA GPUs are available"),
        grade("hard_coded", "device", "cuda", True),
        grade("flaky", "broken", "cpu", True),
        grade("flaky", "broken", "cuda", False, "the loss did not fall"),
        grade("good", "correct", "cpu", True),
        grade("good", "correct", "cuda", False, mismatch),
        grade("same", "broken", "cpu", False, "wrong values"),
        grade("same", "broken", "cuda", False, "wrong values"),
    ]
    compared, explained, unexplained = gpu_record._differences(results)
    assert compared == 5
    assert [row.split(" | ")[0] for row in explained] == ["| broken cpu_tensor", "| device hard_coded"]
    assert [row.split(" | ")[0] for row in unexplained] == ["| broken flaky", "| correct good"]


def test_the_gpu_record_script_writes_nothing_without_a_gpu(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    run = subprocess.run(
        [sys.executable, "bench/gpu_record.py", "--out", str(tmp_path / "gpu.md")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "no CUDA device" in run.stderr
    assert not (tmp_path / "gpu.md").exists()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_children_started_ahead_side_by_side_grade_as_those_started_in_turn(monkeypatch, method):
    """On CUDA every child of a run starts at once, on threads (their CUDA contexts initialise in
    parallel). The same path, run on the CPU here, grades the reference in full, a stub to zero and
    a level that fails on import as one, with no grader error."""
    import autograder.grading.context as context

    monkeypatch.setattr(context, "PREOPEN_DEVICES", {"cpu", "cuda"})
    pool = sandbox.start_pool(method, levels=sorted(LEVELS))
    try:
        r = grade(ROOT / "solutions", sorted(LEVELS), SEED, pool=pool)
        assert (r.score, r.errors) == (r.max_score, []), [(c.id, c.message) for c in r.checks if not c.passed]
        stub = grade(ROOT / "assignments", [2, 6], SEED, pool=pool)
        assert stub.score == 0 and not stub.errors
    finally:
        pool.close()


def test_a_child_grading_on_the_cpu_sees_no_gpu(tmp_path, monkeypatch):
    """On the H200, a submission that hard-coded ``.cuda()`` graded with ``--device cpu`` failed with
    "CUDA error: out of memory" (the CPU child's address-space cap breaks CUDA's start): a false
    lead. The CPU child hides the GPUs, so torch says none is available. Here the submission's
    forward reads what its process sees: on the CPU the devices are hidden and the forward passes."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # as a GPU machine's grader may have it
    level = LEVELS[2]
    source = (ROOT / "solutions" / f"{level.module}.py").read_text()
    hidden = "    h = x @ w1\n"
    assert hidden in source
    check = "    import os\n    assert os.environ['CUDA_VISIBLE_DEVICES'] == os.environ['HIP_VISIBLE_DEVICES'] == ''\n"
    (tmp_path / f"{level.module}.py").write_text(source.replace(hidden, check + hidden, 1))
    r = grade(tmp_path, [2], SEED)
    assert (r.score, r.errors) == (r.max_score, []), [(c.id, c.message) for c in r.checks if not c.passed]
    from autograder.child.entry import hide_unused_accelerators

    hide_unused_accelerators("cuda")  # a CUDA child keeps what it was given
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
