"""One torch.autograd.Function for every kernel: autograd sees a whole sequence as one node and never
differentiates through the time loop; the kernel's hand-written backward runs instead."""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .common import SeqMasks

_NONE_ARGS = 5          # kernel, spec, masks, reverse, fields: not differentiable


class SequenceFunction(torch.autograd.Function):
    """apply(kernel, spec, masks, reverse, fields, x, *state0, *weight_tensors) -> (y, *stateT)."""

    @staticmethod
    def forward(ctx, kernel, spec, masks: SeqMasks, reverse: bool, fields: tuple, x, *tensors):
        ns = spec.num_states
        state0, wts = tensors[:ns], tensors[ns:]
        w = spec.make_weights(dict(zip(fields, wts)))
        y, stateT, saved = kernel.run_forward(spec, w, x, state0, masks, reverse, save=True)
        ctx.kernel, ctx.spec, ctx.masks, ctx.reverse, ctx.fields = kernel, spec, masks, reverse, fields
        ctx.saved_type = type(saved)
        ctx.num_w = len(wts)
        ctx.save_for_backward(x, *state0, *wts, *saved)
        return (y, *stateT)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, *d_stateT):
        spec = ctx.spec
        ns = spec.num_states
        tensors = ctx.saved_tensors
        x, state0 = tensors[0], tensors[1:1 + ns]
        wts = tensors[1 + ns:1 + ns + ctx.num_w]
        saved = ctx.saved_type(*tensors[1 + ns + ctx.num_w:])
        w = spec.make_weights(dict(zip(ctx.fields, wts)))
        y_shape = (x.shape[0], x.shape[1], spec.out_size)
        dy = x.new_zeros(y_shape) if dy is None else dy
        d_stateT = tuple(s.new_zeros(s.shape) if d is None else d for d, s in zip(d_stateT, state0))
        dx, d_state0, dw = ctx.kernel.run_backward(spec, w, x, state0, ctx.masks, ctx.reverse, saved, dy, d_stateT)
        dws = [getattr(dw, f) for f in ctx.fields]
        return (None,) * _NONE_ARGS + (dx, *d_state0, *dws)
