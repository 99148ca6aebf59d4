"""LSTM pointwise work of one time step, compiled: everything between the GEMMs.

Equations: :class:`lstmkit.cells.lstm.LSTMCell`; bookkeeping (reset, zoneout, lengths):
:mod:`lstmkit.kernels.common`. Rows are the batch in the kernel's internal order (sorted by length,
longest first), so the rows still running at step t are exactly [0, n). Optional arrays are None when
their option is off; numba compiles a version per combination with those branches removed.

Gate layout of a (G*H) row: i|f|g|o (G = 4) or f|g|o with cifg (G = 3); peephole rows of w_ch:
(i, f, o) or (f, o).
"""

from __future__ import annotations

import numpy as np

from .activations import sigmoid, tanh
from .jit import jit, jit_inline


@jit_inline
def _row_ln_stats(v, eps):
    """mean and 1/std of a 1-D row."""
    n = v.shape[0]
    mu = v.sum() / n
    var = ((v - mu) * (v - mu)).sum() / n
    return mu, 1.0 / np.sqrt(var + eps)


@jit
def lstm_fwd_rows(n, gates, a_h, ln_hh, w_ch, ln_c_w, ln_c_b, eps, c_prev, reset_t, zone_c, c_cand, c_out, m_out):
    """One step, rows [0, n).

    gates (B, G*H): in, W_ih x_t + b (+ W_hh h_{t-1} unless layer norm); out, activated gates.
    a_h (B, G*H) or None: W_hh h_{t-1} to layer-normalise with gain ln_hh (layer_norm).
    c_prev (B, H): c_{t-1} (zero where reset_t). c_cand (B, H) or None: candidate c~_t, kept for the
    backward when zoneout is on. c_out (B, H): c_t. m_out (B, H): o_t * tanh(LN_c(c~_t)), i.e. h~_t before
    the projection.
    """
    H = c_out.shape[1]
    G = gates.shape[1] // H
    off = G - 3                                       # 1 with an input gate, 0 with cifg
    for b in range(n):
        g_row = gates[b]
        if a_h is not None:
            mu, rstd = _row_ln_stats(a_h[b], eps)
            for k in range(G * H):
                g_row[k] += (a_h[b, k] - mu) * rstd * ln_hh[k]
        keep = not (reset_t is not None and reset_t[b])
        cc = c_out[b] if c_cand is None else c_cand[b]
        for j in range(H):
            cp = c_prev[b, j] if keep else 0.0
            pf = g_row[off * H + j]
            if w_ch is not None:
                pf += w_ch[off, j] * cp
            f = sigmoid(pf)
            if off == 1:
                pi = g_row[j]
                if w_ch is not None:
                    pi += w_ch[0, j] * cp
                i = sigmoid(pi)
                g_row[j] = i
            else:
                i = 1.0 - f                           # cifg: i_t = 1 - f_t
            g = tanh(g_row[(off + 1) * H + j])
            g_row[off * H + j] = f
            g_row[(off + 1) * H + j] = g
            cc[j] = f * cp + i * g                    # c~_t = f_t c_{t-1} + i_t g_t
        mu_c, rstd_c = 0.0, 1.0
        if ln_c_w is not None:
            mu_c, rstd_c = _row_ln_stats(cc, eps)
        for j in range(H):
            po = g_row[(off + 2) * H + j]
            if w_ch is not None:
                po += w_ch[off + 1, j] * cc[j]
            o = sigmoid(po)
            g_row[(off + 2) * H + j] = o
            ch = cc[j]
            if ln_c_w is not None:
                ch = (cc[j] - mu_c) * rstd_c * ln_c_w[j]
                if ln_c_b is not None:
                    ch += ln_c_b[j]
            m_out[b, j] = o * tanh(ch)                # o_t tanh(c_t)
        if c_cand is not None:
            for j in range(H):
                cp = c_prev[b, j] if keep else 0.0
                d = zone_c[b, j]
                c_out[b, j] = d * cp + (1.0 - d) * cc[j]   # zoneout: c_t = d c_{t-1} + (1 - d) c~_t


@jit
def lstm_bwd_rows(n, gates, c_prev, reset_t, c_cand, zone_c, dm, dc_acc, w_ch, ln_c_w, ln_c_b, eps,
                  a_h, ln_hh, d_pre, d_ah, dw_ch_rows, dln_c_rows, dln_hh_rows):
    """The cell side of one backward step, rows [0, n).

    dm (B, H): dL/d(o_t tanh(c_t)). dc_acc (B, H): in, dL/dc_t from later steps; out, dL/dc_{t-1}.
    d_pre (B, G*H): out, dL/d(gate pre-activations). d_ah (B, G*H) or None: out, dL/d(W_hh h_{t-1})
    through the recurrent layer norm. Parameter gradients of the peephole and layer-norm weights are
    accumulated per row (dw_ch_rows (B, G-1, H), dln_c_rows (B, 2, H), dln_hh_rows (B, G*H)).
    """
    H = dc_acc.shape[1]
    G = gates.shape[1] // H
    off = G - 3
    for b in range(n):
        g_row = gates[b]
        dp_row = d_pre[b]
        keep = not (reset_t is not None and reset_t[b])
        cc = c_cand[b]
        mu_c, rstd_c = 0.0, 1.0
        if ln_c_w is not None:
            mu_c, rstd_c = _row_ln_stats(cc, eps)
        # pass 1: dc~ from the output side; layer-norm backward needs row means of dn_c and dn_c * n_c
        s1, s2 = 0.0, 0.0
        for j in range(H):
            o = g_row[(off + 2) * H + j]
            ch = cc[j]
            if ln_c_w is not None:
                nc = (cc[j] - mu_c) * rstd_c
                ch = nc * ln_c_w[j]
                if ln_c_b is not None:
                    ch += ln_c_b[j]
            tc = tanh(ch)
            d_o = dm[b, j] * tc                                    # do_t = dh_t tanh(c_t)
            dch = dm[b, j] * o * (1.0 - tc * tc)                   # dĉ_t = dh_t o_t (1 - tanh^2)
            dp_row[(off + 2) * H + j] = d_o * o * (1.0 - o)        # dpre_o = do o (1 - o)
            if ln_c_w is not None:
                dln_c_rows[b, 0, j] += dch * nc
                if ln_c_b is not None:
                    dln_c_rows[b, 1, j] += dch
                dch = dch * ln_c_w[j]
                s1 += dch
                s2 += dch * nc
            d_ah_tmp = dch                                           # stash dn_c (or dĉ) in dm's place
            dm[b, j] = d_ah_tmp
        s1 /= H
        s2 /= H
        # pass 2: through c~_t = f c_{t-1} + i g to the gates
        for j in range(H):
            cp = c_prev[b, j] if keep else 0.0
            dch = dm[b, j]
            if ln_c_w is not None:
                nc = (cc[j] - mu_c) * rstd_c
                dch = rstd_c * (dch - s1 - nc * s2)                # LN backward
            dcz = dc_acc[b, j]
            d = 0.0 if zone_c is None else zone_c[b, j]
            dc = (1.0 - d) * dcz + dch                             # dc~_t
            dpo = dp_row[(off + 2) * H + j]
            if w_ch is not None:
                dc += dpo * w_ch[off + 1, j]                       # o_t peeks at c_t
                dw_ch_rows[b, off + 1, j] += dpo * cc[j]
            f = g_row[off * H + j]
            g = g_row[(off + 1) * H + j]
            i = g_row[j] if off == 1 else 1.0 - f
            d_i, d_g, d_f = dc * g, dc * i, dc * cp                # di = dc g ; dg = dc i ; df = dc c_{t-1}
            dcp = dc * f                                           # dc_{t-1} = dc_t f_t (+ peepholes)
            if off == 1:
                dpi = d_i * i * (1.0 - i)
                dpf = d_f * f * (1.0 - f)
                dp_row[j] = dpi
            else:
                dpf = (d_f - d_i) * f * (1.0 - f)                  # cifg: i = 1 - f
                dpi = 0.0
            dp_row[off * H + j] = dpf
            dp_row[(off + 1) * H + j] = d_g * (1.0 - g * g)       # dpre_g = dg (1 - g^2)
            if w_ch is not None:
                dcp += dpf * w_ch[off, j]
                dw_ch_rows[b, off, j] += dpf * cp
                if off == 1:
                    dcp += dpi * w_ch[0, j]
                    dw_ch_rows[b, 0, j] += dpi * cp
            dc_acc[b, j] = 0.0 if not keep else dcp + d * dcz      # to c_{t-1}: cell path + zoneout path
        if a_h is not None:                                        # layer norm of W_hh h_{t-1}
            mu, rstd = _row_ln_stats(a_h[b], eps)
            GH = G * H
            t1, t2 = 0.0, 0.0
            for k in range(GH):
                nh = (a_h[b, k] - mu) * rstd
                dln_hh_rows[b, k] += dp_row[k] * nh
                dn = dp_row[k] * ln_hh[k]
                t1 += dn
                t2 += dn * nh
            t1 /= GH
            t2 /= GH
            for k in range(GH):
                nh = (a_h[b, k] - mu) * rstd
                d_ah[b, k] = rstd * (dp_row[k] * ln_hh[k] - t1 - nh * t2)
