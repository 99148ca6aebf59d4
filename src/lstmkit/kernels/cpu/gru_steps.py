"""GRU pointwise work of one time step, compiled (both forms). Equations: :class:`lstmkit.cells.gru.GRUCell`.

Rows [0, n) run at this step (internal order). Gate rows r|z|n. ``h_prev`` is h_{t-1} (zero where
``reset_t``), the carried state the update gate blends with; ``hd`` is h_{t-1} as it entered W_hh
(after reset and recurrent dropout).
"""

from __future__ import annotations

from .activations import as_type_of, sigmoid, tanh
from .jit import jit


@jit
def gru_fwd_rows(n, gates, a_h, h_prev, reset_t, ah_n, h_cand):
    """Reset after (torch.nn.GRU). gates (B, 3H): in W_ih x_t + b_ih, out r|z|n. a_h (B, 3H): W_hh h + b_hh.
    ah_n (B, H): out, W_hn h + b_hn (kept for the backward). h_cand (B, H): out, h~_t."""
    H = h_cand.shape[1]
    one, zero = as_type_of(1.0, h_cand[0, 0]), as_type_of(0.0, h_cand[0, 0])
    for b in range(n):
        keep = not (reset_t is not None and reset_t[b])
        for j in range(H):
            r = sigmoid(gates[b, j] + a_h[b, j])                         # r_t
            z = sigmoid(gates[b, H + j] + a_h[b, H + j])                 # z_t
            a = a_h[b, 2 * H + j]
            nn = tanh(gates[b, 2 * H + j] + r * a)                       # n_t = tanh(a_n + r (W_hn h + b_hn))
            gates[b, j] = r
            gates[b, H + j] = z
            gates[b, 2 * H + j] = nn
            ah_n[b, j] = a
            hp = h_prev[b, j] if keep else zero
            h_cand[b, j] = (one - z) * nn + z * hp                       # h_t = (1 - z) n + z h_{t-1}


@jit
def gru_rb_gates_rows(n, gates, a_rz, hd, rh):
    """Reset before, first half: r, z from gates[:, :2H] + a_rz (W_h[rz] h + b_h[rz]); rh = r * hd."""
    H = rh.shape[1]
    for b in range(n):
        for j in range(H):
            r = sigmoid(gates[b, j] + a_rz[b, j])
            gates[b, j] = r
            gates[b, H + j] = sigmoid(gates[b, H + j] + a_rz[b, H + j])
            rh[b, j] = r * hd[b, j]                                      # r_t h_{t-1}, the input of W_hn


@jit
def gru_rb_out_rows(n, gates, a_n, h_prev, reset_t, h_cand):
    """Reset before, second half: n = tanh(a_x_n + W_hn (r h) + b_hn); h~ = (1 - z) n + z h_{t-1}."""
    H = h_cand.shape[1]
    one, zero = as_type_of(1.0, h_cand[0, 0]), as_type_of(0.0, h_cand[0, 0])
    for b in range(n):
        keep = not (reset_t is not None and reset_t[b])
        for j in range(H):
            nn = tanh(gates[b, 2 * H + j] + a_n[b, j])
            gates[b, 2 * H + j] = nn
            z = gates[b, H + j]
            hp = h_prev[b, j] if keep else zero
            h_cand[b, j] = (one - z) * nn + z * hp


@jit
def gru_bwd_rows(n, gates, ah_n, h_prev, reset_t, dh_cand, dh_acc, d_ax, d_ah):
    """Reset after backward. d_ax, d_ah (B, 3H): out, dL/d(W_ih x + b_ih) and dL/d(W_hh h + b_hh).
    dh_acc: += z dh (the direct path to h_{t-1}, unless reset)."""
    H = dh_cand.shape[1]
    one, zero = as_type_of(1.0, dh_cand[0, 0]), as_type_of(0.0, dh_cand[0, 0])
    for b in range(n):
        keep = not (reset_t is not None and reset_t[b])
        for j in range(H):
            r, z, nn = gates[b, j], gates[b, H + j], gates[b, 2 * H + j]
            hp = h_prev[b, j] if keep else zero
            dh = dh_cand[b, j]
            dn = dh * (one - z)                                          # dn = dh (1 - z)
            dz = dh * (hp - nn)                                          # dz = dh (h_{t-1} - n)
            dpn = dn * (one - nn * nn)                                   # dpre_n = dn (1 - n^2)
            dpr = dpn * ah_n[b, j] * r * (one - r)                       # dr = dpre_n (W_hn h + b_hn)
            dpz = dz * z * (one - z)
            d_ax[b, j] = dpr
            d_ax[b, H + j] = dpz
            d_ax[b, 2 * H + j] = dpn
            d_ah[b, j] = dpr
            d_ah[b, H + j] = dpz
            d_ah[b, 2 * H + j] = dpn * r
            if keep:
                dh_acc[b, j] += dh * z


@jit
def gru_rb_bwd1_rows(n, gates, h_prev, reset_t, dh_cand, dh_acc, d_ax, d_ah):
    """Reset before backward, first half: dpre_n and dpre_z; dh_acc += z dh."""
    H = dh_cand.shape[1]
    one, zero = as_type_of(1.0, dh_cand[0, 0]), as_type_of(0.0, dh_cand[0, 0])
    for b in range(n):
        keep = not (reset_t is not None and reset_t[b])
        for j in range(H):
            z, nn = gates[b, H + j], gates[b, 2 * H + j]
            hp = h_prev[b, j] if keep else zero
            dh = dh_cand[b, j]
            dpn = dh * (one - z) * (one - nn * nn)
            dpz = dh * (hp - nn) * z * (one - z)
            d_ax[b, 2 * H + j] = dpn
            d_ah[b, 2 * H + j] = dpn
            d_ax[b, H + j] = dpz
            d_ah[b, H + j] = dpz
            if keep:
                dh_acc[b, j] += dh * z


@jit
def gru_rb_bwd2_rows(n, gates, hd, d_rh, d_ax, d_ah, dhd_n):
    """Reset before backward, second half, from d(r h) = W_hn^T dpre_n: dpre_r and d(hd) through r h."""
    H = hd.shape[1]
    one = as_type_of(1.0, hd[0, 0])
    for b in range(n):
        for j in range(H):
            r = gates[b, j]
            dpr = d_rh[b, j] * hd[b, j] * r * (one - r)                  # dr = d(rh) h
            d_ax[b, j] = dpr
            d_ah[b, j] = dpr
            dhd_n[b, j] = d_rh[b, j] * r
