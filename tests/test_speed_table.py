"""bench/speed_table.py times `import torch` and the checks round by round, in turn, after a round it
does not count: each row's median then comes from the same spells of the machine as the baseline's."""

from __future__ import annotations

import bench_scripts


def test_commands_run_in_turn_round_by_round_after_one_uncounted_round(monkeypatch):
    bench = bench_scripts.load("speed_table")
    calls = []
    clock = iter(range(1, 1000))

    def wall(cmd, env=None):
        calls.append((cmd[0], env))
        return float(next(clock))

    monkeypatch.setattr(bench, "wall", wall)
    commands = {"torch": (["t"], None), "one": (["o"], None), "spawn": (["s"], {"KIT_SANDBOX_START": "spawn"})}
    rows = bench.interleaved(commands, rounds=3)
    assert [c for c, _ in calls] == ["t", "o", "s"] * 4
    assert calls[2][1] == {"KIT_SANDBOX_START": "spawn"}
    # calls 1-3 are the uncounted round; then torch took 4, 7, 10; one 5, 8, 11; spawn 6, 9, 12
    assert rows == {"torch": 7.0, "one": 8.0, "spawn": 9.0}
