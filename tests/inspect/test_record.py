"""Recording gates and memory: what is recorded satisfies the cell's equations, is the same for every
backend, and recording changes nothing (outputs, gradients, random numbers)."""

from __future__ import annotations

import pytest
import torch

import lstmkit
from lstmkit.inspect import recording
from helpers import BACKENDS

F64 = torch.float64


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_record_satisfies_the_equations(backend, bidirectional):
    lstm = lstmkit.LSTM(3, 5, num_layers=2, bidirectional=bidirectional, dtype=F64, backend=backend)
    x = torch.randn(6, 2, 3, dtype=F64)
    out, _ = lstm(x, record=True)
    D = 2 if bidirectional else 1
    for (k, d), r in lstm.last_record.items():
        assert set(r) == {"i", "f", "g", "o", "c", "h"}
        assert all(v.shape == (6, 2, 5) for v in r.values())
        c_prev = torch.zeros(2, 5, dtype=F64)
        steps = range(5, -1, -1) if d == 1 else range(6)
        for t in steps:                                    # c_t = f c_{t-1} + i g ;  h_t = o tanh(c_t)
            torch.testing.assert_close(r["c"][t], r["f"][t] * c_prev + r["i"][t] * r["g"][t])
            torch.testing.assert_close(r["h"][t], r["o"][t] * torch.tanh(r["c"][t]))
            c_prev = r["c"][t]
        if k == 1:
            torch.testing.assert_close(r["h"], out[..., d * 5:(d + 1) * 5])
    assert len(lstm.last_record) == 2 * D


@pytest.mark.parametrize("cls,kw,names", [
    (lstmkit.LSTM, dict(peephole=True, layer_norm=True, cifg=True, proj_size=2), "ifgoch"),
    (lstmkit.GRU, dict(reset_before=True), "rznh"),
    (lstmkit.GRU, {}, "rznh"),
    (lstmkit.RNN, dict(nonlinearity="relu"), "h")])
def test_every_backend_records_the_same(cls, kw, names):
    ref = cls(3, 4, bidirectional=True, dtype=F64, backend="reference", **kw)
    x = torch.randn(7, 3, 3, dtype=F64)
    lengths = torch.tensor([7, 2, 5])
    ref(x, lengths=lengths, record=True)
    for backend in BACKENDS:
        other = cls(3, 4, bidirectional=True, dtype=F64, backend=backend, **kw)
        other.load_state_dict(ref.state_dict())
        other(x, lengths=lengths, record=True)
        for key, r in ref.last_record.items():
            assert "".join(sorted(r)) == "".join(sorted(names))
            for name, v in r.items():
                torch.testing.assert_close(other.last_record[key][name], v, msg=f"{backend} {key} {name}")
                assert torch.all(v[2:, 1] == 0) and torch.all(v[5:, 2] == 0), "padding is zero"
    if "f" in names:                                       # cifg: i = 1 - f
        r = ref.last_record[(0, 0)]
        torch.testing.assert_close(r["i"][:, 0], 1 - r["f"][:, 0])


def test_recording_changes_nothing():
    torch.manual_seed(3)
    lstm = lstmkit.LSTM(3, 5, num_layers=2, dropout=0.3, recurrent_dropout=0.2, zoneout_c=0.3)
    x = torch.randn(6, 2, 3, requires_grad=True)
    results = []
    for record in (False, True):
        torch.manual_seed(7)
        lstm.zero_grad()
        x.grad = None
        out, (h, c) = lstm(x, record=record)
        (out.sum() + c.sum()).backward()
        results.append((out.detach(), c.detach(), x.grad.clone(), [p.grad.clone() for p in lstm.parameters()],
                        torch.rand(3)))
    (o1, c1, g1, p1, r1), (o2, c2, g2, p2, r2) = results
    assert torch.equal(o1, o2) and torch.equal(c1, c2) and torch.equal(g1, g2)
    assert all(torch.equal(a, b) for a, b in zip(p1, p2))
    assert torch.equal(r1, r2), "recording consumed no random numbers"


def test_recording_context_collects_every_layer_and_only_inside():
    model = torch.nn.ModuleDict({"enc": lstmkit.GRU(3, 4), "dec": lstmkit.LSTM(4, 4)})
    x = torch.randn(5, 2, 3)
    with recording(model) as rec:
        y, _ = model["enc"](x)
        model["dec"](y)
        model["dec"](y)
    assert sorted(rec.records) == ["dec", "enc"] and len(rec.records["dec"]) == 2
    assert set(rec.last("enc")[(0, 0)]) == {"r", "z", "n", "h"}
    model["enc"](x)
    assert len(rec.records["enc"]) == 1, "nothing recorded after the block"
    with pytest.raises(KeyError, match="no record of a layer named 'rnn'"):
        rec.last("rnn")
    with pytest.raises(ValueError, match="contains no lstmkit layer"):
        with recording(torch.nn.Linear(2, 2)):
            pass
