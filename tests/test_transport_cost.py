"""bench/transport_cost.py --idle: before each cold grade the portable pool is told the level's one
interpreter, of the level's flavour, so that none starts (and imports beside it) during the grade."""

from __future__ import annotations

import bench_scripts


def _bench():
    return bench_scripts.load("transport_cost")


class CountingPool:
    def __init__(self):
        self.told = []

    def start_ahead(self, count, numpy_only=0):
        self.told.append((count, numpy_only))


def test_idle_rounds_start_exactly_the_levels_one_interpreter_ahead():
    bench, pool = _bench(), CountingPool()
    bench.ready_and_idle(pool, 1, 0.0)  # the numpy level: one numpy-only interpreter, none with torch
    bench.ready_and_idle(pool, 3, 0.0)
    assert pool.told == [(0, 1), (1, 0)]
