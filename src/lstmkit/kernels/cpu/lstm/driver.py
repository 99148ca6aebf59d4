"""The compiled CPU LSTM's driver: one call of one layer-direction, forward and BPTT.

Plan (haste's): one GEMM W_ih x_t (+ b) for all steps into the gate buffer (an inference call: one per
window of steps, :mod:`..plan`, over the rows still running); per step, the recurrent GEMM and one
compiled pointwise pass (:mod:`.cell`) over the rows still running; the backward runs the reverse-time
recursion the same way and finishes with big GEMMs for dW_ih, dW_hh, dW_hr, db and dx.

The time loop runs by one of two routes, chosen per window by :func:`lstmkit.kernels.dispatch.loop`:
"fused", the whole loop compiled (:mod:`.loop`), or "stepped", the loop below in Python calling oneDNN's
packed GEMM (:mod:`..gemm`) and the same compiled step functions. Equations:
:class:`lstmkit.cells.lstm.LSTMCell`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Optional

import numpy as np
import torch
from torch import Tensor

from ....cells.lstm import LSTMSpec, LSTMWeights
from ... import dispatch
from . import loop
from . import cell as K
from ..gemm import Linear, gemm_grad, packed, project_all
from ..layer_norm import ln_backward_all, ln_forward
from ..jit import at
from ..plan import Plan, contiguous_zone, make_plan, np_view, plain, weight_view
from ..sequence import (input_grads, input_side, output_record, recurrent_grad, recurrent_inputs,
                     Runners, scratch, units_split, window_inputs, zeros_or_empty)
from ..bookkeeping import blend_h_rows, bwd_h_rows, finish_dh
from ..packed_gemm import pack


class CpuLSTMSaved(NamedTuple):
    xd: Tensor                        # (T, B, I) input in internal order, padding zeroed, dropout applied
    gates: Tensor                     # (T, B, G*H) activated gates
    c_states: Tensor                  # (T, B, H) c_t
    y: Tensor                         # (T, B, P) h_t on running rows, zero elsewhere (internal order)
    h0: Tensor                        # (B, P) internal order
    c0: Tensor                        # (B, H)
    c_cand: Optional[Tensor] = None   # (T, B, H) c~_t, c_t before zoneout (zoneout on c)
    m: Optional[Tensor] = None        # (T, B, H) o_t tanh(c_t) before the projection (proj_size)
    a_x: Optional[Tensor] = None      # (T, B, G*H) W_ih x_t before layer norm
    a_h: Optional[Tensor] = None      # (T, B, G*H) W_hh h_{t-1} before layer norm


def saved_shapes(spec: LSTMSpec, T: int, B: int, I: int, m) -> dict:
    """Shapes of the tensors :func:`lstm_forward` saves, in field order (for fake tensors)."""
    H, P, GH = spec.hidden_size, spec.out_size, spec.num_gates * spec.hidden_size
    out = dict(xd=(T, B, I), gates=(T, B, GH), c_states=(T, B, H), y=(T, B, P), h0=(B, P), c0=(B, H))
    if m.zone_c is not None:
        out["c_cand"] = (T, B, H)
    if spec.proj_size > 0:
        out["m"] = (T, B, H)
    if spec.layer_norm:
        out.update(a_x=(T, B, GH), a_h=(T, B, GH))
    return out


def gates_of(spec: LSTMSpec, saved: CpuLSTMSaved) -> dict:
    """i, f, g, o and c for every step (internal order), from what the forward saved."""
    from ...reference.lstm import _split_gates
    return _split_gates(spec, saved.gates) | {"c": saved.c_states}


def _np(w: Optional[Tensor]) -> Optional[np.ndarray]:
    return weight_view(w)


def _param_views(w: LSTMWeights) -> dict:
    return dict(w_ch=_np(w.w_ch), ln_hh=_np(w.ln_hh), ln_c_w=_np(w.ln_c_w), ln_c_b=_np(w.ln_c_b))


def lstm_forward(spec: LSTMSpec, w: LSTMWeights, x: Tensor, state0, m, reverse: bool, save: bool,
                 route=None):
    """x (T, B, I); state0 (h0 (B, P), c0 (B, H)). Returns (y (T, B, P), (h_T, c_T), saved or None).

    Saving for a backward, the whole call is one window with every step's record kept; otherwise it
    runs in windows of steps (:meth:`~lstmkit.kernels.cpu.plan.Plan.windows`) that reuse small buffers.
    """
    plan = make_plan(x, m, reverse)
    mi = plan.masks
    T, B = plan.T, plan.B
    H, P, GH = spec.hidden_size, spec.out_size, spec.num_gates * spec.hidden_size
    proj = w.w_hr is not None
    with torch.no_grad():
        bias = None if w.b_ih is None else w.b_ih + w.b_hh
        h0, c0 = (plan.rows(s.detach()).contiguous() for s in state0)
        zone_h, zone_c = contiguous_zone(mi.zone_h), contiguous_zone(mi.zone_c)
        y = output_record(plan, save, (T, B, P), x)
        buf = dict(
            h0=h0, c0=c0, y=y,
            m=zeros_or_empty(plan, (T if save else 1, B, H), x) if (proj or zone_h is not None) else None,
            a_h=zeros_or_empty(plan, (T, B, GH), x) if (spec.layer_norm and save) else None,
            hd=x.new_empty(B, P), zone_h=zone_h, zone_c=zone_c)
        runner = Runners(functools.partial(_forward_runner, w, B), route, P, GH)
        b_x = None if spec.layer_norm else bias                       # with layer norm the bias follows it
        if save:
            xd = input_side(plan, x)                                  # (T, B, I)
            a_x = project_all(xd, w.w_ih, b_x)
            gates = _gates(spec, w, bias, a_x)
            c_states = zeros_or_empty(plan, (T, B, H), x)
            c_cand = zeros_or_empty(plan, (T, B, H), x) if zone_c is not None else None
            if dispatch.units_train(route, spec, T, B, plain(plan)):
                _forward_units(w, H, dict(buf, gates=gates, c_states=c_states))
            else:
                runner(B)(spec, w, plan, dict(buf, gates=gates, c_states=c_states, c_cand=c_cand), save)
            cT = plan.final(c_states)
        else:                                                         # per-window buffers, reused
            cT = c0.clone()
            for t0, t1, a_w in window_inputs(plan, x, w.w_ih, b_x, GH):
                k = t1 - t0
                part = dict(buf, gates=_gates(spec, w, bias, a_w), y=y[t0:t1], h0=h0 if t0 == 0 else y[t0 - 1],
                            c0=c0 if t0 == 0 else cT, c_states=scratch(plan, "c_states", (k, B, H), x, zero=False),
                            c_cand=None if zone_c is None else scratch(plan, "c_cand", (k, B, H), x, zero=False),
                            zone_h=None if zone_h is None else zone_h[t0:t1],
                            zone_c=None if zone_c is None else zone_c[t0:t1])
                runner(int(plan.n_t[t0]))(spec, w, plan.window(t0, t1), part, save)
                cT = plan.carry(cT, part["c_states"], t0, t1)          # c at t1 - 1, and finished rows' c_T
        hT = plan.unrows(plan.final(y))
        cT = plan.unrows(cT)
        y_out = plan.seq_out(y)
    saved = None
    if save:
        saved = CpuLSTMSaved(xd=xd, gates=gates, c_states=c_states, y=y, h0=h0, c0=c0, c_cand=c_cand,
                             m=buf["m"] if proj else None, a_x=a_x if spec.layer_norm else None, a_h=buf["a_h"])
    return y_out, (hT, cT), saved


def _gates(spec: LSTMSpec, w: LSTMWeights, bias, a_x: Tensor) -> Tensor:
    """The gate pre-activations from a_x = W_ih x_t (+ b): a_x itself, or with layer norm
    LN(a_x) g_ih + b in one pass (a new tensor)."""
    return ln_forward(a_x, w.ln_ih, bias, spec.ln_eps) if spec.layer_norm else a_x


def _forward_runner(w: LSTMWeights, B: int, fuse: bool):
    """The forward of one window, with the weights prepared once per call (arrays for the fused loop,
    packed GEMMs for the stepped driver)."""
    if fuse:
        pw = dict(_param_views(w), wp_hh=packed(w.w_hh.t()), wp_hr=packed(None if w.w_hr is None else w.w_hr.t()))
        return functools.partial(_forward_fused, pw=pw)
    return functools.partial(_forward_stepped, lin_hh=Linear(w.w_hh, B),
                             lin_hr=None if w.w_hr is None else Linear(w.w_hr, B))


def _forward_fused(spec, w, plan: Plan, buf: dict, save: bool, pw: dict) -> None:
    mi, B, P, GH = plan.masks, plan.B, spec.out_size, spec.num_gates * spec.hidden_size
    v = {k: np_view(t) for k, t in buf.items()}
    x = buf["gates"]
    loop.lstm_forward_loop(
        plan.n_t, v["gates"], pw["wp_hh"], pw["wp_hr"],
        v["h0"], v["c0"],
        v["y"], v["c_states"], v["c_cand"], v["m"], save, pw["ln_hh"], pw["w_ch"], pw["ln_c_w"], pw["ln_c_b"],
        spec.ln_eps, v["a_h"], np_view(mi.reset), np_view(mi.drop_h), v["zone_h"], v["zone_c"], v["hd"],
        np_view(x.new_empty(B, GH)), np_view(x.new_empty(B, P)) if w.w_hr is not None else None)


def _forward_stepped(spec, w, plan: Plan, buf: dict, save: bool, lin_hh: Linear, lin_hr: Optional[Linear]) -> None:
    mi = plan.masks
    y, m_all, a_h, h0 = buf["y"], buf["m"], buf["a_h"], buf["h0"]
    v = {k: np_view(t) for k, t in buf.items()}
    pw = _param_views(w)
    reset, drop_h = np_view(mi.reset), np_view(mi.drop_h)
    hd = buf["hd"] if (mi.reset is not None or mi.drop_h is not None) else None
    for t in range(plan.T):
        n = int(plan.n_t[t])
        if n == 0:
            break
        h_prev = h0 if t == 0 else y[t - 1]
        reset_t = at(reset, t)
        rec = lin_hh(recurrent_inputs(n, h_prev, reset_t, drop_h, hd, v["hd"]))   # (n, G*H) W_hh h_{t-1}
        if a_h is not None:
            a_h[t, :n] = rec
        k = t if save else 0
        m_np = v["m"][k] if m_all is not None else v["y"][t]
        K.lstm_fwd_rows(n, v["gates"][t], rec.numpy(), pw["ln_hh"], pw["w_ch"], pw["ln_c_w"], pw["ln_c_b"],
                        spec.ln_eps, v["c0"] if t == 0 else v["c_states"][t - 1], reset_t, at(v["zone_c"], t),
                        at(v["c_cand"], t), v["c_states"][t], m_np)
        cand_np = m_np
        if lin_hr is not None:
            h_c = lin_hr(m_all[k, :n])                                # h~_t = W_hr (o_t tanh(c_t))
            if buf["zone_h"] is None:
                y[t, :n] = h_c
            cand_np = h_c.numpy()
        if buf["zone_h"] is not None:
            blend_h_rows(n, cand_np, h_prev.numpy(), reset_t, v["zone_h"][t], v["y"][t])


def _forward_units(w: LSTMWeights, H: int, buf: dict) -> None:
    """A training forward with its time loop split by units (:func:`lstmkit.kernels.dispatch.units_train`):
    each thread its units' columns of W_hh (packed), the whole record saved as the other routes save it."""
    v = {k: np_view(t) for k, t in buf.items() if isinstance(t, Tensor)}
    B, dt = v["gates"].shape[1], v["gates"].dtype

    def half(k, lo, hi, cols, flags, me, other):
        wp = pack(weight_view(w.w_hh.detach()[cols].t()))
        GHs = cols.numel()
        loop.lstm_units_train_forward(v["gates"], wp, _peepholes(w, lo, hi), v["h0"], v["c0"], v["y"], v["c_states"],
                                      lo, hi - lo, np.empty((B, GHs), dt), np.empty((B, GHs), dt), flags, me, other)
    units_split(H, w.w_hh.shape[0] // H, half)


def _backward_units(w: LSTMWeights, H: int, sv: CpuLSTMSaved, buf: dict) -> None:
    """The BPTT of :func:`_forward_units`, split the same way: each thread its units' cell backward and
    their columns of dh_{t-1} = W_hh^T da_t (its columns of W_hh, packed)."""
    v, s = {k: np_view(t) for k, t in buf.items() if isinstance(t, Tensor)}, _saved_views(sv)
    B, dt = v["d_pre"].shape[1], v["d_pre"].dtype

    def half(k, lo, hi, cols, flags, me, other):
        Hs, GHs = hi - lo, cols.numel()
        wp_t = pack(weight_view(w.w_hh.detach()[:, lo:hi]))
        w_ch = _peepholes(w, lo, hi)
        dw_ch = None if w_ch is None else np.zeros((B, w_ch.shape[0], Hs), dt)
        done = loop.lstm_units_train_backward(s["gates"], s["c"], s["c0"], v["dy"], v["dh"], v["dc"], v["d_pre"],
                                              wp_t, w_ch, dw_ch, lo, Hs, np.empty((B, GHs), dt),
                                              np.empty((B, GHs), dt), np.empty((B, Hs), dt), np.empty((B, Hs), dt),
                                              np.empty((B, Hs), dt), flags, me, other)
        if done and dw_ch is not None:
            v["dw_ch"][:, :, lo:hi] = dw_ch                    # its units' peephole gradients, per row
    units_split(H, w.w_hh.shape[0] // H, half)


def _peepholes(w: LSTMWeights, lo: int, hi: int) -> Optional[np.ndarray]:
    """The peephole weights of units [lo, hi), (G-1, hi - lo) contiguous, or None without peepholes."""
    return None if w.w_ch is None else np.ascontiguousarray(weight_view(w.w_ch)[:, lo:hi])


def lstm_backward(spec: LSTMSpec, w: LSTMWeights, x: Tensor, state0, m, reverse: bool, saved: CpuLSTMSaved,
                  dy: Tensor, d_stateT, route=None):
    """Returns (dx (T, B, I), (dh0, dc0), dw :class:`LSTMWeights`)."""
    plan = make_plan(x, m, reverse)
    T, B = plan.T, plan.B
    H, P, GH = spec.hidden_size, spec.out_size, spec.num_gates * spec.hidden_size
    proj = w.w_hr is not None
    with torch.no_grad():
        d_pre = scratch(plan, "d_pre", (T, B, GH), x)                  # dL/d(gate pre-activations)
        buf = dict(
            dy=plan.seq_in(dy).contiguous(), dh=plan.rows(d_stateT[0]).clone().contiguous(),
            dc=plan.rows(d_stateT[1]).clone().contiguous(), d_pre=d_pre,
            d_ah=scratch(plan, "d_ah", (T, B, GH), x) if spec.layer_norm else d_pre,   # dL/d(W_hh h_{t-1})
            dh_c=scratch(plan, "dh_c", (T if proj else 1, B, P), x),   # dL/dh~_t
            dw_ch=x.new_zeros(B, spec.num_gates - 1, H) if spec.peephole else None,
            dln_c=x.new_zeros(B, 2, H) if spec.layer_norm else None,
            dln_hh=x.new_zeros(B, GH) if spec.layer_norm else None)
        if dispatch.units_train(route, spec, T, B, plain(plan)):
            _backward_units(w, H, saved, buf)
        else:
            run = _backward_fused if dispatch.loop(route, B, P, GH, backward=True) == "fused" else _backward_stepped
            run(spec, w, plan, saved, buf)
        dx, dw = _weight_grads(spec, w, plan, saved, buf["d_pre"], buf["d_ah"], buf["dh_c"] if proj else None)
        dw = dw._replace(w_ch=_sum_rows(buf["dw_ch"]), ln_hh=_sum_rows(buf["dln_hh"]),
                         ln_c_w=None if buf["dln_c"] is None else buf["dln_c"][:, 0].sum(0),
                         ln_c_b=None if (buf["dln_c"] is None or w.ln_c_b is None) else buf["dln_c"][:, 1].sum(0))
    return dx, (plan.unrows(buf["dh"]), plan.unrows(buf["dc"])), dw


def _sum_rows(t: Optional[Tensor]) -> Optional[Tensor]:
    """A parameter gradient accumulated per batch row -> summed."""
    return None if t is None else t.sum(0)


def _saved_views(sv: CpuLSTMSaved) -> dict:
    return dict(gates=np_view(sv.gates), c=np_view(sv.c_states), c0=np_view(sv.c0), cc=np_view(sv.c_cand),
                a_h=np_view(sv.a_h))


def _backward_fused(spec, w, plan: Plan, sv: CpuLSTMSaved, buf: dict) -> None:
    mi, B, P, H = plan.masks, plan.B, spec.out_size, spec.hidden_size
    v, s = {k: np_view(t) for k, t in buf.items()}, _saved_views(sv)
    pw = _param_views(w)
    x = buf["d_pre"]
    loop.lstm_backward_loop(
        plan.n_t, s["gates"], s["c"], s["c0"], s["cc"], s["a_h"], v["dy"], v["dh"], v["dc"],
        v["d_pre"], v["d_ah"],
        v["dh_c"], packed(w.w_hh), packed(w.w_hr), pw["ln_hh"], pw["w_ch"], pw["ln_c_w"], pw["ln_c_b"], spec.ln_eps,
        np_view(mi.reset), np_view(mi.drop_h), np_view(contiguous_zone(mi.zone_h)),
        np_view(contiguous_zone(mi.zone_c)), v["dw_ch"], v["dln_c"], v["dln_hh"], np_view(x.new_zeros(B, P)),
        np_view(x.new_empty(B, H)))


def _backward_stepped(spec, w, plan: Plan, sv: CpuLSTMSaved, buf: dict) -> None:
    mi, T, B = plan.masks, plan.T, plan.B
    proj = w.w_hr is not None
    v, s = {k: np_view(t) for k, t in buf.items()}, _saved_views(sv)
    pw = _param_views(w)
    reset, drop_h = np_view(mi.reset), np_view(mi.drop_h)
    zh, zc = np_view(contiguous_zone(mi.zone_h)), np_view(contiguous_zone(mi.zone_c))
    lin_hh_t = Linear(w.w_hh.t(), B)                                  # dh = da W_hh
    lin_hr_t = Linear(w.w_hr.t(), B) if proj else None
    dh_rec = buf["dh"].new_zeros(B, spec.out_size)                    # W_hh^T da_{t+1}, rows [0, n_{t+1})
    d_ah, dh_c = buf["d_ah"], buf["dh_c"]
    for t in range(T - 1, -1, -1):
        n = int(plan.n_t[t])
        if n == 0:
            continue
        n_next = int(plan.n_t[t + 1]) if t + 1 < T else 0
        k = t if proj else 0
        reset_t = at(reset, t)
        bwd_h_rows(n, n_next, v["dh"], v["dy"][t], dh_rec.numpy(), drop_h, reset_t,
                   at(reset, min(t + 1, T - 1)), at(zh, t), v["dh_c"][k])
        dm = lin_hr_t(dh_c[k, :n]).numpy() if proj else v["dh_c"][0]   # dm_t = W_hr^T dh~_t
        K.lstm_bwd_rows(n, s["gates"][t], s["c0"] if t == 0 else s["c"][t - 1], reset_t,
                        s["cc"][t] if sv.c_cand is not None else s["c"][t], at(zc, t), dm, v["dc"], pw["w_ch"],
                        pw["ln_c_w"], pw["ln_c_b"], spec.ln_eps, at(s["a_h"], t), pw["ln_hh"], v["d_pre"][t],
                        v["d_ah"][t], v["dw_ch"], v["dln_c"], v["dln_hh"])
        dh_rec = lin_hh_t(d_ah[t, :n])                                # dh_{t-1} += W_hh^T da_h
    finish_dh(int(plan.n_t[0]), v["dh"], dh_rec.numpy(), drop_h, at(reset, 0))


def _weight_grads(spec, w, plan: Plan, sv: CpuLSTMSaved, d_pre, d_ah, dh_c):
    d_ax, dln_ih, db = d_pre, None, None
    if spec.layer_norm:                                               # da_x, dg_ih and db in one pass
        d_ax, dln_ih, db = ln_backward_all(sv.a_x, d_pre, w.ln_ih, spec.ln_eps, w.b_ih is not None)
    elif w.b_ih is not None:
        db = d_pre.sum((0, 1))
    dw_ih, dx = input_grads(plan, d_ax, sv.xd, w.w_ih)
    dw_hh = recurrent_grad(plan, d_ah, sv.h0, sv.y)   # dW_hh = sum_t da_h^T h_{t-1}
    dw_hr = gemm_grad(dh_c, sv.m) if dh_c is not None else None       # dW_hr = sum_t dh~_t^T m_t
    return dx, LSTMWeights(w_ih=dw_ih, w_hh=dw_hh, b_ih=db, b_hh=None if db is None else db.clone(),
                           w_hr=dw_hr, ln_ih=dln_ih)
