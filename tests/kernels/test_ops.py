"""The kernels as torch.library custom ops: schema and fake implementations agree with the real kernels,
and torch.compile(fullgraph=True) over lstmkit layers gives the eager numbers."""

from __future__ import annotations

import itertools
import shutil

import pytest
import torch

import lstmkit
from lstmkit import kernels
from lstmkit.cells import GRUSpec, LSTMSpec, RNNSpec
from lstmkit.kernels import ops

from helpers import tuned

SPECS = [LSTMSpec(5, 6), LSTMSpec(5, 6, proj_size=3, peephole=True, layer_norm=True, cifg=True),
         GRUSpec(5, 6), GRUSpec(5, 6, reset_before=True), RNNSpec(5, 6, nonlinearity="relu")]


def _masks(spec, T, B, lengths, zone):
    kw = {}
    if lengths:
        kw["lengths"] = torch.tensor([T, 2, 1])
    if zone:
        kw["zone_h"] = (torch.rand(T, B, spec.out_size) < 0.5).float()
        if spec.family == "lstm":
            kw["zone_c"] = (torch.rand(T, B, spec.hidden_size) < 0.5).float()
    return kernels.SeqMasks(**kw)


def _args(spec, masks, T=4, B=3, requires_grad=True):
    params = {i.field: torch.randn(i.shape, requires_grad=requires_grad) for i in spec.layout()}
    w = spec.make_weights(params)
    fields = tuple(f for f in w._fields if getattr(w, f) is not None)
    x = torch.randn(T, B, 5, requires_grad=requires_grad)
    state0 = [torch.randn(B, n, requires_grad=requires_grad) for n in spec.state_sizes()]
    return w, fields, x, state0


@pytest.mark.parametrize("backend", [b for b in kernels.available() if b not in ("triton", "cudnn")])
@pytest.mark.parametrize("spec,lengths,zone", list(itertools.product(SPECS, [False, True], [False, True])))
def test_saved_shapes_describe_what_each_kernel_saves(spec, lengths, zone, backend):
    masks = _masks(spec, 4, 3, lengths, zone)
    w, _, x, state0 = _args(spec, masks, requires_grad=False)
    kernel = kernels.select(backend, spec, x)
    _, _, saved = kernel.run_forward(spec, w, x, tuple(state0), masks, False, save=True)
    real = {f: tuple(getattr(saved, f).shape) for f in saved._fields if getattr(saved, f) is not None}
    declared = kernel.families[spec.family].saved_shapes(spec, 4, 3, 5, masks)
    assert list(real.items()) == [(f, tuple(s)) for f, s in declared.items()]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.family)
@pytest.mark.parametrize("call", ["forward", "reverse", "bidirectional", "halves"])
def test_opcheck(spec, call):
    """torch.library.opcheck: schema, fake tensors, autograd registration and dispatch are consistent, for
    one direction, both directions at once and a batch run as two halves."""
    B = 9 if call == "halves" else 3
    masks = _masks(spec, 4, 3, lengths=True, zone=True)
    if call == "halves":                                       # 9 rows: the 3-row masks three times over
        masks = kernels.SeqMasks(*(None if t is None else torch.cat([t] * 3, dim=0 if f == "lengths" else 1)
                                   for f, t in zip(masks._fields, masks)))
    w, fields, x, state0 = _args(spec, masks, B=B)
    weights = [getattr(w, f) for f in fields]
    reverse = {"forward": (False,), "reverse": (True,), "bidirectional": (False, True), "halves": (False,)}[call]
    config = ops.encode(kernels.select("cpu", spec, x), spec, reverse, fields, split=call == "halves")
    D = len(reverse)
    args = (config, x, [*state0 * D, *weights * D], list(masks) * D)
    torch.library.opcheck(ops.sequence_forward, args)


class Stack(torch.nn.Module):
    def __init__(self, backend):
        super().__init__()
        self.emb = torch.nn.Embedding(20, 8)
        self.lstm = lstmkit.LSTM(8, 16, num_layers=2, bidirectional=True, layer_norm=True, peephole=True,
                                 backend=backend)
        self.gru = lstmkit.GRU(32, 8, reset_before=True, backend=backend)
        self.rnn = lstmkit.RNN(8, 8, backend=backend)
        self.out = torch.nn.Linear(8, 5)

    def forward(self, ids):
        y, _ = self.lstm(self.emb(ids))
        y, _ = self.gru(y)
        y, h = self.rnn(y)
        return self.out(y) + h.sum()


def _run(model, fn, ids):
    model.zero_grad()
    out = fn(ids)
    out.square().sum().backward()
    return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_torch_compile_fullgraph_matches_eager(backend, monkeypatch):
    tuned(monkeypatch, side_by_side_min_macs=0)     # the small layers here run side by side as well
    torch._dynamo.reset()
    model = Stack(backend)
    ids = torch.randint(0, 20, (7, 10))            # 10 rows: the CPU kernels run one-direction layers as halves
    eager = _run(model, model, ids)
    compiled = _run(model, torch.compile(model, backend="aot_eager", fullgraph=True), ids)
    torch.testing.assert_close(compiled[0], eager[0], rtol=0, atol=0)
    for name, g in eager[1].items():
        torch.testing.assert_close(compiled[1][name], g, rtol=0, atol=0, msg=name)


@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                    reason="inductor generates C++ and needs a compiler; none on this machine")
def test_torch_compile_inductor_matches_eager():
    """float64, so that inductor's reassociation of the surrounding ops stays far below the tolerance."""
    torch._dynamo.reset()
    model = Stack("cpu").double()
    ids = torch.randint(0, 20, (7, 3))
    eager = _run(model, model, ids)
    compiled = _run(model, torch.compile(model, fullgraph=True), ids)
    torch.testing.assert_close(compiled[0], eager[0], rtol=1e-10, atol=1e-10)
    for name, g in eager[1].items():
        torch.testing.assert_close(compiled[1][name], g, rtol=1e-10, atol=1e-10, msg=lambda m: f"{name}: {m}")
