"""The compiled CPU GRU: :mod:`.cell` (the forward step and, beside it, the backward step), :mod:`.loop`
(the time loops compiled end to end) and :mod:`.driver` (a call: layout, buffers, windows, the route of each
window, the weight gradients)."""

from .driver import CpuGRUSaved, gru_backward, gru_forward, gates_of, saved_shapes

__all__ = ["CpuGRUSaved", "gru_forward", "gru_backward", "saved_shapes", "gates_of"]
