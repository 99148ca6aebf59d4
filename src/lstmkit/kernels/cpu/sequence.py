"""Pieces every CPU kernel driver uses: the input side, step GEMMs, the recurrent input, dx and dW_ih."""

from __future__ import annotations

import threading
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from .. import dispatch
from ..concurrent import side_by_side
from . import sync
from .bookkeeping import prepare_hd
from .gemm import Linear, backproject_all, gemm_grad, project_seq
from .plan import Plan, np_view


def input_side(plan: Plan, x: Tensor) -> Tensor:
    """x in internal order with padding zeroed (it never reaches the cell, and a NaN there must not
    reach dW_ih through a zero gradient) and input dropout applied: the input a backward needs."""
    xi = plan.seq_in(x.detach())
    if plan.pad is not None:
        xi = plan.zero_pad(xi if plan.flat_in is not None else xi.clone(memory_format=torch.contiguous_format))
    if plan.masks.drop_x is not None:
        xi = xi * plan.masks.drop_x
    return xi.contiguous()


def input_window(plan: Plan, x: Tensor, t0: int, t1: int) -> Tensor:
    """Steps [t0, t1) of the input for an inference window: internal order, input dropout applied, and
    only the rows running at t0 (the others' gates would never be read); padding is not zeroed (its
    gates are never read either). (t1 - t0, n_t[t0], I), in a reused buffer when a copy is needed."""
    n = int(plan.n_t[t0])
    copy = plan.flat_in is not None or n < plan.B or plan.masks.drop_x is not None
    out = scratch(plan, "x", (t1 - t0, n, x.shape[2]), x, zero=False) if copy else None
    xw = plan.seq_in(x.detach(), t0, t1, rows=n, out=out)
    if plan.masks.drop_x is not None:
        xw = torch.mul(xw, plan.masks.drop_x[:n], out=out)
    return xw


def window_inputs(plan: Plan, x: Tensor, w_ih: Tensor, bias: Optional[Tensor], width: int):
    """An inference call's windows (:meth:`Plan.windows`): yields (t0, t1, W_ih x_t (+ bias)) for steps
    [t0, t1) over the rows running at t0, (t1 - t0, n_t[t0], width), one GEMM per window."""
    wins = plan.windows(dispatch.window_steps(plan.T, plan.B, width, x.element_size()))
    lin = Linear(w_ih, (wins[0][1] - wins[0][0]) * plan.B, bias)     # the first window is the longest
    for t0, t1 in wins:
        yield t0, t1, project_seq(lin, input_window(plan, x, t0, t1))


def output_record(plan: Plan, save: bool, shape, like: Tensor) -> Tensor:
    """The forward's (T, B, N) output record in internal order, zero past each sequence's end: fresh when
    it is saved for a backward or is itself the caller's output, else reused memory (the caller then
    gets a reordered copy)."""
    if save or plan.flat_out is None:
        return zeros_or_empty(plan, shape, like)
    return scratch(plan, "y", shape, like)


class Runners:
    """The forward driver for a window whose first step runs ``rows`` rows: the fused loop or the stepped
    driver, chosen per window by :func:`lstmkit.kernels.dispatch.loop`
    (an inference window late in a batch of varied lengths runs few rows), each built at most once per
    call by ``make(fuse)`` (weights prepared)."""

    def __init__(self, make, route, k: int, n: int) -> None:
        self.make, self.route, self.k, self.n = make, route, k, n
        self.built: dict = {}

    def __call__(self, rows: int):
        fuse = dispatch.loop(self.route, rows, self.k, self.n) == "fused"
        if fuse not in self.built:
            self.built[fuse] = self.make(fuse)
        return self.built[fuse]


def input_grads(plan: Plan, d_ax: Tensor, xd: Tensor, w_ih: Tensor) -> tuple[Tensor, Tensor]:
    """(dW_ih, dx in the caller's order) from dL/d(W_ih x_t) over all steps (internal order)."""
    dw_ih = gemm_grad(d_ax, xd)                                       # dW_ih = sum_t da_x^T x_t
    dx = backproject_all(d_ax, w_ih.detach())                         # dx_t = W_ih^T da_x
    if plan.masks.drop_x is not None:
        dx = dx * plan.masks.drop_x
    return dw_ih, plan.seq_out(dx)


def zeros_or_empty(plan: Plan, shape, like: Tensor) -> Tensor:
    """A buffer whose rows past each sequence's end are never written: those rows zeroed, the rest left."""
    return plan.zero_pad(like.new_empty(shape))


_SCRATCH = threading.local()


def scratch(plan: Plan, key: str, shape, like: Tensor, zero: bool = True) -> Tensor:
    """Like :func:`zeros_or_empty` (``zero=False``: nothing zeroed), for a buffer that does not outlive
    the kernel call (the backward's dL/d(pre-activation) buffers, an inference call's per-window
    buffers): its memory is kept per thread and reused by the next call.

    A fresh buffer of tens of MB costs a page fault per 4 KB the first time each page is written, inside
    the per-step kernels: measured on the GRU backward at (B, T, H) = (64, 100, 256), 170-190 us a step
    for the pointwise pass against 20 us on memory already mapped -- more than the step's GEMM.
    """
    n = int(np.prod(shape))
    pool = _SCRATCH.__dict__.setdefault("pool", {})
    name = (key, like.dtype)
    buf = pool.get(name)
    if buf is None or buf.numel() < n:
        with torch.inference_mode(False):                             # usable in and out of inference mode
            buf = pool[name] = like.new_empty(n)
    out = buf[:n].view(shape)
    return plan.zero_pad(out) if zero else out


def release_scratch() -> None:
    """Free the buffers :func:`scratch` keeps for this thread."""
    _SCRATCH.__dict__.pop("pool", None)


def recurrent_inputs(n: int, h_prev: Tensor, reset_t, drop_h, hd: Optional[Tensor], hd_np) -> Tensor:
    """The (n, P) rows of h_{t-1} entering W_hh: zero after a reset, times the recurrent-dropout mask."""
    if hd is None:
        return h_prev[:n]
    prepare_hd(n, h_prev.numpy(), reset_t, drop_h, hd_np)
    return hd[:n]


def recurrent_grad(plan: Plan, d: Tensor, h0: Tensor, y: Tensor) -> Tensor:
    """dW_hh = sum_t d_t^T h_{t-1} over every step: d (T, B, N), h0 (B, P), y (T, B, P) -> (N, P).

    Without a reset or recurrent dropout, h_{t-1} is y_{t-1} itself: one GEMM over y_0 .. y_{T-2} plus
    the first step's h0, instead of first joining [h0, y_0 .. y_{T-2}] into a copy of y (a transient buffer
    the size of y less in the backward; the time is the same within noise)."""
    m = plan.masks
    if m.reset is not None or m.drop_h is not None or not (d.is_contiguous() and y.is_contiguous()):
        return gemm_grad(d, recurrent_input_all(plan, h0, y))
    first = gemm_grad(d[:1], h0.unsqueeze(0))
    return first if plan.T == 1 else gemm_grad(d[1:], y[:-1], add=first)


def recurrent_input_all(plan: Plan, h0: Tensor, y: Tensor) -> Tensor:
    """h_{t-1} as it entered W_hh at every step (T, B, P): [h0, y_0 .. y_{T-2}], reset and dropout applied."""
    h_in = torch.cat([h0.unsqueeze(0), y[:-1]])
    if plan.masks.reset is not None:
        h_in = torch.where(plan.masks.reset.unsqueeze(-1), torch.zeros_like(h_in), h_in)
    if plan.masks.drop_h is not None:
        h_in = h_in * plan.masks.drop_h
    return h_in


def unit_rows(H: int, G: int, lo: int, hi: int) -> Tensor:
    """The rows of hidden units [lo, hi) among the G*H gate rows (each gate's H rows in turn)."""
    return torch.cat([torch.arange(g * H + lo, g * H + hi) for g in range(G)])


def step_together(half) -> None:
    """Run ``half(k, flags, me, other)`` for k = 0, 1 on two threads stepping together through
    :func:`~.sync.barrier` on ``flags`` (``me``, ``other``: the two threads' entries). An error in one half
    stops the other's waiting and is raised once both have returned."""
    flags = np.zeros(sync.FLAGS, np.int64)

    def run(k: int) -> None:
        me, other = (sync.FIRST, sync.SECOND) if k == 0 else (sync.SECOND, sync.FIRST)
        try:
            half(k, flags, me, other)
        except BaseException:
            sync.abort(flags)                          # the other half stops waiting for this one
            raise
    side_by_side(run, 2, together=True)
    if flags[sync.ABORT]:                              # (an error is raised above; this is a guard)
        raise RuntimeError("the units-split loop stopped before its end")


def units_split(H: int, G: int, half) -> None:
    """:func:`step_together` for a layer's H hidden units cut in two (:func:`lstmkit.kernels.dispatch.units_cut`):
    ``half(k, lo, hi, cols, flags, me, other)`` owns units [lo, hi), ``cols`` their gate rows (:func:`unit_rows`)."""
    cut = dispatch.units_cut(H)

    def run(k: int, flags, me, other) -> None:
        lo, hi = (0, cut) if k == 0 else (cut, H)
        half(k, lo, hi, unit_rows(H, G, lo, hi), flags, me, other)
    step_together(run)
