"""Triton Elman RNN kernel: the reference's plan with each step's pointwise math fused into one Triton launch.

Equations: :class:`lstmkit.cells.rnn.RNNCell`. The readable oracle is :mod:`lstmkit.kernels.reference.rnn`;
this module runs the same plan and saves the same :class:`~lstmkit.kernels.reference.rnn.RNNSaved`:

* forward: W_ih x_t + b_ih + b_hh for all steps (one GEMM); per step pre_t = that + W_hh h_{t-1} (one addmm,
  cuBLAS) and :func:`rnn_forward_step`: h~_t = tanh / relu(pre_t), zoneout, lengths, y_t, and the state the
  next step enters (reset) with its recurrent-dropout mask;
* backward: per step :func:`rnn_backward_step` (dh_t assembled from step t+1's pieces, the bookkeeping's
  backward, dpre_t and the part of dh_{t-1} outside W_hh) and one GEMM for W_hh^T dpre_t; then the
  reference's weight-gradient GEMMs over all steps: deterministic, no atomics.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...cells.rnn import RNNSpec, RNNWeights
from ..base import FamilyOps
from ..common import SeqMasks, valid_mask
from ..reference._shared import drop_input, project_all
from ..reference.rnn import RNNSaved, _weight_grads, gates_of, saved_shapes
from .h_steps import HBackward, HForward, dh_cand, launch, leave_h, load_f32, store_extra
from .jit_math import tanh


@triton.jit
def rnn_forward_step(pre, hp, h_prev, zone_h, lengths, reset_nx, drop_h, h_cand, h_out, y_out, hp_nx, hd_nx,
                     t, H, szh_b, szh_h,
                     RELU: tl.constexpr, SAVE: tl.constexpr, HAS_ZH: tl.constexpr, HAS_LEN: tl.constexpr,
                     ENTER_NEXT: tl.constexpr, HAS_RESET: tl.constexpr, HAS_DROP: tl.constexpr,
                     BLOCK: tl.constexpr):
    """h~_t = act(pre_t), then h's bookkeeping (:func:`~.h_steps.leave_h`). All (B, H), contiguous."""
    b = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    cm = cols < H
    a = load_f32(pre + b * H + cols, cm)
    if RELU:                                                         # h~_t = act(W_ih x_t + W_hh h_{t-1} + b)
        h_new = tl.maximum(a, 0.0)
    else:
        h_new = tanh(a)
    if SAVE:
        tl.store(h_cand + b * H + cols, h_new.to(h_cand.dtype.element_ty), mask=cm)
    leave_h(h_new, t, b, cols, cm, hp, h_prev, zone_h, lengths, reset_nx, drop_h, h_out, y_out, hp_nx, hd_nx,
            H, H, szh_b, szh_h, HAS_ZH, HAS_LEN, ENTER_NEXT, HAS_RESET, HAS_DROP)


@triton.jit
def rnn_backward_step(dh, dhp_in, ex_in, reset_nx, drop_h, dy, zone_h, lengths, reset, h_cand, d_pre, dh_extra,
                      t, H, szh_b, szh_h,
                      RELU: tl.constexpr, FOLD_DH: tl.constexpr, HAS_DROP: tl.constexpr, HAS_RESET: tl.constexpr,
                      HAS_LEN: tl.constexpr, HAS_ZH: tl.constexpr, BLOCK: tl.constexpr):
    """dpre_t and the part of dh_{t-1} outside W_hh (zoneout's, the frozen branch's)."""
    b = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    cm = cols < H
    dh_c, dhp_z, carry = dh_cand(t, b, cols, cm, dh, dhp_in, ex_in, reset_nx, drop_h, dy, zone_h, lengths, H,
                                 szh_b, szh_h, FOLD_DH, HAS_DROP, HAS_RESET, HAS_LEN, HAS_ZH)
    h = load_f32(h_cand + b * H + cols, cm)
    if RELU:
        dp = tl.where(h > 0.0, dh_c, 0.0)                            # dpre = dh [pre > 0]
    else:
        dp = dh_c * (1.0 - h * h)                                    # dpre = dh (1 - h^2)
    tl.store(d_pre + b * H + cols, dp.to(d_pre.dtype.element_ty), mask=cm)
    store_extra(dhp_z, b, cols, cm, tl.zeros_like(dp), carry, reset, dh_extra, H, HAS_RESET, HAS_LEN)


def rnn_forward(spec: RNNSpec, w: RNNWeights, x: Tensor, state0: tuple[Tensor], m: SeqMasks, save: bool = True):
    """x: (T, B, I); state0: (h0 (B, H),). Returns (y (T, B, H), (h_T,), saved or None)."""
    T, B, _ = x.shape
    H = spec.hidden_size
    xd = drop_input(x, m, valid_mask(m.lengths, T))
    a_x = project_all(xd, w.w_ih)                                     # (T, B, H)
    if w.b_ih is not None:
        a_x = a_x + (w.b_ih + w.b_hh)
    a_x = a_x.contiguous()
    hf = HForward(x, state0[0], m, save)
    h_cand = x.new_empty(T, B, H) if save else None
    pre = x.new_empty(B, H)
    w_hh_t = w.w_hh.t()
    grid, meta = launch(B, H)
    for t in range(T):
        _, hd, ins, outs, szh = hf.step(t)
        torch.addmm(a_x[t], hd, w_hh_t, out=pre)                      # pre_t = W_ih x_t + b + W_hh h_{t-1}
        rnn_forward_step[grid](pre, *ins, h_cand[t] if save else x, *outs, t, H, *szh,
                               RELU=spec.nonlinearity == "relu", SAVE=save, **hf.flags, **meta)
    if not save:
        return hf.y, (hf.final(),), None
    return hf.y, (hf.final(),), RNNSaved(xd=xd, hp=hf.entered(), h_new=h_cand)


def rnn_backward(spec: RNNSpec, w: RNNWeights, x: Tensor, state0, m: SeqMasks, saved: RNNSaved,
                 dy: Tensor, d_stateT: tuple[Tensor]):
    """dy: (T, B, H); d_stateT: (dh_T,). Returns (dx, (dh0,), dw :class:`RNNWeights`)."""
    T, B, _ = x.shape
    H = spec.hidden_size
    hb = HBackward(x, dy, d_stateT[0], m)
    d_pre = x.new_empty(T, B, H)
    h_cand = saved.h_new.contiguous()
    grid, meta = launch(B, H)
    for t in reversed(range(T)):
        ins, extra, szh, flags = hb.step(t)
        rnn_backward_step[grid](*ins, h_cand[t], d_pre[t], extra, t, H, *szh,
                                RELU=spec.nonlinearity == "relu", **flags, **meta)
        hb.finish(t, d_pre[t], w.w_hh)                                # dh_{t-1} = W_hh^T dpre_t (+ the rest)
    dx, dw = _weight_grads(w, saved, m, d_pre)
    return dx, (hb.dh0().to(state0[0].dtype),), dw


OPS = FamilyOps(rnn_forward, rnn_backward, saved_shapes, RNNSaved, gates_of)
