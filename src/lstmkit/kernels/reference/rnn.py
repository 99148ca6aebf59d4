"""Reference Elman RNN kernel: whole-sequence forward and hand-written BPTT in torch ops.

Equations: :class:`lstmkit.cells.rnn.RNNCell`; state bookkeeping: :mod:`lstmkit.kernels.common`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ...cells.rnn import RNNSpec, RNNWeights
from ..common import SeqMasks, add_opt, enter, enter_backward, leave, leave_backward, valid_mask
from ._shared import at, drop_input, gemm_grad, input_grads, project_all, recurrent_input, zones_at


class RNNSaved(NamedTuple):
    xd: Tensor        # (T, B, I)
    hp: Tensor        # (T, B, H) h entering each step
    h_new: Tensor     # (T, B, H) candidate h~_t = act(pre_t)


def saved_shapes(spec: RNNSpec, T: int, B: int, I: int, m: SeqMasks) -> dict:
    """Shapes of the tensors :func:`rnn_forward` saves, in field order (for fake tensors)."""
    H = spec.hidden_size
    return dict(xd=(T, B, I), hp=(T, B, H), h_new=(T, B, H))


def gates_of(spec: RNNSpec, saved: RNNSaved) -> dict:
    """The Elman cell has no gates: only h, which the layer records from its output."""
    return {}


def rnn_forward(spec: RNNSpec, w: RNNWeights, x: Tensor, state0: tuple[Tensor], m: SeqMasks, save: bool = True):
    """x: (T, B, I); state0: (h0 (B, H),). Returns (y (T, B, H), (h_T,), saved or None)."""
    T = x.shape[0]
    valid = valid_mask(m.lengths, T)
    xd = drop_input(x, m, valid)
    a_x = project_all(xd, w.w_ih)                                     # (T, B, H)
    if w.b_ih is not None:
        a_x = a_x + (w.b_ih + w.b_hh)
    act = torch.tanh if spec.nonlinearity == "tanh" else torch.relu
    ys, hps, hs, state = [], [], [], tuple(state0)
    for t in range(T):
        (hp,) = enter(state, at(m.reset, t))
        h_new = act(a_x[t] + recurrent_input(hp, m) @ w.w_hh.t())   # h_t = act(W_ih x_t + W_hh h_{t-1} + b)
        state, y = leave(state, (hp,), (h_new,), zones_at(m.zones(1), t), at(valid, t))
        ys.append(y)
        if save:
            hps.append(hp)
            hs.append(h_new)
    y = torch.stack(ys)
    if not save:
        return y, state, None
    return y, state, RNNSaved(xd=xd, hp=torch.stack(hps), h_new=torch.stack(hs))


def rnn_backward(spec: RNNSpec, w: RNNWeights, x: Tensor, state0, m: SeqMasks, saved: RNNSaved,
                 dy: Tensor, d_stateT: tuple[Tensor]):
    """dy: (T, B, H); d_stateT: (dh_T,). Returns (dx, (dh0,), dw :class:`RNNWeights`)."""
    T = x.shape[0]
    valid = valid_mask(m.lengths, T)
    d_pres = []                                                       # dpre_t, from t = T-1 down
    (dh,) = d_stateT
    for t in reversed(range(T)):
        (dh_c,), (dhp_z,), carry = leave_backward((dh,), dy[t], zones_at(m.zones(1), t), at(valid, t))
        h_new = saved.h_new[t]
        if spec.nonlinearity == "tanh":
            d_pre = dh_c * (1.0 - h_new * h_new)                      # dpre = dh (1 - h^2)
        else:
            d_pre = dh_c * (h_new > 0).to(dh_c.dtype)                 # dpre = dh [pre > 0]
        d_pres.append(d_pre)
        dhp = d_pre @ w.w_hh                                          # dh_{t-1} = W_hh^T dpre
        if m.drop_h is not None:
            dhp = dhp * m.drop_h
        (dh,) = enter_backward((add_opt(dhp, dhp_z),), at(m.reset, t))
        if carry is not None:
            dh = dh + carry[0]
    d_pre_all = torch.stack(d_pres[::-1])                             # (T, B, H)
    dx, dw = _weight_grads(w, saved, m, d_pre_all)
    return dx, (dh,), dw


def _weight_grads(w: RNNWeights, saved: RNNSaved, m: SeqMasks, d_pre_all: Tensor):
    """(dx, dw) from every step's dpre_t (T, B, H): GEMMs over all steps (shared with the Triton kernel)."""
    dw_ih, dx = input_grads(d_pre_all, saved.xd, w.w_ih, m)
    dw_hh = gemm_grad(d_pre_all, recurrent_input(saved.hp, m))
    db = d_pre_all.sum((0, 1)) if w.b_ih is not None else None
    return dx, RNNWeights(w_ih=dw_ih, w_hh=dw_hh, b_ih=db, b_hh=None if db is None else db.clone())


def rnn_jvp(spec: RNNSpec, w: RNNWeights, x: Tensor, state0, m: SeqMasks, dw: RNNWeights, dx: Tensor,
            d_state0: tuple[Tensor]):
    """Forward-mode derivative: (y, (h_T,), dy, (dh_T,)) for tangents dw, dx (T, B, I), d_state0 ((B, H),).
    See :func:`lstmkit.kernels.reference.lstm.lstm_jvp`."""
    y, stateT, sv = rnn_forward(spec, w, x, state0, m, save=True)
    T = x.shape[0]
    valid = valid_mask(m.lengths, T)
    da_x = project_all(drop_input(dx, m, valid), w.w_ih) + project_all(sv.xd, dw.w_ih)     # (T, B, H)
    if w.b_ih is not None:
        da_x = da_x + (dw.b_ih + dw.b_hh)
    tan, dys = tuple(d_state0), []
    for t in range(T):
        (dhp,) = enter(tan, at(m.reset, t))
        d_pre = da_x[t] + recurrent_input(dhp, m) @ w.w_hh.t() + recurrent_input(sv.hp[t], m) @ dw.w_hh.t()
        h_new = sv.h_new[t]
        if spec.nonlinearity == "tanh":
            d_h = d_pre * (1.0 - h_new * h_new)                       # dh = (1 - h^2) dpre
        else:
            d_h = d_pre * (h_new > 0).to(d_pre.dtype)                 # dh = [pre > 0] dpre
        tan, dy_t = leave(tan, (dhp,), (d_h,), zones_at(m.zones(1), t), at(valid, t))
        dys.append(dy_t)
    return y, stateT, torch.stack(dys), tan
