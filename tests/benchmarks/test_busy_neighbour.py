"""The busy-neighbour benchmark is wired correctly (it is timed by hand, not here): one tiny point runs quiet,
beside a nice 19 neighbour that is gone afterwards, and quiet again."""

from __future__ import annotations

import subprocess

from helpers import load_benchmark


def test_a_tiny_point_reports_quiet_and_busy_times(monkeypatch):
    bench = load_benchmark("busy_neighbour")
    started = []
    real = subprocess.Popen

    def popen(*a, **kw):
        started.append(real(*a, **kw))
        return started[-1]

    monkeypatch.setattr(bench.subprocess, "Popen", popen)
    row = bench.point("GRU", (2, 3, 4, 5), repeats=1, nice=19)
    assert row["cell"] == "GRU" and row["size"] == [2, 3, 4, 5]
    assert len(row["quiet_ms"]) == 2 and min(row["quiet_ms"]) > 0 and row["busy_ms"] > 0
    assert row["ratio"] == row["busy_ms"] / min(row["quiet_ms"])
    assert len(started) == 1 and started[0].poll() is not None          # the neighbour was stopped
