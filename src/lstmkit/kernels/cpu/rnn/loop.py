"""Elman RNN time loops, compiled end to end: forward and BPTT. The fused route; how it relates to the stepped one:
:mod:`lstmkit.kernels.cpu`."""

from __future__ import annotations

from ..packed_gemm import gemm_packed_order
from ..bookkeeping import bwd_h_step, h_entering, blend_h_rows, finish_dh
from ..jit import at, jit
from .cell import rnn_bwd_rows, rnn_fwd_rows



@jit
def rnn_forward_loop(n_t, gates, wp_hh, h0, y, relu, reset, drop_h, zone_h, hd, rec, h_cand):
    T = gates.shape[0]
    for t in range(T):
        n = n_t[t]
        if n == 0:
            break
        src, h_prev = h_entering(t, h0, y, reset, drop_h, hd, n)
        gemm_packed_order(n, src, wp_hh, rec.shape[1], rec, None, t & 1)  # W_hh h_{t-1}
        if zone_h is None:
            rnn_fwd_rows(n, gates[t], rec, relu, y[t])
        else:
            rnn_fwd_rows(n, gates[t], rec, relu, h_cand)
            blend_h_rows(n, h_cand, h_prev, at(reset, t), zone_h[t], y[t])


@jit
def rnn_backward_loop(n_t, gates, dy, dh_acc, d_pre, wp_hh, relu, reset, drop_h, zone_h, dh_c, dh_rec):
    T = gates.shape[0]
    for t in range(T - 1, -1, -1):
        n = n_t[t]
        if n == 0:
            continue
        bwd_h_step(t, n_t, dh_acc, dy, dh_rec, drop_h, reset, zone_h, dh_c)
        rnn_bwd_rows(n, gates[t], relu, dh_c, d_pre[t])
        gemm_packed_order(n, d_pre[t], wp_hh, dh_rec.shape[1], dh_rec, None, t & 1)  # dh_{t-1} += W_hh^T dpre
    finish_dh(n_t[0], dh_acc, dh_rec, drop_h, at(reset, 0))
