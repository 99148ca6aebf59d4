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
from .plan import weight_view
from .rnn.cell import rnn_fwd_rows
from .bookkeeping import blend_h_rows


@jit_inline
def _gemv_rows(lo, hi, a, w, bias, out):
    """out[:, i] = w[i] . a[b] (+ bias[i]) for output rows i in [lo, hi)."""
    for i in range(lo, hi):
        wi = w[i]
        for b in range(a.shape[0]):
            ab = a[b]
            acc = as_type_of(0.0, ab[0]) if bias is None else bias[i]
            for k in range(wi.shape[0]):
                acc += wi[k] * ab[k]
            out[b, i] = acc


@pjit
def _gemv_par(a, w, bias, out, chunks):
    N = w.shape[0]
    for c in numba.prange(chunks):
        _gemv_rows(c * N // chunks, (c + 1) * N // chunks, a, w, bias, out)


@jit
def _gemv_seq(a, w, bias, out):
    _gemv_rows(0, w.shape[0], a, w, bias, out)


def gemv(a: np.ndarray, w: np.ndarray, bias, out: np.ndarray) -> None:
    """out = a @ w.T (+ bias) for few rows a (B, K) and a row-major weight w (N, K); many rows: the BLAS."""
    route = dispatch.step_route(a.shape[0], a.shape[0] * w.shape[0] * w.shape[1])
    if route == "blas":
        o = torch.from_numpy(out)
        torch.matmul(torch.from_numpy(a), torch.from_numpy(w).T, out=o)
        if bias is not None:
            o += torch.from_numpy(bias)
    elif route == "parallel":
        _gemv_par(a, w, bias, out, numba.get_num_threads() * 4)   # chunks: an argument, so the kernel caches
    else:
        _gemv_seq(a, w, bias, out)


def _np(t):
    return weight_view(t)


def lstm_step(spec, w, x: Tensor, state, zone_rates=(0.0, 0.0)):
    """x (B, I); state (h (B, P), c (B, H)) -> (h_t, (h_t, c_t)). zone_rates: eval zoneout of (h, c)."""
    h, c = (s.detach().contiguous() for s in state)
    B, H, P = x.shape[0], spec.hidden_size, spec.out_size
    GH = spec.num_gates * H
    bias = None if w.b_ih is None else (w.b_ih + w.b_hh).detach()
    gates, rec = x.new_empty(B, GH), x.new_empty(B, GH)
    if spec.layer_norm:                                                               # LN(W_ih x_t) g_ih + b
        gemv(x.detach().contiguous().numpy(), _np(w.w_ih), None, gates.numpy())
        gates = torch.nn.functional.layer_norm(gates, (GH,), eps=spec.ln_eps) * w.ln_ih.detach()
        gates = (gates if bias is None else gates + bias).contiguous()
    else:
        gemv(x.detach().contiguous().numpy(), _np(w.w_ih), _np(bias), gates.numpy())   # W_ih x_t + b
    gemv(h.numpy(), _np(w.w_hh), None, rec.numpy())                                   # W_hh h_{t-1}
    c_new, m = x.new_empty(B, H), x.new_empty(B, H)
    zh, zc = zone_rates
    c_cand = x.new_empty(B, H) if zc > 0 else None
    lstm_fwd_rows(B, gates.numpy(), rec.numpy(), _np(w.ln_hh), _np(w.w_ch), _np(w.ln_c_w), _np(w.ln_c_b),
                  spec.ln_eps, c.numpy(), None, None if zc <= 0 else np.full((B, H), zc, dtype=c_new.numpy().dtype),
                  None if c_cand is None else c_cand.numpy(), c_new.numpy(), m.numpy())
    h_cand = m
    if w.w_hr is not None:
        h_cand = x.new_empty(B, P)
        gemv(m.numpy(), _np(w.w_hr), None, h_cand.numpy())                            # W_hr (o tanh c)
    return _blend(h_cand, h, zh), c_new


def gru_step(spec, w, x: Tensor, state, zone_rates=(0.0,)):
    """x (B, I); state (h (B, H),) -> new h (B, H)."""
    h = state[0].detach().contiguous()
    B, H = x.shape[0], spec.hidden_size
    gates = x.new_empty(B, 3 * H)
    gemv(x.detach().contiguous().numpy(), _np(w.w_ih), _np(w.b_ih), gates.numpy())   # W_ih x_t + b_ih
    w_hh, b_hh = _np(w.w_hh), _np(w.b_hh)
    h_cand = x.new_empty(B, H)
    if spec.reset_before:
        a_rz, a_n, rh = x.new_empty(B, 2 * H), x.new_empty(B, H), x.new_empty(B, H)
        gemv(h.numpy(), w_hh[: 2 * H], None if b_hh is None else b_hh[: 2 * H], a_rz.numpy())
        gru_rb_gates_rows(B, gates.numpy(), a_rz.numpy(), h.numpy(), rh.numpy())
        gemv(rh.numpy(), w_hh[2 * H:], None if b_hh is None else b_hh[2 * H:], a_n.numpy())
        gru_rb_out_rows(B, gates.numpy(), a_n.numpy(), h.numpy(), None, h_cand.numpy())
    else:
        a_h, ah_n = x.new_empty(B, 3 * H), x.new_empty(B, H)
        gemv(h.numpy(), w_hh, b_hh, a_h.numpy())                                      # W_hh h + b_hh
        gru_fwd_rows(B, gates.numpy(), a_h.numpy(), h.numpy(), None, ah_n.numpy(), h_cand.numpy())
    return _blend(h_cand, h, zone_rates[0])


def rnn_step(spec, w, x: Tensor, state, zone_rates=(0.0,)):
    """x (B, I); state (h (B, H),) -> new h (B, H)."""
    h = state[0].detach().contiguous()
    B, H = x.shape[0], spec.hidden_size
    bias = None if w.b_ih is None else (w.b_ih + w.b_hh).detach().numpy()
    gates, rec, h_cand = x.new_empty(B, H), x.new_empty(B, H), x.new_empty(B, H)
    gemv(x.detach().contiguous().numpy(), _np(w.w_ih), bias, gates.numpy())
    gemv(h.numpy(), _np(w.w_hh), None, rec.numpy())
    rnn_fwd_rows(B, gates.numpy(), rec.numpy(), spec.nonlinearity == "relu", h_cand.numpy())
    return _blend(h_cand, h, zone_rates[0])


def _blend(cand: Tensor, prev: Tensor, p: float) -> Tensor:
    """Evaluation-mode zoneout: p * previous + (1 - p) * new (the candidate itself when p = 0)."""
    if p <= 0:
        return cand
    out = torch.empty_like(cand)
    z = np.full(cand.shape, p, dtype=cand.numpy().dtype)
    blend_h_rows(cand.shape[0], cand.numpy(), prev.numpy(), None, z, out.numpy())
    return out
