"""The compiled CPU RNN: :mod:`.cell` (the forward step and, beside it, the backward step), :mod:`.loop`
(the time loops compiled end to end) and :mod:`.driver` (a call: layout, buffers, windows, the route of each
window, the weight gradients)."""

from .driver import CpuRNNSaved, rnn_backward, rnn_forward, gates_of, saved_shapes

__all__ = ["CpuRNNSaved", "rnn_forward", "rnn_backward", "saved_shapes", "gates_of"]
