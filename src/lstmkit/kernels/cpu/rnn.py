"""Compiled CPU Elman RNN: forward and BPTT (plan as :mod:`.lstm`). Equations: :class:`lstmkit.cells.rnn.RNNCell`."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ...cells.rnn import RNNSpec, RNNWeights
from . import rnn_steps as K
from .plan import contiguous_zone, make_plan, np_view
from .shared import (at_np, gemm_grad, input_grads, input_side, recurrent_input_all, recurrent_inputs, step_mm,
                     zeros_or_empty)
from .steps import blend_h_rows, bwd_h_rows, finish_dh


class CpuRNNSaved(NamedTuple):
    xd: Tensor         # (T, B, I) internal-order input
    gates: Tensor      # (T, B, H) h~_t = act(pre_t)
    y: Tensor          # (T, B, H) h_t on running rows
    h0: Tensor         # (B, H)


def rnn_forward(spec: RNNSpec, w: RNNWeights, x: Tensor, state0, m, reverse: bool, save: bool):
    """x (T, B, I); state0 (h0 (B, H),). Returns (y (T, B, H), (h_T,), saved or None)."""
    plan = make_plan(x, m, reverse)
    mi = plan.masks
    T, B, H = plan.T, plan.B, spec.hidden_size
    relu = spec.nonlinearity == "relu"
    with torch.no_grad():
        xd = input_side(plan, x)
        x2 = xd.reshape(T * B, -1)
        gates = (torch.addmm(w.b_ih + w.b_hh, x2, w.w_ih.t()) if w.b_ih is not None
                 else x2 @ w.w_ih.t()).view(T, B, H)
        h0 = plan.rows(state0[0].detach()).contiguous()
        y = x.new_zeros(T, B, H)
        zone_h = contiguous_zone(mi.zone_h)
        h_cand = x.new_empty(B, H) if zone_h is not None else None
        hd = x.new_empty(B, H) if (mi.reset is not None or mi.drop_h is not None) else None
        w_hh_t = w.w_hh.detach().t()
        v = dict(gates=np_view(gates), y=np_view(y), hc=np_view(h_cand), hd=np_view(hd), reset=np_view(mi.reset),
                 drop_h=np_view(mi.drop_h), zh=np_view(zone_h))
        for t in range(T):
            n = int(plan.n_t[t])
            if n == 0:
                break
            h_prev = h0 if t == 0 else y[t - 1]
            reset_t = at_np(v["reset"], t)
            src = recurrent_inputs(n, h_prev, reset_t, v["drop_h"], hd, v["hd"])
            gates[t, :n].addmm_(src, w_hh_t)                          # pre_t += W_hh h_{t-1}
            K.rnn_fwd_rows(n, v["gates"][t], relu, v["y"][t] if zone_h is None else v["hc"])
            if zone_h is not None:
                blend_h_rows(n, v["hc"], h_prev.numpy(), reset_t, v["zh"][t], v["y"][t])
        hT = plan.unrows(plan.final(y, h0))
        y_out = plan.seq_out(y)
    return y_out, (hT,), (CpuRNNSaved(xd=xd, gates=gates, y=y, h0=h0) if save else None)


def rnn_backward(spec: RNNSpec, w: RNNWeights, x: Tensor, state0, m, reverse: bool, saved: CpuRNNSaved,
                 dy: Tensor, d_stateT):
    """Returns (dx (T, B, I), (dh0,), dw :class:`RNNWeights`)."""
    plan = make_plan(x, m, reverse)
    mi = plan.masks
    T, B, H = plan.T, plan.B, spec.hidden_size
    relu = spec.nonlinearity == "relu"
    sv = saved
    with torch.no_grad():
        dyi = plan.seq_in(dy).contiguous()
        dh_acc = plan.rows(d_stateT[0]).clone().contiguous()
        d_pre = zeros_or_empty(plan, (T, B, H), x)
        dh_c = x.new_empty(B, H)
        dh_rec = x.new_zeros(B, H)
        w_hh = w.w_hh.detach()
        v = dict(gates=np_view(sv.gates), dy=np_view(dyi), dh=np_view(dh_acc), dp=np_view(d_pre),
                 dhc=np_view(dh_c), rec=np_view(dh_rec), reset=np_view(mi.reset), drop_h=np_view(mi.drop_h),
                 zh=np_view(contiguous_zone(mi.zone_h)))
        for t in range(T - 1, -1, -1):
            n = int(plan.n_t[t])
            if n == 0:
                continue
            n_next = int(plan.n_t[t + 1]) if t + 1 < T else 0
            bwd_h_rows(n, n_next, v["dh"], v["dy"][t], v["rec"], v["drop_h"], at_np(v["reset"], t),
                       at_np(v["reset"], t + 1) if t + 1 < T else None, at_np(v["zh"], t), v["dhc"])
            K.rnn_bwd_rows(n, v["gates"][t], relu, v["dhc"], v["dp"][t])
            step_mm(d_pre[t, :n], w_hh, dh_rec[:n])                   # dh_{t-1} += W_hh^T dpre
        finish_dh(int(plan.n_t[0]), v["dh"], v["rec"], v["drop_h"], at_np(v["reset"], 0))
        dw_ih, dx = input_grads(plan, d_pre, sv.xd, w.w_ih)
        dw_hh = gemm_grad(d_pre, recurrent_input_all(plan, sv.h0, sv.y))
        db = d_pre.sum((0, 1)) if w.b_ih is not None else None
    return dx, (plan.unrows(dh_acc),), RNNWeights(w_ih=dw_ih, w_hh=dw_hh, b_ih=db, b_hh=None if db is None else db.clone())
