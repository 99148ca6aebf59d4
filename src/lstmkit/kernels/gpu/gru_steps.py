"""The GRU's fused Triton step kernels.

Equations: :class:`lstmkit.cells.gru.GRUCell`; state bookkeeping: :mod:`lstmkit.kernels.common` (here in
:mod:`.h_steps`). The readable torch-ops version is :mod:`lstmkit.kernels.reference.gru`; these compute the
same numbers, line for line.

Reset after (torch.nn's form) needs one pointwise pass per step: :func:`gru_forward_step` after
a_h = W_hh h_{t-1} + b_hh, and :func:`gru_backward_step` before dh_{t-1} = W_hh^T da_h. Reset before
(Cho et al.) has a GEMM inside the gate math (W_hn (r_t h_{t-1})), so it runs :func:`gru_reset_step`
(r_t and r_t h_{t-1}) between the W_h[rz] and W_hn GEMMs, then :func:`gru_forward_step`; its backward
:func:`gru_backward_step` (z, n), the GEMM d(r h) = W_hn^T dpre_n, :func:`gru_reset_backward` (r), and the
W_h[rz] GEMM.

Each program owns one batch row (``pid0``) and a block of ``BLOCK`` hidden units (``pid1``). All (B, H)
buffers are contiguous (row stride H); the gate buffers (B, 3H) have row stride 3H; the recurrent
pre-activations' row strides are passed. Loads are upcast to float32, stores cast to the buffer's dtype.
"""

from __future__ import annotations

import triton
import triton.language as tl

from .h_steps import dh_cand, leave_h, load_f32, store_extra
from .jit_math import sigmoid, tanh


@triton.jit
def gru_reset_step(ax, a_rz, hd, r_out, rh_out, H, s_rz, SAVE: tl.constexpr, BLOCK: tl.constexpr):
    """Reset before: r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr) and the W_hn GEMM's input
    r_t h_{t-1} (h_{t-1} as it enters W_hh, with recurrent dropout)."""
    b = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    cm = cols < H
    r = sigmoid(load_f32(ax + b * 3 * H + cols, cm) + load_f32(a_rz + b * s_rz + cols, cm))    # r_t
    rh = r * load_f32(hd + b * H + cols, cm)
    tl.store(rh_out + b * H + cols, rh.to(rh_out.dtype.element_ty), mask=cm)
    if SAVE:
        tl.store(r_out + b * H + cols, r.to(r_out.dtype.element_ty), mask=cm)


@triton.jit
def gru_forward_step(
        ax, a_rz, a_n, hp, h_prev, zone_h, lengths, reset_nx, drop_h,
        r_out, z_out, n_out, ahn_out, h_out, y_out, hp_nx, hd_nx,
        t, H, s_rz, s_n, szh_b, szh_h,
        BEFORE: tl.constexpr, SAVE: tl.constexpr, HAS_ZH: tl.constexpr, HAS_LEN: tl.constexpr,
        ENTER_NEXT: tl.constexpr, HAS_RESET: tl.constexpr, HAS_DROP: tl.constexpr, BLOCK: tl.constexpr):
    """One step: gates, h_t, zoneout, lengths, y_t (and P_{t+1}, the next GEMM's input with ``ENTER_NEXT``).

    ``ax``: W_ih x_t + b_ih (B, 3H). ``a_rz``: W_h[rz] h_{t-1} + b_h[rz] (its r and z columns). ``a_n``:
    W_hn h_{t-1} + b_hn (reset after), or W_hn (r_t h_{t-1}) + b_hn (``BEFORE``: r_t is done already).
    """
    b = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    cm = cols < H
    z = sigmoid(load_f32(ax + b * 3 * H + H + cols, cm) + load_f32(a_rz + b * s_rz + H + cols, cm))  # z_t
    ah_n = load_f32(a_n + b * s_n + cols, cm)
    ax_n = load_f32(ax + b * 3 * H + 2 * H + cols, cm)
    if BEFORE:
        n = tanh(ax_n + ah_n)                                        # n_t = tanh(W_in x + b_in + W_hn (r h) + b_hn)
    else:
        r = sigmoid(load_f32(ax + b * 3 * H + cols, cm) + load_f32(a_rz + b * s_rz + cols, cm))      # r_t
        n = tanh(ax_n + r * ah_n)                                    # n_t = tanh(W_in x + b_in + r (W_hn h + b_hn))
        if SAVE:
            tl.store(r_out + b * H + cols, r.to(r_out.dtype.element_ty), mask=cm)
            tl.store(ahn_out + b * H + cols, ah_n.to(ahn_out.dtype.element_ty), mask=cm)
    p = load_f32(hp + b * H + cols, cm)
    h_new = (1.0 - z) * n + z * p                                    # h_t = (1 - z_t) n_t + z_t h_{t-1}
    if SAVE:
        tl.store(z_out + b * H + cols, z.to(z_out.dtype.element_ty), mask=cm)
        tl.store(n_out + b * H + cols, n.to(n_out.dtype.element_ty), mask=cm)
    leave_h(h_new, t, b, cols, cm, hp, h_prev, zone_h, lengths, reset_nx, drop_h, h_out, y_out, hp_nx, hd_nx,
            H, H, szh_b, szh_h, HAS_ZH, HAS_LEN, ENTER_NEXT, HAS_RESET, HAS_DROP)


@triton.jit
def gru_backward_step(
        dh, dhp_in, ex_in, reset_nx, drop_h, dy, zone_h, lengths, reset, hp, r_in, z_in, n_in, ahn_in,
        d_ax, d_ah, dh_extra,
        t, H, szh_b, szh_h,
        BEFORE: tl.constexpr, FOLD_DH: tl.constexpr, HAS_DROP: tl.constexpr, HAS_RESET: tl.constexpr,
        HAS_LEN: tl.constexpr, HAS_ZH: tl.constexpr, BLOCK: tl.constexpr):
    """One step of BPTT: dL/d(gate pre-activations) (``d_ax``: of W_ih x_t + b_ih, ``d_ah``: of the W_hh
    side; reset after: both r|z|n, ``BEFORE``: z|n only, the same tensor, r comes in
    :func:`gru_reset_backward`) and the part of dh_{t-1} that does not pass through W_hh (``dh_extra``)."""
    b = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    cm = cols < H
    dh_c, dhp_z, carry = dh_cand(t, b, cols, cm, dh, dhp_in, ex_in, reset_nx, drop_h, dy, zone_h, lengths, H,
                                 szh_b, szh_h, FOLD_DH, HAS_DROP, HAS_RESET, HAS_LEN, HAS_ZH)
    p = load_f32(hp + b * H + cols, cm)
    z = load_f32(z_in + b * H + cols, cm)
    n = load_f32(n_in + b * H + cols, cm)
    d_n = dh_c * (1.0 - z)                                           # dn = dh (1 - z)
    d_z = dh_c * (p - n)                                             # dz = dh (h_{t-1} - n)
    direct = dh_c * z                                                # dh_{t-1} = dh z  (+ through W_hh)
    d_pre_n = d_n * (1.0 - n * n)                                    # dpre_n = dn (1 - n^2)
    d_pre_z = d_z * z * (1.0 - z)                                    # dpre_z = dz z (1 - z)
    row = b * 3 * H + cols
    tl.store(d_ax + row + H, d_pre_z.to(d_ax.dtype.element_ty), mask=cm)
    tl.store(d_ax + row + 2 * H, d_pre_n.to(d_ax.dtype.element_ty), mask=cm)
    if not BEFORE:
        r = load_f32(r_in + b * H + cols, cm)
        d_r = d_pre_n * load_f32(ahn_in + b * H + cols, cm)          # dr = dpre_n (W_hn h + b_hn)
        d_pre_r = d_r * r * (1.0 - r)                                # dpre_r = dr r (1 - r)
        tl.store(d_ax + row, d_pre_r.to(d_ax.dtype.element_ty), mask=cm)
        tl.store(d_ah + row, d_pre_r.to(d_ah.dtype.element_ty), mask=cm)
        tl.store(d_ah + row + H, d_pre_z.to(d_ah.dtype.element_ty), mask=cm)
        tl.store(d_ah + row + 2 * H, (d_pre_n * r).to(d_ah.dtype.element_ty), mask=cm)   # d(W_hn h) = dpre_n r
    store_extra(dhp_z, b, cols, cm, direct, carry, reset, dh_extra, H, HAS_RESET, HAS_LEN)


@triton.jit
def gru_reset_backward(d_rh, hp, drop_h, r_in, ex, d_pre, dhd_out, H,
                       HAS_DROP: tl.constexpr, ADD_EX: tl.constexpr, BLOCK: tl.constexpr):
    """Reset before, from d(r h) = W_hn^T dpre_n: dpre_r (into ``d_pre``'s r columns) and the part of
    d(h_{t-1} as it enters W_hh) that does not pass through W_h[rz], dhd = d(r h) r (``ADD_EX``: plus the
    extra part of dh_{t-1}, when nothing masks the W_hh side)."""
    b = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    cm = cols < H
    drh = load_f32(d_rh + b * H + cols, cm)
    r = load_f32(r_in + b * H + cols, cm)
    hd = load_f32(hp + b * H + cols, cm)
    if HAS_DROP:
        hd *= load_f32(drop_h + b * H + cols, cm)
    d_r = drh * hd                                                   # dr = d(r h) h_{t-1}
    tl.store(d_pre + b * 3 * H + cols, (d_r * r * (1.0 - r)).to(d_pre.dtype.element_ty), mask=cm)
    dhd = drh * r                                                    # d h_{t-1} = d(r h) r  (+ W_h[rz]^T dpre_[rz])
    if ADD_EX:
        dhd += load_f32(ex + b * H + cols, cm)
    tl.store(dhd_out + b * H + cols, dhd.to(dhd_out.dtype.element_ty), mask=cm)
