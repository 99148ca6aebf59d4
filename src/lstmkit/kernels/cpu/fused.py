"""Whole-sequence loops compiled end to end, for small and mid-size problems.

When a step's recurrent GEMM is small (one sequence, or a batch of small or mid-size layers), the
per-step cost of returning to Python (a GEMM call, a kernel call, slicing) dominates: torch.nn.LSTM's
oneDNN loop runs B=1, H=64 at under 3 us a step. Here the time loop itself runs in compiled code; each
step's GEMM is MKL's, called through its address (:mod:`.blas`), or for a single row (or a torch without
MKL) a row-GEMM written as AXPYs over the output, vectorised over its columns. The pointwise step
functions are the stepped drivers', so the two paths produce the same buffers and either backward can
follow either forward. Which loop runs a window: :func:`lstmkit.kernels.dispatch.loop` (measured on 2 cores,
inference vs torch.nn: GRU (32, 128) x1.50 fused against x1.25 stepped, RNN (64, 256) x1.44 against x1.39;
from ~16M multiply-adds a step oneDNN's packed GEMM makes the stepped driver faster).
"""

from __future__ import annotations

from .gru_steps import (gru_bwd_rows, gru_fwd_rows, gru_rb_bwd1_rows, gru_rb_bwd2_rows, gru_rb_gates_rows,
                        gru_rb_out_rows)
from .blas import gemm_rows
from .jit import jit, jit_inline
from .lstm_steps import lstm_bwd_rows, lstm_fwd_rows
from .rnn_steps import rnn_bwd_rows, rnn_fwd_rows
from .steps import blend_h_rows, bwd_h_rows, finish_dh, prepare_hd

@jit_inline
def _h_in(t, h0, y, reset, drop_h, hd, n):
    """h_{t-1} entering W_hh (reset, dropout applied) and the carried h_{t-1}."""
    h_prev = h0 if t == 0 else y[t - 1]
    if reset is None and drop_h is None:
        return h_prev, h_prev
    prepare_hd(n, h_prev, None if reset is None else reset[t], drop_h, hd)
    return hd, h_prev


@jit_inline
def _bwd_h_step(t, n_t, dh_acc, dy, dh_rec, drop_h, reset, zone_h, dh_c):
    """The h side of backward step t (:func:`~lstmkit.kernels.cpu.steps.bwd_h_rows`) with its step's masks."""
    T = n_t.shape[0]
    bwd_h_rows(n_t[t], n_t[t + 1] if t + 1 < T else 0, dh_acc, dy[t], dh_rec, drop_h,
               None if reset is None else reset[t], None if (reset is None or t + 1 >= T) else reset[t + 1],
               None if zone_h is None else zone_h[t], dh_c)


@jit
def lstm_forward_loop(blas, n_t, gates, w_hh_t, w_hr_t, h0, c0, y, c_states, c_cand, m_all, save, ln_hh, w_ch, ln_c_w,
                      ln_c_b, eps, a_h_all, reset, drop_h, zone_h, zone_c, hd, rec, h_cand):
    """The LSTM forward of :func:`lstmkit.kernels.cpu.lstm.lstm_forward`, every step in compiled code."""
    T = gates.shape[0]
    for t in range(T):
        n = n_t[t]
        if n == 0:
            break
        src, h_prev = _h_in(t, h0, y, reset, drop_h, hd, n)
        gemm_rows(blas, n, src, w_hh_t, rec, None)  # W_hh h_{t-1}
        if a_h_all is not None:
            a_h_all[t, :n] = rec[:n]
        k = t if save else 0
        m = y[t] if m_all is None else m_all[k]
        reset_t = None if reset is None else reset[t]
        lstm_fwd_rows(n, gates[t], rec, ln_hh, w_ch, ln_c_w, ln_c_b, eps, c0 if t == 0 else c_states[t - 1], reset_t,
                      None if zone_c is None else zone_c[t], None if c_cand is None else c_cand[t], c_states[t], m)
        cand = m
        if w_hr_t is not None:
            gemm_rows(blas, n, m, w_hr_t, h_cand, None)  # h~_t = W_hr (o_t tanh(c_t))
            cand = h_cand
            if zone_h is None:
                y[t, :n] = h_cand[:n]
        if zone_h is not None:
            blend_h_rows(n, cand, h_prev, reset_t, zone_h[t], y[t])


@jit
def lstm_backward_loop(blas, n_t, gates, c_states, c0, c_cand, a_h_all, dy, dh_acc, dc_acc, d_pre, d_ah, dh_c, w_hh,
                       w_hr,
                       ln_hh, w_ch, ln_c_w, ln_c_b, eps, reset, drop_h, zone_h, zone_c, dw_ch_rows, dln_c_rows,
                       dln_hh_rows, dh_rec, dm):
    """The LSTM BPTT of :func:`lstmkit.kernels.cpu.lstm.lstm_backward`, every step in compiled code."""
    T = gates.shape[0]
    for t in range(T - 1, -1, -1):
        n = n_t[t]
        if n == 0:
            continue
        reset_t = None if reset is None else reset[t]
        k = t if w_hr is not None else 0
        _bwd_h_step(t, n_t, dh_acc, dy, dh_rec, drop_h, reset, zone_h, dh_c[k])
        if w_hr is not None:
            gemm_rows(blas, n, dh_c[k], w_hr, dm, None)  # dm_t = W_hr^T dh~_t
        else:
            dm[:n] = dh_c[0, :n]
        lstm_bwd_rows(n, gates[t], c0 if t == 0 else c_states[t - 1], reset_t,
                      c_states[t] if c_cand is None else c_cand[t], None if zone_c is None else zone_c[t], dm, dc_acc,
                      w_ch, ln_c_w, ln_c_b, eps, None if a_h_all is None else a_h_all[t], ln_hh, d_pre[t],
                      None if a_h_all is None else d_ah[t], dw_ch_rows, dln_c_rows, dln_hh_rows)
        gemm_rows(blas, n, d_ah[t], w_hh, dh_rec, None)  # dh_{t-1} += W_hh^T da_h
    finish_dh(n_t[0], dh_acc, dh_rec, drop_h, None if reset is None else reset[0])


@jit
def rnn_forward_loop(blas, n_t, gates, w_hh_t, h0, y, relu, reset, drop_h, zone_h, hd, rec, h_cand):
    T = gates.shape[0]
    for t in range(T):
        n = n_t[t]
        if n == 0:
            break
        src, h_prev = _h_in(t, h0, y, reset, drop_h, hd, n)
        gemm_rows(blas, n, src, w_hh_t, rec, None)
        if zone_h is None:
            rnn_fwd_rows(n, gates[t], rec, relu, y[t])
        else:
            rnn_fwd_rows(n, gates[t], rec, relu, h_cand)
            blend_h_rows(n, h_cand, h_prev, None if reset is None else reset[t], zone_h[t], y[t])


@jit
def rnn_backward_loop(blas, n_t, gates, dy, dh_acc, d_pre, w_hh, relu, reset, drop_h, zone_h, dh_c, dh_rec):
    T = gates.shape[0]
    for t in range(T - 1, -1, -1):
        n = n_t[t]
        if n == 0:
            continue
        _bwd_h_step(t, n_t, dh_acc, dy, dh_rec, drop_h, reset, zone_h, dh_c)
        rnn_bwd_rows(n, gates[t], relu, dh_c, d_pre[t])
        gemm_rows(blas, n, d_pre[t], w_hh, dh_rec, None)
    finish_dh(n_t[0], dh_acc, dh_rec, drop_h, None if reset is None else reset[0])


@jit
def gru_forward_loop(blas, n_t, gates, w_hh_t, b_hh, h0, y, ah_n, rh, save, reset_before, reset, drop_h, zone_h, hd,
                     a_h,
                     h_cand):
    T = gates.shape[0]
    H = y.shape[2]
    for t in range(T):
        n = n_t[t]
        if n == 0:
            break
        src, h_prev = _h_in(t, h0, y, reset, drop_h, hd, n)
        k = t if save else 0
        reset_t = None if reset is None else reset[t]
        cand = y[t] if zone_h is None else h_cand
        if reset_before:
            a_rz = a_h[:, : 2 * H]
            gemm_rows(blas, n, src, w_hh_t[:, : 2 * H], a_rz, None if b_hh is None else b_hh[: 2 * H])
            gru_rb_gates_rows(n, gates[t], a_rz, src, rh[k])
            a_n = a_h[:, 2 * H:]
            gemm_rows(blas, n, rh[k], w_hh_t[:, 2 * H:], a_n, None if b_hh is None else b_hh[2 * H:])
            gru_rb_out_rows(n, gates[t], a_n, h_prev, reset_t, cand)
        else:
            gemm_rows(blas, n, src, w_hh_t, a_h, b_hh)
            gru_fwd_rows(n, gates[t], a_h, h_prev, reset_t, ah_n[k], cand)
        if zone_h is not None:
            blend_h_rows(n, h_cand, h_prev, reset_t, zone_h[t], y[t])


@jit
def gru_backward_loop(blas, n_t, gates, y, h0, ah_n, hd_all, dy, dh_acc, d_ax, d_ah, w_hh, reset_before, reset, drop_h,
                      zone_h, dh_c, dh_rec, d_rh, dhd_n):
    T = gates.shape[0]
    H = dh_acc.shape[1]
    for t in range(T - 1, -1, -1):
        n = n_t[t]
        if n == 0:
            continue
        reset_t = None if reset is None else reset[t]
        _bwd_h_step(t, n_t, dh_acc, dy, dh_rec, drop_h, reset, zone_h, dh_c)
        hp = h0 if t == 0 else y[t - 1]
        if reset_before:
            gru_rb_bwd1_rows(n, gates[t], hp, reset_t, dh_c, dh_acc, d_ax[t], d_ah[t])
            gemm_rows(blas, n, d_ah[t, :, 2 * H:], w_hh[2 * H:], d_rh, None)  # d(r h) = W_hn^T dpre_n
            gru_rb_bwd2_rows(n, gates[t], hd_all[t], d_rh, d_ax[t], d_ah[t], dhd_n)
            gemm_rows(blas, n, d_ah[t, :, : 2 * H], w_hh[: 2 * H], dh_rec, None)
            for b in range(n):
                for j in range(H):
                    dh_rec[b, j] += dhd_n[b, j]
        else:
            gru_bwd_rows(n, gates[t], ah_n[t], hp, reset_t, dh_c, dh_acc, d_ax[t], d_ah[t])
            gemm_rows(blas, n, d_ah[t], w_hh, dh_rec, None)
    finish_dh(n_t[0], dh_acc, dh_rec, drop_h, None if reset is None else reset[0])
