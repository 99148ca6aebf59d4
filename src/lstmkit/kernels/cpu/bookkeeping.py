"""Compiled state bookkeeping every family shares, per step: the recurrent input (reset, recurrent
dropout), zoneout on h, and the h side of BPTT (:mod:`lstmkit.kernels.common` has the equations).

Rows are the batch in internal order (sorted by length), so the rows running at step t are [0, n).
"""

from __future__ import annotations

from .activations import as_type_of
from .jit import at, jit, jit_inline


@jit
def prepare_hd(n, h_prev, reset_t, drop_h, hd):
    """hd[:n] = h_{t-1} entering W_hh: zero after a reset, times the recurrent-dropout mask."""
    for b in range(n):
        if reset_t is not None and reset_t[b]:
            hd[b, :] = 0.0
        elif drop_h is not None:
            hd[b, :] = h_prev[b, :] * drop_h[b, :]
        else:
            hd[b, :] = h_prev[b, :]


@jit
def blend_h_rows(n, h_cand, h_prev, reset_t, zone_h, h_out):
    """h_t = d h_{t-1} + (1 - d) h~_t (zoneout; h_{t-1} zero after a reset), rows [0, n)."""
    for b in range(n):
        keep = not (reset_t is not None and reset_t[b])
        for j in range(h_out.shape[1]):
            hp = h_prev[b, j] if keep else 0.0
            d = zone_h[b, j]
            # float64 blend on purpose: a kept unit (d = 1) must equal h_{t-1} bit for bit, which float32
            # under fastmath does not guarantee (the blend may be reassociated into h~ + d (h - h~))
            h_out[b, j] = d * hp + (1.0 - d) * h_cand[b, j]


@jit
def bwd_h_rows(n, n_next, dh_acc, dy_t, dh_rec, drop_h, reset_t, reset_next, zone_h, dh_cand):
    """The h side of one backward step, rows [0, n).

    dh_t = dh_acc + dy_t + (W_hh^T da_{t+1} masked by dropout and reset_{t+1}: dh_rec, rows [0, n_next)).
    Zoneout splits it: dh_cand = (1 - d) dh_t goes into the cell; d dh_t flows to h_{t-1} (kept in
    dh_acc, zero across a reset at t).
    """
    P = dh_acc.shape[1]
    for b in range(n):
        rec = b < n_next and not (reset_next is not None and reset_next[b])
        rs = reset_t is not None and reset_t[b]
        for j in range(P):
            dh = dh_acc[b, j] + dy_t[b, j]
            if rec:
                dh += dh_rec[b, j] if drop_h is None else dh_rec[b, j] * drop_h[b, j]
            if zone_h is None:
                dh_cand[b, j] = dh
                dh_acc[b, j] = 0.0
            else:
                d = zone_h[b, j]
                dh_cand[b, j] = (as_type_of(1.0, d) - d) * dh
                dh_acc[b, j] = as_type_of(0.0, d) if rs else d * dh


@jit
def finish_dh(n, dh_acc, dh_rec, drop_h, reset_0):
    """dh_0: add the recurrent-GEMM gradient of step 0 (masked by dropout, stopped by a reset at 0)."""
    for b in range(n):
        if reset_0 is not None and reset_0[b]:
            continue
        for j in range(dh_acc.shape[1]):
            dh_acc[b, j] += dh_rec[b, j] if drop_h is None else dh_rec[b, j] * drop_h[b, j]


@jit_inline
def h_entering(t, h0, y, reset, drop_h, hd, n):
    """h_{t-1} entering W_hh (reset, dropout applied) and the carried h_{t-1}."""
    h_prev = h0 if t == 0 else y[t - 1]
    if reset is None and drop_h is None:
        return h_prev, h_prev
    prepare_hd(n, h_prev, at(reset, t), drop_h, hd)
    return hd, h_prev


@jit_inline
def bwd_h_step(t, n_t, dh_acc, dy, dh_rec, drop_h, reset, zone_h, dh_c):
    """The h side of backward step t (:func:`bwd_h_rows`) with its step's masks."""
    T = n_t.shape[0]
    bwd_h_rows(n_t[t], n_t[t + 1] if t + 1 < T else 0, dh_acc, dy[t], dh_rec, drop_h,
               at(reset, t), at(reset, min(t + 1, T - 1)),   # (no step after the last: n_next = 0)
               at(zone_h, t), dh_c)
