"""One torch.autograd.Function for every kernel: autograd sees a whole sequence as one node and never
differentiates through the time loop; the kernel's hand-written backward runs instead.

The node supports what torch.nn's recurrent layers support (PyTorch's own module tests check it):

* **double backward**: when a backward runs with ``create_graph=True`` (a gradient penalty, MAML, a
  Hessian-vector product) or under a ``torch.func`` transform, the gradients come from the reference
  kernel's hand-written BPTT run in differentiable torch ops, on a forward recomputed from the inputs
  (:func:`differentiable_backward`), so autograd can differentiate them again, to any order;
* **forward mode** (``torch.autograd.forward_ad``, ``torch.func.jvp``, ``jacfwd``): :meth:`SequenceFunction.jvp`
  propagates tangents with the reference kernels' hand-written ``*_jvp`` (:func:`forward_tangents`);
* **vmap** (per-sample gradients, ``jacrev``, ``is_grads_batched``): :meth:`SequenceFunction.vmap` folds the
  vmapped dimension into the batch and runs the kernel once (shared weights), or runs it per element
  (vmapped weights, as with ``torch.func.stack_module_state``).

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

from .common import SeqMasks, transformed
from .concurrent import halves, side_by_side
from .reference import ReferenceKernel

_NONE_ARGS = 6          # kernel, spec, masks, reverse, fields, split: not differentiable
#: the kernel whose torch-ops forward, BPTT and tangents give the differentiable paths
REFERENCE = ReferenceKernel()


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


def flatten_saved(saved: list) -> list:
    """Every part's saved NamedTuple as one flat list (None where a field is absent)."""
    return [t for part in saved for t in part]


def unflatten_saved(saved_type: type, flat: list) -> list:
    n = len(saved_type._fields)
    return [saved_type(*flat[k:k + n]) for k in range(0, len(flat), n)]


def differentiable_backward(spec, masks: tuple, reverse: tuple, fields: tuple, x: Tensor, tensors: tuple,
                            grads: tuple) -> tuple:
    """(dx, *d_state0s, *d_weights) as :func:`backward_all`, computed in differentiable torch ops: the
    reference forward recomputed from the inputs, then the reference BPTT on what it saved. Autograd (and
    every torch.func transform) can differentiate the result again. Runs each direction over the whole
    batch in turn, in the calling thread."""
    p = parts(spec, fields, x, tensors, masks, reverse, split=False)
    D, ns = len(reverse), spec.num_states
    dx, d_states, d_weights = None, [], []
    for d in range(D):
        _, stateT, saved = REFERENCE.run_forward(spec, p.weights[d], x, p.state0[d], p.masks[d], reverse[d], save=True)
        g = grads[d]
        dy = x.new_zeros(x.shape[0], x.shape[1], spec.out_size) if g is None else g
        d_stateT = tuple(torch.zeros_like(s) if gs is None else gs
                         for gs, s in zip(grads[D + d * ns:D + (d + 1) * ns], stateT))
        dx_d, d_s0, dw = REFERENCE.run_backward(spec, p.weights[d], x, p.state0[d], p.masks[d], reverse[d],
                                                saved, dy, d_stateT)
        dx = dx_d if dx is None else dx + dx_d
        d_states.extend(d_s0)
        d_weights.extend(getattr(dw, f) for f in fields)
    return (dx, *d_states, *d_weights)


def forward_tangents(spec, masks: tuple, reverse: tuple, fields: tuple, x: Tensor, tensors: tuple,
                     x_t, tensor_ts: tuple) -> tuple:
    """Tangents of the outputs (each direction's y, then each direction's final state) for the tangents of
    the inputs (None: zero), by the reference kernels' hand-written forward-mode derivatives."""
    p = parts(spec, fields, x, tensors, masks, reverse, split=False)
    filled = tuple(torch.zeros_like(t) if tt is None else tt for t, tt in zip(tensors, tensor_ts))
    pt = parts(spec, fields, x, filled, masks, reverse, split=False)
    dx = torch.zeros_like(x) if x_t is None else x_t
    D = len(reverse)
    ys, states = [], []
    for d in range(D):
        _, _, dy, d_stateT = REFERENCE.run_jvp(spec, p.weights[d], x, p.state0[d], p.masks[d], reverse[d],
                                               pt.weights[d], dx, pt.state0[d])
        ys.append(dy)
        states.extend(d_stateT)
    return (*ys, *states)


class SequenceFunction(torch.autograd.Function):
    """apply(kernel, spec, masks, reverse, fields, split, x, *state0s, *weight_tensors) -> (*outputs, *saved).

    ``masks`` and ``reverse`` are tuples with one entry per direction (1 or 2); ``split`` (one direction
    only) runs the batch as two halves side by side. Tensors and outputs as in the module docstring;
    after the outputs come the tensors the kernel saved for its backward (flat, None where absent, not
    differentiable: callers take the first ``D * (1 + num_states)``)."""

    @staticmethod
    def forward(kernel, spec, masks: tuple, reverse: tuple, fields: tuple, split: bool, x, *tensors):
        outs, saved = forward_all(kernel, spec, masks, reverse, fields, split, x, tensors, save=True)
        # a saved tensor that is also an output or an input goes out as a detached alias: marked not
        # differentiable, it must not take the output (or input) with it
        known = {id(t) for t in (x, *tensors, *outs)}
        flat = [t.detach() if t is not None and id(t) in known else t for t in flatten_saved(saved)]
        return (*outs, *flat)

    @staticmethod
    def setup_context(ctx, inputs, output):
        kernel, spec, masks, reverse, fields, split, x, *tensors = inputs
        n_out = len(reverse) * (1 + spec.num_states)
        flat = output[n_out:]
        ctx.call = (kernel, spec, masks, reverse, fields, split)
        ctx.n_out, ctx.num_tensors = n_out, len(tensors)
        ctx.saved_type = kernel.families[spec.family].saved_type
        ctx.present = [t is not None for t in flat]
        ctx.mark_non_differentiable(*[t for t in flat if t is not None])
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(x, *tensors, *[t for t in flat if t is not None])
        ctx.save_for_forward(x, *tensors)

    @staticmethod
    def backward(ctx, *grads):
        x, *rest = ctx.saved_tensors
        tensors, kept = tuple(rest[:ctx.num_tensors]), iter(rest[ctx.num_tensors:])
        grads = grads[:ctx.n_out]
        kernel, spec, masks, reverse, fields, split = ctx.call
        if torch.is_grad_enabled() or transformed((x, *grads)):
            # create_graph=True or a torch.func transform: gradients autograd can differentiate again
            return (None,) * _NONE_ARGS + differentiable_backward(spec, masks, reverse, fields, x, tensors, grads)
        saved = unflatten_saved(ctx.saved_type, [next(kept) if p else None for p in ctx.present])
        return (None,) * _NONE_ARGS + backward_all(*ctx.call, x, tensors, saved, grads)

    @staticmethod
    def jvp(ctx, *tangents):
        x, *tensors = ctx.saved_tensors
        kernel, spec, masks, reverse, fields, split = ctx.call
        out = forward_tangents(spec, masks, reverse, fields, x, tuple(tensors), tangents[_NONE_ARGS],
                               tangents[_NONE_ARGS + 1:])
        return (*out, *[None] * len(ctx.present))

    @staticmethod
    def vmap(info, in_dims, kernel, spec, masks: tuple, reverse: tuple, fields: tuple, split: bool, x, *tensors):
        from .batching import vmap_sequence                      # the vmap rule lives beside its helpers
        return vmap_sequence(SequenceFunction.apply, info, in_dims, (kernel, spec, masks, reverse, fields, split),
                             x, tensors)
