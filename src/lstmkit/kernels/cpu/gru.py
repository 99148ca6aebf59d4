"""Compiled CPU GRU (reset after, as torch.nn.GRU, and reset before, Cho et al. 2014): forward and BPTT.

Same plan as :mod:`.lstm`: one GEMM for W_ih x_t + b_ih over all steps; per step the recurrent GEMM(s)
through torch and a compiled pointwise pass (:mod:`.gru_steps`); big GEMMs for the weight gradients at
the end. Reset before needs two dependent GEMMs per step (W_h[rz] h, then W_hn (r h)).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import Tensor

from ...cells.gru import GRUSpec, GRUWeights
from . import gru_steps as K
from .plan import contiguous_zone, make_plan, np_view
from .shared import (at_np, gemm_grad, input_grads, input_side, recurrent_input_all, recurrent_inputs, step_mm,
                     zeros_or_empty)
from .steps import blend_h_rows, bwd_h_rows, finish_dh


class CpuGRUSaved(NamedTuple):
    xd: Tensor                      # (T, B, I) internal-order input
    gates: Tensor                   # (T, B, 3H) r|z|n
    y: Tensor                       # (T, B, H) h_t on running rows
    h0: Tensor                      # (B, H)
    ah_n: Optional[Tensor] = None   # (T, B, H) W_hn h_{t-1} + b_hn (reset after)
    rh: Optional[Tensor] = None     # (T, B, H) r_t * h_{t-1} (reset before)


def gru_forward(spec: GRUSpec, w: GRUWeights, x: Tensor, state0, m, reverse: bool, save: bool):
    """x (T, B, I); state0 (h0 (B, H),). Returns (y (T, B, H), (h_T,), saved or None)."""
    plan = make_plan(x, m, reverse)
    mi = plan.masks
    T, B, H = plan.T, plan.B, spec.hidden_size
    with torch.no_grad():
        xd = input_side(plan, x)
        x2 = xd.reshape(T * B, -1)
        gates = (torch.addmm(w.b_ih, x2, w.w_ih.t()) if w.b_ih is not None else x2 @ w.w_ih.t()).view(T, B, 3 * H)
        h0 = plan.rows(state0[0].detach()).contiguous()
        y = x.new_zeros(T, B, H)
        zone_h = contiguous_zone(mi.zone_h)
        h_cand = x.new_empty(B, H) if zone_h is not None else None
        hd = x.new_empty(B, H) if (mi.reset is not None or mi.drop_h is not None) else None
        a_h = x.new_empty(B, 3 * H)
        k_T = T if save else 1
        ah_n = x.new_empty(k_T, B, H) if not spec.reset_before else None
        rh = zeros_or_empty(plan, (k_T, B, H), x) if spec.reset_before else None
        w_hh_t = w.w_hh.detach().t()
        b_hh = None if w.b_hh is None else w.b_hh.detach()
        v = dict(gates=np_view(gates), y=np_view(y), hc=np_view(h_cand), hd=np_view(hd), ah=np_view(a_h),
                 ahn=np_view(ah_n), rh=np_view(rh), reset=np_view(mi.reset), drop_h=np_view(mi.drop_h),
                 zh=np_view(zone_h))
        for t in range(T):
            n = int(plan.n_t[t])
            if n == 0:
                break
            k = t if save else 0
            h_prev = h0 if t == 0 else y[t - 1]
            reset_t = at_np(v["reset"], t)
            src = recurrent_inputs(n, h_prev, reset_t, v["drop_h"], hd, v["hd"])        # (n, H)
            cand = v["y"][t] if zone_h is None else v["hc"]
            hp_np = h_prev.numpy()
            if spec.reset_before:
                _mm_bias(src, w_hh_t[:, : 2 * H], None if b_hh is None else b_hh[: 2 * H], a_h[:n, : 2 * H])
                K.gru_rb_gates_rows(n, v["gates"][t], v["ah"][:, : 2 * H], src.numpy(), v["rh"][k])
                _mm_bias(rh[k, :n], w_hh_t[:, 2 * H:], None if b_hh is None else b_hh[2 * H:], a_h[:n, 2 * H:])
                K.gru_rb_out_rows(n, v["gates"][t], v["ah"][:, 2 * H:], hp_np, reset_t, cand)
            else:
                _mm_bias(src, w_hh_t, b_hh, a_h[:n])                  # W_hh h_{t-1} + b_hh
                K.gru_fwd_rows(n, v["gates"][t], v["ah"], hp_np, reset_t, v["ahn"][k], cand)
            if zone_h is not None:
                blend_h_rows(n, v["hc"], hp_np, reset_t, v["zh"][t], v["y"][t])
        hT = plan.unrows(plan.final(y, h0))
        y_out = plan.seq_out(y)
    saved = CpuGRUSaved(xd=xd, gates=gates, y=y, h0=h0, ah_n=ah_n, rh=rh) if save else None
    return y_out, (hT,), saved


def _mm_bias(a: Tensor, b: Tensor, bias: Optional[Tensor], out: Tensor) -> None:
    if bias is None:
        torch.mm(a, b, out=out)
    else:
        torch.addmm(bias, a, b, out=out)


def gru_backward(spec: GRUSpec, w: GRUWeights, x: Tensor, state0, m, reverse: bool, saved: CpuGRUSaved,
                 dy: Tensor, d_stateT):
    """Returns (dx (T, B, I), (dh0,), dw :class:`GRUWeights`)."""
    plan = make_plan(x, m, reverse)
    mi = plan.masks
    T, B, H = plan.T, plan.B, spec.hidden_size
    sv = saved
    with torch.no_grad():
        dyi = plan.seq_in(dy).contiguous()
        dh_acc = plan.rows(d_stateT[0]).clone().contiguous()
        d_ax = zeros_or_empty(plan, (T, B, 3 * H), x)                 # dL/d(W_ih x_t + b_ih)
        d_ah = zeros_or_empty(plan, (T, B, 3 * H), x)                 # dL/d(W_hh-side pre-activations)
        dh_c = x.new_empty(B, H)
        dh_rec = x.new_zeros(B, H)
        hd_all = recurrent_input_all(plan, sv.h0, sv.y).contiguous()  # (T, B, H)
        d_rh = x.new_empty(B, H) if spec.reset_before else None
        w_hh = w.w_hh.detach()
        v = dict(gates=np_view(sv.gates), y=np_view(sv.y), h0=np_view(sv.h0), ahn=np_view(sv.ah_n),
                 dy=np_view(dyi), dh=np_view(dh_acc), dax=np_view(d_ax), dah=np_view(d_ah), dhc=np_view(dh_c),
                 rec=np_view(dh_rec), hd=np_view(hd_all), drh=np_view(d_rh), reset=np_view(mi.reset),
                 drop_h=np_view(mi.drop_h), zh=np_view(contiguous_zone(mi.zone_h)))
        for t in range(T - 1, -1, -1):
            n = int(plan.n_t[t])
            if n == 0:
                continue
            n_next = int(plan.n_t[t + 1]) if t + 1 < T else 0
            reset_t = at_np(v["reset"], t)
            bwd_h_rows(n, n_next, v["dh"], v["dy"][t], v["rec"], v["drop_h"], reset_t,
                       at_np(v["reset"], t + 1) if t + 1 < T else None, at_np(v["zh"], t), v["dhc"])
            hp_np = v["h0"] if t == 0 else v["y"][t - 1]
            if spec.reset_before:
                K.gru_rb_bwd1_rows(n, v["gates"][t], hp_np, reset_t, v["dhc"], v["dh"], v["dax"][t], v["dah"][t])
                step_mm(d_ah[t, :n, 2 * H:], w_hh[2 * H:], d_rh[:n])   # d(r h) = W_hn^T dpre_n
                K.gru_rb_bwd2_rows(n, v["gates"][t], v["hd"][t], v["drh"], v["dax"][t], v["dah"][t], v["rec"])
                torch.addmm(dh_rec[:n], d_ah[t, :n, : 2 * H], w_hh[: 2 * H], out=dh_rec[:n])
            else:
                K.gru_bwd_rows(n, v["gates"][t], v["ahn"][t], hp_np, reset_t, v["dhc"], v["dh"], v["dax"][t],
                               v["dah"][t])
                step_mm(d_ah[t, :n], w_hh, dh_rec[:n])                # dh_{t-1} += W_hh^T da_h
        finish_dh(int(plan.n_t[0]), v["dh"], v["rec"], v["drop_h"], at_np(v["reset"], 0))
        dw_ih, dx = input_grads(plan, d_ax, sv.xd, w.w_ih)
        if spec.reset_before:
            dw_hh = torch.cat([gemm_grad(d_ah[..., : 2 * H], hd_all), gemm_grad(d_ah[..., 2 * H:], sv.rh)])
        else:
            dw_hh = gemm_grad(d_ah, hd_all)
        db_ih = d_ax.sum((0, 1)) if w.b_ih is not None else None
        db_hh = d_ah.sum((0, 1)) if w.b_hh is not None else None
    return dx, (plan.unrows(dh_acc),), GRUWeights(w_ih=dw_ih, w_hh=dw_hh, b_ih=db_ih, b_hh=db_hh)
