"""The compiled CPU LSTM: :mod:`.cell` (the forward step and, beside it, the backward step), :mod:`.loop`
(the time loops compiled end to end) and :mod:`.driver` (a call: layout, buffers, windows, the route of each
window, the weight gradients)."""

from .driver import CpuLSTMSaved, lstm_backward, lstm_forward, gates_of, saved_shapes

__all__ = ["CpuLSTMSaved", "lstm_forward", "lstm_backward", "saved_shapes", "gates_of"]
