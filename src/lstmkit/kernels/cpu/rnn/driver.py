"""Compiled CPU Elman RNN: forward and BPTT (plan and routes as :mod:`lstmkit.kernels.cpu.lstm.driver`). Equations: :class:`lstmkit.cells.rnn.RNNCell`."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ....cells.rnn import RNNSpec, RNNWeights
from ... import dispatch
from . import loop
from . import cell as K
from ..jit import at
from ..plan import contiguous_zone, make_plan, np_view
from ..gemm import Linear, packed, project_all
from ..sequence import (input_grads, input_side, output_record, recurrent_grad, recurrent_inputs,
                        scratch, Runners, window_inputs)
from ..bookkeeping import blend_h_rows, bwd_h_rows, finish_dh


class CpuRNNSaved(NamedTuple):
    xd: Tensor         # (T, B, I) internal-order input
    gates: Tensor      # (T, B, H) h~_t = act(pre_t)
    y: Tensor          # (T, B, H) h_t on running rows
    h0: Tensor         # (B, H)


def saved_shapes(spec: RNNSpec, T: int, B: int, I: int, m) -> dict:
    """Shapes of the tensors :func:`rnn_forward` saves, in field order (for fake tensors)."""
    H = spec.hidden_size
    return dict(xd=(T, B, I), gates=(T, B, H), y=(T, B, H), h0=(B, H))


def gates_of(spec: RNNSpec, saved: CpuRNNSaved) -> dict:
    """The Elman cell has no gates: only h, which the layer records from its output."""
    return {}


def rnn_forward(spec: RNNSpec, w: RNNWeights, x: Tensor, state0, m, reverse: bool, save: bool,
                route=None):
    """x (T, B, I); state0 (h0 (B, H),). Returns (y (T, B, H), (h_T,), saved or None)."""
    plan = make_plan(x, m, reverse)
    mi = plan.masks
    T, B, H = plan.T, plan.B, spec.hidden_size
    relu = spec.nonlinearity == "relu"
    with torch.no_grad():
        bias = None if w.b_ih is None else w.b_ih + w.b_hh
        h0 = plan.rows(state0[0].detach()).contiguous()
        y = output_record(plan, save, (T, B, H), x)
        zone_h = contiguous_zone(mi.zone_h)
        h_cand = x.new_empty(B, H) if zone_h is not None else None
        hd = x.new_empty(B, H) if (mi.reset is not None or mi.drop_h is not None) else None

        def make(fuse):
            if not fuse:
                lin_hh = Linear(w.w_hh, B)
                return lambda p, gates, y, h_init, zh: _forward_stepped(p, lin_hh, gates, y, h_init, hd, h_cand,
                                                                        relu, zh)
            wp_hh = packed(w.w_hh.t())                            # W_hh^T (H, H), packed

            def run_fused(p, gates, y, h_init, zh):
                loop.rnn_forward_loop(p.n_t, np_view(gates), wp_hh, np_view(h_init), np_view(y),
                                       relu, np_view(p.masks.reset), np_view(p.masks.drop_h), np_view(zh),
                                       np_view(x.new_empty(B, H)), np_view(x.new_empty(B, H)),
                                       np_view(x.new_empty(B, H)))
            return run_fused
        runner = Runners(make, route, H, H)
        if save:
            xd = input_side(plan, x)
            gates = project_all(xd, w.w_ih, bias)                     # (T, B, H)
            runner(B)(plan, gates, y, h0, zone_h)
        else:
            for t0, t1, gates in window_inputs(plan, x, w.w_ih, bias, H):
                runner(int(plan.n_t[t0]))(plan.window(t0, t1), gates, y[t0:t1], h0 if t0 == 0 else y[t0 - 1],
                                          None if zone_h is None else zone_h[t0:t1])
        hT = plan.unrows(plan.final(y))
        y_out = plan.seq_out(y)
    return y_out, (hT,), (CpuRNNSaved(xd=xd, gates=gates, y=y, h0=h0) if save else None)


def _forward_stepped(plan, lin_hh, gates, y, h0, hd, h_cand, relu, zone_h) -> None:
    mi = plan.masks
    reset, drop_h, zh = np_view(mi.reset), np_view(mi.drop_h), np_view(zone_h)
    for t in range(plan.T):
        n = int(plan.n_t[t])
        if n == 0:
            break
        h_prev = h0 if t == 0 else y[t - 1]
        reset_t = at(reset, t)
        rec = lin_hh(recurrent_inputs(n, h_prev, reset_t, drop_h, hd, np_view(hd)))   # W_hh h_{t-1}
        K.rnn_fwd_rows(n, gates[t].numpy(), rec.numpy(), relu, y[t].numpy() if zh is None else h_cand.numpy())
        if zh is not None:
            blend_h_rows(n, h_cand.numpy(), h_prev.numpy(), reset_t, zh[t], y[t].numpy())


def rnn_backward(spec: RNNSpec, w: RNNWeights, x: Tensor, state0, m, reverse: bool, saved: CpuRNNSaved,
                 dy: Tensor, d_stateT, route=None):
    """Returns (dx (T, B, I), (dh0,), dw :class:`RNNWeights`)."""
    plan = make_plan(x, m, reverse)
    mi = plan.masks
    T, B, H = plan.T, plan.B, spec.hidden_size
    relu = spec.nonlinearity == "relu"
    sv = saved
    with torch.no_grad():
        dyi = plan.seq_in(dy).contiguous()
        dh_acc = plan.rows(d_stateT[0]).clone().contiguous()
        d_pre = scratch(plan, "d_pre", (T, B, H), x)
        dh_c = x.new_empty(B, H)
        dh_rec = x.new_zeros(B, H)
        lin_hh_t = Linear(w.w_hh.t(), B)
        v = dict(gates=np_view(sv.gates), dy=np_view(dyi), dh=np_view(dh_acc), dp=np_view(d_pre),
                 dhc=np_view(dh_c), reset=np_view(mi.reset), drop_h=np_view(mi.drop_h),
                 zh=np_view(contiguous_zone(mi.zone_h)))
        if dispatch.loop(route, B, H, H, backward=True) == "fused":
            loop.rnn_backward_loop(plan.n_t, v["gates"], v["dy"], v["dh"], v["dp"],
                                    packed(w.w_hh), relu, v["reset"], v["drop_h"], v["zh"],
                                    v["dhc"], np_view(dh_rec))
        else:
            for t in range(T - 1, -1, -1):
                n = int(plan.n_t[t])
                if n == 0:
                    continue
                n_next = int(plan.n_t[t + 1]) if t + 1 < T else 0
                bwd_h_rows(n, n_next, v["dh"], v["dy"][t], dh_rec.numpy(), v["drop_h"], at(v["reset"], t),
                           at(v["reset"], min(t + 1, T - 1)), at(v["zh"], t), v["dhc"])
                K.rnn_bwd_rows(n, v["gates"][t], relu, v["dhc"], v["dp"][t])
                dh_rec = lin_hh_t(d_pre[t, :n])                       # dh_{t-1} += W_hh^T dpre
            finish_dh(int(plan.n_t[0]), v["dh"], dh_rec.numpy(), v["drop_h"], at(v["reset"], 0))
        dw_ih, dx = input_grads(plan, d_pre, sv.xd, w.w_ih)
        dw_hh = recurrent_grad(plan, d_pre, sv.h0, sv.y)
        db = d_pre.sum((0, 1)) if w.b_ih is not None else None
    dw = RNNWeights(w_ih=dw_ih, w_hh=dw_hh, b_ih=db, b_hh=None if db is None else db.clone())
    return dx, (plan.unrows(dh_acc),), dw
