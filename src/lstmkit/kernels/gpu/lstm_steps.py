"""The LSTM's fused Triton step kernels: one launch per step forward, one per step backward.

Equations: :class:`lstmkit.cells.lstm.LSTMCell`; state bookkeeping (zoneout, lengths, reset):
:mod:`lstmkit.kernels.common`. The readable torch-ops version of both kernels is
:mod:`lstmkit.kernels.reference.lstm`; these compute the same numbers, line for line.

Each program owns one batch row and a block of ``BLOCK`` hidden units (``pid0`` = row, ``pid1`` = column
block). Layer norm (of W_hh h_{t-1} over G*H units, of c_t over H) needs a whole row, so with it the caller
makes one block cover the row. Loads are upcast to float32; the cell state is float32 throughout.
Row strides are passed; columns are contiguous except the zoneout masks (their column stride is passed:
an evaluation mask is an ``expand``-ed constant with stride 0).
"""

from __future__ import annotations

import triton
import triton.language as tl

from .jit_math import sigmoid, tanh


@triton.jit
def _row_sum(v, m):
    return tl.sum(tl.where(m, v, 0.0), axis=0)


@triton.jit
def lstm_forward_step(
        ax, ah, ln_hh, cp, c_prev, hp, h_prev, w_ch, ln_c_w, ln_c_b, zone_c, zone_h, lengths, reset_nx, drop_h,
        gates, c_new, tc_out, n_h, rstd_h, n_c, rstd_c, c_out, h_out, y_out, hp_nx, cp_nx, hd_nx,
        t, H, s_ax, s_ah, s_cp, s_hp, s_g, s_c, s_h, s_y, szc_b, szc_h, szh_b, szh_h, eps,
        OFF_I: tl.constexpr, OFF_F: tl.constexpr, OFF_G: tl.constexpr, OFF_O: tl.constexpr,
        PR_I: tl.constexpr, PR_F: tl.constexpr, PR_O: tl.constexpr,
        CIFG: tl.constexpr, ADD_X: tl.constexpr, PEEP: tl.constexpr, LN_H: tl.constexpr, LN_C: tl.constexpr,
        LN_C_BIAS: tl.constexpr, HAS_ZC: tl.constexpr, HAS_ZH: tl.constexpr, HAS_LEN: tl.constexpr,
        H_SIDE: tl.constexpr, SAVE: tl.constexpr, ENTER_NEXT: tl.constexpr, HAS_RESET: tl.constexpr,
        HAS_DROP: tl.constexpr, BLOCK: tl.constexpr):
    """One step: gate pre-activations -> gates, c_t, h_t (or m_t = o_t tanh(c_t) with a projection).

    ``ah`` is W_hh h_{t-1} (``ADD_X``: then W_ih x_t + b comes in ``ax``), or already the whole
    pre-activation. ``H_SIDE``: also apply zoneout and lengths to h and write y_t; otherwise ``h_out`` gets
    m_t and the caller projects it. ``ENTER_NEXT`` (with ``H_SIDE``): also write what step t+1 starts from,
    P_{t+1} = 0 where ``reset_nx`` restarts the state (``hp_nx``, ``cp_nx``) and the recurrent GEMM's input
    P_{t+1} * drop_h (``hd_nx``), so no torch op runs between the steps.
    """
    b = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    cm = cols < H
    a_i = tl.load(ah + b * s_ah + OFF_I + cols, mask=cm, other=0.0).to(tl.float32)
    a_f = tl.load(ah + b * s_ah + OFF_F + cols, mask=cm, other=0.0).to(tl.float32)
    a_g = tl.load(ah + b * s_ah + OFF_G + cols, mask=cm, other=0.0).to(tl.float32)
    a_o = tl.load(ah + b * s_ah + OFF_O + cols, mask=cm, other=0.0).to(tl.float32)
    if LN_H:
        # n_h = LN(W_hh h_{t-1}) over all G*H units; a_h = n_h * gain
        G = 3 if CIFG else 4
        total = _row_sum(a_f, cm) + _row_sum(a_g, cm) + _row_sum(a_o, cm)
        if not CIFG:
            total += _row_sum(a_i, cm)
        mu = total / (G * H)
        var = _row_sum((a_f - mu) * (a_f - mu), cm) + _row_sum((a_g - mu) * (a_g - mu), cm) \
            + _row_sum((a_o - mu) * (a_o - mu), cm)
        if not CIFG:
            var += _row_sum((a_i - mu) * (a_i - mu), cm)
        rs = 1.0 / tl.sqrt(var / (G * H) + eps)
        a_i, a_f, a_g, a_o = (a_i - mu) * rs, (a_f - mu) * rs, (a_g - mu) * rs, (a_o - mu) * rs
        if SAVE:
            if not CIFG:
                tl.store(n_h + b * s_g + OFF_I + cols, a_i.to(n_h.dtype.element_ty), mask=cm)
            tl.store(n_h + b * s_g + OFF_F + cols, a_f.to(n_h.dtype.element_ty), mask=cm)
            tl.store(n_h + b * s_g + OFF_G + cols, a_g.to(n_h.dtype.element_ty), mask=cm)
            tl.store(n_h + b * s_g + OFF_O + cols, a_o.to(n_h.dtype.element_ty), mask=cm)
            tl.store(rstd_h + b, rs.to(rstd_h.dtype.element_ty))
        a_i *= tl.load(ln_hh + OFF_I + cols, mask=cm, other=0.0).to(tl.float32)
        a_f *= tl.load(ln_hh + OFF_F + cols, mask=cm, other=0.0).to(tl.float32)
        a_g *= tl.load(ln_hh + OFF_G + cols, mask=cm, other=0.0).to(tl.float32)
        a_o *= tl.load(ln_hh + OFF_O + cols, mask=cm, other=0.0).to(tl.float32)
    if ADD_X:                                        # pre = W_ih x_t + b + (LN) W_hh h_{t-1}
        a_i += tl.load(ax + b * s_ax + OFF_I + cols, mask=cm, other=0.0).to(tl.float32)
        a_f += tl.load(ax + b * s_ax + OFF_F + cols, mask=cm, other=0.0).to(tl.float32)
        a_g += tl.load(ax + b * s_ax + OFF_G + cols, mask=cm, other=0.0).to(tl.float32)
        a_o += tl.load(ax + b * s_ax + OFF_O + cols, mask=cm, other=0.0).to(tl.float32)
    c_p = tl.load(cp + b * s_cp + cols, mask=cm, other=0.0).to(tl.float32)       # c_{t-1} (entered)
    if PEEP:
        a_f += tl.load(w_ch + PR_F * H + cols, mask=cm, other=0.0).to(tl.float32) * c_p
    f = sigmoid(a_f)                                                                 # f_t
    if CIFG:
        i = 1.0 - f                                                                  # i_t = 1 - f_t
    else:
        if PEEP:
            a_i += tl.load(w_ch + PR_I * H + cols, mask=cm, other=0.0).to(tl.float32) * c_p
        i = sigmoid(a_i)                                                             # i_t
    g = tanh(a_g)                                                                    # g_t = C~_t
    c = f * c_p + i * g                                                              # c_t = f c_{t-1} + i g
    if PEEP:
        a_o += tl.load(w_ch + PR_O * H + cols, mask=cm, other=0.0).to(tl.float32) * c
    o = sigmoid(a_o)                                                                 # o_t
    c_hat = c
    if LN_C:
        mu_c = _row_sum(c, cm) / H
        var_c = _row_sum((c - mu_c) * (c - mu_c), cm) / H
        rs_c = 1.0 / tl.sqrt(var_c + eps)
        nc = (c - mu_c) * rs_c
        c_hat = nc * tl.load(ln_c_w + cols, mask=cm, other=0.0).to(tl.float32)
        if LN_C_BIAS:
            c_hat += tl.load(ln_c_b + cols, mask=cm, other=0.0).to(tl.float32)
        if SAVE:
            tl.store(n_c + b * s_c + cols, nc.to(n_c.dtype.element_ty), mask=cm)
            tl.store(rstd_c + b, rs_c.to(rstd_c.dtype.element_ty))
    tc = tanh(c_hat)
    h = o * tc                                                                       # h_t = o_t tanh(c_t)
    if SAVE:
        if not CIFG:
            tl.store(gates + b * s_g + OFF_I + cols, i.to(gates.dtype.element_ty), mask=cm)
        tl.store(gates + b * s_g + OFF_F + cols, f.to(gates.dtype.element_ty), mask=cm)
        tl.store(gates + b * s_g + OFF_G + cols, g.to(gates.dtype.element_ty), mask=cm)
        tl.store(gates + b * s_g + OFF_O + cols, o.to(gates.dtype.element_ty), mask=cm)
        tl.store(c_new + b * s_c + cols, c.to(c_new.dtype.element_ty), mask=cm)
        tl.store(tc_out + b * s_c + cols, tc.to(tc_out.dtype.element_ty), mask=cm)
    # zoneout, then lengths (common.leave): S'_t = d P_t + (1 - d) S~_t ; S_t = S'_t if t < len else S_{t-1}
    if HAS_ZC:
        d = tl.load(zone_c + b * szc_b + cols * szc_h, mask=cm, other=0.0).to(tl.float32)
        c = d * c_p + (1.0 - d) * c
    if H_SIDE and HAS_ZH:
        d = tl.load(zone_h + b * szh_b + cols * szh_h, mask=cm, other=0.0).to(tl.float32)
        h = d * tl.load(hp + b * s_hp + cols, mask=cm, other=0.0).to(tl.float32) + (1.0 - d) * h
    y = h
    if HAS_LEN:
        live = t < tl.load(lengths + b)
        c = tl.where(live, c, tl.load(c_prev + b * s_cp + cols, mask=cm, other=0.0).to(tl.float32))
        if H_SIDE:
            h = tl.where(live, h, tl.load(h_prev + b * s_hp + cols, mask=cm, other=0.0).to(tl.float32))
            y = tl.where(live, y, 0.0)
    tl.store(c_out + b * s_c + cols, c.to(c_out.dtype.element_ty), mask=cm)
    h = h.to(h_out.dtype.element_ty)
    tl.store(h_out + b * s_h + cols, h, mask=cm)
    if H_SIDE:
        tl.store(y_out + b * s_y + cols, y.to(y_out.dtype.element_ty), mask=cm)
        if ENTER_NEXT:                               # P_{t+1} = 0 if reset[t+1] else S_t ; GEMM input P * drop_h
            h_e = h.to(tl.float32)
            if HAS_RESET:
                keep = tl.load(reset_nx + b) == 0
                h_e = tl.where(keep, h_e, 0.0)
                tl.store(hp_nx + b * s_hp + cols, h_e.to(hp_nx.dtype.element_ty), mask=cm)
                tl.store(cp_nx + b * s_cp + cols, tl.where(keep, c, 0.0).to(cp_nx.dtype.element_ty), mask=cm)
            if HAS_DROP:
                h_e = h_e * tl.load(drop_h + b * s_hp + cols, mask=cm, other=0.0).to(tl.float32)
            tl.store(hd_nx + b * s_hp + cols, h_e.to(hd_nx.dtype.element_ty), mask=cm)


@triton.jit
def lstm_backward_step(
        dh, dc, dy, dm_in, zone_c, zone_h, lengths, reset, dhp_in, ex_in, reset_nx, drop_h,
        gates, cp, tc_in, c_new, w_ch, ln_c_w, n_c, rstd_c, ln_hh, n_h, rstd_h,
        d_pre, d_ah, d_chat_out, dc_prev, dh_extra,
        t, H, s_dh, s_dc, s_dy, s_g, s_c, szc_b, szc_h, szh_b, szh_h,
        OFF_I: tl.constexpr, OFF_F: tl.constexpr, OFF_G: tl.constexpr, OFF_O: tl.constexpr,
        PR_I: tl.constexpr, PR_F: tl.constexpr, PR_O: tl.constexpr,
        CIFG: tl.constexpr, PEEP: tl.constexpr, LN_H: tl.constexpr, LN_C: tl.constexpr,
        HAS_ZC: tl.constexpr, HAS_ZH: tl.constexpr, HAS_LEN: tl.constexpr, HAS_RESET: tl.constexpr,
        H_SIDE: tl.constexpr, FOLD_DH: tl.constexpr, HAS_DROP: tl.constexpr, BLOCK: tl.constexpr):
    """One step of BPTT: dL/d(pre-activations) of step t, dc_{t-1}, and the part of dh_{t-1} that does
    not pass through W_hh (zoneout's and the frozen branch's). ``H_SIDE``: the kernel also does h's
    bookkeeping from ``dh``, ``dy``; otherwise ``dm_in`` is already dL/dm_t (a projection's W_hr^T dh~_t).
    ``FOLD_DH`` (with ``H_SIDE``): dh_t is assembled here from step t+1's pieces instead of read, dh_t =
    (0 if reset[t+1] else drop_h * W_hh^T da_h) + the extra part (``dhp_in``, ``ex_in``, ``reset_nx``)."""
    b = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    cm = cols < H
    dc_s = tl.load(dc + b * s_dc + cols, mask=cm, other=0.0).to(tl.float32)        # dS_t (c)
    if HAS_LEN:
        live = t < tl.load(lengths + b)
        carry_c = tl.where(live, 0.0, dc_s)                          # dS_{t-1} += (1 - valid) dS_t
        dc_s = tl.where(live, dc_s, 0.0)
    dcp_z = tl.zeros_like(dc_s)
    if HAS_ZC:                                                       # dS~_t = (1 - d) dS'_t ; dP_t += d dS'_t
        zc = tl.load(zone_c + b * szc_b + cols * szc_h, mask=cm, other=0.0).to(tl.float32)
        dcp_z = dc_s * zc
        dc_s = dc_s * (1.0 - zc)
    if H_SIDE:
        if FOLD_DH:                                  # enter_backward of step t+1, then its frozen carry
            dh_s = tl.load(dhp_in + b * s_dh + cols, mask=cm, other=0.0).to(tl.float32)
            if HAS_DROP:
                dh_s *= tl.load(drop_h + b * s_dh + cols, mask=cm, other=0.0).to(tl.float32)
            if HAS_RESET:
                dh_s = tl.where(tl.load(reset_nx + b) == 0, dh_s, 0.0)
            dh_s += tl.load(ex_in + b * s_dh + cols, mask=cm, other=0.0).to(tl.float32)
        else:
            dh_s = tl.load(dh + b * s_dh + cols, mask=cm, other=0.0).to(tl.float32)
        dm = dh_s + tl.load(dy + b * s_dy + cols, mask=cm, other=0.0).to(tl.float32)   # dh'_t = dS_t + dy_t
        dhp_z = tl.zeros_like(dm)
        if HAS_LEN:
            carry_h = tl.where(live, 0.0, dh_s)
            dm = tl.where(live, dm, 0.0)
        if HAS_ZH:
            zh = tl.load(zone_h + b * szh_b + cols * szh_h, mask=cm, other=0.0).to(tl.float32)
            dhp_z = dm * zh
            dm = dm * (1.0 - zh)
    else:
        dm = tl.load(dm_in + b * s_c + cols, mask=cm, other=0.0).to(tl.float32)
    o = tl.load(gates + b * s_g + OFF_O + cols, mask=cm, other=0.0).to(tl.float32)
    f = tl.load(gates + b * s_g + OFF_F + cols, mask=cm, other=0.0).to(tl.float32)
    g = tl.load(gates + b * s_g + OFF_G + cols, mask=cm, other=0.0).to(tl.float32)
    if CIFG:
        i = 1.0 - f
    else:
        i = tl.load(gates + b * s_g + OFF_I + cols, mask=cm, other=0.0).to(tl.float32)
    tc = tl.load(tc_in + b * s_c + cols, mask=cm, other=0.0).to(tl.float32)
    c_p = tl.load(cp + b * s_c + cols, mask=cm, other=0.0).to(tl.float32)
    d_o = dm * tc                                                    # do_t = dh_t tanh(c_t)
    d_chat = dm * o * (1.0 - tc * tc)                                # dĉ_t = dh_t o_t (1 - tanh(ĉ_t)^2)
    if LN_C:
        tl.store(d_chat_out + b * s_c + cols, d_chat.to(d_chat_out.dtype.element_ty), mask=cm)
        nc = tl.load(n_c + b * s_c + cols, mask=cm, other=0.0).to(tl.float32)
        dn = d_chat * tl.load(ln_c_w + cols, mask=cm, other=0.0).to(tl.float32)
        # da = rstd (dn - mean(dn) - n mean(dn n))
        d_chat = tl.load(rstd_c + b).to(tl.float32) * (dn - _row_sum(dn, cm) / H - nc * _row_sum(dn * nc, cm) / H)
    dcc = dc_s + d_chat                                              # dc_t = dĉ_t + dc_{t+1} f_{t+1}
    d_pre_o = d_o * o * (1.0 - o)                                    # dpre_o = do_t o_t (1 - o_t)
    if PEEP:
        dcc += d_pre_o * tl.load(w_ch + PR_O * H + cols, mask=cm, other=0.0).to(tl.float32)
    d_i = dcc * g                                                    # di = dc g ; dg = dc i ; df = dc c_{t-1}
    d_g = dcc * i
    d_f = dcc * c_p
    dcp = dcc * f                                                    # dc_{t-1} = dc_t f_t (+ peepholes)
    if CIFG:
        d_pre_f = (d_f - d_i) * f * (1.0 - f)                        # i = 1 - f: df_total = df - di
    else:
        d_pre_i = d_i * i * (1.0 - i)
        d_pre_f = d_f * f * (1.0 - f)
    d_pre_g = d_g * (1.0 - g * g)                                    # dpre_g = dg (1 - g^2)
    if PEEP:
        dcp += d_pre_f * tl.load(w_ch + PR_F * H + cols, mask=cm, other=0.0).to(tl.float32)
        if not CIFG:
            dcp += d_pre_i * tl.load(w_ch + PR_I * H + cols, mask=cm, other=0.0).to(tl.float32)
    if not CIFG:
        tl.store(d_pre + b * s_g + OFF_I + cols, d_pre_i.to(d_pre.dtype.element_ty), mask=cm)
    tl.store(d_pre + b * s_g + OFF_F + cols, d_pre_f.to(d_pre.dtype.element_ty), mask=cm)
    tl.store(d_pre + b * s_g + OFF_G + cols, d_pre_g.to(d_pre.dtype.element_ty), mask=cm)
    tl.store(d_pre + b * s_g + OFF_O + cols, d_pre_o.to(d_pre.dtype.element_ty), mask=cm)
    if LN_H:
        # da_h = rstd (dn - mean(dn) - n mean(dn n)) over the G*H units, dn = d_pre * gain
        G = 3 if CIFG else 4
        dn_i = d_pre_i * tl.load(ln_hh + OFF_I + cols, mask=cm, other=0.0).to(tl.float32) if not CIFG else d_pre_f * 0.0
        dn_f = d_pre_f * tl.load(ln_hh + OFF_F + cols, mask=cm, other=0.0).to(tl.float32)
        dn_g = d_pre_g * tl.load(ln_hh + OFF_G + cols, mask=cm, other=0.0).to(tl.float32)
        dn_o = d_pre_o * tl.load(ln_hh + OFF_O + cols, mask=cm, other=0.0).to(tl.float32)
        nh_i = tl.load(n_h + b * s_g + OFF_I + cols, mask=cm, other=0.0).to(tl.float32) if not CIFG else dn_i
        nh_f = tl.load(n_h + b * s_g + OFF_F + cols, mask=cm, other=0.0).to(tl.float32)
        nh_g = tl.load(n_h + b * s_g + OFF_G + cols, mask=cm, other=0.0).to(tl.float32)
        nh_o = tl.load(n_h + b * s_g + OFF_O + cols, mask=cm, other=0.0).to(tl.float32)
        m1 = (_row_sum(dn_i, cm) + _row_sum(dn_f, cm) + _row_sum(dn_g, cm) + _row_sum(dn_o, cm)) / (G * H)
        m2 = (_row_sum(dn_i * nh_i, cm) + _row_sum(dn_f * nh_f, cm) + _row_sum(dn_g * nh_g, cm)
              + _row_sum(dn_o * nh_o, cm)) / (G * H)
        rs = tl.load(rstd_h + b).to(tl.float32)
        if not CIFG:
            tl.store(d_ah + b * s_g + OFF_I + cols, (rs * (dn_i - m1 - nh_i * m2)).to(d_ah.dtype.element_ty), mask=cm)
        tl.store(d_ah + b * s_g + OFF_F + cols, (rs * (dn_f - m1 - nh_f * m2)).to(d_ah.dtype.element_ty), mask=cm)
        tl.store(d_ah + b * s_g + OFF_G + cols, (rs * (dn_g - m1 - nh_g * m2)).to(d_ah.dtype.element_ty), mask=cm)
        tl.store(d_ah + b * s_g + OFF_O + cols, (rs * (dn_o - m1 - nh_o * m2)).to(d_ah.dtype.element_ty), mask=cm)
    # enter_backward: nothing crosses a reset; then the frozen branch's carry
    dcp += dcp_z
    if HAS_RESET:
        keep = tl.load(reset + b) == 0
        dcp = tl.where(keep, dcp, 0.0)
    if HAS_LEN:
        dcp += carry_c
    tl.store(dc_prev + b * s_dc + cols, dcp.to(dc_prev.dtype.element_ty), mask=cm)
    if H_SIDE:
        if HAS_RESET:
            dhp_z = tl.where(keep, dhp_z, 0.0)
        if HAS_LEN:
            dhp_z += carry_h
        tl.store(dh_extra + b * s_dh + cols, dhp_z.to(dh_extra.dtype.element_ty), mask=cm)
