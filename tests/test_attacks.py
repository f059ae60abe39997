"""Attacks gain nothing, crash nothing, and leave nothing behind (tests/attack_corpus.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from attack_corpus import ATTACKS, PLANTED, ROOT
from autograder import sandbox
from autograder.grading import grade
from autograder.sandbox import SANDBOX_UID_BASE, Limits, processes_of
from conftest import SEED

ROOT_USER = os.getuid() == 0
NEEDS_SANDBOX_USER = {"kill_the_grader", "fork_bomb"}  # only safe where the child runs as its own user


def sandbox_processes(checkout_wide: bool = False) -> list[int]:
    """Live processes of sandbox users that this test's own grading started, never another
    grader's on this machine (another checkout, another run of this suite, a parallel worker): a
    descendant of this process, or a process of a uid this process holds a lease on (what a child
    execs, a daemon that outlived its channel). ``checkout_wide``: also any orphan whose command line
    names this checkout (a grader this test started and killed: its orphans are nobody's
    descendants) -- an orphan, because a parallel worker's grading runs from this checkout too, and
    its children, whose parent (a zygote, a child) lives, are that worker's."""
    import psutil

    ours = str(ROOT / "autograder").encode()
    entry = str(ROOT / "autograder" / "child" / "entry.py").encode()

    def orphan(pid: str) -> bool:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                ppid = f.read().rsplit(b")", 1)[1].split()[1].decode()
            with open(f"/proc/{ppid}/cmdline", "rb") as f:
                return entry not in f.read()
        except (OSError, IndexError):
            return True

    held = sandbox.held_uids()
    try:
        mine = {c.pid for c in psutil.Process().children(recursive=True)}
    except psutil.Error:
        mine = set()
    found = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                uid = os.stat(f"/proc/{p}").st_uid
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if (
                SANDBOX_UID_BASE <= uid < SANDBOX_UID_BASE + 100_000
                and (uid in held or int(p) in mine or (checkout_wide and ours in cmdline and orphan(p)))
                and processes_of(uid=uid)
            ):
                found.append(int(p))
    return found


def write_submission(directory: Path, level: int, source: str, extra: dict | None = None) -> Path:
    from autograder.core.curriculum import LEVELS

    directory.mkdir(parents=True)
    (directory / f"{LEVELS[level].module}.py").write_text(source)
    for name, text in (extra or {}).items():
        (directory / name).write_text(text)
    return directory


#: Attacks on the limits, each waiting out a limit of its own: `make test` runs them, `make test-fast` not.
WAIT_OUT_A_LIMIT = {"fork_bomb", "hang_ignoring_signals", "memory_grab", "slow_reply"}


@pytest.mark.parametrize(
    "attack",
    [pytest.param(a, marks=pytest.mark.slow) if a.name in WAIT_OUT_A_LIMIT else a for a in ATTACKS],
    ids=[a.name for a in ATTACKS],
)
def test_attack_gains_nothing_and_leaves_nothing(attack, zygote, tmp_path, listener):
    expect_contained(attack, zygote, tmp_path, listener)


def expect_contained(attack, pool, tmp_path, listener):
    """Grade the attack and the same code without it, from ``pool`` (a Zygote or a Spawner)."""
    if attack.name in NEEDS_SANDBOX_USER and not ROOT_USER:
        pytest.skip("this attack is only contained where the child runs as a user of its own (grader as root)")
    port, seen = listener
    for p in PLANTED:
        Path(p).unlink(missing_ok=True)
    source = attack.source().replace("{port}", str(port))
    attacked = write_submission(tmp_path / "attack", attack.level, source, attack.extra_files)
    base = write_submission(tmp_path / "base", attack.level, attack.base)
    limits = Limits(**{"call_seconds": 20.0, "submission_seconds": 120.0, **attack.limits})
    before = set(sandbox_processes())  # (another grader on this machine may have children of its own)

    got = grade(attacked, [attack.level], SEED, limits=limits, pool=pool)
    want = grade(base, [attack.level], SEED, limits=limits, pool=pool)

    assert got.errors == [], got.errors  # the grader answered, with a valid report
    assert len(got.checks) == len(want.checks) and all(not c.error for c in got.checks)
    assert got.score <= want.score, [(c.id, c.message) for c in got.checks if c.passed]
    if ROOT_USER:
        assert set(sandbox_processes()) - before == set()
    leftovers = [p for p in PLANTED if Path(p).exists()]
    for p in leftovers:
        Path(p).unlink()
    assert leftovers == []
    assert seen == []


@pytest.mark.slow
def test_forged_stdout_does_not_reach_the_report(tmp_path):
    attack = next(a for a in ATTACKS if a.name == "forged_stdout")
    d = write_submission(tmp_path / "s", 1, attack.source())
    out = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(d), "--format", "json", "--level", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)  # exactly one JSON object: the grader's
    assert report["score"] == 0.0 and len(report["checks"]) == 10


def test_an_attack_does_not_touch_the_other_levels(zygote, tmp_path):
    """A level that kills its own process scores 0; the next level still grades in full."""
    d = tmp_path / "s"
    d.mkdir()
    (d / "level1_numpy.py").write_text("import os\nos._exit(3)\n")
    (d / "level3_autograd.py").write_text((ROOT / "solutions" / "level3_autograd.py").read_text())
    r = grade(d, [1, 3], SEED, pool=zygote)
    assert r.level_score(1)[0] == 0.0 and r.level_score(3) == (12.5, 12.5)
    assert all("crashed" in c.message or "import" in c.message for c in r.checks if c.level == 1)


def test_the_sandbox_reports_its_protections(zygote):
    r = grade(ROOT / "solutions", [1], SEED, pool=zygote)
    assert set(r.sandbox) >= {"network", "hidden_paths", "user"}
    if ROOT_USER:
        assert r.sandbox["user"].startswith("uid ") and r.sandbox["network"].startswith("isolated")
