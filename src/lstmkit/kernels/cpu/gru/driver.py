"""Compiled CPU GRU (reset after, as torch.nn.GRU, and reset before, Cho et al. 2014): forward and BPTT.

Same plan and routes as the LSTM (:mod:`lstmkit.kernels.cpu.lstm.driver`): one GEMM for W_ih x_t + b_ih
over all steps; per step the recurrent GEMM(s) and a compiled pointwise pass (:mod:`.cell`), in the
compiled loop (:mod:`.loop`) or stepped from Python; big GEMMs for the weight gradients at the end.
Reset before needs two dependent GEMMs per step (W_h[rz] h, then W_hn (r h)).
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Optional

import numpy as np
import torch
from torch import Tensor

from ....cells.gru import GRUSpec, GRUWeights
from ... import dispatch
from . import loop
from . import cell as K
from ..jit import at
from ..plan import Plan, contiguous_zone, make_plan, np_view, plain, weight_view
from ..gemm import Linear, gemm_grad, packed, project_all
from ..sequence import (input_grads, input_side, output_record, recurrent_input_all, recurrent_inputs,
                     Runners, scratch, units_split, window_inputs, zeros_or_empty)
from ..bookkeeping import blend_h_rows, bwd_h_rows, finish_dh
from ..packed_gemm import pack


class CpuGRUSaved(NamedTuple):
    xd: Tensor                      # (T, B, I) internal-order input
    gates: Tensor                   # (T, B, 3H) r|z|n
    y: Tensor                       # (T, B, H) h_t on running rows
    h0: Tensor                      # (B, H)
    ah_n: Optional[Tensor] = None   # (T, B, H) W_hn h_{t-1} + b_hn (reset after)
    rh: Optional[Tensor] = None     # (T, B, H) r_t * h_{t-1} (reset before)


def saved_shapes(spec: GRUSpec, T: int, B: int, I: int, m) -> dict:
    """Shapes of the tensors :func:`gru_forward` saves, in field order (for fake tensors)."""
    H = spec.hidden_size
    out = dict(xd=(T, B, I), gates=(T, B, 3 * H), y=(T, B, H), h0=(B, H))
    out["rh" if spec.reset_before else "ah_n"] = (T, B, H)
    return out


def gates_of(spec: GRUSpec, saved: CpuGRUSaved) -> dict:
    """r, z, n for every step (internal order)."""
    H = spec.hidden_size
    return {"r": saved.gates[..., :H], "z": saved.gates[..., H:2 * H], "n": saved.gates[..., 2 * H:]}


def gru_forward(spec: GRUSpec, w: GRUWeights, x: Tensor, state0, m, reverse: bool, save: bool,
                route=None):
    """x (T, B, I); state0 (h0 (B, H),). Returns (y (T, B, H), (h_T,), saved or None)."""
    plan = make_plan(x, m, reverse)
    mi = plan.masks
    T, B, H = plan.T, plan.B, spec.hidden_size
    with torch.no_grad():
        k_T = T if save else 1
        y = output_record(plan, save, (T, B, H), x)
        h0 = plan.rows(state0[0].detach()).contiguous()
        buf = dict(h0=h0, y=y, zone_h=contiguous_zone(mi.zone_h), h_cand=x.new_empty(B, H), hd=x.new_empty(B, H),
                   ah_n=zeros_or_empty(plan, (k_T, B, H), x) if not spec.reset_before else None,
                   rh=zeros_or_empty(plan, (k_T, B, H), x) if spec.reset_before else None)
        runner = Runners(functools.partial(_forward_runner, spec, w, B), route, H, 3 * H)
        if save:
            xd = input_side(plan, x)
            buf["gates"] = project_all(xd, w.w_ih, w.b_ih)            # (T, B, 3H) W_ih x_t + b_ih
            if dispatch.units_train(route, spec, T, B, plain(plan)):
                _forward_units(w, H, buf)
            else:
                runner(B)(spec, w, plan, buf, save)
        else:
            for t0, t1, gates in window_inputs(plan, x, w.w_ih, w.b_ih, 3 * H):
                runner(int(plan.n_t[t0]))(spec, w, plan.window(t0, t1),
                                          dict(buf, gates=gates, y=y[t0:t1], h0=h0 if t0 == 0 else y[t0 - 1],
                                               zone_h=None if buf["zone_h"] is None else buf["zone_h"][t0:t1]), save)
        hT = plan.unrows(plan.final(y))
        y_out = plan.seq_out(y)
    saved = CpuGRUSaved(xd=xd, gates=buf["gates"], y=y, h0=h0, ah_n=buf["ah_n"], rh=buf["rh"]) if save else None
    return y_out, (hT,), saved


def _or_placeholder(a, like: Tensor):
    """The fused loop types both GRU forms' branches: an empty (0, 0, 0) array stands in for the unused one."""
    return a if a is not None else np_view(like.new_empty(0, 0, 0))


def _forward_runner(spec: GRUSpec, w: GRUWeights, B: int, fuse: bool):
    """The forward of one window, with the recurrent weights prepared once per call (a transposed array
    for the fused loop, packed GEMMs for the stepped driver)."""
    if fuse:
        H, wt = spec.hidden_size, w.w_hh.t()                       # (H, 3H)
        wps = (packed(wt[:, :2 * H]), packed(wt[:, 2 * H:])) if spec.reset_before else (packed(wt), None)
        return functools.partial(_forward_fused, wps=wps)
    H, b_hh = spec.hidden_size, w.b_hh
    if spec.reset_before:
        lins = (Linear(w.w_hh[: 2 * H], B, None if b_hh is None else b_hh[: 2 * H]),
                Linear(w.w_hh[2 * H:], B, None if b_hh is None else b_hh[2 * H:]))
    else:
        lins = (Linear(w.w_hh, B, b_hh),)
    return functools.partial(_forward_stepped, lins=lins)


def _forward_fused(spec, w, plan: Plan, buf: dict, save: bool, wps) -> None:
    mi, B, H = plan.masks, plan.B, spec.hidden_size
    v = {k: np_view(t) for k, t in buf.items()}
    x = buf["gates"]
    b = weight_view(w.b_hh)
    b_a, b_b = (b, None) if (b is None or not spec.reset_before) else (b[: 2 * H], b[2 * H:])
    loop.gru_forward_loop(plan.n_t, v["gates"], wps[0], _or_placeholder(wps[1], x), b_a, b_b, v["h0"], v["y"],
                           _or_placeholder(v["ah_n"], x), _or_placeholder(v["rh"], x), save, spec.reset_before,
                           np_view(mi.reset), np_view(mi.drop_h), v["zone_h"], v["hd"], np_view(x.new_empty(B, 3 * H)),
                           v["h_cand"])


def _forward_stepped(spec, w, plan: Plan, buf: dict, save: bool, lins: tuple) -> None:
    mi = plan.masks
    y, h0, rh = buf["y"], buf["h0"], buf["rh"]
    v = {k: np_view(t) for k, t in buf.items()}
    reset, drop_h = np_view(mi.reset), np_view(mi.drop_h)
    hd = buf["hd"] if (mi.reset is not None or mi.drop_h is not None) else None
    if spec.reset_before:
        lin_rz, lin_n = lins
    else:
        lin_hh, = lins
    for t in range(plan.T):
        n = int(plan.n_t[t])
        if n == 0:
            break
        k = t if save else 0
        h_prev = h0 if t == 0 else y[t - 1]
        reset_t = at(reset, t)
        src = recurrent_inputs(n, h_prev, reset_t, drop_h, hd, v["hd"])   # (n, H)
        cand = v["y"][t] if v["zone_h"] is None else v["h_cand"]
        hp_np = h_prev.numpy()
        if spec.reset_before:
            a_rz = lin_rz(src)                                        # W_h[rz] h_{t-1} + b_h[rz]
            K.gru_rb_gates_rows(n, v["gates"][t], a_rz.numpy(), src.numpy(), v["rh"][k])
            a_n = lin_n(rh[k, :n])                                    # W_hn (r_t h_{t-1}) + b_hn
            K.gru_rb_out_rows(n, v["gates"][t], a_n.numpy(), hp_np, reset_t, cand)
        else:
            a_h = lin_hh(src)                                         # W_hh h_{t-1} + b_hh
            K.gru_fwd_rows(n, v["gates"][t], a_h.numpy(), hp_np, reset_t, v["ah_n"][k], cand)
        if v["zone_h"] is not None:
            blend_h_rows(n, v["h_cand"], hp_np, reset_t, v["zone_h"][t], v["y"][t])


def _forward_units(w: GRUWeights, H: int, buf: dict) -> None:
    """A training forward (reset after) with its time loop split by units
    (:func:`lstmkit.kernels.dispatch.units_train`): each thread its units' columns of W_hh and b_hh, the
    whole record saved as the other routes save it."""
    v = {k: np_view(t) for k, t in buf.items() if isinstance(t, Tensor)}
    B, dt = v["gates"].shape[1], v["gates"].dtype

    def half(k, lo, hi, cols, flags, me, other):
        wp = pack(weight_view(w.w_hh.detach()[cols].t()))
        b = None if w.b_hh is None else np_view(w.b_hh.detach()[cols].contiguous())
        loop.gru_units_train_forward(v["gates"], wp, b, v["h0"], v["y"], v["ah_n"], lo, hi - lo,
                                     np.empty((B, cols.numel()), dt), np.empty((B, cols.numel()), dt), flags, me,
                                     other)
    units_split(H, 3, half)


def _backward_units(w: GRUWeights, H: int, sv: CpuGRUSaved, buf: dict) -> None:
    """The BPTT of :func:`_forward_units`, split the same way: each thread its units' cell backward and their
    columns of dh_{t-1} (its columns of W_hh, packed)."""
    v = {k: np_view(t) for k, t in buf.items() if isinstance(t, Tensor)}
    B, dt = v["d_ax"].shape[1], v["d_ax"].dtype

    def half(k, lo, hi, cols, flags, me, other):
        Hs, GHs = hi - lo, cols.numel()
        wp_t = pack(weight_view(w.w_hh.detach()[:, lo:hi]))
        loop.gru_units_train_backward(np_view(sv.gates), np_view(sv.y), np_view(sv.h0), np_view(sv.ah_n), v["dy"],
                                      v["dh"], v["d_ax"], v["d_ah"], wp_t, lo, Hs, np.empty((B, GHs), dt),
                                      np.empty((B, GHs), dt), np.empty((B, GHs), dt), np.empty((B, Hs), dt),
                                      np.empty((B, Hs), dt), np.empty((B, Hs), dt), flags, me, other)
    units_split(H, 3, half)


def gru_backward(spec: GRUSpec, w: GRUWeights, x: Tensor, state0, m, reverse: bool, saved: CpuGRUSaved,
                 dy: Tensor, d_stateT, route=None):
    """Returns (dx (T, B, I), (dh0,), dw :class:`GRUWeights`)."""
    plan = make_plan(x, m, reverse)
    T, B, H = plan.T, plan.B, spec.hidden_size
    sv = saved
    with torch.no_grad():
        buf = dict(dy=plan.seq_in(dy).contiguous(), dh=plan.rows(d_stateT[0]).clone().contiguous(),
                   d_ax=scratch(plan, "d_ax", (T, B, 3 * H), x),        # dL/d(W_ih x_t + b_ih)
                   d_ah=scratch(plan, "d_ah", (T, B, 3 * H), x),        # dL/d(W_hh-side pre-activations)
                   hd=recurrent_input_all(plan, sv.h0, sv.y).contiguous())   # (T, B, H) h_{t-1} into W_hh
        if dispatch.units_train(route, spec, T, B, plain(plan)):
            _backward_units(w, H, sv, buf)
        else:
            run = _backward_fused if dispatch.loop(route, B, H, 3 * H, backward=True) == "fused" else _backward_stepped
            run(spec, w, plan, sv, buf)
        d_ax, d_ah, hd_all = buf["d_ax"], buf["d_ah"], buf["hd"]
        dw_ih, dx = input_grads(plan, d_ax, sv.xd, w.w_ih)
        if spec.reset_before:
            dw_hh = torch.cat([gemm_grad(d_ah[..., : 2 * H], hd_all), gemm_grad(d_ah[..., 2 * H:], sv.rh)])
        else:
            dw_hh = gemm_grad(d_ah, hd_all)
        db_ih = d_ax.sum((0, 1)) if w.b_ih is not None else None
        db_hh = d_ah.sum((0, 1)) if w.b_hh is not None else None
    return dx, (plan.unrows(buf["dh"]),), GRUWeights(w_ih=dw_ih, w_hh=dw_hh, b_ih=db_ih, b_hh=db_hh)


def _backward_fused(spec, w, plan: Plan, sv: CpuGRUSaved, buf: dict) -> None:
    mi, B, H = plan.masks, plan.B, spec.hidden_size
    v = {k: np_view(t) for k, t in buf.items()}
    x = buf["d_ax"]
    H3 = w.w_hh                                                       # (3H, H)
    wps = (packed(H3[: 2 * H]), packed(H3[2 * H:])) if spec.reset_before else (packed(H3), None)
    loop.gru_backward_loop(plan.n_t, np_view(sv.gates), np_view(sv.y), np_view(sv.h0),
                            _or_placeholder(np_view(sv.ah_n), x), v["hd"], v["dy"], v["dh"], v["d_ax"], v["d_ah"],
                            wps[0], _or_placeholder(wps[1], x), spec.reset_before, np_view(mi.reset),
                            np_view(mi.drop_h), np_view(contiguous_zone(mi.zone_h)), np_view(x.new_empty(B, H)),
                            np_view(x.new_zeros(B, H)), np_view(x.new_empty(B, H)), np_view(x.new_empty(B, H)))


def _backward_stepped(spec, w, plan: Plan, sv: CpuGRUSaved, buf: dict) -> None:
    mi, T, B, H = plan.masks, plan.T, plan.B, spec.hidden_size
    v = {k: np_view(t) for k, t in buf.items()}
    gates, y, h0, ah_n = np_view(sv.gates), np_view(sv.y), np_view(sv.h0), np_view(sv.ah_n)
    reset, drop_h, zh = np_view(mi.reset), np_view(mi.drop_h), np_view(contiguous_zone(mi.zone_h))
    d_ah, x = buf["d_ah"], buf["d_ax"]
    dh_c, dh_rec, dhd_n = x.new_empty(B, H), x.new_zeros(B, H), x.new_empty(B, H)
    if spec.reset_before:
        lin_rz_t, lin_n_t = Linear(w.w_hh[: 2 * H].t(), B), Linear(w.w_hh[2 * H:].t(), B)
    else:
        lin_hh_t = Linear(w.w_hh.t(), B)
    for t in range(T - 1, -1, -1):
        n = int(plan.n_t[t])
        if n == 0:
            continue
        n_next = int(plan.n_t[t + 1]) if t + 1 < T else 0
        reset_t = at(reset, t)
        bwd_h_rows(n, n_next, v["dh"], v["dy"][t], dh_rec.numpy(), drop_h, reset_t,
                   at(reset, min(t + 1, T - 1)), at(zh, t), dh_c.numpy())
        hp_np = h0 if t == 0 else y[t - 1]
        if spec.reset_before:
            K.gru_rb_bwd1_rows(n, gates[t], hp_np, reset_t, dh_c.numpy(), v["dh"], v["d_ax"][t], v["d_ah"][t])
            d_rh = lin_n_t(d_ah[t, :n, 2 * H:].contiguous())          # d(r h) = W_hn^T dpre_n
            K.gru_rb_bwd2_rows(n, gates[t], v["hd"][t], d_rh.numpy(), v["d_ax"][t], v["d_ah"][t], dhd_n.numpy())
            dh_rec = lin_rz_t(d_ah[t, :n, : 2 * H].contiguous()) + dhd_n[:n]   # + W_h[rz]^T dpre_[rz]
        else:
            K.gru_bwd_rows(n, gates[t], ah_n[t], hp_np, reset_t, dh_c.numpy(), v["dh"], v["d_ax"][t], v["d_ah"][t])
            dh_rec = lin_hh_t(d_ah[t, :n])                            # dh_{t-1} += W_hh^T da_h
    finish_dh(int(plan.n_t[0]), v["dh"], dh_rec.numpy(), drop_h, at(reset, 0))
