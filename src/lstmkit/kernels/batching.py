"""The vmap rule of the sequence kernels (:meth:`lstmkit.kernels.autograd.SequenceFunction.vmap`).

Each sample of a recurrent layer's batch runs its own recurrence, so a vmapped call with shared weights
is one call over a bigger batch: the vmapped dimension N is folded into the batch (rows ``n * B + b``),
the kernel runs once over ``(T, N * B, I)``, and the outputs are unfolded. That serves
``vmap(grad(...))`` (per-sample gradients), ``jacrev`` and ``is_grads_batched``. When weights are vmapped
too (an ensemble from ``torch.func.stack_module_state``), each element runs in turn. Lengths, resets and
masks made under vmap (zoneout's, dropout's) fold the same way when they are vmapped, and are repeated
for every element when they are shared.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor
from .common import SeqMasks

__all__ = ["vmap_sequence", "tile_masks"]


#: the batch dimension of each mask (lengths (B,), reset (T, B), drop_x (B, I), drop_h (B, P), zone (T, B, H))
BATCH_DIM = {"lengths": 0, "reset": 1, "drop_x": 0, "drop_h": 0, "zone_h": 1, "zone_c": 1}


def _tile(field: str, t: Tensor, n: int) -> Tensor:
    """One mask repeated ``n`` times along its batch dimension (an expanded constant stays a view)."""
    d = BATCH_DIM[field]
    if t.stride(d) == 0:
        shape = list(t.shape)
        shape[d] *= n
        return t.expand(shape)
    reps = [1] * t.dim()
    reps[d] = n
    return t.repeat(*reps)


def tile_masks(m: SeqMasks, n: int) -> SeqMasks:
    """The masks of ``n`` copies of the batch side by side (rows ``k * B + b`` get row b's masks)."""
    return SeqMasks(*(None if t is None else _tile(f, t, n) for f, t in zip(m._fields, m)))


def _leading(t: Tensor, dim: Optional[int], n: int) -> Tensor:
    """``t`` with the vmapped dimension first (expanded to ``n`` when ``t`` is not vmapped)."""
    return t.unsqueeze(0).expand(n, *t.shape) if dim is None else t.movedim(dim, 0)


def vmap_sequence(apply: Callable, info, in_dims: tuple, call: tuple, x: Tensor, tensors: tuple):
    """(outputs, out_dims) of ``apply(*call, x, *tensors)`` vmapped over ``info.batch_size`` elements;
    ``in_dims`` as the vmap staticmethod receives them (one per argument of ``apply``)."""
    kernel, spec, masks, reverse, fields, split = call
    x_dim, t_dims = in_dims[6], in_dims[7:]
    mask_dims = in_dims[2]
    n_states = len(reverse) * spec.num_states
    if all(d is None for d in t_dims[n_states:]):
        return _folded(apply, info.batch_size, call, x, x_dim, tensors, t_dims, mask_dims, n_states)
    return _looped(apply, info.batch_size, call, x, x_dim, tensors, t_dims, mask_dims)


def _fold_masks(m: SeqMasks, dims: SeqMasks, n: int) -> SeqMasks:
    """The masks of the folded batch: a vmapped mask's elements side by side along its batch dimension,
    a shared one repeated (:func:`tile_masks`)."""
    if dims is None or all(d is None for d in dims):
        return tile_masks(m, n)
    out = []
    for f, t, d in zip(m._fields, m, dims):
        if t is None or d is None:
            out.append(None if t is None else _tile(f, t, n))
            continue
        lead = t.movedim(d, 0)                                 # (N, ...) with the batch at BATCH_DIM[f] + 1
        b = BATCH_DIM[f]
        lead = lead.movedim(0, b)                              # the vmapped dim just before the batch dim
        out.append(lead.reshape(*lead.shape[:b], n * lead.shape[b + 1], *lead.shape[b + 2:]))
    return SeqMasks(*out)


def _folded(apply, n: int, call: tuple, x: Tensor, x_dim, tensors: tuple, t_dims: tuple, mask_dims, n_states: int):
    kernel, spec, masks, reverse, fields, split = call
    xb = _leading(x, x_dim, n)                                 # (N, T, B, I)
    N, T, B = xb.shape[:3]
    x2 = xb.transpose(0, 1).reshape(T, N * B, xb.shape[3])     # (T, N*B, I)
    states = [_leading(s, d, n).reshape(N * B, s.shape[-1]) for s, d in zip(tensors[:n_states], t_dims)]
    folded = tuple(_fold_masks(m, d, N) for m, d in zip(masks, mask_dims or (None,) * len(masks)))
    outs = apply(kernel, spec, folded, reverse, fields, split, x2, *states, *tensors[n_states:])
    D = len(reverse)
    n_out = D * (1 + spec.num_states)
    ys = [y.view(T, N, B, y.shape[-1]) for y in outs[:D]]                  # vmapped dim 1
    finals = [s.view(N, B, s.shape[-1]) for s in outs[D:n_out]]            # vmapped dim 0
    # what the kernel saved is the folded call's own (a node below this level uses it); not per element
    return (*ys, *finals, *outs[n_out:]), (*[1] * D, *[0] * len(finals), *[None] * (len(outs) - n_out))


def _looped(apply, n: int, call: tuple, x: Tensor, x_dim, tensors: tuple, t_dims: tuple, mask_dims):
    kernel, spec, masks, reverse, fields, split = call
    per = []
    for k in range(n):
        xk = x if x_dim is None else x.select(x_dim, k)
        tk = [t if d is None else t.select(d, k) for t, d in zip(tensors, t_dims)]
        mk = masks if mask_dims is None else tuple(
            SeqMasks(*(t if t is None or d is None else t.select(d, k) for t, d in zip(m, dm or (None,) * 6)))
            for m, dm in zip(masks, mask_dims))
        per.append(apply(kernel, spec, mk, reverse, fields, split, xk, *tk))
    outs, dims = [], []
    for vals in zip(*per):
        if vals[0] is None:
            outs.append(None)
            dims.append(None)
        else:
            outs.append(torch.stack(vals))
            dims.append(0)
    return tuple(outs), tuple(dims)
