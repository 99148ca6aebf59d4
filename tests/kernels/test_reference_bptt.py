"""Every kernel's hand-written BPTT against autograd through the step loop (cells.unroll), over the
product of every cell variant and every sequence option; plus gradcheck, saturation and long sequences."""

from __future__ import annotations

import pytest
import torch

from lstmkit import kernels
from lstmkit.cells import GRUSpec, LSTMSpec, RNNSpec
from lstmkit.cells.unroll import unroll
from helpers import BACKENDS, grads, make_masks, option_sets

I, H = 5, 7
SPECS = {
    "lstm": LSTMSpec(I, H),
    "lstm_nobias": LSTMSpec(I, H, bias=False),
    "lstm_peephole": LSTMSpec(I, H, peephole=True),
    "lstm_ln": LSTMSpec(I, H, layer_norm=True),
    "lstm_cifg": LSTMSpec(I, H, cifg=True),
    "lstm_proj": LSTMSpec(I, H, proj_size=3),
    "lstm_all": LSTMSpec(I, H, proj_size=3, peephole=True, layer_norm=True, cifg=True),
    "lstm_all_nobias": LSTMSpec(I, H, bias=False, peephole=True, layer_norm=True, cifg=True),
    "gru": GRUSpec(I, H),
    "gru_reset_before": GRUSpec(I, H, reset_before=True),
    "gru_reset_before_nobias": GRUSpec(I, H, bias=False, reset_before=True),
    "rnn_tanh": RNNSpec(I, H),
    "rnn_relu": RNNSpec(I, H, nonlinearity="relu"),
}


def make_weights(spec, dtype=torch.float64, scale=1.0):
    params = {i.field: torch.empty(i.shape, dtype=dtype) for i in spec.layout()}
    spec.init_(params)
    with torch.no_grad():
        for p in params.values():
            p.add_(0.1 * torch.randn_like(p))                         # LN gains away from exactly 1
            p.mul_(scale)
    for p in params.values():
        p.requires_grad_()
    return params


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("options", option_sets(), ids=lambda o: "+".join(o) or "plain")
@pytest.mark.parametrize("name", list(SPECS))
def test_hand_bptt_matches_autograd_through_steps(name, options, reverse, backend):
    spec = SPECS[name]
    T, B = 6, 4
    params = make_weights(spec)
    w = spec.make_weights(params)
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    state0 = tuple(torch.randn(B, n, dtype=torch.float64, requires_grad=True) for n in spec.state_sizes())
    kw = make_masks(spec, T, B, options)
    y1, s1 = kernels.run(spec, w, x, state0, kernels.SeqMasks(**kw), reverse=reverse, backend=backend)
    y2, s2 = unroll(spec, w, x, state0, reverse=reverse, **kw)
    named = {"x": x, **{f"state0[{k}]": s for k, s in enumerate(state0)}, **params}
    g = torch.Generator().manual_seed(3)
    weights_out = [torch.randn(t.shape, generator=g, dtype=t.dtype) for t in (y1, *s1)]
    g1 = grads(sum((a * r).sum() for a, r in zip((y1, *s1), weights_out)), named)
    g2 = grads(sum((a * r).sum() for a, r in zip((y2, *s2), weights_out)), named)
    tol = dict(rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(y1, y2, **tol)
    for a, b in zip(s1, s2):
        torch.testing.assert_close(a, b, **tol)
    for k in named:
        torch.testing.assert_close(g1[k], g2[k], **tol, msg=lambda m: f"grad of {k}: {m}")


GRADCHECK = [
    ("lstm_all", ("lengths", "reset", "zoneout", "dropout")),
    ("lstm_peephole", ("zoneout",)),
    ("lstm_ln", ("dropout", "lengths")),
    ("lstm_proj", ("reset", "lengths")),
    ("lstm_cifg", ()),
    ("lstm_all_nobias", ("zoneout", "dropout")),
    ("gru", ("lengths", "reset", "zoneout", "dropout")),
    ("gru_reset_before", ("lengths", "reset", "zoneout", "dropout")),
    ("gru_reset_before_nobias", ()),
    ("rnn_tanh", ("lengths", "reset", "zoneout", "dropout")),
    ("rnn_relu", ("lengths", "dropout")),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("name,options", GRADCHECK, ids=[f"{n}-{'+'.join(o) or 'plain'}" for n, o in GRADCHECK])
def test_gradcheck(name, options, reverse, backend):
    spec = SPECS[name]
    T, B = 4, 3
    params = make_weights(spec)
    fields = list(params)
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    state0 = [torch.randn(B, n, dtype=torch.float64, requires_grad=True) for n in spec.state_sizes()]
    masks = kernels.SeqMasks(**make_masks(spec, T, B, options))
    ns = len(state0)

    def f(x, *rest):
        st, ps = rest[:ns], rest[ns:]
        w = spec.make_weights(dict(zip(fields, ps)))
        y, sT = kernels.run(spec, w, x, tuple(st), masks, reverse=reverse, backend=backend)
        return (y, *sT)

    # fast mode (random projections of the Jacobian, as PyTorch's own module tests run it): every gradient
    # is compared element by element with autograd through the steps above; this checks them against
    # finite differences too, in a tenth of the time of the full Jacobian
    assert torch.autograd.gradcheck(f, (x, *state0, *params.values()), eps=1e-6, atol=1e-7, rtol=1e-5,
                                    fast_mode=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["lstm_all", "lstm", "gru", "gru_reset_before", "rnn_tanh"])
def test_saturated_gates_stay_finite_and_match(name, backend):
    spec = SPECS[name]
    T, B = 20, 3
    params = make_weights(spec)
    w = spec.make_weights(params)
    x = (50 * torch.randn(T, B, I, dtype=torch.float64)).requires_grad_()
    state0 = tuple(torch.randn(B, n, dtype=torch.float64, requires_grad=True) for n in spec.state_sizes())
    y1, s1 = kernels.run(spec, w, x, state0, backend=backend)
    y2, s2 = unroll(spec, w, x, state0)
    named = {"x": x, **params}
    g1 = grads(y1.sum() + sum(s.sum() for s in s1), named)
    g2 = grads(y2.sum() + sum(s.sum() for s in s2), named)
    assert torch.isfinite(y1).all()
    for k in named:
        assert torch.isfinite(g1[k]).all(), k
        torch.testing.assert_close(g1[k], g2[k], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(y1, y2, rtol=1e-10, atol=1e-10)
