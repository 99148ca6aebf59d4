"""Work run side by side (lstmkit.kernels.concurrent): both directions of a bidirectional layer, a
one-direction layer's two batch halves. The same numbers as one after the other, errors and modes carried
over, thread counts split, safe across fork."""

from __future__ import annotations

import multiprocessing
import threading

import pytest
import torch

import lstmkit
from lstmkit.kernels import concurrent, dispatch

from helpers import tuned

SEQUENTIAL = "LSTMKIT_NO_SIDE_BY_SIDE"


@pytest.fixture(autouse=True)
def side_by_side_on(monkeypatch):
    """Work runs side by side only with >= 2 torch threads (given here on a 1-core machine too) and, in use,
    from side_by_side_min_macs multiply-adds (0 here: these tests run small layers)."""
    tuned(monkeypatch, side_by_side_min_macs=0)
    before = torch.get_num_threads()
    torch.set_num_threads(max(2, before))
    yield
    torch.set_num_threads(before)

LAYERS = {
    "lstm": lambda: lstmkit.LSTM(12, 24, num_layers=2, bidirectional=True, dropout=0.2, recurrent_dropout=0.1,
                                 zoneout_h=0.1, zoneout_c=0.2),
    "lstm-peephole-proj": lambda: lstmkit.LSTM(12, 24, bidirectional=True, peephole=True, proj_size=8),
    "lstm-ln": lambda: lstmkit.LSTM(12, 24, bidirectional=True, layer_norm=True),
    "gru": lambda: lstmkit.GRU(12, 24, num_layers=2, bidirectional=True),
    "rnn": lambda: lstmkit.RNN(12, 24, bidirectional=True, nonlinearity="relu", zoneout=0.1, input_dropout=0.1),
}


def _outputs(layer, x, lengths, seed):
    torch.manual_seed(seed)                   # the same dropout / zoneout masks in both runs
    y, state = layer(x, lengths=lengths)
    states = state if isinstance(state, tuple) else (state,)
    g = torch.Generator().manual_seed(1)
    loss = sum((t * torch.randn(t.shape, generator=g, dtype=t.dtype)).sum() for t in (y, *states))
    grads = torch.autograd.grad(loss, [x, *layer.parameters()])
    return [y, *states, *grads]


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("backend", ["cpu", "cpu-fused", "cpu-stepped"])
def test_side_by_side_gives_the_same_numbers_as_in_turn(name, backend, monkeypatch):
    torch.manual_seed(0)
    layer = LAYERS[name]().double()        # float64: the two runs' summation orders differ, plumbing may not
    layer.backend = backend
    x = torch.randn(9, 5, 12, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([9, 3, 7, 1, 9])
    together = _outputs(layer, x, lengths, seed=3)
    monkeypatch.setenv(SEQUENTIAL, "1")
    in_turn = _outputs(layer, x, lengths, seed=3)
    for a, b in zip(together, in_turn):   # MKL and numba split a GEMM or a sum by their thread count
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


UNI = {
    "lstm": lambda: lstmkit.LSTM(12, 24, num_layers=2, recurrent_dropout=0.1, zoneout_h=0.1, zoneout_c=0.2),
    "lstm-variants": lambda: lstmkit.LSTM(12, 24, peephole=True, proj_size=8, layer_norm=True),
    "gru": lambda: lstmkit.GRU(12, 24, input_dropout=0.1),
    "rnn": lambda: lstmkit.RNN(12, 24, zoneout=0.1),
}


@pytest.mark.parametrize("name", sorted(UNI))
@pytest.mark.parametrize("backend", ["cpu", "cpu-fused", "cpu-stepped"])
def test_batch_halves_give_the_numbers_of_the_whole_batch(name, backend, monkeypatch):
    torch.manual_seed(0)
    layer = UNI[name]().double()
    layer.backend = backend
    x = torch.randn(9, 11, 12, dtype=torch.float64, requires_grad=True)   # 11 rows: halves of 6 and 5
    lengths = torch.tensor([9, 3, 7, 1, 9, 2, 8, 8, 5, 9, 4])
    assert dispatch.split_rows(layer._specs[0], 9, 11, 8)
    halves = _outputs(layer, x, lengths, seed=3)
    monkeypatch.setenv(SEQUENTIAL, "1")
    whole = _outputs(layer, x, lengths, seed=3)
    for a, b in zip(halves, whole):     # weight gradients add the halves' sums: another summation order
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_split_rule_small_batches_large_weights_and_small_calls_stay_whole(monkeypatch):
    def spec(**kw):
        return lstmkit.LSTM(4, **kw)._specs[0]

    assert not dispatch.split_rows(spec(hidden_size=8), 10, 7, 4)                   # 7 rows
    assert dispatch.split_rows(spec(hidden_size=512), 10, 8, 4)                     # 4 MiB of W_hh
    assert not dispatch.split_rows(spec(hidden_size=1024), 10, 8, 4)                # 16 MiB
    assert dispatch.split_rows(spec(hidden_size=1024, proj_size=128), 10, 8, 4)     # 2.5 MiB with W_hr
    assert not dispatch.split_rows(spec(hidden_size=512), 10, 8, 8)                 # 8 MiB in float64
    tuned(monkeypatch, side_by_side_min_macs=5_000_000)
    assert not dispatch.worth_it(spec(hidden_size=8), 10, 8)                        # 11,520 multiply-adds
    assert not dispatch.split_rows(spec(hidden_size=8), 10, 8, 4)
    assert dispatch.worth_it(spec(hidden_size=128), 100, 32)                        # 2.2e7


def test_inference_side_by_side_matches_and_keeps_inference_mode(monkeypatch):
    layer = lstmkit.LSTM(6, 10, bidirectional=True)
    x = torch.randn(7, 3, 6)
    with torch.inference_mode():
        y, (h, c) = layer(x)
        assert y.is_inference()
    monkeypatch.setenv(SEQUENTIAL, "1")
    with torch.no_grad():
        y2, (h2, c2) = layer(x)
    for a, b in ((y, y2), (h, h2), (c, c2)):
        torch.testing.assert_close(a, b, rtol=2e-6, atol=2e-6)


@pytest.fixture(params=["team", "pool"])
def route(request, monkeypatch):
    """Side by side on two threads through torch's OpenMP team, or through lstmkit's worker thread."""
    if request.param == "team":
        if concurrent._GOMP is None:
            pytest.skip("this torch build's OpenMP runtime exports no GOMP_parallel (or libtorch_cpu.so is not "
                        "where lstmkit looks): side by side runs on lstmkit's worker thread only, tested as 'pool'")
        torch.set_num_threads(2)                             # (the fixture above restores the count)
    else:
        monkeypatch.setenv("LSTMKIT_SIDE_BY_SIDE", "pool")
    return request.param


def test_two_threads_hand_the_second_task_to_torchs_openmp_team(route):
    """On two threads the second task runs on torch's own OpenMP worker (nothing else competes for the two
    cores with its spin-waiting); LSTMKIT_SIDE_BY_SIDE=pool, or more threads, keep lstmkit's worker."""
    seen = {}

    def probe(d):
        seen[d] = (threading.current_thread().name, None if concurrent._GOMP is None else concurrent._GOMP[1]())

    concurrent.side_by_side(probe)
    assert seen[0][0] == threading.main_thread().name
    if route == "team":
        assert seen[0][1] == 0 and seen[1][1] == 1               # the team's master and its worker
        assert not seen[1][0].startswith("lstmkit-side-by-side")
    else:
        assert seen[1][0].startswith("lstmkit-side-by-side")


def test_a_team_of_one_runs_both_in_turn():
    """Inside a parallel region already (a nested one gets one thread) both tasks run in turn, in order."""
    if concurrent._GOMP is None:
        pytest.skip("this torch build's OpenMP runtime exports no GOMP_parallel: no OpenMP team route to "
                    "nest (side by side uses lstmkit's worker thread there)")
    order = []

    def inner(d):
        order.append((d, concurrent._GOMP[1]()))
        return d

    outer = concurrent._on_torch_team(lambda k: concurrent._on_torch_team(inner, False, False) if k == 0 else None,
                                      False, False)
    assert outer[0] == [0, 1] and order == [(0, 0), (1, 0)]


@pytest.mark.parametrize("kind", ["gru", "lstm-peephole-proj"])
def test_both_routes_give_the_same_bits(kind, monkeypatch):
    """Training through the OpenMP team and through the worker thread: the same outputs and gradients."""
    torch.set_num_threads(2)
    torch.manual_seed(5)
    layer = LAYERS[kind]()
    x = torch.randn(9, 6, 12, requires_grad=True)
    got = []
    for env in (None, "pool"):
        if env is None:
            monkeypatch.delenv("LSTMKIT_SIDE_BY_SIDE", raising=False)
        else:
            monkeypatch.setenv("LSTMKIT_SIDE_BY_SIDE", env)
        layer.zero_grad()
        x.grad = None
        y, _ = layer(x)
        y.square().sum().backward()
        got.append([y.detach(), x.grad, *[p.grad for p in layer.parameters()]])
    assert all(torch.equal(a, b) for a, b in zip(*got))


def test_side_by_side_splits_threads_and_carries_grad_mode(route):
    seen = {}

    def probe(d):
        seen[d] = (threading.current_thread() is threading.main_thread(), torch.get_num_threads(),
                   torch.is_grad_enabled())
        return d * 10

    total = torch.get_num_threads()
    with torch.no_grad():
        assert concurrent.side_by_side(probe) == [0, 10]
    assert seen[0][0] and not seen[1][0]                  # the caller runs the first, a worker the second
    assert (seen[0][1], seen[1][1]) == (total - total // 2, total // 2)
    assert not seen[0][2] and not seen[1][2]
    assert torch.get_num_threads() == total               # the caller's threads are restored
    assert concurrent.side_by_side(probe)[1] == 10 and seen[1][2]


@pytest.mark.parametrize("failing", [0, 1])
def test_an_error_in_either_task_is_raised_after_both_finish(failing, route):
    done = []

    def fn(d):
        if d == failing:
            raise ValueError(f"task {d} failed")
        threading.Event().wait(0.05)
        done.append(d)
        return d

    total = torch.get_num_threads()
    with pytest.raises(ValueError, match=f"task {failing} failed"):
        concurrent.side_by_side(fn)
    assert done == [1 - failing] and torch.get_num_threads() == total


def test_one_thread_or_the_switch_runs_in_turn_in_the_caller(monkeypatch):
    def where(d):
        return threading.current_thread() is threading.main_thread()

    monkeypatch.setenv(SEQUENTIAL, "1")
    assert concurrent.side_by_side(where) == [True, True]
    monkeypatch.delenv(SEQUENTIAL)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert not dispatch.threads_enabled() and concurrent.side_by_side(where) == [True, True]
    finally:
        torch.set_num_threads(before)
    assert concurrent.side_by_side(lambda d: d, tasks=1) == [0]


def _child(queue):
    layer = lstmkit.GRU(4, 6, bidirectional=True)
    y, _ = layer(torch.randn(3, 2, 4))
    queue.put(tuple(y.shape))


def test_a_forked_child_starts_its_own_workers():
    lstmkit.GRU(4, 6, bidirectional=True)(torch.randn(3, 2, 4))    # the parent's workers exist
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue,))
    proc.start()
    proc.join(120)
    assert proc.exitcode == 0
    assert queue.get(timeout=5) == (3, 2, 12)
