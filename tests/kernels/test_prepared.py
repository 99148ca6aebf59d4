"""Weights prepared once across inference calls (lstmkit.kernels.cpu.prepared): kept while a weight holds
the same values, prepared again after any change -- in place, through ``.data`` or a numpy view (which
torch's version counter does not see) -- never kept for training calls, bounded by its size limit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.kernels.cpu import prepared as P


@pytest.fixture(autouse=True)
def _empty_cache():
    P.clear()
    yield
    P.clear()


def _counting():
    calls = []

    def make():
        calls.append(1)
        return object()
    return calls, make


def test_kept_only_inside_reusing():
    w = torch.randn(8, 4)
    calls, make = _counting()
    P.prepared(("t",), w, make)
    P.prepared(("t",), w, make)
    assert len(calls) == 2                                   # outside reusing(): prepared every time
    with P.reusing():
        a = P.prepared(("t",), w, make)
        b = P.prepared(("t",), w, make)
        c = P.prepared(("t",), w.t(), make)                  # another view of the same bytes: its own entry
    assert a is b and c is not a and len(calls) == 4


@pytest.mark.parametrize("change", ["in_place", "data", "numpy", "one_element_swap"])
def test_any_change_of_values_prepares_again(change):
    w = torch.nn.Parameter(torch.randn(16, 8))
    calls, make = _counting()
    with P.reusing():
        first = P.prepared(("t",), w, make)
        version = w._version
        if change == "in_place":
            with torch.no_grad():
                w.mul_(2)
        elif change == "data":
            w.data.copy_(torch.randn(16, 8))
        elif change == "numpy":
            w.detach().numpy()[3, 5] += 1.0
        else:                                                # the same multiset of values, two swapped
            flat = w.data.view(-1)
            a, b = flat[0].item(), flat[1].item()
            flat[0], flat[1] = b, a
        if change != "in_place":
            assert w._version == version                     # what the version counter misses
        second = P.prepared(("t",), w, make)
    assert second is not first and len(calls) == 2


def test_size_limit_and_off(monkeypatch):
    w1, w2 = torch.randn(256, 256), torch.randn(256, 256)   # 256 KB each
    calls, make = _counting()
    monkeypatch.setenv("LSTMKIT_WEIGHT_CACHE_MB", "0.3")
    with P.reusing():
        P.prepared(("t",), w1, make)
        P.prepared(("t",), w2, make)                         # evicts w1
        P.prepared(("t",), w2, make)
        P.prepared(("t",), w1, make)
    assert len(calls) == 3 and P.size() == (1, 256 * 256 * 4)
    monkeypatch.setenv("LSTMKIT_WEIGHT_CACHE_MB", "0")
    P.clear()
    with P.reusing():
        P.prepared(("t",), w1, make)
        P.prepared(("t",), w1, make)
    assert len(calls) == 5 and P.size() == (0, 0)
    monkeypatch.setenv("LSTMKIT_WEIGHT_CACHE_MB", "lots")
    with P.reusing(), pytest.raises(ValueError, match="LSTMKIT_WEIGHT_CACHE_MB must be a number.*'lots'"):
        P.prepared(("t",), w1, make)


@pytest.mark.parametrize("cls", [lstmkit.LSTM, lstmkit.GRU, lstmkit.RNN])
@pytest.mark.parametrize("backend", ["cpu-fused", "cpu-stepped"])
def test_layers_follow_weight_changes_between_inference_calls(cls, backend):
    """Inference calls reuse prepared weights; a weight changed between them (through .data, which the
    version counter misses) gives the new model's output, equal to a fresh layer's."""
    torch.manual_seed(0)
    layer = cls(6, 12, num_layers=2, backend=backend).eval()
    x = torch.randn(5, 3, 6)
    with torch.no_grad():
        layer(x)
        if backend == "cpu-fused":                           # (stepped: GEMMs this small go to MKL, unprepared)
            assert P.size()[0] > 0                           # inference kept its prepared weights
        for p in layer.parameters():
            p.data.copy_(torch.randn_like(p))
        got = layer(x)[0]
        fresh = cls(6, 12, num_layers=2, backend=backend).eval()
        fresh.load_state_dict(layer.state_dict())
        P.clear()
        want = fresh(x)[0]
    assert torch.equal(got, want)


def test_training_calls_keep_nothing():
    layer = lstmkit.LSTM(6, 12)
    x = torch.randn(5, 3, 6)
    layer(x)[0].sum().backward()
    assert P.size() == (0, 0)


def test_fingerprint_sees_every_element():
    a = torch.randn(1001)
    base = P.fingerprint(a)
    for i in (0, 500, 1000):
        b = a.clone()
        b[i] = float(np.nextafter(np.float32(b[i].item()), np.float32(np.inf)))   # one ulp
        assert P.fingerprint(b) != base
    assert P.fingerprint(torch.zeros(3, dtype=torch.float64)) != P.fingerprint(torch.ones(3, dtype=torch.float64))
