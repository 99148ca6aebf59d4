"""What is particular to the compiled CPU kernels: the float32 activations, the GEMM routes, the choice
between the fused loop and the stepped driver. (Every CPU route also runs the whole parity suite.)"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch

import lstmkit
from lstmkit import kernels
from lstmkit.cells import GRUSpec, LSTMSpec, RNNSpec
from lstmkit.kernels.common import SeqMasks
from lstmkit.kernels import dispatch
from lstmkit.kernels.cpu import gemm, sequence
from lstmkit.kernels.cpu.plan import make_plan
from lstmkit.kernels.cpu.activations import sigmoid, tanh
from lstmkit.kernels.cpu.jit import FASTMATH

from helpers import make_masks, tuned, two_threads  # noqa: F401  (a fixture)


@numba.njit(fastmath=FASTMATH, error_model="numpy")   # as every kernel is compiled (FMA contraction on)
def _apply(x, t_out, s_out):
    for i in range(x.shape[0]):
        t_out[i] = tanh(x[i])
        s_out[i] = sigmoid(x[i])


def test_float32_activations_are_accurate_and_float64_exact():
    x64 = np.linspace(-30, 30, 600_001)
    for dtype, tol in ((np.float32, 3.5e-7), (np.float64, 1e-15)):
        x = x64.astype(dtype)
        t, s = np.empty_like(x), np.empty_like(x)
        _apply(x, t, s)
        xr = x.astype(np.float64)
        assert np.abs(t - np.tanh(xr)).max() <= tol
        assert np.abs(s - 1 / (1 + np.exp(-xr))).max() <= tol
        assert np.all(np.abs(t) <= 1) and np.all((s >= 0) & (s <= 1))


def _weights(spec, dtype):
    params = {i.field: torch.empty(i.shape, dtype=dtype) for i in spec.layout()}
    spec.init_(params)
    for p in params.values():
        p.requires_grad_()
    return params


def _run_all(spec, params, x, state0, masks, backend):
    y, sT = kernels.run(spec, spec.make_weights(params), x, state0, masks, backend=backend)
    g = torch.Generator().manual_seed(5)
    loss = sum((t * torch.randn(t.shape, generator=g, dtype=torch.float64).to(t.dtype)).sum() for t in (y, *sT))
    grads = torch.autograd.grad(loss, [x, *state0, *params.values()], allow_unused=True)
    return [y, *sT, *[g for g in grads if g is not None]]


SPECS = [LSTMSpec(16, 64), LSTMSpec(16, 64, proj_size=32, peephole=True, layer_norm=True),
         GRUSpec(16, 64), GRUSpec(16, 64, reset_before=True), RNNSpec(16, 64)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.family}-{len(s.variant_options())}")
@pytest.mark.parametrize("force_onednn", [False, True])
def test_stepped_float32_matches_float64_truth(spec, force_onednn, monkeypatch):
    """float32 through oneDNN or MKL GEMMs stays within 1e-5 (relative to each tensor's scale) of float64."""
    if force_onednn:
        if not gemm.ONEDNN:
            pytest.skip("this torch build lacks the oneDNN matmul op (torch.ops.mkldnn._linear_pointwise): "
                        "the MKL route, tested by the other case, is the only one it can run")
        tuned(monkeypatch, onednn_min_macs=0)
    T, B = 12, 6
    params64 = _weights(spec, torch.float64)
    x64 = torch.randn(T, B, 16, dtype=torch.float64, requires_grad=True)
    s64 = tuple(torch.randn(B, n, dtype=torch.float64, requires_grad=True) for n in spec.state_sizes())
    masks = kernels.SeqMasks(lengths=torch.tensor([12, 3, 7, 12, 1, 9]), reset=torch.rand(T, B) < 0.2)
    truth = _run_all(spec, params64, x64, s64, masks, "reference")
    params32 = {k: v.detach().float().requires_grad_() for k, v in params64.items()}
    x32 = x64.detach().float().requires_grad_()
    s32 = tuple(s.detach().float().requires_grad_() for s in s64)
    got = _run_all(spec, params32, x32, s32, masks, "cpu-stepped")
    for a, b in zip(got, truth):
        assert (a.double() - b).abs().max() <= 1e-5 * (1 + b.abs().max())


def test_backward_scratch_is_reused_and_never_leaks_into_results():
    """The backward's dL/d(pre-activation) buffers come from a per-thread pool: a second call of another
    shape reuses the memory, and gradients from an earlier call stay intact after later calls."""
    sequence.release_scratch()
    spec = GRUSpec(16, 32)
    params = _weights(spec, torch.float32)
    x = torch.randn(20, 4, 16, requires_grad=True)
    first = _run_all(spec, params, x, (torch.zeros(4, 32, requires_grad=True),), None, "cpu")
    kept = [g.clone() for g in first]
    pool = dict(sequence._SCRATCH.pool)
    assert {k for k, _ in pool} == {"d_ax", "d_ah"}
    _run_all(spec, params, torch.randn(7, 3, 16, requires_grad=True), (torch.zeros(3, 32, requires_grad=True),),
             None, "cpu")
    assert all(sequence._SCRATCH.pool[k].data_ptr() == v.data_ptr() for k, v in pool.items())   # smaller: reused
    for a, b in zip(first, kept):
        assert torch.equal(a, b)
    sequence.release_scratch()
    assert not hasattr(sequence._SCRATCH, "pool")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.family}-{len(s.variant_options())}")
def test_bf16_gemms_stay_within_bfloat16_rounding_of_the_truth(spec, monkeypatch):
    """cpu-bf16: every GEMM on bfloat16 operands (threshold lowered so these sizes use them); outputs,
    states and all gradients within a few bfloat16 roundings (2^-8 relative, in norm) of float64, clearly
    not float32-exact (so the bfloat16 path really ran), and float64 input is never lowered."""
    tuned(monkeypatch, onednn_min_macs=0)
    T, B = 12, 6
    params64 = _weights(spec, torch.float64)
    x64 = torch.randn(T, B, 16, dtype=torch.float64, requires_grad=True)
    s64 = tuple(torch.randn(B, n, dtype=torch.float64, requires_grad=True) for n in spec.state_sizes())
    masks = kernels.SeqMasks(lengths=torch.tensor([12, 3, 7, 12, 1, 9]))
    truth = _run_all(spec, params64, x64, s64, masks, "reference")
    params32 = {k: v.detach().float().requires_grad_() for k, v in params64.items()}
    x32 = x64.detach().float().requires_grad_()
    s32 = tuple(s.detach().float().requires_grad_() for s in s64)
    got = _run_all(spec, params32, x32, s32, masks, "cpu-bf16")
    errs = [((a.double() - b).norm() / b.norm()).item() for a, b in zip(got, truth)]
    assert all(a.dtype == torch.float32 for a in got)
    # layer norm divides W_hh h_{t-1} by its spread, which magnifies the rounding (torch.autocast does too)
    worst, median = (5e-2, 2.5e-2) if getattr(spec, "layer_norm", False) else (1e-2, 5e-3)
    assert max(errs) <= worst and max(errs) > 1e-4, errs
    assert sorted(errs)[len(errs) // 2] <= median, errs
    exact = _run_all(spec, params64, x64, s64, masks, "cpu-bf16")   # float64: the GEMMs stay float64
    for a, b in zip(exact, truth):
        assert (a - b).abs().max() <= 1e-10 * (1 + b.abs().max())


def test_bf16_gemms_only_inside_their_block():
    w, a = torch.randn(1024, 256), torch.randn(64, 256)
    assert not gemm.Linear(w, rows=64).bf16
    with gemm.bfloat16_gemms():
        lin = gemm.Linear(w, rows=64)
        small = gemm.Linear(torch.randn(8, 4), rows=1)
    assert lin.bf16 and not small.bf16                        # below the size threshold: float32
    out = lin(a)
    assert out.dtype == torch.float32
    assert (out - a @ w.t()).abs().max() / (a @ w.t()).abs().max() < 2e-2
    assert not gemm.Linear(w, rows=64).bf16


@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_on_the_packed_gemm_equals_torch(with_bias):
    """Linear's packed-GEMM route (one-thread parts' window projections): torch's result for row counts and
    widths with tails, a strided input and a transposed one."""
    torch.manual_seed(0)
    for rows, K, N in ((1, 3, 5), (7, 64, 100), (33, 130, 24)):
        w = torch.randn(N, K)
        b = torch.randn(N) if with_bias else None
        lin = gemm.Linear(w, rows, b, force_packed=True)
        assert lin.packed_gemm
        for a in (torch.randn(rows, K), torch.randn(rows, 2 * K)[:, ::2], torch.randn(K, rows).t()):
            want = a @ w.t() + (0 if b is None else b)
            torch.testing.assert_close(lin(a), want, atol=1e-4, rtol=1e-5)
    assert not gemm.Linear(torch.randn(8, 4), 8, threads=2).packed_gemm                 # torch's, on 2 threads


def test_route_choice_by_size():
    loop = dispatch.loop
    assert loop(None, 1, 64, 256) == "fused"                      # one sequence, small layer: fused loop
    assert loop(None, 64, 512, 2048) == "stepped"                 # a large batch: stepped with oneDNN's GEMMs
    assert loop(None, 32, 128, 512) == "fused"                    # mid sizes: fused, with its packed GEMM
    assert loop("fused", 64, 256, 1024) == "fused" and loop("stepped", 1, 4, 4) == "stepped"
    lin = gemm.Linear(torch.randn(1024, 256), rows=64)
    assert lin.onednn == (gemm.ONEDNN and 64 * 1024 * 256 >= dispatch.tuning().onednn_min_macs)
    assert not gemm.Linear(torch.randn(1024, 256, dtype=torch.float64), rows=64).onednn   # float64: MKL


@pytest.mark.parametrize("backend", ["cpu", "cpu-fused", "cpu-stepped"])
def test_cpu_backends_reject_what_they_cannot_run(backend):
    spec = LSTMSpec(4, 5)
    w = spec.make_weights(_weights(spec, torch.float32))
    x = torch.randn(3, 2, 4, dtype=torch.float16)
    with pytest.raises(ValueError, match="supports float32 and float64, got torch.float16"):
        kernels.select(backend, spec, x)
    assert kernels.select("auto", spec, x).name == "reference"       # auto falls back to the oracle
    assert kernels.select("auto", spec, x.float()).name == "cpu"
    assert w.w_ih.shape == (20, 4)


@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_input_layer_norm_matches_torch(with_bias, dtype):
    """The one-pass input-side layer norm (forward and backward, split across threads) against
    F.layer_norm under autograd, including all-zero rows (padding past a sequence's end)."""
    from lstmkit.kernels.cpu.layer_norm import ln_backward_all, ln_forward
    T, B, N, eps = 7, 5, 48, 1e-5
    a = (torch.randn(T, B, N, dtype=dtype) * 3 + 1).requires_grad_()
    with torch.no_grad():
        a[-2:, 3:] = 0
    g = torch.randn(N, dtype=dtype, requires_grad=True)
    b = torch.randn(N, dtype=dtype, requires_grad=True) if with_bias else None
    ref = torch.nn.functional.layer_norm(a, (N,), eps=eps) * g
    ref = ref + b if with_bias else ref
    d = torch.randn(T, B, N, dtype=dtype)
    want = torch.autograd.grad(ref, [a, g] + ([b] if with_bias else []), d)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == torch.float64 else dict(rtol=1e-5, atol=2e-5)
    torch.testing.assert_close(ln_forward(a.detach(), g, b, eps), ref.detach(), **tol)
    da, dg, db = ln_backward_all(a.detach(), d, g, eps, with_bias)
    torch.testing.assert_close(da, want[0], **tol)
    torch.testing.assert_close(dg, want[1], **tol)
    if with_bias:
        torch.testing.assert_close(db, want[2], **tol)
    else:
        assert db is None


WINDOWED = {
    "lstm": lambda: lstmkit.LSTM(12, 24, num_layers=2, bidirectional=True, dropout=0.2, recurrent_dropout=0.1,
                                 input_dropout=0.1, zoneout_h=0.1, zoneout_c=0.2, peephole=True),
    "lstm-ln-proj": lambda: lstmkit.LSTM(12, 24, bidirectional=True, layer_norm=True, proj_size=8, zoneout_h=0.1),
    "gru": lambda: lstmkit.GRU(12, 24, bidirectional=True, recurrent_dropout=0.1, zoneout=0.1),
    "gru-rb": lambda: lstmkit.GRU(12, 24, reset_before=True, input_dropout=0.1),
    "rnn": lambda: lstmkit.RNN(12, 24, bidirectional=True, nonlinearity="relu", zoneout=0.1, recurrent_dropout=0.1),
}


@pytest.mark.parametrize("name", sorted(WINDOWED))
@pytest.mark.parametrize("backend", ["cpu-fused", "cpu-stepped", "cpu"])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_inference_windows_give_the_numbers_of_the_training_forward(name, backend, with_lengths, monkeypatch):
    """Without a backward to save for, a forward runs its input projection window by window, carrying the
    state between windows (forced here to windows of 3 steps): outputs and final states equal those of a
    forward that saves everything (float64; a GEMM over fewer rows may sum in another order), masks,
    lengths, resets and the reverse direction included, zeros at padding. Backend "cpu" chooses the route
    per window (here: the fused loop from 4 running rows down, so a call with lengths takes both)."""
    real, routes = dispatch.loop, set()

    def choose(route, rows, k, n, backward=False):
        fuse = ("fused" if rows <= 4 else "stepped") if route is None else real(route, rows, k, n, backward)
        routes.add(fuse == "fused")
        return fuse
    monkeypatch.setattr(dispatch, "loop", choose)
    tuned(monkeypatch, window_bytes=1, window_min_rows=3 * 7)
    torch.manual_seed(0)
    layer = WINDOWED[name]().double()
    layer.backend = backend
    x = torch.randn(17, 7, 12, dtype=torch.float64)
    lengths = torch.tensor([17, 3, 9, 1, 16, 17, 5]) if with_lengths else None
    reset = torch.zeros(17, 7, dtype=torch.bool)
    reset[[4, 10, 11], [0, 2, 5]] = True
    assert len(make_plan(x, SeqMasks(lengths=lengths), False).windows(3)) > 2

    def run(grad):
        torch.manual_seed(3)                  # the same dropout / zoneout masks
        with torch.set_grad_enabled(grad):
            y, state = layer(x.requires_grad_(grad), lengths=lengths, reset=reset)
        return [y.detach(), *(s.detach() for s in (state if isinstance(state, tuple) else (state,)))]
    windowed, whole = run(False), run(True)
    assert routes == ({True, False} if backend == "cpu" and with_lengths else {backend == "cpu-fused"})
    for a, b in zip(windowed, whole):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    if with_lengths:
        pad = torch.arange(17).unsqueeze(1) >= lengths.unsqueeze(0)
        assert torch.all(windowed[0][pad] == 0)


@pytest.mark.parametrize("reverse", [False, True])
def test_plan_reorders_time_and_batch_with_one_gather_each_way(reverse):
    """seq_in puts steps in internal order (sorted by length, reversed within each length for the
    reverse direction), seq_out undoes it; carry keeps each row's latest state across windows."""
    T, B = 6, 5
    lengths = torch.tensor([2, 6, 4, 6, 1])
    seq = torch.arange(T * B * 2, dtype=torch.float64).view(T, B, 2)
    p = make_plan(seq, SeqMasks(lengths=lengths), reverse)
    order = torch.argsort(lengths, descending=True, stable=True)
    expect = torch.zeros_like(seq)
    for j, b in enumerate(order.tolist()):
        L = int(lengths[b])
        steps = list(range(L - 1, -1, -1)) if reverse else list(range(L))
        expect[:L, j] = seq[steps, b]
        expect[L:, j] = seq[L:, b]                                    # padding keeps its place
    assert torch.equal(p.seq_in(seq), expect)
    assert torch.equal(p.seq_in(seq, 2, 5, out=torch.empty(3, B, 2, dtype=seq.dtype)), expect[2:5])
    assert torch.equal(p.seq_out(p.seq_in(seq)), seq)
    assert p.n_t.tolist() == [5, 4, 3, 3, 2, 2]
    state = torch.full((B, 2), -1.0, dtype=seq.dtype)
    for t0, t1 in p.windows(4):
        p.carry(state, expect[t0:t1], t0, t1)
    assert torch.equal(state, p.final(expect))
    assert torch.equal(p.unrows(state)[:, 0], seq[(lengths - 1) if not reverse else torch.zeros(B, dtype=torch.long),
                                                  torch.arange(B), 0])


def test_inference_output_does_not_alias_reused_buffers():
    """An inference call's internal buffers are reused by the next call; what it returned is not."""
    layer = lstmkit.LSTM(8, 16, bidirectional=True)
    lengths = torch.tensor([5, 2, 4])
    with torch.no_grad():
        y1, (h1, c1) = layer(torch.randn(5, 3, 8), lengths=lengths)
        kept = [t.clone() for t in (y1, h1, c1)]
        layer(torch.randn(5, 3, 8), lengths=torch.tensor([3, 5, 1]))
    for a, b in zip((y1, h1, c1), kept):
        assert torch.equal(a, b)


# ------------------------------------------------------------------ training split by units (two threads)

@pytest.fixture
def units_calls(monkeypatch):
    """[forwards, backwards] that ran split by units (LSTM and GRU drivers)."""
    from lstmkit.kernels.cpu.gru import driver as gru_driver
    from lstmkit.kernels.cpu.lstm import driver as lstm_driver
    seen = [0, 0]
    for driver in (lstm_driver, gru_driver):
        for k, name in enumerate(("_forward_units", "_backward_units")):
            def counting(*a, _real=getattr(driver, name), _k=k):
                seen[_k] += 1
                return _real(*a)
            monkeypatch.setattr(driver, name, counting)
    return seen


def _all_grads(layer, x, hx):
    states = [] if hx is None else list(hx) if isinstance(hx, tuple) else [hx]
    for p in list(layer.parameters()) + [x] + states:
        p.grad = None
    y, st = layer(x, hx)
    st = st if isinstance(st, tuple) else (st,)
    (y.pow(2).sum() + sum((0.3 + 0.4 * k) * s.sum() for k, s in enumerate(st))).backward()
    return [y.detach(), *[s.detach() for s in st]] + [p.grad.clone() for p in list(layer.parameters()) + [x] + states]


UNITS_TRAIN = [(lstmkit.LSTM, {}), (lstmkit.LSTM, dict(cifg=True)), (lstmkit.LSTM, dict(bias=False)),
               (lstmkit.LSTM, dict(peephole=True)), (lstmkit.LSTM, dict(peephole=True, cifg=True)),
               (lstmkit.LSTM, dict(num_layers=2)), (lstmkit.GRU, {}), (lstmkit.GRU, dict(bias=False)),
               (lstmkit.GRU, dict(num_layers=2))]


@pytest.mark.parametrize("cls, opts", UNITS_TRAIN, ids=[f"{c.__name__}-{'-'.join(o) or 'plain'}" for c, o in UNITS_TRAIN])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_units_split_training_equals_the_reference(cls, opts, dtype, monkeypatch, two_threads, units_calls):
    """A layer trained with both time loops split by units (two threads, each half of the units, a barrier
    per step) gives the reference kernel's outputs and every gradient: weights, input, initial states."""
    tuned(monkeypatch, units_min_hidden=1, side_by_side_min_macs=0)
    torch.manual_seed(4)
    layer = cls(5, 19, **opts).to(dtype)                      # 19 units: a cut that is not a multiple of 8
    L = opts.get("num_layers", 1)
    for B, given in ((1, False), (3, True)):
        x = torch.randn(13, B, 5, dtype=dtype, requires_grad=True)
        h = torch.randn(L, B, 19, dtype=dtype, requires_grad=True)
        hx = None if not given else (h, torch.randn(L, B, 19, dtype=dtype, requires_grad=True)) \
            if cls is lstmkit.LSTM else h
        before = list(units_calls)
        layer.backend = "cpu"
        got = _all_grads(layer, x, hx)
        assert units_calls[0] == before[0] + L and units_calls[1] == before[1] + L
        layer.backend = "reference"
        want = _all_grads(layer, x, hx)
        tol = 1e-12 if dtype == torch.float64 else 2e-5
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, atol=tol, rtol=tol)


def test_units_split_training_decisions(monkeypatch, two_threads):
    tuned(monkeypatch, units_min_hidden=16, side_by_side_min_macs=0)
    spec = lambda **o: lstmkit.LSTM(5, 16, **o)._specs[0]  # noqa: E731
    assert dispatch.units_train(None, spec(), 10, 2, True)
    assert dispatch.units_train("fused", spec(cifg=True), 10, 2, True)
    assert not dispatch.units_train(None, spec(), 10, 2, False)            # lengths, resets, dropout, zoneout
    assert not dispatch.units_train("stepped", spec(), 10, 2, True)        # the user asked for the stepped loop
    assert dispatch.units_train(None, spec(peephole=True), 10, 2, True)
    for o in (dict(proj_size=4), dict(layer_norm=True)):
        assert not dispatch.units_train(None, spec(**o), 10, 2, True)
    assert dispatch.units_train(None, lstmkit.GRU(5, 16)._specs[0], 10, 2, True)
    assert not dispatch.units_train(None, lstmkit.GRU(5, 16, reset_before=True)._specs[0], 10, 2, True)
    assert not dispatch.units_train(None, lstmkit.RNN(5, 16)._specs[0], 10, 2, True)
    assert not dispatch.units_train(None, lstmkit.LSTM(5, 8)._specs[0], 10, 2, True)   # below units_min_hidden
    torch.set_num_threads(1)
    assert not dispatch.units_train(None, spec(), 10, 2, True)             # one thread
    torch.set_num_threads(2)
    tuned(monkeypatch, units_min_hidden=16, side_by_side_min_macs=1 << 40)
    assert not dispatch.units_train(None, spec(), 10, 2, True)             # too little work to share


def test_units_split_training_only_on_a_part_with_two_threads(monkeypatch, two_threads, units_calls):
    """Directions side by side (one thread each) and calls with lengths keep the one-thread loops."""
    tuned(monkeypatch, units_min_hidden=1, side_by_side_min_macs=0)
    x = torch.randn(9, 3, 5, requires_grad=True)
    layer = lstmkit.LSTM(5, 16, bidirectional=True)
    layer(x)[0].sum().backward()
    lstmkit.LSTM(5, 16)(x, lengths=torch.tensor([9, 5, 2]))[0].sum().backward()
    assert units_calls == [0, 0]


def test_units_split_training_error_in_one_half_stops_both(monkeypatch, two_threads):
    """An error in one thread's half is raised, the other does not wait for it forever, and the layer then
    trains again."""
    from lstmkit.kernels.cpu.lstm import driver, loop
    tuned(monkeypatch, units_min_hidden=1, side_by_side_min_macs=0)
    layer = lstmkit.LSTM(5, 16)
    x = torch.randn(20, 2, 5, requires_grad=True)
    real = loop.lstm_units_train_forward

    def failing(gates, wp, w_ch, h0, c0, y, cs, lo, *rest):
        if lo > 0:
            raise MemoryError("half 1 failed")
        return real(gates, wp, w_ch, h0, c0, y, cs, lo, *rest)
    monkeypatch.setattr(driver.loop, "lstm_units_train_forward", failing)
    with pytest.raises(MemoryError, match="half 1 failed"):
        layer(x)
    monkeypatch.setattr(driver.loop, "lstm_units_train_forward", real)
    got = _all_grads(layer, x, None)
    layer.backend = "reference"
    for a, b in zip(got, _all_grads(layer, x, None)):
        torch.testing.assert_close(a, b, atol=2e-5, rtol=2e-5)


def test_explain_names_the_units_split_of_a_training_call(monkeypatch, two_threads):
    tuned(monkeypatch, units_min_hidden=16, side_by_side_min_macs=0)
    x = torch.randn(10, 2, 5, requires_grad=True)
    passes = lstmkit.LSTM(5, 16).explain(x, train=True).calls[0]["passes"]
    assert passes["forward"]["loop"] == passes["backward"]["loop"] == "fused, units split"
    assert "units split" not in lstmkit.LSTM(5, 8).explain(x, train=True).calls[0]["passes"]["forward"]["loop"]
    assert "units split" not in lstmkit.LSTM(5, 16).explain(x, train=True, lengths=torch.tensor([10, 4])) \
        .calls[0]["passes"]["forward"]["loop"]


@pytest.mark.parametrize("spec", [LSTMSpec(5, 7), GRUSpec(5, 7), RNNSpec(5, 7)], ids=["lstm", "gru", "rnn"])
def test_fused_and_stepped_routes_share_the_compiled_steps(spec):
    """Both routes of a reset + zoneout call (its gradient too) call the compiled step functions with the
    same argument types: the fused loop's call compiles no second version (no Optional argument), so a
    variant costs one compilation of its steps, not two (jit.at; docs/architecture.md)."""
    from lstmkit.kernels.cpu import bookkeeping
    from lstmkit.kernels.cpu.gru import cell as gru_cell
    from lstmkit.kernels.cpu.lstm import cell as lstm_cell
    T, B = 5, 3
    params = {i.field: torch.randn(i.shape, dtype=torch.float64, requires_grad=True) for i in spec.layout()}
    w = spec.make_weights(params)
    x = torch.randn(T, B, 5, dtype=torch.float64, requires_grad=True)
    state0 = tuple(torch.randn(B, n, dtype=torch.float64) for n in spec.state_sizes())
    masks = SeqMasks(**make_masks(spec, T, B, ("reset", "zoneout")))
    steps = [f for f in (*vars(lstm_cell).values(), *vars(gru_cell).values(), *vars(bookkeeping).values())
             if isinstance(f, numba.core.registry.CPUDispatcher) and f.__name__.endswith("_rows")]
    before = {f: set(f.signatures) for f in steps}
    outs = []
    for backend in ("cpu-stepped", "cpu-fused"):
        y, _ = kernels.run(spec, w, x, state0, masks, backend=backend)
        outs.append((y, *torch.autograd.grad(y.sum(), (x, *params.values()))))
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    for f in steps:
        new = set(f.signatures) - before[f]
        assert not any(isinstance(t, numba.types.Optional) for sig in new for t in sig), (f.__name__, new)
        assert len(new) <= 1, f"{f.__name__} compiled {len(new)} versions for one variant: {new}"
