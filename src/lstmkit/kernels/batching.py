"""The vmap rule of the sequence kernels (:meth:`lstmkit.kernels.autograd.SequenceFunction.vmap`).

Each sample of a recurrent layer's batch runs its own recurrence, so a vmapped call with shared weights
is one call over a bigger batch: the vmapped dimension N is folded into the batch (rows ``n * B + b``),
the kernel runs once over ``(T, N * B, I)``, and the outputs are unfolded. That serves
``vmap(grad(...))`` (per-sample gradients), ``jacrev`` and ``is_grads_batched``. When weights are vmapped
too (an ensemble from ``torch.func.stack_module_state``), each element runs in turn. Lengths, resets and
dropout masks are never vmapped: they belong to the call and are shared by every element.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor
from torch.utils._pytree import tree_leaves

from .common import SeqMasks

__all__ = ["vmap_sequence", "tile_masks"]


def tile_masks(m: SeqMasks, n: int) -> SeqMasks:
    """The masks of ``n`` copies of the batch side by side (rows ``k * B + b`` get row b's masks)."""
    batch_dim = {"lengths": 0, "reset": 1, "drop_x": 0, "drop_h": 0, "zone_h": 1, "zone_c": 1}
    out = []
    for f, t in zip(m._fields, m):
        if t is None:
            out.append(None)
            continue
        d = batch_dim[f]
        if t.stride(d) == 0:                                   # constant over the batch (an expanded view)
            shape = list(t.shape)
            shape[d] *= n
            out.append(t.expand(shape))
        else:
            reps = [1] * t.dim()
            reps[d] = n
            out.append(t.repeat(*reps))
    return SeqMasks(*out)


def _leading(t: Tensor, dim: Optional[int], n: int) -> Tensor:
    """``t`` with the vmapped dimension first (expanded to ``n`` when ``t`` is not vmapped)."""
    return t.unsqueeze(0).expand(n, *t.shape) if dim is None else t.movedim(dim, 0)


def vmap_sequence(apply: Callable, info, in_dims: tuple, call: tuple, x: Tensor, tensors: tuple):
    """(outputs, out_dims) of ``apply(*call, x, *tensors)`` vmapped over ``info.batch_size`` elements;
    ``in_dims`` as the vmap staticmethod receives them (one per argument of ``apply``)."""
    kernel, spec, masks, reverse, fields, split = call
    if any(d is not None for d in tree_leaves(in_dims[2])):
        raise NotImplementedError("vmap over lstmkit layers cannot vmap lengths=, reset= or dropout masks: "
                                  "pass them unbatched (they apply to every vmapped element alike)")
    x_dim, t_dims = in_dims[6], in_dims[7:]
    n_states = len(reverse) * spec.num_states
    if all(d is None for d in t_dims[n_states:]):
        return _folded(apply, info.batch_size, call, x, x_dim, tensors, t_dims, n_states)
    return _looped(apply, info.batch_size, call, x, x_dim, tensors, t_dims)


def _folded(apply, n: int, call: tuple, x: Tensor, x_dim, tensors: tuple, t_dims: tuple, n_states: int):
    kernel, spec, masks, reverse, fields, split = call
    xb = _leading(x, x_dim, n)                                 # (N, T, B, I)
    N, T, B = xb.shape[:3]
    x2 = xb.transpose(0, 1).reshape(T, N * B, xb.shape[3])     # (T, N*B, I)
    states = [_leading(s, d, n).reshape(N * B, s.shape[-1]) for s, d in zip(tensors[:n_states], t_dims)]
    outs = apply(kernel, spec, tuple(tile_masks(m, N) for m in masks), reverse, fields, split, x2,
                 *states, *tensors[n_states:])
    D = len(reverse)
    n_out = D * (1 + spec.num_states)
    ys = [y.view(T, N, B, y.shape[-1]) for y in outs[:D]]                  # vmapped dim 1
    finals = [s.view(N, B, s.shape[-1]) for s in outs[D:n_out]]            # vmapped dim 0
    # what the kernel saved is the folded call's own (a node below this level uses it); not per element
    return (*ys, *finals, *outs[n_out:]), (*[1] * D, *[0] * len(finals), *[None] * (len(outs) - n_out))


def _looped(apply, n: int, call: tuple, x: Tensor, x_dim, tensors: tuple, t_dims: tuple):
    per = []
    for k in range(n):
        xk = x if x_dim is None else x.select(x_dim, k)
        tk = [t if d is None else t.select(d, k) for t, d in zip(tensors, t_dims)]
        per.append(apply(*call, xk, *tk))
    outs, dims = [], []
    for vals in zip(*per):
        if vals[0] is None:
            outs.append(None)
            dims.append(None)
        else:
            outs.append(torch.stack(vals))
            dims.append(0)
    return tuple(outs), tuple(dims)
