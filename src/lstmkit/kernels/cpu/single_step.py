"""One time step of one layer, compiled, for streaming and generation (no gradient).

A generated sequence runs one step at a time: the whole cost is the two matrix-vector products per
layer (W_ih x_t and W_hh h_{t-1}, memory-bound on the weights) and the call overhead. Here both are
dot products over the rows of the untransposed weights, split across the cores, followed by the same
pointwise step functions as the sequence kernels. Evaluation-mode zoneout (the expectation blend) is
supported; dropout masks are not (a sampled mask has no meaning for one step without a gradient).
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from torch import Tensor

from .. import dispatch
from .activations import as_type_of
from .gru.cell import gru_fwd_rows, gru_rb_gates_rows, gru_rb_out_rows
from .jit import jit, jit_inline, pjit
from .lstm.cell import lstm_fwd_rows
from .plan import kept_weight_view
from .rnn.cell import rnn_fwd_rows
from .bookkeeping import blend_h_rows


@jit_inline
def _gemv_rows(lo, hi, a, w, bias, bias2, out):
    """out[:, i] = w[i] . a[b] (+ bias[i]) (+ bias2[i]) for output rows i in [lo, hi)."""
    for i in range(lo, hi):
        wi = w[i]
        for b in range(a.shape[0]):
            ab = a[b]
            acc = as_type_of(0.0, ab[0])
            if bias is not None:
                acc += bias[i]
            if bias2 is not None:
                acc += bias2[i]
            for k in range(wi.shape[0]):
                acc += wi[k] * ab[k]
            out[b, i] = acc


@pjit
def _gemv_par(a, w, bias, bias2, out, chunks):
    N = w.shape[0]
    for c in numba.prange(chunks):
        _gemv_rows(c * N // chunks, (c + 1) * N // chunks, a, w, bias, bias2, out)


@jit
def _gemv_seq(a, w, bias, bias2, out):
    _gemv_rows(0, w.shape[0], a, w, bias, bias2, out)


def gemv(a: np.ndarray, w: np.ndarray, bias, out: np.ndarray, bias2=None) -> None:
    """out = a @ w.T (+ bias) (+ bias2) for few rows a (B, K) and a row-major weight w (N, K); many rows:
    the BLAS. bias, bias2: (N,) or None (the LSTM's and the RNN's b_ih and b_hh, added here rather than
    summed first)."""
    route = dispatch.step_route(a.shape[0], a.shape[0] * w.shape[0] * w.shape[1])
    if route == "blas":
        o = torch.from_numpy(out)
        torch.matmul(torch.from_numpy(a), torch.from_numpy(w).T, out=o)
        for b in (bias, bias2):
            if b is not None:
                o += torch.from_numpy(b)
    elif route == "parallel":
        _gemv_par(a, w, bias, bias2, out, numba.get_num_threads() * 4)   # chunks: an argument, so it caches
    else:
        _gemv_seq(a, w, bias, bias2, out)


_np = kept_weight_view       # a weight's numpy view, kept per parameter (a step is mostly overhead)


def views_of(w):
    """The weights tuple ``w`` (a family's NamedTuple of tensors) with each tensor as its numpy view (kept
    per parameter: :func:`~.plan.kept_weight_view`); what the step functions read. A caller that runs many
    steps on the same weight tensors can keep it and pass it as ``views``."""
    return type(w)(*(_np(t) for t in w))


def _rows(t: Tensor) -> np.ndarray:
    """A state or input row block (B, N) as a contiguous numpy array (a view where it already is one)."""
    return t.detach().contiguous().numpy()


def lstm_step(spec, w, x: Tensor, state, zone_rates=(0.0, 0.0), views=None):
    """x (B, I); state (h (B, P), c (B, H)) -> (h_t, c_t). zone_rates: eval zoneout of (h, c); views:
    :func:`views_of` ``w``, when the caller keeps it."""
    v = views_of(w) if views is None else views
    hn, cn, xn = _rows(state[0]), _rows(state[1]), _rows(x)
    B, H, P = xn.shape[0], spec.hidden_size, spec.out_size
    GH = spec.num_gates * H
    dt = xn.dtype
    gates, rec = np.empty((B, GH), dt), np.empty((B, GH), dt)
    if spec.layer_norm:                                                               # LN(W_ih x_t) g_ih + b
        gemv(xn, v.w_ih, None, gates)
        g = torch.nn.functional.layer_norm(torch.from_numpy(gates), (GH,), eps=spec.ln_eps) * w.ln_ih.detach()
        if w.b_ih is not None:
            g = g + (w.b_ih + w.b_hh).detach()
        gates = g.contiguous().numpy()
    else:
        gemv(xn, v.w_ih, v.b_ih, gates, v.b_hh)                                     # W_ih x_t + b_ih + b_hh
    gemv(hn, v.w_hh, None, rec)                                                       # W_hh h_{t-1}
    c_new, m = x.new_empty(B, H), x.new_empty(B, H)
    zh, zc = zone_rates
    c_cand = np.empty((B, H), dt) if zc > 0 else None
    lstm_fwd_rows(B, gates, rec, v.ln_hh, v.w_ch, v.ln_c_w, v.ln_c_b,
                  spec.ln_eps, cn, None, None if zc <= 0 else np.full((B, H), zc, dtype=dt),
                  c_cand, c_new.numpy(), m.numpy())
    h_cand = m
    if w.w_hr is not None:
        h_cand = x.new_empty(B, P)
        gemv(m.numpy(), v.w_hr, None, h_cand.numpy())                            # W_hr (o tanh c)
    return _blend(h_cand, hn, zh), c_new


def gru_step(spec, w, x: Tensor, state, zone_rates=(0.0,), views=None):
    """x (B, I); state (h (B, H),) -> new h (B, H); views as :func:`lstm_step`."""
    v = views_of(w) if views is None else views
    hn, xn = _rows(state[0]), _rows(x)
    B, H = xn.shape[0], spec.hidden_size
    dt = xn.dtype
    gates = np.empty((B, 3 * H), dt)
    gemv(xn, v.w_ih, v.b_ih, gates)                                                   # W_ih x_t + b_ih
    w_hh, b_hh = v.w_hh, v.b_hh
    h_cand = x.new_empty(B, H)
    if spec.reset_before:
        a_rz, a_n, rh = np.empty((B, 2 * H), dt), np.empty((B, H), dt), np.empty((B, H), dt)
        gemv(hn, w_hh[: 2 * H], None if b_hh is None else b_hh[: 2 * H], a_rz)
        gru_rb_gates_rows(B, gates, a_rz, hn, rh)
        gemv(rh, w_hh[2 * H:], None if b_hh is None else b_hh[2 * H:], a_n)
        gru_rb_out_rows(B, gates, a_n, hn, None, h_cand.numpy())
    else:
        a_h, ah_n = np.empty((B, 3 * H), dt), np.empty((B, H), dt)
        gemv(hn, w_hh, b_hh, a_h)                                                     # W_hh h + b_hh
        gru_fwd_rows(B, gates, a_h, hn, None, ah_n, h_cand.numpy())
    return _blend(h_cand, hn, zone_rates[0])


def rnn_step(spec, w, x: Tensor, state, zone_rates=(0.0,), views=None):
    """x (B, I); state (h (B, H),) -> new h (B, H); views as :func:`lstm_step`."""
    v = views_of(w) if views is None else views
    hn, xn = _rows(state[0]), _rows(x)
    B, H = xn.shape[0], spec.hidden_size
    dt = xn.dtype
    gates, rec, h_cand = np.empty((B, H), dt), np.empty((B, H), dt), x.new_empty(B, H)
    gemv(xn, v.w_ih, v.b_ih, gates, v.b_hh)
    gemv(hn, v.w_hh, None, rec)
    rnn_fwd_rows(B, gates, rec, spec.nonlinearity == "relu", h_cand.numpy())
    return _blend(h_cand, hn, zone_rates[0])


def _blend(cand: Tensor, prev: np.ndarray, p: float) -> Tensor:
    """Evaluation-mode zoneout: p * previous + (1 - p) * new (the candidate itself when p = 0).
    cand: (B, N) tensor; prev: the previous state (B, N), a numpy array."""
    if p <= 0:
        return cand
    out = torch.empty_like(cand)
    z = np.full(cand.shape, p, dtype=cand.numpy().dtype)
    blend_h_rows(cand.shape[0], cand.numpy(), prev, None, z, out.numpy())
    return out
