"""Compiled CPU kernels (numba): the default for CPU tensors of float32 and float64.

See :mod:`.plan` for how a call is laid out, :mod:`.lstm` for the kernel plan, :mod:`.activations`
for the vectorisable sigmoid/tanh.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ..base import FamilyOps, Kernel

try:  # numba is a dependency, but a broken LLVM install should leave the reference usable
    from .gru import gru_backward, gru_forward
    from .lstm import lstm_backward, lstm_forward
    from .rnn import rnn_backward, rnn_forward
    _IMPORT_ERROR: Optional[str] = None
except ImportError as e:  # pragma: no cover - exercised only on a broken install
    _IMPORT_ERROR = f"numba could not be imported ({e})"


class CpuKernel(Kernel):
    name = "cpu"
    families = {} if _IMPORT_ERROR else {"lstm": FamilyOps(lstm_forward, lstm_backward),
                                         "gru": FamilyOps(gru_forward, gru_backward),
                                         "rnn": FamilyOps(rnn_forward, rnn_backward)}

    def unsupported(self, spec, x: Tensor) -> Optional[str]:
        if _IMPORT_ERROR:
            return _IMPORT_ERROR
        if x.device.type != "cpu":
            return f"it runs on CPU tensors, got a tensor on {x.device}"
        if x.dtype not in (torch.float32, torch.float64):
            return f"it supports float32 and float64, got {x.dtype}"
        return super().unsupported(spec, x)

    # the CPU drivers handle the reverse direction and lengths themselves (internal order)
    def run_forward(self, spec, w, x, state0, m, reverse, save):
        return self.families[spec.family].forward(spec, w, x, state0, m, reverse, save)

    def run_backward(self, spec, w, x, state0, m, reverse, saved, dy, d_stateT):
        return self.families[spec.family].backward(spec, w, x, state0, m, reverse, saved, dy, d_stateT)


__all__ = ["CpuKernel"]
