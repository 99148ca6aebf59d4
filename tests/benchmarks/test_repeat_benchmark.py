"""The repeat benchmark is wired correctly (it is timed by hand, not here): a tiny layer point and a tiny cell
point report the kept call, the general path and torch.nn, and the general path really ran each round."""

from __future__ import annotations

from helpers import load_benchmark


def test_tiny_points_report_three_contenders(monkeypatch):
    bench = load_benchmark("repeat")
    general = []
    real = bench.layer_base.run_stack

    def counting(*args, **kwargs):
        general.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(bench.layer_base, "run_stack", counting)
    t = bench.layer_point("GRU", (2, 3, 4, 5), repeats=2)
    assert set(t) == {"repeat", "general", "torch.nn"} and min(t.values()) > 0
    # the general contender's warm-up and timed calls (2 rounds of 3), and the very first call (nothing kept yet)
    assert len(general) == 2 * 3 + 1
    c = bench.cell_point("LSTMCell", 2, 5, repeats=2)
    assert set(c) == {"repeat", "general", "torch.nn"} and min(c.values()) > 0
