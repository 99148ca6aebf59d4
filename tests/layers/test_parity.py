"""lstmkit.LSTM/GRU/RNN against torch.nn.LSTM/GRU/RNN: outputs, final states and every gradient, over
bias x batch_first x bidirectional x num_layers x proj_size x (padded, lengths, PackedSequence) x dtype,
for every backend."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import lstmkit
from helpers import BACKENDS, assert_close, grads, loss_of

T, B, I, H, P = 7, 4, 5, 6, 3
LENGTHS = [7, 3, 5, 1]

FAMILIES = {  # name: (lstmkit class, torch class, extra kwargs)
    "lstm": (lstmkit.LSTM, nn.LSTM, {}),
    "gru": (lstmkit.GRU, nn.GRU, {}),
    "rnn_tanh": (lstmkit.RNN, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (lstmkit.RNN, nn.RNN, {"nonlinearity": "relu"}),
}

CASES = [(fam, bias, bf, bi, L, proj, mode)
         for fam, bias, bf, bi, L, proj, mode in itertools.product(
             FAMILIES, [True, False], [False, True], [False, True], [1, 2, 3], [0, P],
             ["padded", "lengths", "packed"])
         if proj == 0 or fam == "lstm"]


def make_pair(fam, dtype, backend="auto", **kw):
    ours_cls, torch_cls, extra = FAMILIES[fam]
    ref = torch_cls(I, H, **extra, **kw, dtype=dtype)
    ours = ours_cls.from_torch(ref, backend=backend)
    return ours, ref


def initial_state(fam, ref, dtype):
    D = 2 if ref.bidirectional else 1
    n = D * ref.num_layers
    out_size = ref.proj_size if fam == "lstm" and ref.proj_size else H
    h0 = torch.randn(n, B, out_size, dtype=dtype, requires_grad=True)
    if fam == "lstm":
        c0 = torch.randn(n, B, H, dtype=dtype, requires_grad=True)
        return (h0, c0), {"h0": h0, "c0": c0}
    return h0, {"h0": h0}


def as_tuple(s):
    return s if isinstance(s, tuple) else (s,)


def run(module, x, hx, mode, batch_first, lengths, is_ours):
    """Run either module in the given mode and return (padded output (as laid out by batch_first), states)."""
    if mode == "padded":
        out, st = module(x, hx)
        return out, as_tuple(st)
    if mode == "lengths" and is_ours:
        out, st = module(x, hx, lengths=lengths)
        return out, as_tuple(st)
    packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    out, st = module(packed, hx)
    if mode == "packed" and is_ours:
        assert isinstance(out, nn.utils.rnn.PackedSequence)
    out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    return out, as_tuple(st)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("fam,bias,batch_first,bidirectional,num_layers,proj,mode", CASES)
def test_parity_with_torch_nn(fam, bias, batch_first, bidirectional, num_layers, proj, mode, dtype, backend):
    kw = dict(num_layers=num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional)
    if proj:
        kw["proj_size"] = proj
    ours, ref = make_pair(fam, dtype, backend, **kw)
    shape = (B, T, I) if batch_first else (T, B, I)
    x = torch.randn(shape, dtype=dtype, requires_grad=True)
    hx, named_state = initial_state(fam, ref, dtype)
    lengths = torch.tensor(LENGTHS)
    results = []
    for module, is_ours in ((ours, True), (ref, False)):
        out, st = run(module, x, hx, mode, batch_first, lengths, is_ours)
        loss = loss_of(out, st)
        named = {"input": x, **named_state, **dict(module.named_parameters())}
        results.append((out, st, grads(loss, named)))
    (o1, s1, g1), (o2, s2, g2) = results
    assert_close(o1, o2, dtype, "output")
    for k, (a, b) in enumerate(zip(s1, s2)):
        assert_close(a, b, dtype, f"final state {k}")
    assert g1.keys() == g2.keys()
    for name in g1:
        assert_close(g1[name], g2[name], dtype, f"grad of {name}")


@pytest.mark.parametrize("fam", list(FAMILIES))
def test_unbatched_input_matches_torch(fam):
    ours, ref = make_pair(fam, torch.float64, num_layers=2, bidirectional=True)
    x = torch.randn(T, I, dtype=torch.float64)
    hx, _ = initial_state(fam, ref, torch.float64)
    hx = tuple(h[:, 0] for h in as_tuple(hx))
    hx = hx if fam == "lstm" else hx[0]
    o1, s1 = ours(x, hx)
    o2, s2 = ref(x, hx)
    assert o1.shape == o2.shape == (T, 2 * H)
    assert_close(o1, o2, torch.float64, "output")
    for a, b in zip(as_tuple(s1), as_tuple(s2)):
        assert a.shape == b.shape
        assert_close(a, b, torch.float64, "state")


@pytest.mark.parametrize("fam", list(FAMILIES))
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_output_structure_matches_torch(fam, enforce_sorted):
    ours, ref = make_pair(fam, torch.float64, num_layers=2)
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    x = torch.randn(T, B, I, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=enforce_sorted)
    o1, _ = ours(packed)
    o2, _ = ref(packed)
    assert torch.equal(o1.batch_sizes, o2.batch_sizes)
    for a, b in ((o1.sorted_indices, o2.sorted_indices), (o1.unsorted_indices, o2.unsorted_indices)):
        assert (a is None and b is None) or torch.equal(a, b)
    assert_close(o1.data, o2.data, torch.float64, "packed data")


@pytest.mark.parametrize("fam,proj", [(f, 0) for f in FAMILIES] + [("lstm", P)])
def test_weights_move_exactly(fam, proj):
    kw = {"proj_size": proj} if proj else {}
    ours_cls, torch_cls, extra = FAMILIES[fam]
    ref = torch_cls(I, H, num_layers=2, bidirectional=True, **extra, **kw)
    ours = ours_cls.from_torch(ref)
    back = ours.to_torch()
    assert type(back) is torch_cls
    assert list(ref.state_dict()) == list(ours.state_dict()) == list(back.state_dict())
    for k, v in ref.state_dict().items():
        assert torch.equal(v, ours.state_dict()[k]) and torch.equal(v, back.state_dict()[k])
    for k in ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional"):
        assert getattr(back, k) == getattr(ref, k)
    # a state_dict saved from either loads into the other without conversion
    ours.load_state_dict(ref.state_dict(), strict=True)
    ref.load_state_dict(ours.state_dict(), strict=True)


@pytest.mark.parametrize("fam", list(FAMILIES))
def test_same_seed_same_initial_weights_as_torch(fam):
    ours_cls, torch_cls, extra = FAMILIES[fam]
    torch.manual_seed(7)
    ref = torch_cls(I, H, num_layers=2, bidirectional=True, **extra)
    torch.manual_seed(7)
    ours = ours_cls(I, H, num_layers=2, bidirectional=True, **extra)
    for k, v in ref.state_dict().items():
        assert torch.equal(v, ours.state_dict()[k]), k


def test_dropout_between_layers_is_standard_dropout_in_training_only():
    ours = lstmkit.LSTM(I, H, num_layers=2, dropout=0.5)
    x = torch.randn(T, B, I)
    ours.eval()
    a, _ = ours(x)
    b, _ = ours(x)
    assert torch.equal(a, b)
    ref = ours.to_torch().eval()
    assert_close(a, ref(x)[0], torch.float32, "eval output")
    ours.train()
    c, _ = ours(x)
    d, _ = ours(x)
    assert not torch.equal(c, d)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fam", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_long_sequence_and_saturation_match_torch(fam, dtype, backend):
    """T=5000 with inputs of scale 50 (gates saturate): finite and equal to torch.nn, gradients included."""
    ours, ref = make_pair(fam, dtype, backend, num_layers=1)
    x = (50 * torch.randn(5000, 2, I, dtype=dtype)).requires_grad_()
    results = []
    for module in (ours, ref):
        out, st = module(x)
        named = {"input": x, **dict(module.named_parameters())}
        results.append((out, as_tuple(st), grads(loss_of(out, as_tuple(st)), named)))
    (o1, s1, g1), (o2, s2, g2) = results
    assert torch.isfinite(o1).all() and all(torch.isfinite(g).all() for g in g1.values())
    assert_close(o1, o2, dtype, "output")
    for a, b in zip(s1, s2):
        assert_close(a, b, dtype, "state")
    for name in g1:
        # gradients summed over 5000 steps: float32 rounding grows with T, so compare relative to the norm
        scale = max(1.0, float(g2[name].abs().max())) if dtype == torch.float32 else 1.0
        assert_close(g1[name] / scale, g2[name] / scale, dtype, f"grad of {name}")
