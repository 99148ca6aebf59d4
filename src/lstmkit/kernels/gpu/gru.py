"""Triton GRU kernel (both forms): the reference's plan with each step's pointwise math fused into Triton
launches.

Equations: :class:`lstmkit.cells.gru.GRUCell`. The readable oracle is :mod:`lstmkit.kernels.reference.gru`;
this module runs the same plan and saves the same :class:`~lstmkit.kernels.reference.gru.GRUSaved`:

* forward: W_ih x_t + b_ih for all steps (one GEMM); per step the recurrent GEMM (torch, cuBLAS) and
  :func:`~.gru_steps.gru_forward_step` (r, z, n, h_t, zoneout, lengths, y_t, the state the next step
  enters after a reset, with its recurrent-dropout mask). Reset before has a GEMM inside the gate math:
  W_h[rz] h_{t-1}, :func:`~.gru_steps.gru_reset_step` (r_t, r_t h_{t-1}), W_hn (r_t h_{t-1}), then the step;
* backward: per step :func:`~.gru_steps.gru_backward_step` and one GEMM for dh_{t-1} = W_hh^T da_h (reset
  before: that kernel, d(r h) = W_hn^T dpre_n, :func:`~.gru_steps.gru_reset_backward`, W_h[rz]^T dpre_[rz]);
  then the reference's weight-gradient GEMMs over all steps: deterministic, no atomics.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...cells.gru import GRUSpec, GRUWeights
from ..base import FamilyOps
from ..common import SeqMasks, valid_mask
from ..reference._shared import drop_input, project_all
from ..reference.gru import GRUSaved, _weight_grads, gates_of, saved_shapes
from .gru_steps import gru_backward_step, gru_forward_step, gru_reset_backward, gru_reset_step
from .h_steps import HBackward, HForward, launch


def _recurrent_gemm(a_out: Tensor, hd: Tensor, w_t: Tensor, b) -> Tensor:
    """a_out = hd @ w_t (+ b), written in place."""
    if b is None:
        return torch.mm(hd, w_t, out=a_out)
    return torch.addmm(b, hd, w_t, out=a_out)


def gru_forward(spec: GRUSpec, w: GRUWeights, x: Tensor, state0: tuple[Tensor], m: SeqMasks, save: bool = True):
    """x: (T, B, I); state0: (h0 (B, H),). Returns (y (T, B, H), (h_T,), saved or None)."""
    T, B, _ = x.shape
    H = spec.hidden_size
    before = spec.reset_before
    xd = drop_input(x, m, valid_mask(m.lengths, T))
    a_x = project_all(xd, w.w_ih)                                     # (T, B, 3H)
    if w.b_ih is not None:
        a_x = a_x + w.b_ih
    a_x = a_x.contiguous()
    hf = HForward(x, state0[0], m, save)
    n_sv = T if save else 0
    r, z, n = (x.new_empty(n_sv, B, H) for _ in range(3))
    ah_n = x.new_empty(n_sv, B, H) if save and not before else None
    b_hh = w.b_hh
    if before:                                                        # W_h[rz] h and W_hn (r h): two GEMMs
        w_rz_t, w_n_t = w.w_hh[: 2 * H].t(), w.w_hh[2 * H:].t()
        b_rz, b_n = (None, None) if b_hh is None else (b_hh[: 2 * H], b_hh[2 * H:])
        a_rz, a_n, rh = x.new_empty(B, 2 * H), x.new_empty(B, H), x.new_empty(B, H)
    else:
        w_hh_t = w.w_hh.t()
        a_h = x.new_empty(B, 3 * H)
        a_rz, a_n = a_h, a_h[:, 2 * H:]
    grid, meta = launch(B, H)
    for t in range(T):
        _, hd, ins, outs, szh = hf.step(t)
        if before:
            _recurrent_gemm(a_rz, hd, w_rz_t, b_rz)                   # W_h[rz] h_{t-1} + b_h[rz]  (B, 2H)
            gru_reset_step[grid](a_x[t], a_rz, hd, r[t] if save else x, rh, H, a_rz.stride(0), SAVE=save, **meta)
            _recurrent_gemm(a_n, rh, w_n_t, b_n)                      # W_hn (r_t h_{t-1}) + b_hn  (B, H)
        else:
            _recurrent_gemm(a_h, hd, w_hh_t, b_hh)                    # W_hh h_{t-1} + b_hh  (B, 3H)
        sv = (r[t], z[t], n[t], ah_n[t] if ah_n is not None else x) if save else (x, x, x, x)
        gru_forward_step[grid](a_x[t], a_rz, a_n, *ins, *sv, *outs, t, H, a_rz.stride(0), a_n.stride(0), *szh,
                               BEFORE=before, SAVE=save, **hf.flags, **meta)
    if not save:
        return hf.y, (hf.final(),), None
    return hf.y, (hf.final(),), GRUSaved(xd=xd, hp=hf.entered(), r=r, z=z, n=n, ah_n=ah_n)


def gru_backward(spec: GRUSpec, w: GRUWeights, x: Tensor, state0, m: SeqMasks, saved: GRUSaved,
                 dy: Tensor, d_stateT: tuple[Tensor]):
    """dy: (T, B, H); d_stateT: (dh_T,). Returns (dx, (dh0,), dw :class:`GRUWeights`)."""
    T, B, _ = x.shape
    H = spec.hidden_size
    before = spec.reset_before
    sv = GRUSaved(*(None if v is None else v.contiguous() for v in saved))
    hb = HBackward(x, dy, d_stateT[0], m)
    d_ax = x.new_empty(T, B, 3 * H)                                   # dL/d(W_ih x_t + b_ih)
    d_ah = d_ax if before else x.new_empty(T, B, 3 * H)               # dL/d(W_hh side); equal with reset before
    if before:
        w_rz, w_n = w.w_hh[: 2 * H], w.w_hh[2 * H:]
        d_rh, dhd = x.new_empty(B, H), x.new_empty(B, H)
    grid, meta = launch(B, H)
    for t in reversed(range(T)):
        ins, extra, szh, flags = hb.step(t)
        gru_backward_step[grid](*ins, sv.hp[t], sv.r[t], sv.z[t], sv.n[t],
                                sv.ah_n[t] if sv.ah_n is not None else x, d_ax[t], d_ah[t], extra,
                                t, H, *szh, BEFORE=before, **flags, **meta)
        if before:
            torch.mm(d_ax[t][:, 2 * H:], w_n, out=d_rh)               # d(r h) = W_hn^T dpre_n
            gru_reset_backward[grid](d_rh, sv.hp[t], hb.drop_h, sv.r[t], extra, d_ax[t], dhd, H,
                                     HAS_DROP=m.drop_h is not None, ADD_EX=not hb.fold, **meta)
            hb.finish(t, d_ax[t][:, : 2 * H], w_rz, base=dhd)         # + W_h[rz]^T dpre_[rz]
        else:
            hb.finish(t, d_ah[t], w.w_hh)                             # dh_{t-1} = W_hh^T da_h (+ the rest)
    dx, dw = _weight_grads(spec, w, sv, m, d_ax, d_ah)
    return dx, (hb.dh0().to(state0[0].dtype),), dw


OPS = FamilyOps(gru_forward, gru_backward, saved_shapes, GRUSaved, gates_of)
