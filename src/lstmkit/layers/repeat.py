"""A layer's last plain inference call, kept so that the next call like it runs without the general path.

A deployed model calls its layer again and again with inputs of one shape, no gradient, and the same
weights. The general :meth:`~lstmkit.layers.base.RecurrentBase.forward` checks the call as torch.nn does,
decides its route (:func:`lstmkit.kernels.dispatch.lean`), finds the prepared program by its key and
checks the weights' bytes (:func:`lstmkit.kernels.cpu.lean.run_stack`): about 0.2 ms of Python a call,
measured on the 2-core AMD EPYC Zen 3 right after a (1, 1000, 64, 64) LSTM's 1.3 ms of compiled work (the
interpreter's code and data are out of the caches by then), and 0.3-0.5 ms after a (32, 100, 64, 128) one.

:class:`Repeat` keeps what that call established and re-checks only what can differ between two calls:

* the arguments: ``input`` a plain tensor of the same shape and dtype on the CPU; ``hx`` None again, or
  plain tensors of the same shapes, dtypes and devices (``lengths``, ``reset`` and ``record`` unused);
* the process: gradients off, no ``torch.compile`` tracing, no forward-mode level, no ``torch.func``
  transform of an argument, the same thread counts, side-by-side switch, tuning record and weight-cache
  switch (:func:`~lstmkit.kernels.cpu.prepared.limit_bytes` above 0);
* the layer: the options a route depends on (:meth:`~lstmkit.layers.base.RecurrentBase._route_options`:
  training, backend, batch_first, dropout rates, zoneout, the specs, no recorder);
* the weights: the same tensors at the same addresses, shapes, strides and version counters, and -- in
  :class:`~lstmkit.kernels.cpu.lean.Rerun`, since a write through ``.data`` or a numpy view bumps no
  version counter -- the same bytes (64-bit fingerprints).

Anything else, or any difference, and the call takes the general path, which keeps a new
:class:`Repeat`. Either way the result is the same: the same program runs on the same weights.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch.autograd import forward_ad

from ..cells.repeat import hx_signature
from ..kernels import dispatch
from ..kernels.common import transformed
from ..kernels.cpu.lean import Rerun
from ..kernels.cpu.prepared import limit_bytes
from .inputs import Prepared, finish, time_major

__all__ = ["Repeat", "hx_signature"]


def _process() -> tuple:
    """The process-wide settings a lean call's route and program depend on."""
    return (torch.get_num_threads(), dispatch.threads_enabled(), dispatch.tuning(), limit_bytes() > 0)


class Repeat:
    """What one plain inference call of ``layer`` established (see the module docstring); calling it with
    the next call's ``(layer, input, hx)`` returns ``(output, state)`` as ``layer.forward`` would, or None
    when the call differs in anything that matters (then the general path runs)."""

    __slots__ = ("shape", "dtype", "hx", "process", "options", "weights", "rerun", "prep")

    def __init__(self, layer, input: Tensor, hx, prep: Prepared, rerun: Rerun) -> None:
        self.shape, self.dtype, self.hx = input.shape, input.dtype, hx_signature(hx)
        self.process, self.options = _process(), layer._route_options()
        self.weights = [(w, w.data_ptr(), w.shape, w.stride(), w._version) if w is not None else None
                        for w in layer._flat_weights]
        self.rerun = rerun
        # the zero initial state of an hx=None call is only read, never returned: kept for the next one
        self.prep = Prepared(x=None, state0=prep.state0 if hx is None else (), lengths=None, reset=None,
                             unbatched=prep.unbatched)

    @staticmethod
    def applies(input, hx, prep: Prepared) -> bool:
        """Whether a call that took the lean route can be kept (a plain input and hx, no gradient)."""
        return type(input) is Tensor and prep.packed is None and not torch.is_grad_enabled() and \
            hx_signature(hx) is not None

    def __call__(self, layer, input, hx) -> Optional[tuple]:
        if torch.compiler.is_compiling() or torch.is_grad_enabled() or type(input) is not Tensor or not input.is_cpu or \
                input.shape != self.shape or input.dtype != self.dtype:
            return None
        sig = hx_signature(hx)
        if sig != self.hx or forward_ad._current_level >= 0:
            return None
        parts = () if hx is None else (hx,) if type(hx) is Tensor else tuple(hx)
        if transformed((input, *parts)) or layer._route_options() != self.options:
            return None
        if self.rerun.program is not None and _process() != self.process:    # (a single step runs as it is)
            return None
        layer._update_flat_weights()
        if len(layer._flat_weights) != len(self.weights):
            return None
        for w, kept in zip(layer._flat_weights, self.weights):
            if kept is None:
                if w is not None:
                    return None
            elif w is not kept[0] or w.data_ptr() != kept[1] or w.shape != kept[2] or w.stride() != kept[3] \
                    or w._version != kept[4]:
                return None
        prep = self.prep
        unbatched, batch_first = prep.unbatched, layer.batch_first
        state0 = prep.state0 if hx is None else tuple(p.unsqueeze(1) if unbatched else p for p in parts)
        done = self.rerun(time_major(input, unbatched, batch_first), state0)
        if done is None:
            return None
        out, states = finish(prep, done[0], done[1], batch_first)
        return out, layer._pack_state(states)
