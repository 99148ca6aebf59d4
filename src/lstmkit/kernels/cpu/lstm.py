"""Compiled CPU LSTM: whole-sequence forward and BPTT.

Plan per layer-direction (haste's): one GEMM W_ih x_t (+ b) for all steps into the gate buffer; per
step, the recurrent GEMM accumulated into that step's gates (torch/MKL, both cores) and one compiled
pointwise pass (:mod:`.lstm_steps`) over the rows still running; the backward runs the reverse-time
recursion the same way and finishes with big GEMMs for dW_ih, dW_hh, dW_hr, db and dx. Equations:
:class:`lstmkit.cells.lstm.LSTMCell`.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ...cells.lstm import LSTMSpec, LSTMWeights
from ..common import ln_backward
from . import lstm_steps as K
from .plan import Plan, contiguous_zone, make_plan, np_view
from .shared import (at_np, gemm_grad, input_grads, input_side, recurrent_input_all, recurrent_inputs, step_mm,
                     zeros_or_empty)
from .steps import blend_h_rows, bwd_h_rows, finish_dh


class CpuLSTMSaved(NamedTuple):
    xd: Tensor                        # (T, B, I) input in internal order, padding zeroed, dropout applied
    gates: Tensor                     # (T, B, G*H) activated gates
    c_states: Tensor                  # (T, B, H) c_t
    y: Tensor                         # (T, B, P) h_t on running rows, zero elsewhere (internal order)
    h0: Tensor                        # (B, P) internal order
    c0: Tensor                        # (B, H)
    c_cand: Optional[Tensor] = None   # (T, B, H) candidate c~_t (zoneout on c)
    m: Optional[Tensor] = None        # (T, B, H) o_t tanh(c_t) before the projection (proj_size)
    a_x: Optional[Tensor] = None      # (T, B, G*H) W_ih x_t before layer norm
    a_h: Optional[Tensor] = None      # (T, B, G*H) W_hh h_{t-1} before layer norm


def _np(w: Optional[Tensor]):
    return None if w is None else np_view(w.detach().contiguous())


def lstm_forward(spec: LSTMSpec, w: LSTMWeights, x: Tensor, state0, m, reverse: bool, save: bool):
    """x (T, B, I); state0 (h0 (B, P), c0 (B, H)). Returns (y (T, B, P), (h_T, c_T), saved or None)."""
    plan = make_plan(x, m, reverse)
    mi = plan.masks
    T, B = plan.T, plan.B
    H, P, GH = spec.hidden_size, spec.out_size, spec.num_gates * spec.hidden_size
    proj = w.w_hr is not None
    with torch.no_grad():
        xd = input_side(plan, x)                                      # (T, B, I)
        bias = None if w.b_ih is None else w.b_ih + w.b_hh
        a_x = None
        if spec.layer_norm:
            a_x = (xd.reshape(T * B, -1) @ w.w_ih.t()).view(T, B, GH)
            gates = F.layer_norm(a_x, (GH,), eps=spec.ln_eps) * w.ln_ih
            gates = gates + bias if bias is not None else gates
        else:
            x2 = xd.reshape(T * B, -1)
            gates = (torch.addmm(bias, x2, w.w_ih.t()) if bias is not None else x2 @ w.w_ih.t()).view(T, B, GH)
        h0, c0 = (plan.rows(s.detach()).contiguous() for s in state0)
        y = x.new_zeros(T, B, P)
        c_states = x.new_empty(T, B, H)
        zone_h, zone_c = contiguous_zone(mi.zone_h), contiguous_zone(mi.zone_c)
        c_cand = x.new_empty(T, B, H) if zone_c is not None else None
        m_all = zeros_or_empty(plan, (T if save else 1, B, H), x) if (proj or zone_h is not None) else None
        h_cand = x.new_empty(B, P) if (proj and zone_h is not None) else None
        a_h = x.new_empty(T if save else 1, B, GH) if spec.layer_norm else None
        hd = x.new_empty(B, P) if (mi.reset is not None or mi.drop_h is not None) else None
        w_hh_t, w_hr_t = w.w_hh.detach().t(), (w.w_hr.detach().t() if proj else None)
        npw = dict(w_ch=_np(w.w_ch), ln_hh=_np(w.ln_hh), ln_c_w=_np(w.ln_c_w), ln_c_b=_np(w.ln_c_b))
        v = dict(gates=np_view(gates), y=np_view(y), c=np_view(c_states), h0=np_view(h0), c0=np_view(c0),
                 cc=np_view(c_cand), m=np_view(m_all), hc=np_view(h_cand), ah=np_view(a_h), hd=np_view(hd),
                 reset=np_view(mi.reset), drop_h=np_view(mi.drop_h), zh=np_view(zone_h), zc=np_view(zone_c))
        for t in range(T):
            n = int(plan.n_t[t])
            if n == 0:
                break
            h_prev = h0 if t == 0 else y[t - 1]
            c_prev_np = v["c0"] if t == 0 else v["c"][t - 1]
            reset_t = at_np(v["reset"], t)
            src = recurrent_inputs(n, h_prev, reset_t, v["drop_h"], hd, v["hd"])   # (n, P)
            k = t if save else 0
            if a_h is not None:
                step_mm(src, w_hh_t, a_h[k, :n])
            else:
                gates[t, :n].addmm_(src, w_hh_t)                      # a_t += W_hh h_{t-1}
            m_np = v["m"][k] if m_all is not None else v["y"][t]
            K.lstm_fwd_rows(n, v["gates"][t], None if a_h is None else v["ah"][k], npw["ln_hh"], npw["w_ch"],
                            npw["ln_c_w"], npw["ln_c_b"], spec.ln_eps, c_prev_np, reset_t, at_np(v["zc"], t),
                            None if c_cand is None else v["cc"][t], v["c"][t], m_np)
            if proj:
                target = y[t, :n] if zone_h is None else h_cand[:n]
                step_mm(m_all[k, :n], w_hr_t, target)                 # h~_t = W_hr (o_t tanh(c_t))
            if zone_h is not None:
                cand_np = v["hc"] if proj else m_np
                blend_h_rows(n, cand_np, np_view(h_prev), reset_t, v["zh"][t], v["y"][t])
        hT = plan.unrows(plan.final(y, h0))
        cT = plan.unrows(plan.final(c_states, c0))
        y_out = plan.seq_out(y)
    saved = None
    if save:
        saved = CpuLSTMSaved(xd=xd, gates=gates, c_states=c_states, y=y, h0=h0, c0=c0, c_cand=c_cand,
                             m=m_all if proj else None, a_x=a_x, a_h=a_h)
    return y_out, (hT, cT), saved


def lstm_backward(spec: LSTMSpec, w: LSTMWeights, x: Tensor, state0, m, reverse: bool, saved: CpuLSTMSaved,
                  dy: Tensor, d_stateT):
    """Returns (dx (T, B, I), (dh0, dc0), dw :class:`LSTMWeights`)."""
    plan = make_plan(x, m, reverse)
    mi = plan.masks
    T, B = plan.T, plan.B
    H, P, GH = spec.hidden_size, spec.out_size, spec.num_gates * spec.hidden_size
    sv = saved
    proj = w.w_hr is not None
    with torch.no_grad():
        dyi = plan.seq_in(dy).contiguous()
        dh_acc = plan.rows(d_stateT[0]).clone().contiguous()
        dc_acc = plan.rows(d_stateT[1]).clone().contiguous()
        d_pre = zeros_or_empty(plan, (T, B, GH), x)                  # dL/d(gate pre-activations)
        d_ah = zeros_or_empty(plan, (T, B, GH), x) if spec.layer_norm else d_pre
        dh_c = zeros_or_empty(plan, (T if proj else 1, B, P), x)     # dL/dh~_t
        dm = x.new_empty(B, H) if proj else None
        dh_rec = x.new_zeros(B, P)                                   # W_hh^T da_{t+1}, rows [0, n_{t+1})
        dw_ch_rows = x.new_zeros(B, spec.num_gates - 1, H) if spec.peephole else None
        dln_c_rows = x.new_zeros(B, 2, H) if spec.layer_norm else None
        dln_hh_rows = x.new_zeros(B, GH) if spec.layer_norm else None
        w_hh, w_hr = w.w_hh.detach(), (w.w_hr.detach() if proj else None)
        npw = dict(w_ch=_np(w.w_ch), ln_hh=_np(w.ln_hh), ln_c_w=_np(w.ln_c_w), ln_c_b=_np(w.ln_c_b))
        v = dict(gates=np_view(sv.gates), c=np_view(sv.c_states), c0=np_view(sv.c0), cc=np_view(sv.c_cand),
                 ah=np_view(sv.a_h), dy=np_view(dyi), dh=np_view(dh_acc), dc=np_view(dc_acc),
                 dp=np_view(d_pre), dah=np_view(d_ah), dhc=np_view(dh_c), dm=np_view(dm), rec=np_view(dh_rec),
                 reset=np_view(mi.reset), drop_h=np_view(mi.drop_h), zh=np_view(contiguous_zone(mi.zone_h)),
                 zc=np_view(contiguous_zone(mi.zone_c)), dwch=np_view(dw_ch_rows), dlnc=np_view(dln_c_rows),
                 dlnhh=np_view(dln_hh_rows))
        for t in range(T - 1, -1, -1):
            n = int(plan.n_t[t])
            if n == 0:
                continue
            n_next = int(plan.n_t[t + 1]) if t + 1 < T else 0
            k = t if proj else 0
            reset_t = at_np(v["reset"], t)
            bwd_h_rows(n, n_next, v["dh"], v["dy"][t], v["rec"], v["drop_h"], reset_t,
                         at_np(v["reset"], t + 1) if t + 1 < T else None, at_np(v["zh"], t), v["dhc"][k])
            if proj:
                step_mm(dh_c[k, :n], w_hr, dm[:n])                    # dm_t = W_hr^T dh~_t
            c_cand_t = v["cc"][t] if sv.c_cand is not None else v["c"][t]
            K.lstm_bwd_rows(n, v["gates"][t], v["c0"] if t == 0 else v["c"][t - 1], reset_t, c_cand_t,
                            at_np(v["zc"], t), v["dm"] if proj else v["dhc"][0], v["dc"], npw["w_ch"],
                            npw["ln_c_w"], npw["ln_c_b"], spec.ln_eps, at_np(v["ah"], t), npw["ln_hh"],
                            v["dp"][t], None if not spec.layer_norm else v["dah"][t], v["dwch"], v["dlnc"],
                            v["dlnhh"])
            step_mm(d_ah[t, :n], w_hh, dh_rec[:n])                    # dh_{t-1} += W_hh^T da_h
        finish_dh(int(plan.n_t[0]), v["dh"], v["rec"], v["drop_h"], at_np(v["reset"], 0))
        dx, dw = _weight_grads(spec, w, plan, sv, d_pre, d_ah, dh_c if proj else None)
        dw = dw._replace(w_ch=None if dw_ch_rows is None else dw_ch_rows.sum(0),
                         ln_hh=None if dln_hh_rows is None else dln_hh_rows.sum(0),
                         ln_c_w=None if dln_c_rows is None else dln_c_rows[:, 0].sum(0),
                         ln_c_b=None if (dln_c_rows is None or w.ln_c_b is None) else dln_c_rows[:, 1].sum(0))
    return dx, (plan.unrows(dh_acc), plan.unrows(dc_acc)), dw


def _weight_grads(spec, w, plan: Plan, sv: CpuLSTMSaved, d_pre, d_ah, dh_c):
    T, B, GH = d_pre.shape
    d_ax, dln_ih = d_pre, None
    if spec.layer_norm:
        n_x = F.layer_norm(sv.a_x, (GH,), eps=spec.ln_eps)
        rstd = torch.rsqrt(sv.a_x.var(-1, unbiased=False, keepdim=True) + spec.ln_eps)
        dln_ih = (d_pre * n_x).sum((0, 1))
        d_ax = ln_backward(d_pre * w.ln_ih, n_x, rstd)
    dw_ih, dx = input_grads(plan, d_ax, sv.xd, w.w_ih)
    dw_hh = gemm_grad(d_ah, recurrent_input_all(plan, sv.h0, sv.y))   # dW_hh = sum_t da_h^T h_{t-1}
    db = d_pre.sum((0, 1)) if w.b_ih is not None else None
    dw_hr = None
    if dh_c is not None:
        dw_hr = gemm_grad(dh_c, sv.m)                                 # dW_hr = sum_t dh~_t^T m_t
    return dx, LSTMWeights(w_ih=dw_ih, w_hh=dw_hh, b_ih=db, b_hh=None if db is None else db.clone(),
                           w_hr=dw_hr, ln_ih=dln_ih)
