"""GRU pointwise work of one time step, compiled (both forms). Equations: :class:`lstmkit.cells.gru.GRUCell`.

Rows [0, n) run at this step (internal order). Gate rows r|z|n. ``h_prev`` is h_{t-1} (zero where
``reset_t``), the carried state the update gate blends with; ``hd`` is h_{t-1} as it entered W_hh
(after reset and recurrent dropout).
"""

from __future__ import annotations

from ..activations import as_type_of, sigmoid, tanh
from ..jit import jit, jit_inline


@jit_inline
def _blend(pz, pn, hp, hc):
    """h~ = (1 - z) n + z h_{t-1}; ``hp`` None: h_{t-1} = 0 (a reset row)."""
    one = as_type_of(1.0, pz[0])
    for j in range(pz.shape[0]):
        z = pz[j]
        hc[j] = (one - z) * pn[j] if hp is None else (one - z) * pn[j] + z * hp[j]


# These kernels keep their loops vectorisable (AVX-512 here; measured 0.5-2 ns a unit against 8-13 scalar):
# one 1-D view per gate instead of offsets into one row, no array chosen by a conditional expression (pass
# it per branch) and no array allocated inside the kernel -- each of the three made LLVM give up its alias
# proofs and leave the whole step scalar.

@jit
def gru_fwd_rows(n, gates, a_h, h_prev, reset_t, ah_n, h_cand):
    """Reset after (torch.nn.GRU). gates (B, 3H): in W_ih x_t + b_ih, out r|z|n. a_h (B, 3H): W_hh h + b_hh.
    ah_n (B, H): out, W_hn h + b_hn (kept for the backward). h_cand (B, H): out, h~_t."""
    H = h_cand.shape[1]
    for b in range(n):
        g, a = gates[b], a_h[b]
        pr, pz, pn, ar, az, an = g[:H], g[H:2 * H], g[2 * H:], a[:H], a[H:2 * H], a[2 * H:]
        keep_n = ah_n[b]
        for j in range(H):
            pr[j] = sigmoid(pr[j] + ar[j])                               # r_t
            pz[j] = sigmoid(pz[j] + az[j])                               # z_t
        keep_n[:] = an                                                   # W_hn h + b_hn
        for j in range(H):
            pn[j] = tanh(pn[j] + pr[j] * keep_n[j])                      # n_t = tanh(a_n + r (W_hn h + b_hn))
        if reset_t is not None and reset_t[b]:
            _blend(pz, pn, None, h_cand[b])
        else:
            _blend(pz, pn, h_prev[b], h_cand[b])


@jit
def gru_rb_gates_rows(n, gates, a_rz, hd, rh):
    """Reset before, first half: r, z from gates[:, :2H] + a_rz (W_h[rz] h + b_h[rz]); rh = r * hd."""
    H = rh.shape[1]
    for b in range(n):
        g, a, h, out = gates[b], a_rz[b], hd[b], rh[b]
        pr, pz, ar, az = g[:H], g[H:2 * H], a[:H], a[H:2 * H]
        for j in range(H):
            r = sigmoid(pr[j] + ar[j])
            pr[j] = r
            pz[j] = sigmoid(pz[j] + az[j])
            out[j] = r * h[j]                                            # r_t h_{t-1}, the input of W_hn


@jit
def gru_rb_out_rows(n, gates, a_n, h_prev, reset_t, h_cand):
    """Reset before, second half: n = tanh(a_x_n + W_hn (r h) + b_hn); h~ = (1 - z) n + z h_{t-1}."""
    H = h_cand.shape[1]
    for b in range(n):
        g, a = gates[b], a_n[b]
        pz, pn = g[H:2 * H], g[2 * H:]
        for j in range(H):
            pn[j] = tanh(pn[j] + a[j])
        if reset_t is not None and reset_t[b]:
            _blend(pz, pn, None, h_cand[b])
        else:
            _blend(pz, pn, h_prev[b], h_cand[b])


@jit_inline
def _bwd_zn(pz, pn, hp, dhc, dpz, dpn):
    """dpre_z and dpre_n of h~ = (1 - z) n + z h_{t-1} (``hp`` None: a reset row, h_{t-1} = 0)."""
    one = as_type_of(1.0, pz[0])
    for j in range(pz.shape[0]):
        z, nn, dh = pz[j], pn[j], dhc[j]
        dz = dh * (-nn if hp is None else hp[j] - nn)                    # dz = dh (h_{t-1} - n)
        dpn[j] = dh * (one - z) * (one - nn * nn)                        # dpre_n = dh (1 - z) (1 - n^2)
        dpz[j] = dz * z * (one - z)


@jit_inline
def _acc_z(acc, dhc, pz):
    for j in range(acc.shape[0]):
        acc[j] += dhc[j] * pz[j]                                         # dh_{t-1} += z dh


@jit
def gru_bwd_rows(n, gates, ah_n, h_prev, reset_t, dh_cand, dh_acc, d_ax, d_ah):
    """Reset after backward. d_ax, d_ah (B, 3H): out, dL/d(W_ih x + b_ih) and dL/d(W_hh h + b_hh).
    dh_acc: += z dh (the direct path to h_{t-1}, unless reset)."""
    H = dh_cand.shape[1]
    one = as_type_of(1.0, dh_cand[0, 0])
    for b in range(n):
        g, dx, dr = gates[b], d_ax[b], d_ah[b]
        pr, pz, pn = g[:H], g[H:2 * H], g[2 * H:]
        xr, xz, xn, hr, hz, hn = dx[:H], dx[H:2 * H], dx[2 * H:], dr[:H], dr[H:2 * H], dr[2 * H:]
        reset = reset_t is not None and reset_t[b]
        if reset:
            _bwd_zn(pz, pn, None, dh_cand[b], xz, xn)
        else:
            _bwd_zn(pz, pn, h_prev[b], dh_cand[b], xz, xn)
            _acc_z(dh_acc[b], dh_cand[b], pz)
        an = ah_n[b]
        for j in range(H):
            r = pr[j]
            xr[j] = xn[j] * an[j] * r * (one - r)                        # dr = dpre_n (W_hn h + b_hn)
        hr[:] = xr
        hz[:] = xz
        for j in range(H):
            hn[j] = xn[j] * pr[j]                                        # W_hn h sits inside r *


@jit
def gru_rb_bwd1_rows(n, gates, h_prev, reset_t, dh_cand, dh_acc, d_ax, d_ah):
    """Reset before backward, first half: dpre_n and dpre_z; dh_acc += z dh."""
    H = dh_cand.shape[1]
    for b in range(n):
        g, dx, dr = gates[b], d_ax[b], d_ah[b]
        pz, pn, xz, xn = g[H:2 * H], g[2 * H:], dx[H:2 * H], dx[2 * H:]
        if reset_t is not None and reset_t[b]:
            _bwd_zn(pz, pn, None, dh_cand[b], xz, xn)
        else:
            _bwd_zn(pz, pn, h_prev[b], dh_cand[b], xz, xn)
            _acc_z(dh_acc[b], dh_cand[b], pz)
        dr[H:] = dx[H:]


@jit
def gru_rb_bwd2_rows(n, gates, hd, d_rh, d_ax, d_ah, dhd_n):
    """Reset before backward, second half, from d(r h) = W_hn^T dpre_n: dpre_r and d(hd) through r h."""
    H = hd.shape[1]
    one = as_type_of(1.0, hd[0, 0])
    for b in range(n):
        pr, xr, hr, h, drh, out = gates[b, :H], d_ax[b, :H], d_ah[b, :H], hd[b], d_rh[b], dhd_n[b]
        for j in range(H):
            r = pr[j]
            dpr = drh[j] * h[j] * r * (one - r)                          # dr = d(rh) h
            xr[j] = dpr
            hr[j] = dpr
            out[j] = drh[j] * r
