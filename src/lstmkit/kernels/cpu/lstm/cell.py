"""LSTM pointwise work of one time step, compiled: everything between the GEMMs.

Equations: :class:`lstmkit.cells.lstm.LSTMCell`; bookkeeping (reset, zoneout, lengths):
:mod:`lstmkit.kernels.common`. Rows are the batch in the kernel's internal order (sorted by length,
longest first), so the rows still running at step t are exactly [0, n). Optional arrays are None when
their option is off; numba compiles a version per combination with those branches removed.

Vectorisation: every inner loop runs over one unit index j on 1-D slices (one per gate), with no
branch that depends on j, so LLVM emits AVX2/AVX-512 code. Gate layout of a (G*H) row: i|f|g|o
(G = 4) or f|g|o with cifg (G = 3); peephole rows of w_ch: (i, f, o) or (f, o).
"""

from __future__ import annotations

import numpy as np

from ..activations import as_type_of, sigmoid, tanh
from ..jit import jit, jit_inline


@jit_inline
def _ln_stats(v, eps):
    """mean and 1/std of a 1-D row, in the row's float type (two passes: stable)."""
    n = v.shape[0]
    inv_n = as_type_of(1.0 / n, v[0])
    s = as_type_of(0.0, v[0])
    for k in range(n):
        s += v[k]
    mu = s * inv_n
    q = as_type_of(0.0, v[0])
    for k in range(n):
        d = v[k] - mu
        q += d * d
    return mu, as_type_of(1.0 / np.sqrt(q * inv_n + eps), v[0])


@jit_inline
def _add_ln(row, a, gain, eps):
    """row += LN(a) * gain (the recurrent layer norm)."""
    mu, rstd = _ln_stats(a, eps)
    for k in range(row.shape[0]):
        row[k] += (a[k] - mu) * rstd * gain[k]


@jit_inline
def _fwd_ifg(pi, pf, pg, cp, cc, wci, wcf):
    """i, f, g in place; c~ = f c_{t-1} + i g."""
    for j in range(pi.shape[0]):
        c = cp[j]
        ai, af = pi[j], pf[j]
        if wci is not None:
            ai += wci[j] * c                          # peepholes see c_{t-1}
            af += wcf[j] * c
        i, f, g = sigmoid(ai), sigmoid(af), tanh(pg[j])
        pi[j], pf[j], pg[j] = i, f, g
        cc[j] = f * c + i * g                         # c~_t = f_t c_{t-1} + i_t g_t


@jit_inline
def _fwd_fg(pf, pg, cp, cc, wcf):
    """cifg: f, g in place; c~ = f c_{t-1} + (1 - f) g."""
    for j in range(pf.shape[0]):
        c = cp[j]
        af = pf[j]
        if wcf is not None:
            af += wcf[j] * c
        f, g = sigmoid(af), tanh(pg[j])
        pf[j], pg[j] = f, g
        cc[j] = f * c + (as_type_of(1.0, f) - f) * g


@jit_inline
def _fwd_out(po, cc, wco, ln_w, ln_b, eps, m):
    """o in place; m = o tanh(LN_c(c~))."""
    mu, rstd = as_type_of(0.0, cc[0]), as_type_of(1.0, cc[0])    # float32 stays float32 (fast tanh)
    if ln_w is not None:
        mu, rstd = _ln_stats(cc, eps)
    for j in range(po.shape[0]):
        ao = po[j]
        if wco is not None:
            ao += wco[j] * cc[j]                      # o_t sees c_t
        o = sigmoid(ao)
        po[j] = o
        ch = cc[j]
        if ln_w is not None:
            ch = (cc[j] - mu) * rstd * ln_w[j]
            if ln_b is not None:
                ch += ln_b[j]
        m[j] = o * tanh(ch)                           # o_t tanh(c_t)


@jit_inline
def _zone(cp, cc, d, out):
    for j in range(out.shape[0]):
        out[j] = d[j] * cp[j] + (1.0 - d[j]) * cc[j]  # c_t = d c_{t-1} + (1 - d) c~_t (float64: see blend_h_rows)


@jit
def lstm_fwd_rows(n, gates, a_h, ln_hh, w_ch, ln_c_w, ln_c_b, eps, c_prev, reset_t, zone_c, c_cand, c_out, m_out):
    """One step, rows [0, n).

    gates (B, G*H): in, W_ih x_t + b; out, activated gates.
    a_h (B, G*H): W_hh h_{t-1}, added to the gates (layer-normalised with gain ln_hh when given); None when
    gates already hold it (the projection inside the step).
    c_prev (B, H): c_{t-1} (zero where reset_t). c_cand (B, H) or None: c~_t, the cell state before
    zoneout (not the candidate g_t), kept for the backward when zoneout is on. c_out (B, H): c_t. m_out (B, H): o_t * tanh(LN_c(c~_t)), i.e. h~_t before
    the projection.
    """
    H = c_out.shape[1]
    zero = c_prev[0] if reset_t is None else np.zeros(H, dtype=c_out.dtype)  # c_{t-1} after a reset (none: unused)
    for b in range(n):                                   # (one call site: one inlined copy of the row to compile)
        keep = reset_t is None or not reset_t[b]
        _fwd_row(b, H, gates, a_h, ln_hh, w_ch, ln_c_w, ln_c_b, eps, c_prev[b] if keep else zero, zone_c, c_cand,
                 c_out, m_out)


@jit_inline
def _fwd_row(b, H, gates, a_h, ln_hh, w_ch, ln_c_w, ln_c_b, eps, cp, zone_c, c_cand, c_out, m_out):
    """Row b of :func:`lstm_fwd_rows`, c_{t-1} given (``cp``, zero after a reset)."""
    G = gates.shape[1] // H                              # 4 gates i|f|g|o, or 3 (f|g|o) with cifg
    row = gates[b]
    if ln_hh is not None:
        _add_ln(row, a_h[b], ln_hh, eps)
    elif a_h is not None:
        for k in range(row.shape[0]):
            row[k] += a_h[b, k]                          # pre-activations: W_ih x_t + b + W_hh h_{t-1}
    cc = c_out[b] if c_cand is None else c_cand[b]
    if G == 4:
        if w_ch is None:
            _fwd_ifg(row[:H], row[H:2 * H], row[2 * H:3 * H], cp, cc, None, None)
        else:
            _fwd_ifg(row[:H], row[H:2 * H], row[2 * H:3 * H], cp, cc, w_ch[0], w_ch[1])
    else:
        _fwd_fg(row[:H], row[H:2 * H], cp, cc, None if w_ch is None else w_ch[0])
    _fwd_out(row[(G - 1) * H:], cc, None if w_ch is None else w_ch[G - 2], ln_c_w, ln_c_b, eps, m_out[b])
    if c_cand is not None:
        _zone(cp, cc, zone_c[b], c_out[b])


# ------------------------------------------------------------------------------------------------ backward

@jit_inline
def _bwd_out(po, dpo, cc, dm, ln_w, ln_b, eps, dln_row):
    """From dm = dL/d(o tanh(ĉ)): dpre_o into dpo; dĉ (times the LN gain) left in dm.
    Returns the layer-norm row sums (mean of dn, mean of dn * n_c) and the stats."""
    mu, rstd = as_type_of(0.0, cc[0]), as_type_of(1.0, cc[0])
    if ln_w is not None:
        mu, rstd = _ln_stats(cc, eps)
    s1, s2 = as_type_of(0.0, cc[0]), as_type_of(0.0, cc[0])
    one = as_type_of(1.0, cc[0])
    H = po.shape[0]
    for j in range(H):
        o = po[j]
        ch = cc[j]
        nc = (cc[j] - mu) * rstd
        if ln_w is not None:
            ch = nc * ln_w[j]
            if ln_b is not None:
                ch += ln_b[j]
        tc = tanh(ch)
        d_o = dm[j] * tc                              # do_t = dh_t tanh(c_t)
        dch = dm[j] * o * (one - tc * tc)             # dĉ_t = dh_t o_t (1 - tanh^2)
        dpo[j] = d_o * o * (one - o)                  # dpre_o = do o (1 - o)
        if ln_w is not None:
            dln_row[0, j] += dch * nc
            if ln_b is not None:
                dln_row[1, j] += dch
            dch = dch * ln_w[j]
            s1 += dch
            s2 += dch * nc
        dm[j] = dch
    return s1 * as_type_of(1.0 / H, s1), s2 * as_type_of(1.0 / H, s2), mu, rstd


@jit_inline
def _dc_total(dch, cc, dcz, d, dpo, wco, is_ln, s1, s2, mu, rstd, j):
    """dc~_t at unit j: through LN_c (or directly), the zoneout share of dc_t, and the o peephole."""
    if is_ln:
        nc = (cc[j] - mu) * rstd
        dch = rstd * (dch - s1 - nc * s2)             # layer-norm backward
    dzj = as_type_of(0.0, dcz) if d is None else d[j]
    dc = (as_type_of(1.0, dcz) - dzj) * dcz + dch
    if wco is not None:
        dc += dpo[j] * wco[j]
    return dc, dzj


@jit_inline
def _bwd_ifg(pi, pf, pg, dpi, dpf, dpg, dpo, cp, cc, dm, dc_acc, d, wci, wcf, wco, dw, is_ln, s1, s2, mu, rstd,
             keep):
    one, zero = as_type_of(1.0, dc_acc[0]), as_type_of(0.0, dc_acc[0])
    for j in range(pi.shape[0]):
        dcz = dc_acc[j]
        dc, dzj = _dc_total(dm[j], cc, dcz, d, dpo, wco, is_ln, s1, s2, mu, rstd, j)
        i, f, g = pi[j], pf[j], pg[j]
        c = cp[j]
        dpi_j = dc * g * i * (one - i)                # di = dc g ;  dpre_i = di i (1 - i)
        dpf_j = dc * c * f * (one - f)                # df = dc c_{t-1}
        dpi[j], dpf[j] = dpi_j, dpf_j
        dpg[j] = dc * i * (one - g * g)               # dg = dc i ;  dpre_g = dg (1 - g^2)
        dcp = dc * f                                  # dc_{t-1} = dc_t f_t (+ peepholes)
        if wci is not None:
            dcp += dpi_j * wci[j] + dpf_j * wcf[j]
            dw[0, j] += dpi_j * c
            dw[1, j] += dpf_j * c
            dw[2, j] += dpo[j] * cc[j]
        dc_acc[j] = (dcp + dzj * dcz) if keep else zero  # to c_{t-1}: cell path + zoneout path


@jit_inline
def _bwd_fg(pf, pg, dpf, dpg, dpo, cp, cc, dm, dc_acc, d, wcf, wco, dw, is_ln, s1, s2, mu, rstd, keep):
    """cifg: i = 1 - f, so df_total = df - di."""
    one, zero = as_type_of(1.0, dc_acc[0]), as_type_of(0.0, dc_acc[0])
    for j in range(pf.shape[0]):
        dcz = dc_acc[j]
        dc, dzj = _dc_total(dm[j], cc, dcz, d, dpo, wco, is_ln, s1, s2, mu, rstd, j)
        f, g = pf[j], pg[j]
        c = cp[j]
        dpf_j = dc * (c - g) * f * (one - f)
        dpf[j] = dpf_j
        dpg[j] = dc * (one - f) * (one - g * g)
        dcp = dc * f
        if wcf is not None:
            dcp += dpf_j * wcf[j]
            dw[0, j] += dpf_j * c
            dw[1, j] += dpo[j] * cc[j]
        dc_acc[j] = (dcp + dzj * dcz) if keep else zero


@jit_inline
def _ln_rec_backward(dp, a, gain, eps, dgain_row, d_a):
    """Through row += LN(a) * gain: dgain += dp * n; d_a = LN backward of dp * gain."""
    mu, rstd = _ln_stats(a, eps)
    N = a.shape[0]
    t1, t2 = as_type_of(0.0, a[0]), as_type_of(0.0, a[0])
    for k in range(N):
        nk = (a[k] - mu) * rstd
        dgain_row[k] += dp[k] * nk
        dn = dp[k] * gain[k]
        t1 += dn
        t2 += dn * nk
    t1 *= as_type_of(1.0 / N, t1)
    t2 *= as_type_of(1.0 / N, t2)
    for k in range(N):
        nk = (a[k] - mu) * rstd
        d_a[k] = rstd * (dp[k] * gain[k] - t1 - nk * t2)


@jit
def lstm_bwd_rows(n, gates, c_prev, reset_t, c_cand, zone_c, dm, dc_acc, w_ch, ln_c_w, ln_c_b, eps,
                  a_h, ln_hh, d_pre, d_ah, dw_ch_rows, dln_c_rows, dln_hh_rows):
    """The cell side of one backward step, rows [0, n).

    dm (B, H): dL/d(o_t tanh(c_t)) (overwritten). dc_acc (B, H): in, dL/dc_t from later steps; out,
    dL/dc_{t-1}. d_pre (B, G*H): out, dL/d(gate pre-activations). d_ah (B, G*H) or None: out,
    dL/d(W_hh h_{t-1}) through the recurrent layer norm. Peephole and layer-norm parameter gradients
    accumulate per row (dw_ch_rows (B, G-1, H), dln_c_rows (B, 2, H), dln_hh_rows (B, G*H)).
    """
    H = dc_acc.shape[1]
    zero = c_prev[0] if reset_t is None else np.zeros(H, dtype=dc_acc.dtype)  # c_{t-1} after a reset (none: unused)
    for b in range(n):                                   # (one call site: one inlined copy of the row to compile)
        keep = reset_t is None or not reset_t[b]
        _bwd_row(b, H, gates, c_prev[b] if keep else zero, keep, c_cand, zone_c, dm, dc_acc, w_ch, ln_c_w, ln_c_b,
                 eps, a_h, ln_hh, d_pre, d_ah, dw_ch_rows, dln_c_rows, dln_hh_rows)


@jit_inline
def _bwd_row(b, H, gates, cp, keep, c_cand, zone_c, dm, dc_acc, w_ch, ln_c_w, ln_c_b, eps, a_h, ln_hh, d_pre, d_ah,
             dw_ch_rows, dln_c_rows, dln_hh_rows):
    """Row b of :func:`lstm_bwd_rows`, c_{t-1} given (``cp``; ``keep`` False after a reset)."""
    G = gates.shape[1] // H                              # 4 gates i|f|g|o, or 3 (f|g|o) with cifg
    is_ln = ln_c_w is not None
    row, dp = gates[b], d_pre[b]
    cc = c_cand[b]
    dln_row = dln_c_rows[b] if dln_c_rows is not None else None
    s1, s2, mu, rstd = _bwd_out(row[(G - 1) * H:], dp[(G - 1) * H:], cc, dm[b], ln_c_w, ln_c_b, eps, dln_row)
    d = None if zone_c is None else zone_c[b]
    dpo = dp[(G - 1) * H:]
    if G == 4:
        if w_ch is None:
            _bwd_ifg(row[:H], row[H:2 * H], row[2 * H:3 * H], dp[:H], dp[H:2 * H], dp[2 * H:3 * H], dpo, cp, cc,
                     dm[b], dc_acc[b], d, None, None, None, None, is_ln, s1, s2, mu, rstd, keep)
        else:
            _bwd_ifg(row[:H], row[H:2 * H], row[2 * H:3 * H], dp[:H], dp[H:2 * H], dp[2 * H:3 * H], dpo, cp, cc,
                     dm[b], dc_acc[b], d, w_ch[0], w_ch[1], w_ch[2], dw_ch_rows[b], is_ln, s1, s2, mu, rstd, keep)
    else:
        if w_ch is None:
            _bwd_fg(row[:H], row[H:2 * H], dp[:H], dp[H:2 * H], dpo, cp, cc, dm[b], dc_acc[b], d, None, None,
                    None, is_ln, s1, s2, mu, rstd, keep)
        else:
            _bwd_fg(row[:H], row[H:2 * H], dp[:H], dp[H:2 * H], dpo, cp, cc, dm[b], dc_acc[b], d, w_ch[0],
                    w_ch[1], dw_ch_rows[b], is_ln, s1, s2, mu, rstd, keep)
    if a_h is not None:                                        # layer norm of W_hh h_{t-1}
        _ln_rec_backward(dp, a_h[b], ln_hh, eps, dln_hh_rows[b], d_ah[b])
