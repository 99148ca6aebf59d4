"""The lean inference route (lstmkit.kernels.cpu.lean): which calls take it, and that they give what the
general route, the reference kernel and torch.nn give -- every family and form it runs, stacked,
bidirectional, batch-first, halves side by side, several windows, float64, given initial states."""

from __future__ import annotations

import itertools

import pytest
import torch

import lstmkit
from lstmkit.kernels import dispatch
from lstmkit.kernels.cpu import lean
from lstmkit.layers import base as layer_base

from helpers import count_results, tuned, two_threads  # noqa: F401  (a fixture)

CASES = [
    (lstmkit.LSTM, {}), (lstmkit.LSTM, dict(proj_size=5)), (lstmkit.LSTM, dict(peephole=True)),
    (lstmkit.LSTM, dict(cifg=True)), (lstmkit.GRU, {}), (lstmkit.GRU, dict(reset_before=True)),
    (lstmkit.RNN, {}), (lstmkit.RNN, dict(nonlinearity="relu")),
]


@pytest.fixture
def calls(monkeypatch):
    """How many times the lean route ran (through run_stack, or again through a layer's kept Repeat)."""
    seen = count_results(monkeypatch, lean.Rerun, "__call__")
    real = layer_base.run_stack

    def counting(*args, **kwargs):
        seen.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(layer_base, "run_stack", counting)
    return seen


def _states(s):
    return s if isinstance(s, tuple) else (s,)


def _run(layer, x, hx=None):
    with torch.no_grad():
        out, st = layer(x, hx)
    return out, _states(st)


@pytest.mark.parametrize("cls, opts", CASES, ids=[f"{c.__name__}-{'-'.join(o) or 'plain'}" for c, o in CASES])
def test_equals_the_reference_kernel(cls, opts, calls):
    torch.manual_seed(0)
    for L, bi, bf, B, bias in itertools.product((1, 2), (False, True), (False, True), (1, 3, 20), (True, False)):
        layer = cls(7, 12, num_layers=L, bidirectional=bi, batch_first=bf, bias=bias, **opts).eval()
        x = torch.randn(B, 9, 7) if bf else torch.randn(9, B, 7)
        n = len(calls)
        out, st = _run(layer, x)
        assert len(calls) == n + 1
        layer.backend = "reference"
        want, want_st = _run(layer, x)
        assert len(calls) == n + 1                            # the reference kernel never takes it
        assert out.shape == want.shape
        torch.testing.assert_close(out, want, atol=1e-5, rtol=0)
        for a, b in zip(st, want_st):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize("cls, opts", CASES[:1] + CASES[4:5] + CASES[6:7])
def test_float64_many_windows_halves_and_initial_states_equal_torch_nn(cls, opts, calls):
    """float64 against torch.nn's own module (from_torch), windows of a few steps (a tuning with a small
    window), a batch cut in halves, and given (h0, c0), which are left untouched."""
    torch.manual_seed(1)
    ref = getattr(torch.nn, cls.__name__)(6, 10, num_layers=2, bidirectional=True).double().eval()
    layer = cls.from_torch(ref).eval()
    x = torch.randn(23, 16, 6, dtype=torch.float64)
    h = torch.randn(4, 16, 10, dtype=torch.float64)
    hx = (h, torch.randn_like(h)) if cls is lstmkit.LSTM else h
    kept = [t.clone() for t in _states(hx)]
    before = dispatch.tuning()
    dispatch.set_tuning(before.replace(window_bytes=1, window_min_rows=64, side_by_side_min_macs=0,
                                       split_min_rows=2))
    try:
        assert dispatch.window_steps(23, 8, 40, 8) == 8      # 3 windows per half
        out, st = _run(layer, x, hx)
    finally:
        dispatch.set_tuning(before)
    assert calls
    with torch.no_grad():
        want, want_st = ref(x, hx)
    torch.testing.assert_close(out, want, atol=1e-12, rtol=0)
    for a, b in zip(st, _states(want_st)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    for a, b in zip(_states(hx), kept):
        assert torch.equal(a, b)


def test_outputs_are_fresh_and_follow_the_input(calls):
    layer = lstmkit.LSTM(5, 8).eval()
    x = torch.randn(4, 2, 5)
    out1, (h1, c1) = _run(layer, x)
    out2, (h2, c2) = _run(layer, x * 2)
    assert out1.data_ptr() != out2.data_ptr() and h1.data_ptr() != h2.data_ptr()
    assert not torch.equal(out1, out2)
    x_t = torch.randn(5, 4, 2).permute(1, 2, 0)              # a non-contiguous (T, B, I) input
    torch.testing.assert_close(_run(layer, x_t)[0], _run(layer, x_t.contiguous())[0], atol=0, rtol=0)


@pytest.mark.parametrize("why", ["grad", "lengths", "reset", "dropout", "zoneout", "layer_norm", "record",
                                 "stepped", "reference", "training_dropout_between_layers"])
def test_calls_that_keep_the_general_route(why, calls):
    opts = dict(layer_norm=True) if why == "layer_norm" else dict(zoneout_c=0.1) if why == "zoneout" else \
        dict(recurrent_dropout=0.3) if why == "dropout" else dict(num_layers=2, dropout=0.5) \
        if why == "training_dropout_between_layers" else {}
    backend = {"stepped": "cpu-stepped", "reference": "reference"}.get(why, "auto")
    layer = lstmkit.LSTM(5, 8, backend=backend, **opts)
    layer.train(why in ("dropout", "training_dropout_between_layers"))
    if why not in ("dropout", "training_dropout_between_layers"):
        layer.eval()
    x = torch.randn(6, 3, 5)
    kw = {"lengths": torch.tensor([6, 4, 2])} if why == "lengths" else \
        {"reset": torch.zeros(6, 3, dtype=torch.bool)} if why == "reset" else \
        {"record": True} if why == "record" else {}
    with torch.set_grad_enabled(why == "grad"):
        layer(x, **kw)
    assert calls == []


def test_explain_names_the_route():
    layer = lstmkit.LSTM(8, 16).eval()
    x = torch.randn(20, 4, 8)
    assert "lean" in layer.explain(x, train=False).calls[0]["passes"]["forward"]["route"]
    assert "route" not in layer.explain(x, train=True).calls[0]["passes"]["forward"]
    layer.backend = "cpu-stepped"
    assert "route" not in layer.explain(x, train=False).calls[0]["passes"]["forward"]


def test_lean_decision_reasons():
    spec = lstmkit.LSTM(8, 16, layer_norm=True)._specs[0]
    from lstmkit.kernels import select
    x = torch.randn(5, 2, 8)
    assert "layer norm" in dispatch.lean(select("auto", spec, x), spec, 5, 2, 4, 1)
    assert "reference" in dispatch.lean(select("reference", spec, x), spec, 5, 2, 4, 1)
    assert lean.run_stack.__doc__


def _count_builds(monkeypatch, cls) -> list:
    """A list that grows by one each time an instance of ``cls`` is built."""
    seen = []
    real = cls.__init__

    def counting(self, *args, **kwargs):
        seen.append(1)
        real(self, *args, **kwargs)
    monkeypatch.setattr(cls, "__init__", counting)
    return seen


@pytest.fixture
def builds(monkeypatch):
    """How many lean programs were prepared."""
    lean.clear_programs()
    return _count_builds(monkeypatch, lean._Program)


@pytest.mark.parametrize("change", ["in_place", "data", "numpy"])
def test_programs_are_kept_until_a_weight_changes(change, builds):
    torch.manual_seed(0)
    layer = lstmkit.LSTM(6, 10, num_layers=2).eval()
    x = torch.randn(7, 3, 6)
    first = _run(layer, x)[0]
    again = _run(layer, x)[0]
    assert len(builds) == 1 and torch.equal(first, again)
    w = layer.weight_hh_l1
    if change == "in_place":
        with torch.no_grad():
            w.mul_(1.5)
    elif change == "data":
        w.data.add_(0.25)
    else:                                                     # (the version counter misses this one)
        w.detach().numpy()[0, 0] += 1.0
    got = _run(layer, x)[0]
    assert len(builds) == 2
    layer.backend = "reference"
    torch.testing.assert_close(got, _run(layer, x)[0], atol=1e-5, rtol=0)


def test_programs_per_shape_bounded_and_off(builds, monkeypatch):
    layer = lstmkit.GRU(4, 8).eval()
    for T in range(2, lean.MAX_PROGRAMS + 4):                # (a call of one step prepares nothing)
        _run(layer, torch.randn(T, 2, 4))
    assert len(builds) == lean.MAX_PROGRAMS + 2 and len(lean._PROGRAMS) == lean.MAX_PROGRAMS
    _run(layer, torch.randn(lean.MAX_PROGRAMS + 3, 2, 4))      # the newest is kept
    _run(layer, torch.randn(2, 2, 4))                         # the oldest was dropped
    assert len(builds) == lean.MAX_PROGRAMS + 3
    monkeypatch.setenv("LSTMKIT_WEIGHT_CACHE_MB", "0")
    lean.clear_programs()
    _run(layer, torch.randn(3, 2, 4))
    _run(layer, torch.randn(3, 2, 4))
    assert len(builds) == lean.MAX_PROGRAMS + 5 and len(lean._PROGRAMS) == 0


def test_one_layer_called_from_two_threads_at_once():
    """A kept program serves one call at a time; a second thread meanwhile runs its own (same results)."""
    from concurrent.futures import ThreadPoolExecutor
    torch.manual_seed(0)
    layer = lstmkit.LSTM(8, 16).eval()
    xs = [torch.randn(50, 4, 8) for _ in range(16)]
    want = [_run(layer, x)[0] for x in xs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda x: _run(layer, x)[0], xs))
    for g, w in zip(got, want):
        assert torch.equal(g, w)


@pytest.mark.parametrize("cls, opts", [
    (lstmkit.LSTM, {}), (lstmkit.LSTM, dict(peephole=True)), (lstmkit.LSTM, dict(cifg=True)),
    (lstmkit.LSTM, dict(bias=False)), (lstmkit.LSTM, dict(num_layers=2, batch_first=True)),
    (lstmkit.GRU, {}), (lstmkit.GRU, dict(bias=False)), (lstmkit.GRU, dict(num_layers=2))],
    ids=["lstm", "peephole", "cifg", "lstm-no-bias", "lstm-stacked-bf", "gru", "gru-no-bias", "gru-stacked"])
def test_units_split_equals_the_reference(cls, opts, monkeypatch, builds, two_threads):
    """Each whole part's loop on two threads, each owning half of the units (odd H: unequal halves),
    several windows, given states: the reference's outputs and final states."""
    tuned(monkeypatch, units_min_hidden=1, side_by_side_min_macs=0, window_bytes=1, window_min_rows=5)
    made = _count_builds(monkeypatch, lean._UnitsPart)
    torch.manual_seed(0)
    layer = cls(7, 21, **opts).eval()
    for B in (1, 3):
        x = torch.randn(B, 13, 7) if opts.get("batch_first") else torch.randn(13, B, 7)
        n = layer.num_layers * layer.num_directions
        hx = (torch.randn(n, B, 21), torch.randn(n, B, 21)) if cls is lstmkit.LSTM else torch.randn(n, B, 21)
        out, st = _run(layer, x, hx)
        layer.backend = "reference"
        want, want_st = _run(layer, x, hx)
        layer.backend = "auto"
        torch.testing.assert_close(out, want, atol=1e-5, rtol=0)
        for a, b in zip(st, want_st):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    assert len(made) == 2 * layer.num_layers * layer.num_directions
    assert "units" in str(layer.explain(x, train=False))


@pytest.mark.parametrize("cls, opts, how", [
    (lstmkit.LSTM, {}, "halves"), (lstmkit.GRU, {}, "halves"), (lstmkit.RNN, dict(bias=False), "halves"),
    (lstmkit.LSTM, dict(bidirectional=True), "directions"), (lstmkit.LSTM, {}, "units"),
    (lstmkit.GRU, dict(bias=False), "units"), (lstmkit.LSTM, {}, "whole")])
def test_packed_projection_on_one_thread_parts(cls, opts, how, monkeypatch, builds, two_threads):
    """A part on one thread (a batch half, a direction side by side, a units half) projects its windows with
    the compiled packed GEMM (Tuning.packed_projection_min_k), a part with both threads with torch's:
    the reference's outputs either way, over several windows with a row count that is no multiple of 4."""
    tuned(monkeypatch, packed_projection_min_k=1, side_by_side_min_macs=0, window_bytes=1, window_min_rows=7,
          split_min_rows=2 if how == "halves" else 1 << 30, concat_max_weight_bytes=0,
          units_min_hidden=1 if how == "units" else 1 << 30)
    lins = []
    real = lean.Linear.__init__

    def keep(self, *args, **kwargs):
        real(self, *args, **kwargs)
        lins.append(self)
    monkeypatch.setattr(lean.Linear, "__init__", keep)
    torch.manual_seed(5)
    layer = cls(9, 22, **opts).eval()
    x = torch.randn(17, 1 if how == "units" else 6, 9)
    out, st = _run(layer, x)
    assert lins and all(lin.packed_gemm == (how != "whole") for lin in lins)
    layer.backend = "reference"
    want, want_st = _run(layer, x)
    torch.testing.assert_close(out, want, atol=1e-5, rtol=0)
    for a, b in zip(st, want_st):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_units_split_error_in_one_half_stops_both(monkeypatch, two_threads):
    """An error in one thread's half is raised and the other half does not wait for it forever; the layer
    then runs again."""
    tuned(monkeypatch, units_min_hidden=1, side_by_side_min_macs=0)
    lean.clear_programs()
    layer = lstmkit.LSTM(5, 16).eval()
    x = torch.randn(20, 1, 5)
    real = lean._UnitsPart._half

    def failing(self, k, *args):
        if k == 1:
            raise MemoryError("half 1 failed")
        return real(self, k, *args)
    monkeypatch.setattr(lean._UnitsPart, "_half", failing)
    with pytest.raises(MemoryError, match="half 1 failed"):
        _run(layer, x)
    monkeypatch.setattr(lean._UnitsPart, "_half", real)
    out = _run(layer, x)[0]
    layer.backend = "reference"
    torch.testing.assert_close(out, _run(layer, x)[0], atol=1e-5, rtol=0)


def test_units_split_decisions(monkeypatch, two_threads):
    tuned(monkeypatch, units_min_hidden=64, side_by_side_min_macs=0)
    k = dispatch.kernel("cpu")
    lstm, small = lstmkit.LSTM(8, 64)._specs[0], lstmkit.LSTM(8, 32)._specs[0]
    assert dispatch.units(k, lstm, 10, 1, 4, 1)
    assert not dispatch.units(k, small, 10, 1, 4, 1)                             # below the threshold
    assert not dispatch.units(k, lstmkit.LSTM(8, 64, proj_size=16)._specs[0], 10, 1, 4, 1)
    assert dispatch.units(k, lstmkit.GRU(8, 64)._specs[0], 10, 1, 4, 1)
    assert not dispatch.units(k, lstmkit.GRU(8, 64, reset_before=True)._specs[0], 10, 1, 4, 1)
    assert not dispatch.units(k, lstmkit.RNN(8, 64)._specs[0], 10, 1, 4, 1)
    assert not dispatch.units(dispatch.kernel("cpu-stepped"), lstm, 10, 1, 4, 1)
    tuned(monkeypatch, units_min_hidden=64, side_by_side_min_macs=10 ** 6)
    assert not dispatch.units(k, lstm, 1, 1, 4, 1)                              # one step: too little to share
    tuned(monkeypatch, units_min_hidden=64, side_by_side_min_macs=0)
    assert not dispatch.units(k, lstm, 10, 64, 4, 1)                             # halves side by side instead


@pytest.mark.parametrize("opts", [{}, dict(peephole=True), dict(cifg=True), dict(bias=False),
                                  dict(bidirectional=True, num_layers=2, batch_first=True)],
                         ids=["plain", "peephole", "cifg", "no-bias", "bi-stacked-bf"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_projection_inside_the_step_equals_the_reference(opts, dtype, monkeypatch, builds):
    """The LSTM's input projection computed inside each step ([x_t | h_{t-1}] with [W_ih; W_hh]): forward and
    reverse directions, batch halves side by side, several windows, given states."""
    tuned(monkeypatch, concat_min_rows=1, concat_max_weight_bytes=1 << 30, window_bytes=1, window_min_rows=12,
          side_by_side_min_macs=0, units_min_hidden=1 << 30)
    seen = []
    real = lean.lstm_concat_loop
    monkeypatch.setattr(lean, "lstm_concat_loop", lambda *a: (seen.append(1), real(*a))[1])
    torch.manual_seed(0)
    layer = lstmkit.LSTM(9, 14, **opts).to(dtype).eval()
    for B in (1, 8):
        x = torch.randn(B, 11, 9, dtype=dtype) if opts.get("batch_first") else torch.randn(11, B, 9, dtype=dtype)
        n = layer.num_layers * layer.num_directions
        hx = (torch.randn(n, B, 14, dtype=dtype), torch.randn(n, B, 14, dtype=dtype))
        out, st = _run(layer, x, hx)
        layer.backend = "reference"
        want, want_st = _run(layer, x, hx)
        layer.backend = "auto"
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        torch.testing.assert_close(out, want, atol=tol, rtol=0)
        for a, b in zip(st, want_st):
            torch.testing.assert_close(a, b, atol=tol, rtol=0)
    assert seen and "inside each step" in str(layer.explain(x, train=False))


def test_projection_inside_the_step_decisions(monkeypatch):
    tuned(monkeypatch, concat_min_rows=4, concat_max_weight_bytes=4 << 20)
    spec = lstmkit.LSTM(64, 128)._specs[0]
    assert dispatch.concat_input(spec, 4, 64) and not dispatch.concat_input(spec, 3, 64)
    assert not dispatch.concat_input(lstmkit.LSTM(512, 512)._specs[0], 32, 512)      # 8 MB joined
    assert not dispatch.concat_input(lstmkit.LSTM(64, 128, proj_size=32)._specs[0], 32, 64)
    assert not dispatch.concat_input(lstmkit.GRU(64, 128)._specs[0], 32, 64)


ONE_STEP_CASES = CASES + [(lstmkit.LSTM, dict(layer_norm=True)), (lstmkit.LSTM, dict(peephole=True, proj_size=4))]


@pytest.mark.parametrize("cls, opts", ONE_STEP_CASES,
                         ids=[f"{c.__name__}-{'-'.join(o) or 'plain'}" for c, o in ONE_STEP_CASES])
def test_one_step_equals_the_reference_kernel(cls, opts, calls, builds):
    """A call of one step (generation) runs each layer-direction's single step on the weights as they are:
    every cell form (layer norm too), stacked, bidirectional, batch-first, batches on the BLAS route and
    below it, given states or none; no program is prepared."""
    torch.manual_seed(2)
    for L, bi, bf, B, bias, given in itertools.product((1, 2), (False, True), (False, True), (1, 3, 20),
                                                       (True, False), (False, True)):
        layer = cls(7, 12, num_layers=L, bidirectional=bi, batch_first=bf, bias=bias, **opts).eval()
        x = torch.randn(B, 1, 7) if bf else torch.randn(1, B, 7)
        hx = None
        if given:
            P = opts.get("proj_size", 0) or 12
            h = torch.randn(L * (2 if bi else 1), B, P)
            hx = (h, torch.randn(L * (2 if bi else 1), B, 12)) if cls is lstmkit.LSTM else h
        n = len(calls)
        out, st = _run(layer, x, hx)
        assert len(calls) == n + 1
        layer.backend = "reference"
        want, want_st = _run(layer, x, hx)
        assert out.shape == want.shape
        torch.testing.assert_close(out, want, atol=1e-5, rtol=0)
        for a, b in zip(st, want_st):
            assert a.shape == b.shape
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    assert builds == []


@pytest.mark.parametrize("cls", [lstmkit.LSTM, lstmkit.GRU, lstmkit.RNN])
def test_one_step_float64_equals_torch_nn_and_follows_weight_writes(cls, calls, builds):
    """float64 against torch.nn's module; weights changed through .data and numpy between calls (no
    version bump) show at once: no value is kept (only views of the weights' memory)."""
    torch.manual_seed(3)
    ref = getattr(torch.nn, cls.__name__)(6, 10, num_layers=2, bidirectional=True).double().eval()
    layer = cls.from_torch(ref).eval()
    x = torch.randn(1, 5, 6, dtype=torch.float64)
    for change in ("none", "data", "numpy"):
        if change == "data":
            ref.weight_hh_l1.data.mul_(0.5)
            layer.weight_hh_l1.data.mul_(0.5)
        elif change == "numpy":
            ref.weight_ih_l0.data.add_(0.25)
            layer.weight_ih_l0.detach().numpy()[...] = ref.weight_ih_l0.detach().numpy()
        out, st = _run(layer, x)
        with torch.no_grad():
            want, want_st = ref(x)
        torch.testing.assert_close(out, want, atol=1e-12, rtol=0)
        for a, b in zip(st, _states(want_st)):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    assert len(calls) == 3 and builds == []


def test_kept_weight_views_follow_the_parameters():
    """The one-step route keeps each parameter's numpy view (plan.kept_weight_view): rebuilt when the
    parameter moves (``.data =`` new memory, ``.double()``, a new Parameter), never kept for a non-contiguous
    weight, and gone with its parameter."""
    import gc
    from lstmkit.kernels.cpu import plan
    torch.manual_seed(4)
    ref = torch.nn.LSTM(5, 8).eval()
    layer = lstmkit.LSTM.from_torch(ref).eval()
    x = torch.randn(1, 3, 5)

    def check(dtype=torch.float32):
        out, st = _run(layer, x.to(dtype))
        with torch.no_grad():
            want, want_st = ref(x.to(dtype))
        tol = 1e-6 if dtype == torch.float32 else 1e-12
        torch.testing.assert_close(out, want, atol=tol, rtol=0)
        for a, b in zip(st, _states(want_st)):
            torch.testing.assert_close(a, b, atol=tol, rtol=0)

    check()
    assert id(layer.weight_hh_l0) in plan._VIEWS
    for fresh in (torch.randn(32, 8), torch.randn(8, 32).t()):          # new memory; then not contiguous
        with torch.no_grad():
            ref.weight_hh_l0.data = fresh.clone()
            layer.weight_hh_l0.data = fresh
        check()
        assert (id(layer.weight_hh_l0) in plan._VIEWS) == fresh.is_contiguous()
    with torch.no_grad():                                                # in place: shows through the view
        ref.weight_ih_l0.mul_(-1)
        layer.weight_ih_l0.mul_(-1)
    check()
    ref.double()
    layer.double()
    check(torch.float64)
    ref.bias_ih_l0 = torch.nn.Parameter(torch.randn(32, dtype=torch.float64))
    layer.bias_ih_l0 = torch.nn.Parameter(ref.bias_ih_l0.detach().clone())
    check(torch.float64)
    kept = {id(p) for p in layer.parameters()}
    del layer
    gc.collect()
    assert not kept & set(plan._VIEWS)


def test_explain_names_the_one_step_route():
    layer = lstmkit.LSTM(8, 16).eval()
    fwd = layer.explain(torch.randn(1, 4, 8), train=False).calls[0]["passes"]["forward"]
    assert "one step" in fwd["route"] and "as they are" in fwd["GEMMs"]
    assert "one step" not in layer.explain(torch.randn(2, 4, 8), train=False).calls[0]["passes"]["forward"]["route"]
