"""LSTM time loops, compiled end to end: forward and BPTT. The fused route; how it relates to the stepped one:
:mod:`lstmkit.kernels.cpu`."""

from __future__ import annotations

from ..packed_gemm import gemm_packed
from ..bookkeeping import bwd_h_step, h_entering, blend_h_rows, finish_dh
from ..jit import jit
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
        gemm_packed(n, src, wp_hh, rec.shape[1], rec, None)  # W_hh h_{t-1}
        if a_h_all is not None:
            a_h_all[t, :n] = rec[:n]
        k = t if save else 0
        m = y[t] if m_all is None else m_all[k]
        reset_t = None if reset is None else reset[t]
        lstm_fwd_rows(n, gates[t], rec, ln_hh, w_ch, ln_c_w, ln_c_b, eps, c0 if t == 0 else c_states[t - 1], reset_t,
                      None if zone_c is None else zone_c[t], None if c_cand is None else c_cand[t], c_states[t], m)
        cand = m
        if wp_hr is not None:
            gemm_packed(n, m, wp_hr, h_cand.shape[1], h_cand, None)  # h~_t = W_hr (o_t tanh(c_t))
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
        reset_t = None if reset is None else reset[t]
        k = t if wp_hr is not None else 0
        bwd_h_step(t, n_t, dh_acc, dy, dh_rec, drop_h, reset, zone_h, dh_c[k])
        if wp_hr is not None:
            gemm_packed(n, dh_c[k], wp_hr, dm.shape[1], dm, None)  # dm_t = W_hr^T dh~_t
        else:
            dm[:n] = dh_c[0, :n]
        lstm_bwd_rows(n, gates[t], c0 if t == 0 else c_states[t - 1], reset_t,
                      c_states[t] if c_cand is None else c_cand[t], None if zone_c is None else zone_c[t], dm, dc_acc,
                      w_ch, ln_c_w, ln_c_b, eps, None if a_h_all is None else a_h_all[t], ln_hh, d_pre[t],
                      None if a_h_all is None else d_ah[t], dw_ch_rows, dln_c_rows, dln_hh_rows)
        gemm_packed(n, d_ah[t], wp_hh, dh_rec.shape[1], dh_rec, None)  # dh_{t-1} += W_hh^T da_h
    finish_dh(n_t[0], dh_acc, dh_rec, drop_h, None if reset is None else reset[0])
