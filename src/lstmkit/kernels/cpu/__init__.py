"""Compiled CPU kernels (numba): the default for CPU tensors of float32 and float64.

One package per cell family (:mod:`.lstm`, :mod:`.gru`, :mod:`.rnn`), each with ``cell.py`` (the forward
step and the backward step), ``loop.py`` (the time loops compiled end to end) and ``driver.py`` (a call).
Shared: :mod:`.plan` (how a call is laid out), :mod:`.sequence` (the drivers' common pieces),
:mod:`.bookkeeping` (compiled reset / dropout / zoneout steps), :mod:`.gemm` and :mod:`.packed_gemm` (GEMMs
from Python and from compiled code), :mod:`.activations` (vectorisable sigmoid/tanh), :mod:`.single_step`
(streaming). Every routing decision: :mod:`lstmkit.kernels.dispatch`.

The fused route runs a family's whole time loop in compiled code (``loop.py``), so a step never returns to
Python; each step's recurrent GEMM is :mod:`.packed_gemm`'s on weights the driver packs once per call. The
stepped route runs the same step functions (``cell.py``) from a Python loop around oneDNN's packed GEMM
(:mod:`.gemm`). Both fill the same buffers, so either backward can follow either forward.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ..base import FamilyOps, Kernel
from .gemm import bfloat16_gemms
from .prepared import reusing

try:  # numba is a dependency, but a broken LLVM install should leave the reference usable
    from . import gru, lstm, rnn
    from .single_step import gru_step, lstm_step, rnn_step
    _IMPORT_ERROR: Optional[str] = None
except ImportError as e:  # pragma: no cover - exercised only on a broken install
    _IMPORT_ERROR = f"numba could not be imported ({e})"


class CpuKernel(Kernel):
    """``route``: None chooses per call (fused loop for small steps, stepped with oneDNN/MKL GEMMs for
    large ones); "fused" or "stepped" force one (backends "cpu-fused", "cpu-stepped").
    ``bf16``: the stepped route's large float32 GEMMs take bfloat16 operands (backend "cpu-bf16", mixed
    precision as under ``torch.autocast``; see :mod:`.gemm`); the fused loops stay float32."""

    side_by_side = True

    def __init__(self, name: str = "cpu", route: Optional[str] = None, bf16: bool = False) -> None:
        self.name, self.route, self.bf16 = name, route, bf16
    families = {} if _IMPORT_ERROR else {
        "lstm": FamilyOps(lstm.lstm_forward, lstm.lstm_backward, lstm.saved_shapes, lstm.CpuLSTMSaved,
                          lstm.gates_of),
        "gru": FamilyOps(gru.gru_forward, gru.gru_backward, gru.saved_shapes, gru.CpuGRUSaved, gru.gates_of),
        "rnn": FamilyOps(rnn.rnn_forward, rnn.rnn_backward, rnn.saved_shapes, rnn.CpuRNNSaved, rnn.gates_of)}

    def unsupported(self, spec, x: Tensor) -> Optional[str]:
        if _IMPORT_ERROR:
            return _IMPORT_ERROR
        if x.device.type != "cpu":
            return f"it runs on CPU tensors, got a tensor on {x.device}"
        if x.dtype not in (torch.float32, torch.float64):
            return f"it supports float32 and float64, got {x.dtype}"
        return super().unsupported(spec, x)

    def step(self, spec, w, x, state, zone_rates=(), views=None):
        """As :meth:`Kernel.step <lstmkit.kernels.base.Kernel.step>`; ``views``: ``w`` as
        :func:`.single_step.views_of` gives it, when the caller keeps it across steps."""
        rates = tuple(zone_rates) + (0.0,) * (spec.num_states - len(zone_rates))
        if spec.family == "lstm":
            return lstm_step(spec, w, x, state, rates, views)
        return ((gru_step if spec.family == "gru" else rnn_step)(spec, w, x, state, rates, views),)

    def to_original_order(self, seq, x, m, reverse):
        from .plan import make_plan
        return make_plan(x, m, reverse).seq_out(seq)

    # the CPU drivers handle the reverse direction and lengths themselves (internal order)
    def run_forward(self, spec, w, x, state0, m, reverse, save):
        with bfloat16_gemms(self.bf16), reusing(not save):       # inference: weights prepared once (.prepared)
            return self.families[spec.family].forward(spec, w, x, state0, m, reverse, save, route=self.route)

    def run_backward(self, spec, w, x, state0, m, reverse, saved, dy, d_stateT):
        with bfloat16_gemms(self.bf16):
            return self.families[spec.family].backward(spec, w, x, state0, m, reverse, saved, dy, d_stateT,
                                                       route=self.route)


__all__ = ["CpuKernel"]
