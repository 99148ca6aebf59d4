"""GRU time loops (both forms), compiled end to end: forward and BPTT. The fused route; how it relates to the stepped one:
:mod:`lstmkit.kernels.cpu`."""

from __future__ import annotations

from ..packed_gemm import gemm_packed_order
from ..bookkeeping import bwd_h_step, h_entering, blend_h_rows, finish_dh
from ..jit import at, jit
from ..sync import barrier, put_columns, units_columns
from .cell import (gru_bwd_rows, gru_fwd_rows, gru_rb_bwd1_rows, gru_rb_bwd2_rows, gru_rb_gates_rows,
                   gru_rb_out_rows)



@jit
def gru_forward_loop(n_t, gates, wp_a, wp_b, b_a, b_b, h0, y, ah_n, rh, save, reset_before, reset, drop_h, zone_h, hd,
                     a_h, h_cand):
    """The GRU forward of :func:`lstmkit.kernels.cpu.gru.driver.gru_forward`, every step in compiled code.
    ``wp_a``, ``b_a``: packed W_hh^T and b_hh (reset after) or W_h[rz]^T and b_h[rz] (reset before); ``wp_b``,
    ``b_b``: packed W_hn^T and b_hn (reset before). Biases may be None."""
    T = gates.shape[0]
    H = y.shape[2]
    for t in range(T):
        n = n_t[t]
        if n == 0:
            break
        src, h_prev = h_entering(t, h0, y, reset, drop_h, hd, n)
        k = t if save else 0
        reset_t = at(reset, t)
        cand = y[t] if zone_h is None else h_cand
        if reset_before:
            a_rz = a_h[:, : 2 * H]
            gemm_packed_order(n, src, wp_a, 2 * H, a_rz, b_a, t & 1)  # W_h[rz] h + b_h[rz]
            gru_rb_gates_rows(n, gates[t], a_rz, src, rh[k])
            a_n = a_h[:, 2 * H:]
            gemm_packed_order(n, rh[k], wp_b, H, a_n, b_b, t & 1)  # W_hn (r h) + b_hn
            gru_rb_out_rows(n, gates[t], a_n, h_prev, reset_t, cand)
        else:
            gemm_packed_order(n, src, wp_a, 3 * H, a_h, b_a, t & 1)  # W_hh h + b_hh
            gru_fwd_rows(n, gates[t], a_h, h_prev, reset_t, ah_n[k], cand)
        if zone_h is not None:
            blend_h_rows(n, h_cand, h_prev, reset_t, zone_h[t], y[t])


@jit
def gru_backward_loop(n_t, gates, y, h0, ah_n, hd_all, dy, dh_acc, d_ax, d_ah, wp_a, wp_b, reset_before, reset,
                      drop_h, zone_h, dh_c, dh_rec, d_rh, dhd_n):
    """The GRU BPTT of :func:`lstmkit.kernels.cpu.gru.driver.gru_backward`, every step in compiled code.
    ``wp_a``: packed W_hh (reset after) or W_h[rz] (reset before); ``wp_b``: packed W_hn (reset before)."""
    T = gates.shape[0]
    H = dh_acc.shape[1]
    for t in range(T - 1, -1, -1):
        n = n_t[t]
        if n == 0:
            continue
        reset_t = at(reset, t)
        bwd_h_step(t, n_t, dh_acc, dy, dh_rec, drop_h, reset, zone_h, dh_c)
        hp = h0 if t == 0 else y[t - 1]
        if reset_before:
            gru_rb_bwd1_rows(n, gates[t], hp, reset_t, dh_c, dh_acc, d_ax[t], d_ah[t])
            gemm_packed_order(n, d_ah[t, :, 2 * H:], wp_b, H, d_rh, None, t & 1)  # d(r h) = W_hn^T dpre_n
            gru_rb_bwd2_rows(n, gates[t], hd_all[t], d_rh, d_ax[t], d_ah[t], dhd_n)
            gemm_packed_order(n, d_ah[t, :, : 2 * H], wp_a, H, dh_rec, None, t & 1)  # dh_{t-1} = W_h[rz]^T dpre_[rz] ..
            for b in range(n):
                for j in range(H):
                    dh_rec[b, j] += dhd_n[b, j]
        else:
            gru_bwd_rows(n, gates[t], ah_n[t], hp, reset_t, dh_c, dh_acc, d_ax[t], d_ah[t])
            gemm_packed_order(n, d_ah[t], wp_a, H, dh_rec, None, t & 1)  # dh_{t-1} += W_hh^T da_h
    finish_dh(n_t[0], dh_acc, dh_rec, drop_h, at(reset, 0))


@jit
def gru_units_loop(gates, wp_hh, b_hh, h_T, y, lo, ah_n, rec, m, flags, me, other, base):
    """One thread's half of a window of the units-split forward, reset after (torch.nn.GRU's form; see
    :func:`lstmkit.kernels.cpu.lstm.loop.lstm_units_loop`, whose protocol this follows): this thread owns
    hidden units [lo, lo + Hs).

    gates (k, n, 3Hs): W_ih x_t + b_ih of its units' r|z|n; wp_hh, b_hh: packed W_hh^T and b_hh, its units'
    columns (P -> 3Hs). h_T (n, P): the whole h at the window's start, on return its units of h at the end.
    y (k, n, P): whole rows of h_t, this thread writing its columns. ah_n (1, n, Hs), rec (n, 3Hs), m (n, Hs):
    its buffers. Returns False if the partner failed."""
    k, n = gates.shape[0], gates.shape[1]
    Hs = m.shape[1]
    if not barrier(flags, me, other, base + 1):
        return False
    for t in range(k):
        src = h_T if t == 0 else y[t - 1]
        gemm_packed_order(n, src, wp_hh, rec.shape[1], rec, b_hh, t & 1)  # W_hh h_{t-1} + b_hh, its units
        gru_fwd_rows(n, gates[t], rec, src[:, lo:lo + Hs], None, ah_n[0], m)
        put_columns(y[t], lo, m)                                                  # its half of h_t
        if not barrier(flags, me, other, base + 2 + t):
            return False
    put_columns(h_T, lo, y[k - 1, :, lo:lo + Hs])
    return True


@jit
def gru_units_train_forward(gates, wp, b_hh, h0, y, ah_n, lo, Hs, g, rec, flags, me, other):
    """One thread's half of a training forward split by units, reset after (torch.nn.GRU's form; the protocol
    of :func:`lstmkit.kernels.cpu.lstm.loop.lstm_units_train_forward`): units [lo, lo + Hs).

    gates (T, n, 3H): in, W_ih x_t + b_ih; out, r|z|n (this thread's columns). wp, b_hh: packed W_hh^T and
    b_hh, its units' columns (H -> 3Hs; b_hh may be None). h0 (n, H). y (T, n, H): h_t; ah_n (T, n, H):
    W_hn h_{t-1} + b_hn, saved for the backward; this thread writes its columns of both. g, rec (n, 3Hs):
    buffers. One barrier per step. False if the partner failed."""
    T, n = gates.shape[0], gates.shape[1]
    for t in range(T):
        src = h0 if t == 0 else y[t - 1]
        gemm_packed_order(n, src, wp, rec.shape[1], rec, b_hh, t & 1)  # W_hh h + b_hh, its units
        units_columns(g, lo, Hs, gates[t], False)
        gru_fwd_rows(n, g, rec, src[:, lo:lo + Hs], None, ah_n[t][:, lo:lo + Hs], y[t][:, lo:lo + Hs])
        units_columns(g, lo, Hs, gates[t], True)
        if not barrier(flags, me, other, t + 1):
            return False
    return True


@jit
def gru_units_train_backward(gates, y, h0, ah_n, dy, dh, d_ax, d_ah, wp_t, lo, Hs, g, dxs, dhs, dm, dacc, dh_next,
                             flags, me, other):
    """One thread's half of the BPTT of :func:`gru_units_train_forward`, units [lo, lo + Hs).

    gates (T, n, 3H) r|z|n, y (T, n, H), h0 (n, H), ah_n (T, n, H): what the forward saved. dy (T, n, H):
    dL/dh_t from above. dh (n, H): in dL/dh_T, out dL/dh0 (its columns). d_ax, d_ah (T, n, 3H): out,
    dL/d(W_ih x_t + b_ih) and dL/d(W_hh h_{t-1} + b_hh), its columns. wp_t: packed W_hh, its units' columns
    (3H -> Hs). g, dxs, dhs (n, 3Hs), dm, dacc, dh_next (n, Hs): buffers. Per step its units' cell
    backward, a barrier (count T - t), then its columns of dh_{t-1} = W_hh^T da_t + z_t dh_t."""
    T, n = gates.shape[0], gates.shape[1]
    for b in range(n):
        for j in range(Hs):
            dh_next[b, j] = dh[b, lo + j]                                               # dL/dh_T
    for t in range(T - 1, -1, -1):
        for b in range(n):
            for j in range(Hs):
                dm[b, j] = dy[t, b, lo + j] + dh_next[b, j]                            # dL/dh_t
                dacc[b, j] = 0.0
        units_columns(g, lo, Hs, gates[t], False)
        hp = h0 if t == 0 else y[t - 1]
        gru_bwd_rows(n, g, ah_n[t][:, lo:lo + Hs], hp[:, lo:lo + Hs], None, dm, dacc, dxs, dhs)
        units_columns(dxs, lo, Hs, d_ax[t], True)
        units_columns(dhs, lo, Hs, d_ah[t], True)
        if not barrier(flags, me, other, T - t):
            return False
        gemm_packed_order(n, d_ah[t], wp_t, Hs, dh_next, None, t & 1)  # W_hh^T da_t, its units
        for b in range(n):
            for j in range(Hs):
                dh_next[b, j] += dacc[b, j]                                             # + z_t dh_t
    for b in range(n):
        for j in range(Hs):
            dh[b, lo + j] = dh_next[b, j]
    return True
