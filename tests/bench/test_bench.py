"""The benchmark's machinery on tiny sizes: every contender runs and computes the same thing, the
summaries do the right arithmetic, and a run writes its JSON. (The timings themselves are not tested.)"""

from __future__ import annotations

import json

import pytest
import torch

from lstmkit import cli
from lstmkit.bench import cases, extras, onnx_peer
from lstmkit.bench.run import BenchConfig, loop_headroom, run, run_grid, summary, variant_cost
from lstmkit.bench.timing import interleaved

NO_ORT = "onnxruntime (and onnx) not installed: pip install lstmkit[bench]"


@pytest.mark.parametrize("cell", list(cases.CELLS))
def test_every_contender_computes_the_same_outputs(cell):
    p = cases.Point(cell, "inference", B=2, T=6, I=4, H=8)
    torch.manual_seed(0)
    fns = cases.contenders(p, peers=[n for n in cases.PEERS if n != "onnxruntime"])
    assert list(fns)[0] == "lstmkit" and "onnxruntime" not in fns
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
    assert calls == ["a", "a", "b", "b"] * 3 and set(t) == {"a", "b"} and all(v >= 0 for v in t.values())


def test_interleaved_times_each_contender_as_a_block_per_round():
    """Within a round each contender's warm-up and timed calls are contiguous, and only its own timed calls
    sit between the two clock reads (a peer's leftover work cannot land inside them); rounds interleave."""
    events, now = [], [0.0]
    cost = {"a": 1.0, "b": 10.0, "c": 100.0}

    def clock():
        events.append("clock")
        return now[0]

    def contender(name):
        def call():
            events.append(name)
            now[0] += cost[name]
        return call
    t = interleaved({k: contender(k) for k in cost}, repeats=2, warmup=1, number=2, clock=clock)
    assert t == cost                          # the mean of the timed calls, median over the rounds
    block = lambda k: [k, "clock", k, k, "clock"]  # noqa: E731 -- warm-up, clock, timed calls, clock
    assert events == (block("a") + block("b") + block("c")) * 2


def test_onnxruntime_is_skipped_with_the_reason_when_not_installed(monkeypatch, tmp_path):
    monkeypatch.setattr(onnx_peer, "missing", lambda: onnx_peer.MISSING)
    peers, skipped = cases.available_peers()
    assert "onnxruntime" not in peers and skipped == {"onnxruntime": "onnxruntime not installed: pip install "
                                                                     "lstmkit[bench]"}
    assert "onnxruntime" not in cases.contenders(cases.Point("LSTM", "inference", B=2, T=5, I=3, H=4))
    with pytest.raises(ImportError, match=r"pip install lstmkit\[bench\]"):
        cases.parse_peers("torch.nn,onnxruntime")
    logged = []
    res = run(BenchConfig(cells=["RNN-tanh"], sizes=[(2, 5, 3, 4)], repeats=1, extras=False,
                          out=str(tmp_path / "b.json")), log=logged.append)
    assert res["skipped_peers"] == {"onnxruntime": onnx_peer.MISSING} and "onnxruntime" not in res["peers"]
    said = [line for line in logged if onnx_peer.MISSING in line]
    assert len(said) == 1 and said[0].startswith("peers: torch.nn") and "onnxruntime skipped" in said[0]
    assert all("onnxruntime" not in r["times_s"] for r in res["grid"])


def test_peers_flag_validates_names(capsys):
    assert cases.parse_peers(" torch.nn , python loop,torch.nn") == ["torch.nn", "python loop"]
    with pytest.raises(ValueError, match="valid peers: torch.nn, onnxruntime, python loop, lstmkit reference"):
        cases.parse_peers("torch.nn,tensorflow")
    assert cli.main(["bench", "--peers", "torch,onnxruntime", "--no-extras"]) == 2
    err = capsys.readouterr().err
    assert "unknown peer 'torch'" in err and "valid peers: torch.nn, onnxruntime" in err
    assert cli.main(["bench", "--peers", "", "--no-extras"]) == 2
    assert "expected a comma-separated list" in capsys.readouterr().err


def test_peers_select_the_baselines():
    rows = run_grid(BenchConfig(cells=["LSTM", "LSTM+peephole"], sizes=[(2, 5, 3, 4)], repeats=1),
                    log=lambda *_: None, peers=["python loop"])
    assert {r["cell"]: set(r["times_s"]) for r in rows if r["mode"] == "training"} == {
        "LSTM": {"lstmkit"}, "LSTM+peephole": {"lstmkit", "python loop", "bare GEMMs (torch.mm)"}}


@pytest.mark.parametrize("cell", onnx_peer.CELLS)
def test_onnxruntime_contender_equals_lstmkit(cell):
    pytest.importorskip("onnx", reason=NO_ORT)
    pytest.importorskip("onnxruntime", reason=NO_ORT)
    torch.manual_seed(0)
    p = cases.Point(cell, "inference", B=2, T=5, I=3, H=4)
    fns = cases.contenders(p, peers=["torch.nn", "onnxruntime"])
    assert list(fns) == ["lstmkit", "torch.nn", "onnxruntime"]
    ours, ort = fns["lstmkit"](), fns["onnxruntime"]()
    assert ort.shape == (5, 2, 4) and ort.dtype == torch.float32
    torch.testing.assert_close(ort, ours, rtol=0, atol=1e-5)
    # not at training points, nor for LSTM+proj (ONNX's LSTM has no projection)
    assert "onnxruntime" not in cases.contenders(cases.Point(cell, "training", 2, 5, 3, 4), peers=["onnxruntime"])
    assert "onnxruntime" not in cases.contenders(cases.Point("LSTM+proj", "inference", 2, 5, 3, 4),
                                                 peers=["onnxruntime"])


def test_onnxruntime_mismatch_is_refused():
    with pytest.raises(RuntimeError, match=r"differs from lstmkit's by up to 0.001 .*LSTM inference"):
        onnx_peer.check(torch.zeros(3, 2), torch.full((3, 2), 1e-3), "LSTM inference B=2")
    assert onnx_peer.check(torch.zeros(3, 2), torch.full((3, 2), 5e-5), "x") == pytest.approx(5e-5)


def test_onnxruntime_in_the_rows_and_summary(tmp_path):
    pytest.importorskip("onnx", reason=NO_ORT)
    pytest.importorskip("onnxruntime", reason=NO_ORT)
    out = tmp_path / "bench.json"
    res = run(BenchConfig(cells=["GRU"], sizes=[(2, 5, 3, 4)], repeats=1, extras=False, out=str(out),
                          peers=["onnxruntime"]), log=lambda *_: None)
    saved = json.loads(out.read_text())
    inf = [r for r in saved["grid"] if r["mode"] == "inference"]
    assert len(inf) == 1 and set(inf[0]["times_s"]) == {"lstmkit", "onnxruntime"}
    assert inf[0]["ratios"]["onnxruntime"] == pytest.approx(inf[0]["times_s"]["onnxruntime"] /
                                                            inf[0]["times_s"]["lstmkit"])
    assert set(saved["summary"]) == {"GRU inference vs onnxruntime"} and saved["summary"] == res["summary"]
    assert saved["peers"] == ["onnxruntime"] and saved["machine"]["onnxruntime"]["inter_op_num_threads"] == 1


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
