"""Traces: one view per layer and direction of every family and variant, holding exactly what the layer
records, aligned with the tokens; recording costs nothing when off and nests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit import kernels
from lstmkit.inspect import recording, trace, trace_layer

CASES = [
    (lstmkit.LSTM, {}, "cfghio"),
    (lstmkit.LSTM, dict(peephole=True, layer_norm=True), "cfghio"),
    (lstmkit.LSTM, dict(cifg=True, proj_size=2), "cfghio"),
    (lstmkit.GRU, {}, "hnrz"),
    (lstmkit.GRU, dict(reset_before=True), "hnrz"),
    (lstmkit.RNN, dict(nonlinearity="relu"), "h"),
    (lstmkit.RNN, {}, "h"),
]


@pytest.mark.parametrize("cls,kw,names", CASES)
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
def test_views_hold_the_record_of_every_layer_and_direction(cls, kw, names, layers, bidirectional):
    layer = cls(3, 4, num_layers=layers, bidirectional=bidirectional, **kw).eval()
    x = torch.randn(7, 2, 3)
    tr = trace_layer(layer, x, tokens=list("abcdefg"))
    layer(x, record=True)
    D = 2 if bidirectional else 1
    assert [(v.layer, v.direction) for v in tr.views] == [(k, d) for k in range(layers) for d in range(D)]
    for v in tr.views:
        assert "".join(sorted(v.quantities)) == names and v.cell == cls.__name__
        for q, a in v.quantities.items():
            np.testing.assert_array_equal(a, layer.last_record[(v.layer, v.direction)][q][:, 0].numpy())
        lo, hi = v.value_range("h").T
        assert np.all(lo <= v.quantities["h"].min(0)) and np.all(hi >= v.quantities["h"].max(0))
    assert tr.views[-1].label == f"layer {layers - 1} {'backward' if bidirectional else 'forward'}"


def test_trace_of_a_model_picks_the_named_layers_and_checks_alignment():
    model = torch.nn.ModuleDict({"words": lstmkit.LSTM(3, 4, bidirectional=True), "chars": lstmkit.GRU(2, 3)})
    x, c = torch.randn(5, 1, 3), torch.randn(9, 1, 2)

    def run():
        model["chars"](c)
        return model["words"](x)

    tr = trace(model, run, tokens=["w1", "w2", "w3", "w4", "w5"], layers=["words"])
    assert [v.label for v in tr.views] == ["words layer 0 forward", "words layer 0 backward"]
    assert tr.view("words layer 0 backward").size == 4
    with pytest.raises(ValueError, match="layer 'chars' ran over 9 steps, but there are 5 tokens"):
        trace(model, run, tokens=list("abcde"))
    with pytest.raises(ValueError, match=r"one of \['words', 'chars'\]; got 'head'"):
        trace(model, run, tokens=list("abcde"), layers=["head"])
    with pytest.raises(ValueError, match="did not run"):
        trace(model, lambda: model["chars"](c), tokens=list("abcde"), layers=["words"])
    with pytest.raises(TypeError, match="expects an lstmkit LSTM, GRU or RNN, got Linear"):
        trace_layer(torch.nn.Linear(2, 2), x)


def test_recording_off_runs_no_recording_kernel(monkeypatch):
    """Off costs nothing: the recording pass is not even called."""
    lstm = lstmkit.LSTM(3, 4, num_layers=2)
    x = torch.randn(5, 2, 3)

    def fail(*a, **k):
        raise AssertionError("kernels.record ran while recording was off")

    monkeypatch.setattr(kernels, "record", fail)
    out, _ = lstm(x)
    with recording(lstm):
        pass
    lstm(x)
    assert out.shape == (5, 2, 4)


def test_nested_recordings_both_record_and_restore():
    inner_layer = lstmkit.GRU(3, 4)
    model = torch.nn.Sequential(inner_layer)
    x = torch.randn(4, 1, 3)
    with recording(model) as outer:
        with recording(inner_layer) as inner:
            model(x)
        model(x)
    assert len(inner.records[""]) == 1 and len(outer.records["0"]) == 2
    model(x)
    assert len(outer.records["0"]) == 2 and inner_layer._recorder is None
