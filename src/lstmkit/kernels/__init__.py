"""Whole-sequence kernels behind one interface, and the choice among them.

:func:`run` is the only entry the layers use: it picks a kernel (``backend``), and when gradients are
needed wraps it in :class:`~lstmkit.kernels.autograd.SequenceFunction` so that autograd calls the kernel's
hand-written backward. Implementations register themselves with :func:`register`.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch.autograd import forward_ad

from ..cells.base import CellSpec

from .autograd import SequenceFunction, forward_all
from .base import FamilyOps, Kernel
from .common import SeqMasks, transformed
from . import dispatch
from .dispatch import available, register, select
from .cpu import CpuKernel
from .gpu import TritonKernel
from .gpu.cudnn import CudnnRoute
from .reference import ReferenceKernel

__all__ = ["SeqMasks", "Kernel", "FamilyOps", "register", "available", "select", "run", "run_bidirectional", "record",
           "needs_node"]

def run(spec: CellSpec, weights, x: Tensor, state0: tuple[Tensor, ...], masks: Optional[SeqMasks] = None,
        reverse: bool = False, backend: str = "auto") -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run one layer-direction over a sequence. A kernel with ``side_by_side`` (the CPU kernels) may run
    the batch as two halves at once (:func:`lstmkit.kernels.dispatch.sides`); the weight gradients
    then add the halves' sums.

    Args:
        spec: the cell's options; weights: the family's weights tuple (tensors may require grad).
        x: (T, B, I); state0: the initial state tuple (h0 (B, P)[, c0 (B, H)]).
        masks: lengths, resets, dropout and zoneout (:class:`SeqMasks`); reverse: run backwards in time
            (each sequence within its length).
    Returns:
        (y (T, B, P), final state tuple).
    """
    return _run(spec, (weights,), x, (tuple(state0),), (SeqMasks() if masks is None else masks,), (reverse,),
                backend)[0]


def run_bidirectional(spec: CellSpec, weights: tuple, x: Tensor, state0: tuple, masks: tuple,
                      backend: str = "auto") -> list[tuple[Tensor, tuple[Tensor, ...]]]:
    """Both directions of a bidirectional layer over the same input: ``weights``, ``state0`` and ``masks``
    are (forward-in-time, reverse) pairs of what :func:`run` takes; returns [(y, final state)] for each.

    The same numbers as two :func:`run` calls. A kernel with ``side_by_side`` (the CPU kernels) runs the
    two at once, forward and backward, each on half of the threads (:mod:`.concurrent`).
    """
    return _run(spec, tuple(weights), x, tuple(tuple(s) for s in state0), tuple(masks), (False, True), backend)


def _run(spec: CellSpec, weights: tuple, x: Tensor, state0: tuple, masks: tuple, reverse: tuple,
         backend: str) -> list[tuple[Tensor, tuple[Tensor, ...]]]:
    """[(y, final state)] of each direction d: weights[d], state0[d], masks[d], reverse[d] over x."""
    D = len(reverse)
    kernel = select(backend, spec, x)
    shared = dispatch.sides(kernel, spec, x.shape[0], x.shape[1], x.element_size(), D)
    if D == 2 and shared != "directions":
        return [_run(spec, weights[d:d + 1], x, state0[d:d + 1], masks[d:d + 1], reverse[d:d + 1], backend)[0]
                for d in range(D)]
    split = shared == "halves"
    fields = tuple(f for f in type(weights[0])._fields if getattr(weights[0], f) is not None)
    tensors = tuple(s for st in state0 for s in st) + tuple(getattr(w, f) for w in weights for f in fields)
    call = (kernel, spec, masks, reverse, fields, split)
    if torch.compiler.is_compiling():                  # one custom op per call: no graph break
        from .ops import run_op
        outs = run_op(*call, x, tensors)
    elif needs_node(x, tensors):
        outs = SequenceFunction.apply(*call, x, *tensors)
    else:
        outs = forward_all(*call, x, tensors, save=False)[0]
    ns = spec.num_states
    return [(outs[d], tuple(outs[D + d * ns:D + (d + 1) * ns])) for d in range(D)]


def needs_node(x: Tensor, tensors: tuple) -> bool:
    """Whether the call goes through :class:`SequenceFunction`: something needs its gradient, or its
    forward-mode derivative (a dual level is open), or a torch.func transform wraps an input (the node
    has the vmap rule and the jvp the compiled kernels lack)."""
    if torch.is_grad_enabled() and (x.requires_grad or any(t.requires_grad for t in tensors)):
        return True
    return forward_ad._current_level >= 0 or transformed((x, *tensors))


def record(spec: CellSpec, weights, x: Tensor, state0: tuple[Tensor, ...], masks: Optional[SeqMasks] = None,
           reverse: bool = False, backend: str = "auto") -> dict:
    """Every step's gate activations (LSTM: i, f, g, o and c; GRU: r, z, n) of one layer-direction,
    (T, B, H) each in the caller's order, zero past each sequence's end; no gradient."""
    masks = SeqMasks() if masks is None else masks
    return select(backend, spec, x).record(spec, weights, x, tuple(state0), masks, reverse)


register(ReferenceKernel())
register(CpuKernel("cpu-fused", route="fused"))
register(CpuKernel("cpu-stepped", route="stepped"))
register(CpuKernel("cpu-bf16", bf16=True))
register(CpuKernel(), auto_for=["cpu"])
register(TritonKernel(), auto_for=["cuda"])     # on CUDA after the cuDNN route (layers), before the reference
register(CudnnRoute())                          # the name only: the layers run whole stacks (dispatch.cudnn_route)
