"""``lstmkit bench --device cuda``'s machinery, run on CPU tensors at tiny sizes (the timings are not tested):
the refusal without CUDA, the contenders of each GPU cell computing the same thing, rows and summaries."""

from __future__ import annotations

import pytest
import torch

import lstmkit
from lstmkit import cli
from lstmkit.bench import gpu
from lstmkit.bench.run import BenchConfig

CPU = torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_device_cuda_without_cuda_is_one_clear_error_line(capsys):
    assert cli.main(["bench", "--device", "cuda", "--quick"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lstmkit bench: error: device 'cuda' asked for CUDA, which is not "
                                               "available here")


def test_cpu_grid_refuses_other_dtypes_and_gpu_only_cells(capsys):
    assert cli.main(["bench", "--dtype", "bfloat16", "--no-extras"]) == 2
    assert "--dtype on cpu must be one of float32, got 'bfloat16'" in capsys.readouterr().err
    assert cli.main(["bench", "--cells", "LSTM+zoneout", "--no-extras"]) == 2
    assert "LSTM+zoneout: timed only with --device cuda" in capsys.readouterr().err


def test_torch_nn_split_at_resets_equals_lstmkit_with_resets():
    torch.manual_seed(0)
    ours = lstmkit.LSTM(3, 5)
    ref = torch.nn.LSTM(3, 5)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(11, 4, 3)
    reset = gpu.make_resets(4, 11, CPU, every=4)
    reset[2, 1] = True                                  # one sample alone resets too
    assert reset.sum() == 9 and not reset[0].any() and reset[4].all() and reset[8].all()
    with torch.no_grad():
        torch.testing.assert_close(gpu.split_at_resets(ref, reset)(x), ours(x, reset=reset)[0])
    lengths = gpu.make_lengths(6, 10, CPU)
    assert lengths[0] == 10 and bool(((lengths >= 5) & (lengths <= 10)).all())


@pytest.mark.parametrize("cell", ["LSTM+lengths", "LSTM+resets", "LSTM+zoneout", "GRU"])
def test_gpu_contenders_agree(cell):
    p = gpu.GpuPoint(cell, "inference", B=3, T=9, I=4, H=6)
    torch.manual_seed(0)
    fns, errors, has_ref = gpu.build(p, CPU, ["reference"])
    assert not errors and list(fns)[0] == "lstmkit" and has_ref == cell.startswith("LSTM+")
    peer = {"LSTM+lengths": "torch.nn packed", "LSTM+resets": "torch.nn split at resets", "GRU": "torch.nn"}
    assert (peer.get(cell) in fns) if cell in peer else not any(k.startswith("torch.nn") for k in fns)
    x = torch.randn(9, 3, 4)
    with torch.no_grad():
        outs = {k: f(x) for k, f in fns.items()}
    for k, o in outs.items():
        if k == "torch.nn packed":                     # packed rows: compare their sum
            torch.testing.assert_close(o.sum(), outs["lstmkit"].sum(), rtol=1e-5, atol=1e-5)
        elif cell != "LSTM+zoneout":                   # zoneout draws its masks per call (training mode)
            torch.testing.assert_close(o, outs["lstmkit"], rtol=1e-5, atol=1e-5)


def test_run_gpu_rows_summaries_and_failures(monkeypatch):
    monkeypatch.setattr(gpu, "gpu_backends", lambda device: (["reference", "nonesuch"], {"triton": "not here"}))
    logged = []
    res = gpu.run_gpu(BenchConfig(device="cpu", cells=["LSTM", "LSTM+peephole"], sizes=[(2, 5, 3, 4)], repeats=1),
                      log=logged.append)
    rows = {(r["cell"], r["mode"]): r for r in res["grid"]}
    assert set(rows) == {(c, m) for c in ("LSTM", "LSTM+peephole") for m in ("inference", "training")}
    lstm, peep = rows["LSTM", "training"], rows["LSTM+peephole", "training"]
    assert set(lstm["times_s"]) == {"lstmkit", "torch.nn"} and "lstmkit nonesuch" in lstm["errors"]
    assert set(peep["times_s"]) == {"lstmkit", "lstmkit reference"} and peep["reference_repeats"] == 1
    assert peep["ratios"]["lstmkit reference"] == pytest.approx(peep["times_s"]["lstmkit reference"] /
                                                                 peep["times_s"]["lstmkit"])
    assert "LSTM+peephole training vs lstmkit reference" in res["summary"]
    assert res["skipped_backends"] == {"triton": "not here"} and "memory_mib" not in lstm   # no memory off CUDA
    assert any("lstmkit nonesuch skipped" in line for line in logged)


def test_variant_cost_against_plain_triton():
    row = lambda cell, t: {"cell": cell, "mode": "training", "B": 1, "T": 2, "I": 3, "H": 4,  # noqa: E731
                           "dtype": "bfloat16", "times_s": t}
    rows = [row("LSTM", {"lstmkit triton": 2.0}), row("LSTM+peephole", {"lstmkit triton": 2.4,
                                                                        "lstmkit reference": 48.0})]
    assert gpu.variant_cost(rows) == {"LSTM+peephole training": {"vs_plain": pytest.approx(1.2),
                                                                 "reference_over": pytest.approx(20.0)}}
