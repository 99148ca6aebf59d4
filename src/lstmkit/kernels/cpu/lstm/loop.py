"""LSTM time loops, compiled end to end: forward and BPTT. The fused route; how it relates to the stepped one:
:mod:`lstmkit.kernels.cpu`."""

from __future__ import annotations

from ..packed_gemm import gemm_packed_order
from ..bookkeeping import bwd_h_step, h_entering, blend_h_rows, finish_dh
from ..jit import at, jit
from ..sync import barrier, put_columns, units_columns
from .cell import lstm_bwd_rows, lstm_fwd_rows



@jit
def lstm_forward_loop(n_t, gates, wp_hh, wp_hr, h0, c0, y, c_states, c_cand, m_all, save, ln_hh, w_ch, ln_c_w,
                      ln_c_b, eps, a_h_all, reset, drop_h, zone_h, zone_c, hd, rec, h_cand):
    """The LSTM forward of :func:`lstmkit.kernels.cpu.lstm.driver.lstm_forward`, every step in compiled code."""
    T = gates.shape[0]
    for t in range(T):
        n = n_t[t]
        if n == 0:
            break
        src, h_prev = h_entering(t, h0, y, reset, drop_h, hd, n)
        gemm_packed_order(n, src, wp_hh, rec.shape[1], rec, None, t & 1)  # W_hh h_{t-1}
        if a_h_all is not None:
            a_h_all[t, :n] = rec[:n]
        k = t if save else 0
        m = y[t] if m_all is None else m_all[k]
        reset_t = at(reset, t)
        lstm_fwd_rows(n, gates[t], rec, ln_hh, w_ch, ln_c_w, ln_c_b, eps, c0 if t == 0 else c_states[t - 1], reset_t,
                      at(zone_c, t), at(c_cand, t), c_states[t], m)
        cand = m
        if wp_hr is not None:
            gemm_packed_order(n, m, wp_hr, h_cand.shape[1], h_cand, None, t & 1)  # h~_t = W_hr (o_t tanh(c_t))
            cand = h_cand
            if zone_h is None:
                y[t, :n] = h_cand[:n]
        if zone_h is not None:
            blend_h_rows(n, cand, h_prev, reset_t, zone_h[t], y[t])


@jit
def lstm_backward_loop(n_t, gates, c_states, c0, c_cand, a_h_all, dy, dh_acc, dc_acc, d_pre, d_ah, dh_c, wp_hh, wp_hr,
                       ln_hh, w_ch, ln_c_w, ln_c_b, eps, reset, drop_h, zone_h, zone_c, dw_ch_rows, dln_c_rows,
                       dln_hh_rows, dh_rec, dm):
    """The LSTM BPTT of :func:`lstmkit.kernels.cpu.lstm.driver.lstm_backward`, every step in compiled code."""
    T = gates.shape[0]
    for t in range(T - 1, -1, -1):
        n = n_t[t]
        if n == 0:
            continue
        reset_t = at(reset, t)
        k = t if wp_hr is not None else 0
        bwd_h_step(t, n_t, dh_acc, dy, dh_rec, drop_h, reset, zone_h, dh_c[k])
        if wp_hr is not None:
            gemm_packed_order(n, dh_c[k], wp_hr, dm.shape[1], dm, None, t & 1)  # dm_t = W_hr^T dh~_t
        else:
            dm[:n] = dh_c[0, :n]
        lstm_bwd_rows(n, gates[t], c0 if t == 0 else c_states[t - 1], reset_t,
                      c_states[t] if c_cand is None else c_cand[t], at(zone_c, t), dm, dc_acc,
                      w_ch, ln_c_w, ln_c_b, eps, at(a_h_all, t), ln_hh, d_pre[t],
                      d_ah[t], dw_ch_rows, dln_c_rows, dln_hh_rows)
        gemm_packed_order(n, d_ah[t], wp_hh, dh_rec.shape[1], dh_rec, None, t & 1)  # dh_{t-1} += W_hh^T da_h
    finish_dh(n_t[0], dh_acc, dh_rec, drop_h, at(reset, 0))


@jit
def lstm_units_loop(gates, wp_hh, w_ch, h_T, c_T, y, lo, cs, rec, m, flags, me, other, base):
    """One thread's half of a window of the units-split forward (:mod:`lstmkit.kernels.cpu.lean`): this
    thread owns hidden units [lo, lo + Hs); its partner runs the same call on the other units.

    gates (k, n, G*Hs): W_ih x_t + b of its units' gates; wp_hh: packed W_hh^T, its units' columns (P -> G*Hs);
    w_ch (G-1, Hs) or None: its units' peepholes. h_T (n, P): the whole h at the window's start, on return
    this thread's units of h at its end (c_T (n, Hs): its units' c, the same). y (k, n, P): whole rows of
    h_t; this thread writes its columns. cs (k, n, Hs), rec (n, G*Hs), m (n, Hs): its buffers. The two
    threads step together through :func:`~lstmkit.kernels.cpu.sync.barrier` on ``flags``: once when the
    window starts (count base + 1: the partner's half of h_T is written), once per step (base + 2 + t); the
    next window's base is this one's + k + 1. Returns False if the partner failed (flags' abort entry)."""
    k, n = gates.shape[0], gates.shape[1]
    Hs = cs.shape[2]
    if not barrier(flags, me, other, base + 1):
        return False
    for t in range(k):
        gemm_packed_order(n, h_T if t == 0 else y[t - 1], wp_hh, rec.shape[1], rec, None, t & 1)  # W_hh h_{t-1}
        lstm_fwd_rows(n, gates[t], rec, None, w_ch, None, None, 0.0, c_T if t == 0 else cs[t - 1], None, None, None,
                      cs[t], m)
        put_columns(y[t], lo, m)                                                        # its half of h_t
        if not barrier(flags, me, other, base + 2 + t):
            return False                                                                # the partner failed
    put_columns(h_T, lo, y[k - 1, :, lo:lo + Hs])
    put_columns(c_T, 0, cs[k - 1])
    return True


@jit
def lstm_concat_loop(xw, wp_cat, bias, h0, c0, y, w_ch, xh, pre, cs):
    """A window of the LSTM forward with the input projection inside the step (lean inference, a narrow
    input): per step one GEMM of [x_t | h_{t-1}] (n, I + P) with the packed [W_ih; W_hh]^T (I + P -> G*H)
    and the summed bias, then the cell. Nothing the size of the window's gates is written.

    xw (k, n, I): the window's inputs in the direction's time (any strides); h0 / c0 (n, P) / (n, H): the
    states entering it; y (k, n, P): h_t out; w_ch: peepholes or None; xh (n, I + P), pre (n, G*H),
    cs (k, n, H): buffers. Returns c at the window's last step (cs[k - 1])."""
    k, n, I = xw.shape
    P = y.shape[2]
    for t in range(k):
        hp = h0 if t == 0 else y[t - 1]
        for b in range(n):
            for i in range(I):
                xh[b, i] = xw[t, b, i]
            for j in range(P):
                xh[b, I + j] = hp[b, j]
        gemm_packed_order(n, xh, wp_cat, pre.shape[1], pre, bias, t & 1)  # W_ih x_t + W_hh h_{t-1} + b
        lstm_fwd_rows(n, pre, None, None, w_ch, None, None, 0.0, c0 if t == 0 else cs[t - 1], None, None, None,
                      cs[t], y[t])
    return cs[k - 1]


@jit
def lstm_units_train_forward(gates, wp, w_ch, h0, c0, y, cs, lo, Hs, g, rec, flags, me, other):
    """One thread's half of a training forward split by units (:func:`lstmkit.kernels.dispatch.units_train`):
    this thread owns hidden units [lo, lo + Hs); its partner runs the same call on the others. Every step is
    saved in the whole-layer layout the backward reads.

    gates (T, n, G*H): in, W_ih x_t + b; out, the activated gates (this thread's columns). wp: packed
    W_hh^T, its units' columns (H -> G*Hs). w_ch (G-1, Hs) or None: its units' peepholes. h0 (n, H), c0 (n,
    H): the initial states. y (T, n, H), cs (T,
    n, H): h_t and c_t, this thread writing its units' columns. g, rec (n, G*Hs): buffers. One barrier per
    step (count t + 1): h_t whole before either thread's next recurrent GEMM. False if the partner failed."""
    T, n = gates.shape[0], gates.shape[1]
    for t in range(T):
        gemm_packed_order(n, h0 if t == 0 else y[t - 1], wp, rec.shape[1], rec, None, t & 1)  # W_hh h_{t-1}, its units
        units_columns(g, lo, Hs, gates[t], False)
        cp = c0 if t == 0 else cs[t - 1]
        lstm_fwd_rows(n, g, rec, None, w_ch, None, None, 0.0, cp[:, lo:lo + Hs], None, None, None,
                      cs[t][:, lo:lo + Hs], y[t][:, lo:lo + Hs])
        units_columns(g, lo, Hs, gates[t], True)                                        # its gates, activated
        if not barrier(flags, me, other, t + 1):
            return False
    return True


@jit
def lstm_units_train_backward(gates, cs, c0, dy, dh, dc, d_pre, wp_t, w_ch, dw_ch, lo, Hs, g, dp, dm, dcs, dh_next,
                              flags, me, other):
    """One thread's half of the BPTT of :func:`lstm_units_train_forward`, units [lo, lo + Hs).

    gates (T, n, G*H) activated, cs (T, n, H), c0 (n, H): what the forward saved. dy (T, n, H): dL/dh_t
    from above. dh, dc (n, H): in, dL/dh_T and dL/dc_T; out, dL/dh0 and dL/dc0 (this thread's columns).
    d_pre (T, n, G*H): out, dL/d(gate pre-activations), its columns. wp_t: packed W_hh, its units' columns
    (G*H -> Hs). w_ch (G-1, Hs) or None: its units' peepholes; dw_ch (n, G-1, Hs) or None: their gradient,
    accumulated per row. g, dp (n, G*Hs), dm, dcs, dh_next (n, Hs): buffers. Per step: its units' cell backward,
    a barrier (count T - t: the step's d_pre whole), then dh_{t-1} of its units from all of d_pre_t."""
    T, n = gates.shape[0], gates.shape[1]
    for b in range(n):
        for j in range(Hs):
            dh_next[b, j] = dh[b, lo + j]                                               # dL/dh_T
            dcs[b, j] = dc[b, lo + j]                                                   # dL/dc_T
    for t in range(T - 1, -1, -1):
        for b in range(n):
            for j in range(Hs):
                dm[b, j] = dy[t, b, lo + j] + dh_next[b, j]                            # dL/dh_t
        units_columns(g, lo, Hs, gates[t], False)
        cp = c0 if t == 0 else cs[t - 1]
        lstm_bwd_rows(n, g, cp[:, lo:lo + Hs], None, cs[t][:, lo:lo + Hs], None, dm, dcs, w_ch, None, None, 0.0,
                      None, None, dp, None, dw_ch, None, None)
        units_columns(dp, lo, Hs, d_pre[t], True)
        if not barrier(flags, me, other, T - t):
            return False
        gemm_packed_order(n, d_pre[t], wp_t, Hs, dh_next, None, t & 1)  # dh_{t-1} = W_hh^T da_t
    for b in range(n):
        for j in range(Hs):
            dh[b, lo + j] = dh_next[b, j]
            dc[b, lo + j] = dcs[b, j]
    return True
