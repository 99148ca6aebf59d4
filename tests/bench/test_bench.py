"""The benchmark's machinery on tiny sizes: every contender runs and computes the same thing, the
summaries do the right arithmetic, and a run writes its JSON. (The timings themselves are not tested.)"""

from __future__ import annotations

import json

import pytest
import torch

from lstmkit.bench import cases, extras
from lstmkit.bench.run import BenchConfig, loop_headroom, run, summary, variant_cost
from lstmkit.bench.timing import interleaved


@pytest.mark.parametrize("cell", list(cases.CELLS))
def test_every_contender_computes_the_same_outputs(cell):
    p = cases.Point(cell, "inference", B=2, T=6, I=4, H=8)
    torch.manual_seed(0)
    fns = cases.contenders(p)
    assert list(fns)[0] == "lstmkit"
    assert ("torch.nn" in fns) == (cases.CELLS[cell][2] is not None)
    assert ("python loop" in fns) == (cases.CELLS[cell][2] is None or cell == "LSTM+proj")
    outs = [fn() for fn in fns.values()]
    for o in outs[1:]:
        torch.testing.assert_close(o, outs[0], rtol=1e-5, atol=1e-5)


def test_training_contenders_backpropagate_and_gemm_bound_runs():
    p = cases.Point("LSTM+proj", "training", B=2, T=5, I=4, H=8)
    for fn in cases.contenders(p).values():
        assert fn() is None
    cases.gemm_bound(p)()
    assert cases.gemm_flops(p) == 3 * 2.0 * 5 * 2 * ((4 + 4) * 4 * 8 + 8 * 4)


def test_interleaved_returns_medians_per_callable():
    calls = []
    t = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4 and set(t) == {"a", "b"} and all(v >= 0 for v in t.values())


def test_summary_and_variant_cost_arithmetic():
    rows = [{"cell": "LSTM", "mode": "training", "B": 1, "T": 2, "I": 3, "H": 4,
             "times_s": {"lstmkit": 1.0, "torch.nn": 2.0}, "ratios": {"torch.nn": 2.0}},
            {"cell": "LSTM", "mode": "training", "B": 5, "T": 2, "I": 3, "H": 4,
             "times_s": {"lstmkit": 1.0, "torch.nn": 0.5}, "ratios": {"torch.nn": 0.5}},
            {"cell": "LSTM+peephole", "mode": "training", "B": 5, "T": 2, "I": 3, "H": 4,
             "times_s": {"lstmkit": 1.2}, "ratios": {}}]
    s = summary(rows)["LSTM training vs torch.nn"]
    assert s == {"median": 1.25, "min": 0.5, "n": 2}
    assert variant_cost(rows) == {"LSTM+peephole training": {"median": 1.2, "max": 1.2}}
    loops = [{"cell": "LSTM+peephole", "mode": "inference", "loop_over_gemms": v} for v in (1.5, 4.0, 2.0)]
    assert loop_headroom(rows + loops) == {"LSTM+peephole inference": {"median": 2.0, "min": 1.5}}


def test_run_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    res = run(BenchConfig(cells=["LSTM", "LSTM+layer_norm"], sizes=[(2, 6, 4, 8)], repeats=1, extras=False,
                          out=str(out)), log=lambda *_: None)
    saved = json.loads(out.read_text())
    assert saved["summary"] == json.loads(json.dumps(res["summary"]))
    assert {r["cell"] for r in saved["grid"]} == {"LSTM", "LSTM+layer_norm"}
    ln = [r for r in saved["grid"] if r["cell"] == "LSTM+layer_norm"]
    assert all(r["loop_over_gemms"] > 0 and "bare GEMMs (torch.mm)" in r["ratios"] for r in ln)
    assert set(saved["loop_over_gemms"]) == {"LSTM+layer_norm inference", "LSTM+layer_norm training"}
    assert not list(tmp_path.glob("*.tmp"))


def test_extras_on_tiny_sizes():
    vl = extras.variable_length(B=4, T=12, I=8, H=8, repeats=1)
    assert set(vl["training"]) == {"lstmkit lengths", "lstmkit padded", "torch.nn packed"}
    assert set(vl["inference"]) == {"lstmkit lengths", "lstmkit padded", "torch.nn packed",
                                    "bare GEMMs of the packed work"}
    st = extras.streaming(steps=5, H=8, layers=2, repeats=1)
    assert st["lstmkit step"] > 0 and st["torch.nn per step"] > 0
    mem = extras.peak_memory([(4, 20, 8, 16)])[0]
    assert mem["lstmkit"] > 0 and mem["torch.nn"] > 0
