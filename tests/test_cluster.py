"""Grading a class on a Dask cluster: a real scheduler and workers (separate processes, 127.0.0.1),
a worker SIGKILLed midway, the scheduler lost midway, a student whose task keeps killing workers;
every report equals local grading's with the same seed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from attack_corpus import ATTACKS
from autograder.instructor.cluster import ClusterError, make_job, parse_scheduler
from autograder.sandbox import Limits, _alive, _descendants, start_method

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "broken"
SEED = 4242  # not the default seed (conftest.SEED): a worker that used its own default would show
HOSTILE = [
    "os_exit_in_call",
    "output_flood",
    "forged_stdout",
    "write_outside_scratch",
    "orphans_and_daemons",
    "always_equal",
    "exit_at_import",
    "keyboard_interrupt",
]
# Roomy limits: on a loaded machine a 4 s call limit timed out one side only (a different message).
GRADE = ["--level", "1", "--seed", str(SEED), "--call-timeout", "20", "--timeout", "120"]


# --------------------------------------------------------------------------- helpers
def make_class(root: Path, correct: int = 6, broken: int = 6, hostile: list[str] = HOSTILE) -> Path:
    cls = root / "class"
    solution = (ROOT / "solutions" / "level1_numpy.py").read_text()
    for i in range(correct):
        (cls / f"correct-{i:02d}").mkdir(parents=True)
        (cls / f"correct-{i:02d}" / "level1_numpy.py").write_text(solution)
    for p in sorted(p for p in CORPUS.iterdir() if (p / "level1_numpy.py").is_file())[:broken]:
        (cls / f"broken-{p.name}").mkdir(parents=True)
        (cls / f"broken-{p.name}" / "level1_numpy.py").write_text((p / "level1_numpy.py").read_text())
    for name in hostile:
        (cls / f"hostile-{name}").mkdir(parents=True)
        (cls / f"hostile-{name}" / "level1_numpy.py").write_text(next(a for a in ATTACKS if a.name == name).source())
    (cls / "empty-handed").mkdir(parents=True)
    return cls


def grade_cli(cls: Path, out: Path, *extra: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(cls), "--out", str(out), *GRADE, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        check=False,
    )


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="2")


def comparable(report: dict) -> dict:
    """What a grade is: every check's verdict and message, the errors, the seed, what was graded and
    the protections that held (not timings, which worker, or which sandbox uid)."""
    return {
        "checks": [{k: v for k, v in c.items() if k != "seconds"} for c in report["checks"]],
        **{
            k: report[k]
            for k in ("score", "max_score", "seed", "levels", "errors", "submission", "submission_sha256", "device")
        },
        "sandbox": {k: v for k, v in report["sandbox"].items() if k != "user"},
    }


def reports(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "reports").glob("*.json")}


@contextmanager
def dask_processes(tmp_path: Path, workers: int):
    """A `dask scheduler` and `dask worker`s, each its own process (and process group) on 127.0.0.1,
    ended in the end whatever happens; yields (address, scheduler process, worker processes)."""
    scheduler_file = tmp_path / "scheduler.json"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    procs: list[subprocess.Popen] = []

    def start(cmd, log):
        p = subprocess.Popen(
            cmd,
            cwd=tmp_path,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(logs / log).open("w"),
            start_new_session=True,
        )
        procs.append(p)
        return p

    try:
        scheduler = start(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            "scheduler.log",
        )
        address = None
        deadline = time.monotonic() + 60
        while address is None:  # the file appears before its content does
            assert scheduler.poll() is None and time.monotonic() < deadline, (logs / "scheduler.log").read_text()
            time.sleep(0.2)
            try:
                address = json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                pass
        assert address.startswith("tcp://127.0.0.1:")
        worker_procs = [
            start(
                [
                    sys.executable,
                    "-m",
                    "distributed.cli.dask_worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--memory-limit",
                    "0",
                    "--death-timeout",
                    "60",
                    "--name",
                    f"w{i}",
                ],
                f"worker{i}.log",
            )
            for i in range(workers)
        ]
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address, scheduler, worker_procs
    finally:
        for p in procs:
            _end(p)
        for p in procs:
            assert p.poll() is not None


def _end(p: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_until(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


# --------------------------------------------------------------------------- quick checks
def test_scheduler_addresses():
    assert parse_scheduler("local:3") == ("local", 3)
    assert parse_scheduler("tcp://10.0.0.5:8786") == ("remote", None)
    for bad in ("local:0", "local", "local:x"):
        with pytest.raises(ValueError):
            parse_scheduler(bad)


def test_a_student_travels_as_the_files_local_grading_reads(tmp_path):
    from autograder.core.submission import MAX_SOURCE_BYTES, read_submission, submission_hash
    from autograder.instructor.batch import Student

    d = tmp_path / "alice"
    d.mkdir()
    (d / "level1_numpy.py").write_text("x = 1\n")
    (d / "level1_numpy.ipynb").write_text("{}")  # the .py is what gets graded: the notebook stays home
    (d / "conftest.py").write_text("boom")  # not a file of the contract
    (d / "level2_tensors.py").write_bytes(b"#" * (MAX_SOURCE_BYTES + 1))  # too large: only its size travels
    os.symlink("/etc/passwd", d / "secrets.txt")
    job, why = make_job(Student("alice", d), [1, 2, 3], SEED, "cpu", Limits(), False, {"kit": "k"})
    assert why == ""
    assert set(job["files"]) == {"level1_numpy.py", "level2_tensors.py"}
    assert job["files"]["level1_numpy.py"] == {"data": b"x = 1\n"}
    assert job["files"]["level2_tensors.py"] == {"size": MAX_SOURCE_BYTES + 1}
    assert job["sha256"] == submission_hash(read_submission(d, [1, 2, 3]))
    assert job["origin"] == str(d) and job["seed"] == SEED


def test_what_the_worker_writes_reads_back_as_the_client_read_it(tmp_path):
    """Every kind of file a level can be (valid, empty, a broken notebook, binary, too large, missing):
    written on the worker from the job, it reads back with the same hash and the same complaints."""
    from autograder.core.submission import MAX_SOURCE_BYTES, read_submission, submission_hash
    from autograder.instructor.batch import Student
    from autograder.instructor.cluster_worker import materialize

    d = tmp_path / "bob"
    d.mkdir()
    (d / "level1_numpy.py").write_text("x = 1\n")
    (d / "level2_tensors.py").write_text("")
    (d / "level3_autograd.ipynb").write_text("not json")
    (d / "level4_function.py").write_bytes(b"\xff\xfe binary")
    (d / "level5_nn.py").write_bytes(b"#" * (MAX_SOURCE_BYTES + 10))
    levels = [1, 2, 3, 4, 5, 6]  # 6: missing
    job, _ = make_job(Student("bob", d), levels, SEED, "cpu", Limits(), False, {})
    worker_side = tmp_path / "worker" / "submission"
    worker_side.mkdir(parents=True)
    materialize(job["files"], worker_side)
    here, there = read_submission(d, levels), read_submission(worker_side, levels)
    assert submission_hash(there) == submission_hash(here) == job["sha256"]
    for lv in levels:
        assert (there[lv].source, there[lv].filename) == (here[lv].source, here[lv].filename), lv
        assert (there[lv].problem or "").replace(str(worker_side), str(d)) == (here[lv].problem or ""), lv
    assert [
        ("notebook" in here[3].problem),
        ("UTF-8" in here[4].problem),
        ("larger than" in here[5].problem),
        ("missing" in here[6].problem),
    ] == [True] * 4
    assert here[2].source == "" and "size" in job["files"]["level5_nn.py"]


def test_the_worker_writes_only_contract_files_and_never_through_a_link(tmp_path):
    from autograder.core.submission import read_submission
    from autograder.instructor.cluster_worker import materialize

    d = tmp_path / "sub"
    d.mkdir()
    materialize({"level1_numpy.py": {"data": b"x = 1\n"}, "level2_tensors.py": {"size": 5 << 20}}, d)
    sources = read_submission(d, [1, 2])
    assert sources[1].source == "x = 1\n"
    assert "larger than" in sources[2].problem and (d / "level2_tensors.py").stat().st_blocks == 0
    for name in ("../escape.py", "conftest.py", "/tmp/x.py", "level1_numpy.py/x", ""):
        with pytest.raises(ValueError):
            materialize({name: {"data": b"x"}}, tmp_path / "sub")
    link_dir = tmp_path / "linked"
    link_dir.mkdir()
    target = tmp_path / "victim"
    target.write_text("keep")
    os.symlink(target, link_dir / "level3_autograd.py")
    with pytest.raises(OSError):
        materialize({"level3_autograd.py": {"data": b"owned"}}, link_dir)
    assert target.read_text() == "keep"


@pytest.mark.skipif(start_method() != "fork", reason="a Spawner has no process to keep warm")
def test_a_worker_keeps_its_pool_warm_replaces_a_dead_one_and_closes_them_all():
    from autograder.instructor.cluster_worker import SandboxPools

    plugin = SandboxPools([1])
    plugin.setup(worker=None)
    try:
        first = plugin.take()
        assert first.alive()
        plugin.give_back(first)
        assert plugin.take() is first  # the same warm pool, task after task
        first.close()  # as if a level had managed to end it
        plugin.give_back(first)
        second = plugin.take()
        assert second is not first and second.alive()
        plugin.give_back(second)
    finally:
        plugin.teardown(worker=None)
    assert not second.alive() and plugin.all == []


def test_a_worker_gives_levels_a_convergence_lane_only_where_its_host_has_a_core_to_spare(monkeypatch):
    """The workers on this worker's host (the scheduler's list) run this many tasks at once: with a
    task on every core, each level is graded in one child (core_to_spare); unknown: as one grading."""
    import types

    import distributed

    from autograder.core import machine
    from autograder.instructor import cluster_worker

    here = types.SimpleNamespace(ip="10.0.0.1", state=types.SimpleNamespace(nthreads=1))
    workers = {
        "tcp://10.0.0.1:1": {"host": "10.0.0.1", "nthreads": 1},
        "tcp://10.0.0.1:2": {"host": "10.0.0.1", "nthreads": 1},
        "tcp://10.0.0.2:1": {"host": "10.0.0.2", "nthreads": 8},  # another host's threads do not count
    }
    client = types.SimpleNamespace(scheduler_info=lambda n_workers=-1: {"workers": workers})
    monkeypatch.setattr(cluster_worker, "get_worker", lambda: here)
    monkeypatch.setattr(distributed, "get_client", lambda: client)
    for cores, lane in ((2, False), (3, True)):
        monkeypatch.setattr(machine, "usable_cores", lambda cores=cores: cores)
        assert cluster_worker.SandboxPools([1]).converge_lane() is lane

    def lost():
        raise OSError("no scheduler")

    monkeypatch.setattr(distributed, "get_client", lost)
    assert cluster_worker.SandboxPools([1]).converge_lane() is True  # (3 cores: one grading has two to spare)
    monkeypatch.setattr(machine, "usable_cores", lambda: 1)
    assert cluster_worker.SandboxPools([1]).converge_lane() is False


def test_a_worker_with_another_kit_reports_an_error_not_a_grade(tmp_path):
    from autograder.instructor.cluster_worker import grade_task, kit_fingerprint

    job = {
        "origin": str(tmp_path),
        "files": {},
        "sha256": "",
        "levels": [1],
        "seed": SEED,
        "device": "cpu",
        "limits": {},
        "curves": False,
        "kit": dict(kit_fingerprint(), code_sha256="0000"),
    }
    data = grade_task(job)
    assert data["errors"] and "differs from the client's" in data["errors"][0]
    assert all(c["error"] and c["score"] == 0 for c in data["checks"])


def test_without_distributed_the_cli_says_what_to_install(tmp_path, monkeypatch):
    from autograder import cli

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    (tmp_path / "class" / "a").mkdir(parents=True)
    code = cli.main(["grade", str(tmp_path / "class"), "--out", str(tmp_path / "out"), "--scheduler", "local:1"])
    assert code == 2


def test_an_unreachable_scheduler_stops_cleanly(tmp_path):
    from autograder.instructor.cluster import grade_class_on_cluster

    (tmp_path / "class" / "a").mkdir(parents=True)
    with pytest.raises(ClusterError, match="cannot reach"):
        grade_class_on_cluster(
            [tmp_path / "class"], tmp_path / "out", [1], SEED, "tcp://127.0.0.1:9", progress=False, connect_timeout=3
        )


# --------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_a_class_on_two_dask_workers_survives_a_killed_worker_and_matches_local_grading(tmp_path):
    cls = make_class(tmp_path)
    students = sorted(p.name for p in cls.iterdir())
    assert len(students) >= 20
    local = grade_cli(cls, tmp_path / "local", "--jobs", "2")
    assert local.returncode == 0, local.stderr[-3000:]

    out = tmp_path / "cluster"
    with dask_processes(tmp_path, workers=2) as (address, _scheduler, workers):
        client = subprocess.Popen(
            [sys.executable, "-m", "autograder", "grade", str(cls), "--out", str(out), *GRADE, "--scheduler", address],
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            wait_until(
                lambda: len(list((out / "reports").glob("*.json"))) >= 5 or client.poll() is not None,
                300,
                "the first reports",
            )
            victim = workers[0]
            sandbox = _descendants(victim.pid)  # its warm pool (zygote) and any child grading right now
            assert sandbox, "the worker keeps a warm sandbox pool"
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
            wait_until(lambda: not any(_alive(p) for p in sandbox), 30, "the dead worker's sandbox to end with it")
            _, stderr = client.communicate(timeout=600)
        finally:
            _end(client)
        assert client.returncode == 0, stderr[-3000:]
        assert workers[1].poll() is None  # the survivor took over
        survivor_sandbox = _descendants(workers[1].pid)
    assert not any(_alive(p) for p in survivor_sandbox)  # torn down with its worker

    want, got = reports(tmp_path / "local"), reports(out)
    assert sorted(got) == sorted(want) == students
    for name in students:
        assert comparable(got[name]) == comparable(want[name]), name
        assert got[name]["timings"]["worker"].startswith("tcp://127.0.0.1:")
    assert got["correct-00"]["score"] == got["correct-00"]["max_score"] > 0
    assert all(got[n]["score"] < got[n]["max_score"] for n in students if not n.startswith("correct"))
    assert all(not got[n]["errors"] for n in students)
    assert (out / "grades.csv").read_text() == (tmp_path / "local" / "grades.csv").read_text()
    summary, local_summary = (json.loads((d / "summary.json").read_text()) for d in (out, tmp_path / "local"))
    for s in (summary, local_summary):  # timings apart
        s.pop("seconds")
        s.get("similarity", {}).pop("seconds", None)
    assert summary == local_summary


@pytest.mark.slow
def test_losing_the_scheduler_stops_the_run_and_a_rerun_finishes_it(tmp_path):
    cls = make_class(tmp_path, correct=8, broken=0, hostile=[])
    out = tmp_path / "cluster"
    with dask_processes(tmp_path, workers=1) as (address, scheduler, _workers):
        client = subprocess.Popen(
            [sys.executable, "-m", "autograder", "grade", str(cls), "--out", str(out), *GRADE, "--scheduler", address],
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            wait_until(
                lambda: len(list((out / "reports").glob("*.json"))) >= 2 or client.poll() is not None,
                300,
                "the first reports",
            )
            _end(scheduler)
            _, stderr = client.communicate(timeout=120)
        finally:
            _end(client)
    assert client.returncode == 4, stderr[-3000:]
    assert "lost the Dask scheduler" in stderr and "run the same command again" in stderr
    done = {p.name: p.stat().st_mtime_ns for p in (out / "reports").glob("*.json")}
    assert 2 <= len(done) < 9 and not (out / "grades.csv").exists()

    rerun = grade_cli(cls, out, "--scheduler", "local:1")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    final = reports(out)
    assert len(final) == 9 and all(not r["errors"] for r in final.values())
    for name, mtime in done.items():  # finished students were not sent again
        assert (out / "reports" / name).stat().st_mtime_ns == mtime
    assert (out / "grades.csv").is_file()


def kills_its_worker_for_poison(job: dict) -> dict:
    """A grading task for a student whose grading kills every worker it runs on (what a real student
    cannot do through the sandbox: this plays the worst case)."""
    if job["origin"].endswith("poison"):
        os._exit(1)
    from autograder.instructor.cluster_worker import grade_task

    return grade_task(job)


@pytest.mark.slow
def test_a_student_who_keeps_killing_workers_gets_an_error_report_and_the_run_goes_on(tmp_path, monkeypatch):
    import cloudpickle

    from autograder.instructor import cluster

    monkeypatch.setattr(cluster, "ALLOWED_FAILURES", 1)  # each worker death costs a restart: keep them few
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers need not import this test
    cls = make_class(tmp_path, correct=2, broken=0, hostile=[])
    (cls / "poison").mkdir()
    (cls / "poison" / "level1_numpy.py").write_text((ROOT / "solutions" / "level1_numpy.py").read_text())
    summary = cluster.grade_class_on_cluster(
        [cls],
        tmp_path / "out",
        [1],
        SEED,
        "local:2",
        progress=False,
        limits=Limits(call_seconds=4, submission_seconds=30),
        task=kills_its_worker_for_poison,
    )
    got = reports(tmp_path / "out")
    assert summary["grader_errors"] == ["poison"], {n: r["errors"] for n, r in got.items()}
    assert "died 2 times" in got["poison"]["errors"][0]  # and was sent twice: 4 workers died of it
    assert got["correct-00"]["score"] == got["correct-00"]["max_score"] and not got["correct-00"]["errors"]
    assert got["empty-handed"]["score"] == 0 and not got["empty-handed"]["errors"]
