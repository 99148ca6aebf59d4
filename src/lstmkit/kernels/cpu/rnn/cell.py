"""Elman RNN pointwise work of one time step, compiled. Equations: :class:`lstmkit.cells.rnn.RNNCell`."""

from __future__ import annotations

from ..activations import as_type_of, tanh
from ..jit import jit


@jit
def rnn_fwd_rows(n, gates, a_h, relu, h_cand):
    """gates (B, H): in, W_ih x_t + b; a_h (B, H): W_hh h_{t-1}; out, h~_t = act(pre) (also in h_cand)."""
    zero = as_type_of(0.0, gates[0, 0])
    for b in range(n):
        for j in range(gates.shape[1]):
            p = gates[b, j] + a_h[b, j]
            h = (p if p > zero else zero) if relu else tanh(p)
            gates[b, j] = h
            h_cand[b, j] = h


@jit
def rnn_bwd_rows(n, gates, relu, dh_cand, d_pre):
    """d_pre = dh~ * act'(pre): (1 - h^2) for tanh, [h > 0] for relu."""
    one, zero = as_type_of(1.0, gates[0, 0]), as_type_of(0.0, gates[0, 0])
    for b in range(n):
        for j in range(gates.shape[1]):
            h = gates[b, j]
            d_pre[b, j] = dh_cand[b, j] * ((one if h > zero else zero) if relu else (one - h * h))
