"""The reference kernels: readable torch ops, hand-written BPTT, any device. The oracle of every other kernel."""

from ..base import FamilyOps, Kernel
from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward
from .rnn import rnn_backward, rnn_forward


class ReferenceKernel(Kernel):
    name = "reference"
    families = {
        "lstm": FamilyOps(lstm_forward, lstm_backward),
        "gru": FamilyOps(gru_forward, gru_backward),
        "rnn": FamilyOps(rnn_forward, rnn_backward),
    }


__all__ = ["ReferenceKernel"]
