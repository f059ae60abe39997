"""bench/check_transports.py: the table names only core counts it ran on, and its older-rule rows
replace exactly the rules they name before the CLI's own command line runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bench_scripts

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    return bench_scripts.load("check_transports")


def test_a_core_count_the_process_may_not_use_is_skipped_with_the_reason(capsys):
    usable = len(os.sched_getaffinity(0))
    assert _bench().main(["--cores", str(usable + 1), "0"]) == 0
    out = capsys.readouterr().out
    assert f"{usable + 1} cores: this process may use {usable}; skipped" in out
    assert "0 cores: this process may use" in out and "median" not in out


def test_the_older_rules_replace_the_lanes_and_the_interpreters_ahead_before_the_cli_runs():
    """Run with a command that prints what the rules became instead of a check."""
    bench = _bench()
    probe = (
        "from autograder.core import machine\n"
        "from autograder.sandbox import Portable, pools\n"
        "machine.usable_cores = lambda: 16\n"  # (where the rules differ: on two cores they are one)
        "pools.available_memory = lambda: 64 << 30\n"
        "p = Portable(); p._expected = 7\n"
        "print(pools.both_lanes_fit([1, 2, 3]), p._wanted() <= Portable.SPARES)\n"
    )
    run_cli = "runpy.run_module('autograder', run_name='__main__', alter_sys=True)"
    for two, expected in ((False, "False False"), (True, "False True")):
        code = bench.OLD_RULES.format(two=two)
        assert run_cli in code
        out = subprocess.run(
            [sys.executable, "-c", f"PROBE = {probe!r}\n" + code.replace(run_cli, "exec(PROBE)")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.strip() == expected, out
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True False"  # (the rules of today, untouched)
