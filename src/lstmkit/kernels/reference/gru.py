"""Reference GRU kernel (both forms): whole-sequence forward and hand-written BPTT in torch ops.

Equations: :class:`lstmkit.cells.gru.GRUCell`; state bookkeeping: :mod:`lstmkit.kernels.common`.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import Tensor

from ...cells.gru import GRUSpec, GRUWeights
from ..common import SeqMasks, add_opt, enter, enter_backward, leave, leave_backward, valid_mask
from ._shared import at, drop_input, gemm_grad, input_grads, project_all, recurrent_input, zones_at


class GRUSaved(NamedTuple):
    xd: Tensor                 # (T, B, I) input after padding zeroed and input dropout
    hp: Tensor                 # (T, B, H) h entering each step
    r: Tensor                  # (T, B, H) reset gate
    z: Tensor                  # (T, B, H) update gate
    n: Tensor                  # (T, B, H) candidate
    ah_n: Optional[Tensor] = None   # (T, B, H) W_hn h_{t-1} + b_hn (reset after)


def saved_shapes(spec: GRUSpec, T: int, B: int, I: int, m: SeqMasks) -> dict:
    """Shapes of the tensors :func:`gru_forward` saves, in field order (for fake tensors)."""
    H = spec.hidden_size
    out = dict(xd=(T, B, I), hp=(T, B, H), r=(T, B, H), z=(T, B, H), n=(T, B, H))
    if not spec.reset_before:
        out["ah_n"] = (T, B, H)
    return out


def gates_of(spec: GRUSpec, saved: GRUSaved) -> dict:
    """r, z, n for every step (processing order)."""
    return {"r": saved.r, "z": saved.z, "n": saved.n}


def gru_forward(spec: GRUSpec, w: GRUWeights, x: Tensor, state0: tuple[Tensor], m: SeqMasks, save: bool = True):
    """x: (T, B, I); state0: (h0 (B, H),). Returns (y (T, B, H), (h_T,), saved or None)."""
    T, B, _ = x.shape
    H = spec.hidden_size
    valid = valid_mask(m.lengths, T)
    xd = drop_input(x, m, valid)
    a_x = project_all(xd, w.w_ih)                                     # (T, B, 3H)
    if w.b_ih is not None:
        a_x = a_x + w.b_ih
    w_rz, w_n = w.w_hh[: 2 * H], w.w_hh[2 * H:]
    rec = {k: [] for k in ("hp", "r", "z", "n", "ah_n")}
    ys, state = [], tuple(state0)
    for t in range(T):
        (hp,) = enter(state, at(m.reset, t))
        hd = recurrent_input(hp, m)
        ax_r, ax_z, ax_n = a_x[t].split(H, dim=1)
        if spec.reset_before:
            a_rz = hd @ w_rz.t()                                      # (B, 2H)
            if w.b_hh is not None:
                a_rz = a_rz + w.b_hh[: 2 * H]
            r = torch.sigmoid(ax_r + a_rz[:, :H])                     # r_t
            z = torch.sigmoid(ax_z + a_rz[:, H:])                     # z_t
            a_n = (r * hd) @ w_n.t()                                  # W_hn (r_t h_{t-1})
            if w.b_hh is not None:
                a_n = a_n + w.b_hh[2 * H:]
            n = torch.tanh(ax_n + a_n)                                # n_t
            ah_n = None
        else:
            a_h = hd @ w.w_hh.t()                                     # (B, 3H)
            if w.b_hh is not None:
                a_h = a_h + w.b_hh
            r = torch.sigmoid(ax_r + a_h[:, :H])
            z = torch.sigmoid(ax_z + a_h[:, H:2 * H])
            ah_n = a_h[:, 2 * H:]
            n = torch.tanh(ax_n + r * ah_n)                           # n_t = tanh(a_n + r_t (W_hn h + b_hn))
        h_new = (1.0 - z) * n + z * hp                                # h_t = (1 - z_t) n_t + z_t h_{t-1}
        state, y = leave(state, (hp,), (h_new,), zones_at(m.zones(1), t), at(valid, t))
        ys.append(y)
        if save:
            for k, v in (("hp", hp), ("r", r), ("z", z), ("n", n), ("ah_n", ah_n)):
                if v is not None:
                    rec[k].append(v)
    y = torch.stack(ys)
    if not save:
        return y, state, None
    st = {k: (torch.stack(v) if v else None) for k, v in rec.items()}
    return y, state, GRUSaved(xd=xd, **st)


def gru_backward(spec: GRUSpec, w: GRUWeights, x: Tensor, state0, m: SeqMasks, saved: GRUSaved,
                 dy: Tensor, d_stateT: tuple[Tensor]):
    """dy: (T, B, H); d_stateT: (dh_T,). Returns (dx, (dh0,), dw :class:`GRUWeights`)."""
    T, B, _ = x.shape
    H = spec.hidden_size
    valid = valid_mask(m.lengths, T)
    sv = saved
    w_rz, w_n = w.w_hh[: 2 * H], w.w_hh[2 * H:]
    d_axs, d_ahs = [], []                       # dL/d(W_ih x_t + b_ih), dL/d(W_hh-side pre-activations)
    (dh,) = d_stateT
    for t in reversed(range(T)):
        (dh_c,), (dhp_z,), carry = leave_backward((dh,), dy[t], zones_at(m.zones(1), t), at(valid, t))
        hp, r, z, n = sv.hp[t], sv.r[t], sv.z[t], sv.n[t]
        hd = recurrent_input(hp, m)
        d_n = dh_c * (1.0 - z)                                        # dn = dh (1 - z)
        d_z = dh_c * (hp - n)                                         # dz = dh (h_{t-1} - n)
        dhp = dh_c * z                                                # dh_{t-1} = dh z  (+ through W_hh)
        d_pre_n = d_n * (1.0 - n * n)                                 # dpre_n = dn (1 - n^2)
        if spec.reset_before:
            d_rh = d_pre_n @ w_n                                      # d(r h) = W_hn^T dpre_n
            d_r = d_rh * hd
            dhd = d_rh * r
            d_ah_n = d_pre_n
        else:
            d_r = d_pre_n * sv.ah_n[t]                                # dr = dpre_n (W_hn h + b_hn)
            d_ah_n = d_pre_n * r
            dhd = None
        d_pre_r = d_r * r * (1.0 - r)                                 # dpre_r = dr r (1 - r)
        d_pre_z = d_z * z * (1.0 - z)                                 # dpre_z = dz z (1 - z)
        d_axs.append(torch.cat([d_pre_r, d_pre_z, d_pre_n], 1))
        d_ah = torch.cat([d_pre_r, d_pre_z, d_ah_n], 1)
        d_ahs.append(d_ah)
        if spec.reset_before:
            dhd = dhd + d_ah[:, : 2 * H] @ w_rz                       # + W_h[rz]^T dpre_[rz]
        else:
            dhd = d_ah @ w.w_hh                                       # W_hh^T da_h
        if m.drop_h is not None:
            dhd = dhd * m.drop_h
        (dh,) = enter_backward((add_opt(dhp + dhd, dhp_z),), at(m.reset, t))
        if carry is not None:
            dh = dh + carry[0]
    d_ax_all = torch.stack(d_axs[::-1])                              # (T, B, 3H)
    d_ah_all = torch.stack(d_ahs[::-1])                              # (T, B, 3H)
    dx, dw = _weight_grads(spec, w, sv, m, d_ax_all, d_ah_all)
    return dx, (dh,), dw


def _weight_grads(spec: GRUSpec, w: GRUWeights, sv: GRUSaved, m: SeqMasks, d_ax_all: Tensor, d_ah_all: Tensor):
    """(dx, dw) from every step's dL/d(W_ih x_t + b_ih) and dL/d(W_hh side) (T, B, 3H): GEMMs over all
    steps (shared with the Triton kernel)."""
    H = spec.hidden_size
    dw_ih, dx = input_grads(d_ax_all, sv.xd, w.w_ih, m)
    hd_all = recurrent_input(sv.hp, m)
    if spec.reset_before:
        dw_hh = torch.cat([gemm_grad(d_ah_all[..., : 2 * H], hd_all),
                           gemm_grad(d_ah_all[..., 2 * H:], sv.r * hd_all)], 0)  # W_hn sees r_t h_{t-1}
    else:
        dw_hh = gemm_grad(d_ah_all, hd_all)
    db_ih = d_ax_all.sum((0, 1)) if w.b_ih is not None else None
    db_hh = d_ah_all.sum((0, 1)) if w.b_hh is not None else None
    return dx, GRUWeights(w_ih=dw_ih, w_hh=dw_hh, b_ih=db_ih, b_hh=db_hh)


def gru_jvp(spec: GRUSpec, w: GRUWeights, x: Tensor, state0, m: SeqMasks, dw: GRUWeights, dx: Tensor,
            d_state0: tuple[Tensor]):
    """Forward-mode derivative: (y, (h_T,), dy, (dh_T,)) for tangents dw, dx (T, B, I), d_state0 ((B, H),).
    See :func:`lstmkit.kernels.reference.lstm.lstm_jvp`."""
    y, stateT, sv = gru_forward(spec, w, x, state0, m, save=True)
    T = x.shape[0]
    H = spec.hidden_size
    valid = valid_mask(m.lengths, T)
    da_x = project_all(drop_input(dx, m, valid), w.w_ih) + project_all(sv.xd, dw.w_ih)     # (T, B, 3H)
    if w.b_ih is not None:
        da_x = da_x + dw.b_ih
    tan, dys = tuple(d_state0), []
    for t in range(T):
        (dhp,) = enter(tan, at(m.reset, t))
        hp, r, z, n = sv.hp[t], sv.r[t], sv.z[t], sv.n[t]
        hd, dhd = recurrent_input(hp, m), recurrent_input(dhp, m)
        dax_r, dax_z, dax_n = da_x[t].split(H, dim=1)
        if spec.reset_before:
            da_h = dhd @ w.w_hh[: 2 * H].t() + hd @ dw.w_hh[: 2 * H].t()     # (B, 2H)
            if w.b_hh is not None:
                da_h = da_h + dw.b_hh[: 2 * H]
            d_r = (dax_r + da_h[:, :H]) * r * (1.0 - r)
            d_z = (dax_z + da_h[:, H:]) * z * (1.0 - z)
            d_rh = d_r * hd + r * dhd                                 # d(r_t h_{t-1})
            da_n = d_rh @ w.w_hh[2 * H:].t() + (r * hd) @ dw.w_hh[2 * H:].t()
            if w.b_hh is not None:
                da_n = da_n + dw.b_hh[2 * H:]
            d_n = (dax_n + da_n) * (1.0 - n * n)
        else:
            da_h = dhd @ w.w_hh.t() + hd @ dw.w_hh.t()               # (B, 3H)
            if w.b_hh is not None:
                da_h = da_h + dw.b_hh
            d_r = (dax_r + da_h[:, :H]) * r * (1.0 - r)
            d_z = (dax_z + da_h[:, H:2 * H]) * z * (1.0 - z)
            d_n = (dax_n + d_r * sv.ah_n[t] + r * da_h[:, 2 * H:]) * (1.0 - n * n)
        d_h = (1.0 - z) * d_n + z * dhp + d_z * (hp - n)             # dh = (1 - z) dn + z dh_{t-1} + dz (h_{t-1} - n)
        tan, dy_t = leave(tan, (dhp,), (d_h,), zones_at(m.zones(1), t), at(valid, t))
        dys.append(dy_t)
    return y, stateT, torch.stack(dys), tan
