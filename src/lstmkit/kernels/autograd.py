"""One torch.autograd.Function for every kernel: autograd sees a whole sequence as one node and never
differentiates through the time loop; the kernel's hand-written backward runs instead.

A node holds one layer-direction, or work split in two parts that run side by side (:mod:`.concurrent`),
forward and backward: both directions of a bidirectional layer over the same input (dx is their sum), or
one direction's batch cut in two halves (outputs and dx joined along the batch, weight gradients summed).
:func:`forward_all` and :func:`backward_all` are that logic; the autograd node here and the
``torch.library`` ops (:mod:`.ops`) both call them.

The call's tensors, in order: x, then each direction's initial state tuple, then each direction's weights
(the fields named by ``fields``). The outputs: each direction's y, then each direction's final state tuple
(``split``: the one direction's, joined).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .common import SeqMasks
from .concurrent import halves, side_by_side

_NONE_ARGS = 6          # kernel, spec, masks, reverse, fields, split: not differentiable


class Parts(NamedTuple):
    """The kernel calls of one node: per part its input, initial state, weights, masks and direction."""
    x: list
    state0: list
    weights: list
    masks: list
    reverse: list
    rows: list          # per part the batch rows it takes


def part_rows(masks: tuple, split: bool, batch: int) -> list[tuple[slice, SeqMasks]]:
    """Per part, the batch rows it takes and its masks: each direction all rows, or (``split``) the one
    direction's two halves."""
    if not split:
        return [(slice(0, batch), m) for m in masks]
    return [(r, masks[0].rows(r)) for r in halves(batch)]


def parts(spec, fields: tuple, x: Tensor, tensors: tuple, masks: tuple, reverse: tuple, split: bool) -> Parts:
    """One part per direction, or (``split``) the one direction's two batch halves; ``tensors`` are the
    directions' initial states, then their weights."""
    D, ns, nw = len(reverse), spec.num_states, len(fields)
    state0 = [tuple(tensors[d * ns:(d + 1) * ns]) for d in range(D)]
    ws = [spec.make_weights(dict(zip(fields, tensors[D * ns + d * nw:D * ns + (d + 1) * nw]))) for d in range(D)]
    rows, part_masks = zip(*part_rows(masks, split, x.shape[1]))
    if not split:
        return Parts([x] * D, state0, ws, list(part_masks), list(reverse), list(rows))
    return Parts([x[:, r] for r in rows], [tuple(s[r] for s in state0[0]) for r in rows], ws * 2,
                 list(part_masks), list(reverse) * 2, list(rows))


def forward_all(kernel, spec, masks: tuple, reverse: tuple, fields: tuple, split: bool, x: Tensor, tensors: tuple,
                save: bool) -> tuple[tuple, list]:
    """(outputs, [saved NamedTuple of each part] or [None, ...]) of one node (see the module docstring)."""
    p = parts(spec, fields, x, tensors, masks, reverse, split)
    outs = side_by_side(lambda k: kernel.run_forward(spec, p.weights[k], p.x[k], p.state0[k], p.masks[k],
                                                     p.reverse[k], save=save), len(p.x))
    saved = [s for _, _, s in outs]
    if split:
        (y0, s0, _), (y1, s1, _) = outs
        return (torch.cat([y0, y1], 1), *[torch.cat([a, b], 0) for a, b in zip(s0, s1)]), saved
    return (*[y for y, _, _ in outs], *[s for _, stateT, _ in outs for s in stateT]), saved


def backward_all(kernel, spec, masks: tuple, reverse: tuple, fields: tuple, split: bool, x: Tensor, tensors: tuple,
                 saved: list, grads: tuple) -> tuple:
    """Gradients of ``forward_all``'s differentiable inputs: (dx, *d_state0s, *d_weights); ``grads`` are
    those of its outputs (None: zeros)."""
    p = parts(spec, fields, x, tensors, masks, reverse, split)
    D, ns, n = len(reverse), spec.num_states, len(p.x)
    dys = [x.new_zeros(x.shape[0], x.shape[1], spec.out_size) if g is None else g for g in grads[:D]]
    d_stateT = [tuple(torch.zeros_like(s) if g is None else g for g, s in zip(grads[D + d * ns:D + (d + 1) * ns],
                                                                             tensors[d * ns:(d + 1) * ns]))
                for d in range(D)]
    if split:
        dys = [dys[0][:, r].contiguous() for r in p.rows]
        d_stateT = [tuple(g[r] for g in d_stateT[0]) for r in p.rows]
    outs = side_by_side(lambda k: kernel.run_backward(spec, p.weights[k], p.x[k], p.state0[k], p.masks[k],
                                                      p.reverse[k], saved[k], dys[k], d_stateT[k]), n)
    if split:
        (dx0, ds0, dw0), (dx1, ds1, dw1) = outs
        return (torch.cat([dx0, dx1], 1), *[torch.cat([a, b], 0) for a, b in zip(ds0, ds1)],
                *[getattr(dw0, f) + getattr(dw1, f) for f in fields])
    dx = outs[0][0] if n == 1 else outs[0][0] + outs[1][0]
    return (dx, *[g for _, d_s0, _ in outs for g in d_s0], *[getattr(dw, f) for _, _, dw in outs for f in fields])


class SequenceFunction(torch.autograd.Function):
    """apply(kernel, spec, masks, reverse, fields, split, x, *state0s, *weight_tensors) -> outputs.

    ``masks`` and ``reverse`` are tuples with one entry per direction (1 or 2); ``split`` (one direction
    only) runs the batch as two halves side by side. Tensors and outputs as in the module docstring."""

    @staticmethod
    def forward(ctx, kernel, spec, masks: tuple, reverse: tuple, fields: tuple, split: bool, x, *tensors):
        outs, saved = forward_all(kernel, spec, masks, reverse, fields, split, x, tensors, save=True)
        ctx.call = (kernel, spec, masks, reverse, fields, split)
        ctx.saved_type, ctx.num_saved, ctx.num_tensors = type(saved[0]), len(saved[0]), len(tensors)
        ctx.save_for_backward(x, *tensors, *[s for part in saved for s in part])
        return outs

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads):
        x, *rest = ctx.saved_tensors
        tensors, flat = tuple(rest[:ctx.num_tensors]), rest[ctx.num_tensors:]
        n = ctx.num_saved
        saved = [ctx.saved_type(*flat[k:k + n]) for k in range(0, len(flat), n)]
        return (None,) * _NONE_ARGS + backward_all(*ctx.call, x, tensors, saved, grads)
