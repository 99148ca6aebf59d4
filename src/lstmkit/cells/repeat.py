"""A cell's last no-gradient compiled step, kept so that the next step like it runs without the checks.

A decoder or a generator calls its cell once per step, with inputs of one shape, no gradient and the same
weights: the compiled single step itself (two matrix-vector products and the pointwise cell) takes a few
microseconds at small sizes, and the general :meth:`~lstmkit.cells.base.CellModule.step` spent about
40 us around it on torch.nn's checks, the kernel's choice and the weights' numpy views (2-core AMD EPYC
Zen 3, an ``LSTMCell(64, 64)`` at batch 1). :class:`CellRepeat` keeps what one such step established and
re-checks only what can differ between two steps:

* the arguments: ``x`` a plain CPU tensor of the same shape and dtype; the state None again, or plain
  tensors of the same shapes, dtypes and devices (:func:`hx_signature`);
* the process: gradients off, no tracing (``torch.compile``, ``torch.jit``), no forward-mode level, no
  ``torch.func`` transform of an argument;
* the cell: the same spec and the same parameter tensors at the same addresses, shapes and strides (the
  kept numpy views read their memory, so in-place writes show at once).

Anything else, and the step takes the general path, which keeps a new one. Either way the same compiled
step runs on the same weights.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch.autograd import forward_ad

__all__ = ["CellRepeat", "hx_signature"]


def hx_signature(hx) -> Optional[tuple]:
    """((shape, dtype, device) per state tensor) of a plain state (a tensor, or a tuple or list of tensors,
    none of a subclass); () for None; None for anything else."""
    if hx is None:
        return ()
    parts = (hx,) if type(hx) is Tensor else hx
    if type(parts) not in (tuple, list) or not all(type(p) is Tensor for p in parts):
        return None
    return tuple((p.shape, p.dtype, p.device) for p in parts)


class CellRepeat:
    """What one compiled no-gradient step of ``cell`` established (see the module docstring). Calling it
    with the next step's ``(cell, x, state)`` returns the new state tuple as
    :meth:`~lstmkit.cells.base.CellModule.step` would, or None (then the general path runs)."""

    __slots__ = ("spec", "shape", "dtype", "hx", "params", "kernel", "weights", "views", "zeros", "transformed")

    def __init__(self, cell, x: Tensor, state, kernel, w, states: tuple) -> None:
        from ..kernels.common import transformed
        from ..kernels.cpu.single_step import views_of
        self.spec, self.shape, self.dtype, self.hx = cell.spec, x.shape, x.dtype, hx_signature(state)
        params = cell._parameters
        self.params = tuple((name, params[name], params[name].data_ptr(), params[name].shape,
                             params[name].stride()) for _, name in cell._fields)
        self.kernel, self.weights, self.views, self.transformed = kernel, w, views_of(w), transformed
        self.zeros = states if state is None else None      # a zero state is only read: kept for the next step

    @staticmethod
    def applies(cell, x, state) -> bool:
        """Whether a step that took the compiled route can be kept: plain arguments, no gradient, every
        parameter a plain registered one (not a parametrization)."""
        return type(x) is Tensor and not torch.is_grad_enabled() and hx_signature(state) is not None and \
            all(cell._parameters.get(name) is not None for _, name in cell._fields)

    def __call__(self, cell, x, state) -> Optional[tuple]:
        if torch.is_grad_enabled() or type(x) is not Tensor or not x.is_cpu or x.shape != self.shape or \
                x.dtype != self.dtype or cell.spec is not self.spec:
            return None
        if hx_signature(state) != self.hx or forward_ad._current_level >= 0 or torch.compiler.is_compiling() \
                or torch.jit.is_tracing():
            return None
        parts = () if state is None else (state,) if type(state) is Tensor else tuple(state)
        if self.transformed((x, *parts)):
            return None
        params = cell._parameters
        for name, p, ptr, shape, stride in self.params:
            q = params.get(name)
            if q is not p or q.data_ptr() != ptr or q.shape != shape or q.stride() != stride:
                return None
        batched = x.dim() == 2
        if state is None:
            states = self.zeros
        else:
            states = parts if batched else tuple(s.unsqueeze(0) for s in parts)
        new = self.kernel.step(self.spec, self.weights, x if batched else x.unsqueeze(0), states, views=self.views)
        return tuple(new) if batched else tuple(s.squeeze(0) for s in new)
