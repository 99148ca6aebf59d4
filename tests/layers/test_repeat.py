"""A layer's kept plain inference call (lstmkit.layers.repeat): the next call like it skips the general path
and gives the same result; any difference that matters -- the arguments, the weights (through a version
bump, ``.data``, numpy, new memory, a new Parameter, a dtype move), the layer's options, the process's
settings, a gradient, a transform -- sends the call back to the general path."""

from __future__ import annotations

import copy
import itertools
import pickle

import pytest
import torch

import lstmkit
from lstmkit.errors import DTypeError, ShapeError
from lstmkit.layers import base as layer_base
from lstmkit.layers.repeat import Repeat

from helpers import count_results


@pytest.fixture
def hits(monkeypatch):
    """How many calls the kept Repeat ran (it returned a result)."""
    return count_results(monkeypatch, Repeat, "__call__")


def _states(s):
    return s if isinstance(s, tuple) else (s,)


def _general(layer, x, hx=None):
    """The call through the general path (the kept Repeat dropped first)."""
    layer_base._REPEATS.pop(layer, None)
    with torch.no_grad():
        out, st = layer(x, hx)
    return out, _states(st)


def _call(layer, x, hx=None):
    with torch.no_grad():
        out, st = layer(x, hx)
    return out, _states(st)


def _same(a, b):
    out_a, st_a = a
    out_b, st_b = b
    assert torch.equal(out_a, out_b)
    assert len(st_a) == len(st_b) and all(torch.equal(p, q) for p, q in zip(st_a, st_b))


CASES = [(lstmkit.LSTM, {}), (lstmkit.LSTM, dict(proj_size=5)), (lstmkit.GRU, {}), (lstmkit.RNN, {})]


@pytest.mark.parametrize("cls, opts", CASES, ids=[f"{c.__name__}-{'-'.join(o) or 'plain'}" for c, o in CASES])
def test_a_repeated_call_gives_what_the_general_path_gives(cls, opts, hits):
    """Every form a plain call takes: stacked, bidirectional, batch-first, unbatched, one step and many,
    batch halves, given states or none; bit for bit what the general path gives, and the repeat ran."""
    torch.manual_seed(0)
    for L, bi, bf, shape, given in itertools.product((1, 2), (False, True), (False, True),
                                                     ((9, 3), (1, 3), (9, None), (6, 24)), (False, True)):
        layer = cls(7, 12, num_layers=L, bidirectional=bi, batch_first=bf, **opts).eval()
        T, B = shape
        x = torch.randn(T, 7) if B is None else torch.randn(B, T, 7) if bf else torch.randn(T, B, 7)
        hx = None
        if given:
            lead = (L * (2 if bi else 1),) + (() if B is None else (B,))
            h = torch.randn(*lead, opts.get("proj_size", 0) or 12)
            hx = (h, torch.randn(*lead, 12)) if cls is lstmkit.LSTM else h
        first = _general(layer, x, hx)
        n = len(hits)
        for _ in range(2):
            _same(_call(layer, x, hx), first)
        assert len(hits) == n + 2, (L, bi, bf, shape, given)
        y = x * 0.5                                                # another input of the same shape
        _same(_call(layer, y, hx), _general(layer, y, hx))


def test_outputs_are_fresh_and_the_kept_state_untouched(hits):
    layer = lstmkit.LSTM(5, 8).eval()
    x = torch.randn(4, 2, 5)
    out1, (h1, c1) = _call(layer, x)
    out2, (h2, c2) = _call(layer, x)
    assert hits == [1]
    assert out1.data_ptr() != out2.data_ptr() and h1.data_ptr() != h2.data_ptr() and c1.data_ptr() != c2.data_ptr()
    h2.fill_(7.0)
    c2.fill_(7.0)                                              # the caller owns what it got
    _same(_call(layer, x), (out1, (h1, c1)))
    assert all(torch.equal(s, torch.zeros_like(s)) for s in layer_base._REPEATS[layer].prep.state0)


CHANGES = ["in_place", "data_add", "numpy", "data_new_memory", "new_parameter", "double"]


@pytest.mark.parametrize("steps", [1, 6], ids=["one-step", "program"])
@pytest.mark.parametrize("change", CHANGES)
def test_a_weight_change_shows_at_once(change, steps, hits):
    torch.manual_seed(1)
    ref = torch.nn.LSTM(6, 10, num_layers=2).eval()
    layer = lstmkit.LSTM.from_torch(ref).eval()
    x = torch.randn(steps, 3, 6)
    _call(layer, x)
    _call(layer, x)
    assert hits == [1]
    w, w_ref = layer.weight_hh_l1, ref.weight_hh_l1
    if change == "in_place":
        with torch.no_grad():
            w.mul_(1.5)
            w_ref.mul_(1.5)
    elif change == "data_add":                       # no version bump
        w.data.add_(0.25)
        w_ref.data.add_(0.25)
    elif change == "numpy":                          # no version bump either
        w.detach().numpy()[0, 0] += 1.0
        w_ref.detach().numpy()[0, 0] += 1.0
    elif change == "data_new_memory":
        fresh = torch.randn_like(w)
        w.data, w_ref.data = fresh, fresh.clone()
    elif change == "new_parameter":
        fresh = torch.randn_like(w)
        layer.weight_hh_l1 = torch.nn.Parameter(fresh)
        ref.weight_hh_l1 = torch.nn.Parameter(fresh.clone())
    else:
        layer.double()
        ref.double()
        x = x.double()
    got = _call(layer, x)
    with torch.no_grad():
        want, want_st = ref(x)
    tol = 1e-12 if x.dtype == torch.float64 else 1e-5
    torch.testing.assert_close(got[0], want, atol=tol, rtol=0)
    for a, b in zip(got[1], want_st):
        torch.testing.assert_close(a, b, atol=tol, rtol=0)
    # a single step reads the weights as they are: a write that bumps no version counter needs no look
    assert len(hits) == (2 if steps == 1 and change in ("numpy", "data_add") else 1)


def test_bad_input_still_gets_the_general_checks(hits):
    layer = lstmkit.LSTM(5, 8).eval()
    x = torch.randn(4, 2, 5)
    _call(layer, x)
    with pytest.raises(DTypeError):
        _call(layer, x.double())
    with pytest.raises(ShapeError):
        _call(layer, torch.randn(4, 2, 6))
    with pytest.raises(ShapeError):
        _call(layer, x, (torch.zeros(1, 3, 8), torch.zeros(1, 3, 8)))
    with pytest.raises(TypeError):
        _call(layer, x, torch.zeros(1, 2, 8))                  # an LSTM needs (h0, c0)
    assert hits == [] and layer not in layer_base._REPEATS      # a call unlike the kept one drops it
    _call(layer, x)
    _call(layer, x)
    assert hits == [1]


def test_options_and_settings_that_send_the_call_back(hits, monkeypatch):
    torch.manual_seed(2)
    layer = lstmkit.LSTM(5, 8, num_layers=2, dropout=0.5).eval()
    x = torch.randn(4, 3, 5)
    want = _call(layer, x)
    _call(layer, x)
    assert len(hits) == 1
    layer.train()                                              # dropout between layers: not the same call
    torch.manual_seed(3)
    out = _call(layer, x)[0]
    assert not torch.equal(out, want[0]) and len(hits) == 1
    layer.eval()                                               # (the training call dropped the kept one)
    _same(_call(layer, x), want)
    _same(_call(layer, x), want)
    assert len(hits) == 2
    layer.batch_first = True                                   # the same tensor read as (B, T, I)
    _same(_call(layer, x), _general(layer, x))
    layer.batch_first = False
    _call(layer, x)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        n = len(hits)
        _same(_call(layer, x), want)
        assert len(hits) == n
    finally:
        torch.set_num_threads(before)
    monkeypatch.setenv("LSTMKIT_WEIGHT_CACHE_MB", "0")        # nothing kept at all
    layer_base._REPEATS.pop(layer, None)
    _same(_call(layer, x), want)
    assert layer not in layer_base._REPEATS


def test_gradients_transforms_and_records_take_the_general_path(hits):
    torch.manual_seed(4)
    layer = lstmkit.GRU(5, 8).eval()
    x = torch.randn(4, 3, 5)
    want = _call(layer, x)
    _call(layer, x)
    assert len(hits) == 1
    out, _ = layer(x)                                          # grad enabled: a node for the backward
    assert out.requires_grad
    out.sum().backward()
    assert layer.weight_hh_l0.grad is not None
    import torch.autograd.forward_ad as fwAD
    with torch.no_grad(), fwAD.dual_level():
        dual = fwAD.make_dual(x, torch.ones_like(x))
        tangent = fwAD.unpack_dual(layer(dual)[0]).tangent
    assert tangent is not None
    with torch.no_grad():
        batched = torch.func.vmap(lambda xi: layer(xi)[0], in_dims=1, out_dims=1)(x)
    torch.testing.assert_close(batched, want[0], atol=1e-6, rtol=0)
    from lstmkit.inspect import recording
    with recording(layer) as rec:
        _same(_call(layer, x), want)
    assert len(rec.records[""]) == 1
    assert len(hits) == 1


def test_copies_and_pickles_carry_no_kept_call(hits):
    layer = lstmkit.LSTM(5, 8).eval()
    x = torch.randn(4, 2, 5)
    want = _call(layer, x)
    _call(layer, x)
    twin = copy.deepcopy(layer)
    loaded = pickle.loads(pickle.dumps(layer))
    assert twin not in layer_base._REPEATS and loaded not in layer_base._REPEATS
    _same(_call(twin, x), want)
    _same(_call(loaded, x), want)
    twin.weight_hh_l0.data.mul_(2)                              # the copy's weights are its own
    _same(_call(layer, x), want)
