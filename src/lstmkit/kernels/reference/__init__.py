"""The reference kernels: readable torch ops, hand-written BPTT, any device. The oracle of every other kernel."""

from ..base import FamilyOps, Kernel
from . import gru, lstm, rnn


class ReferenceKernel(Kernel):
    name = "reference"
    runs_classic = True
    families = {
        "lstm": FamilyOps(lstm.lstm_forward, lstm.lstm_backward, lstm.saved_shapes, lstm.LSTMSaved, lstm.gates_of,
                          lstm.lstm_jvp),
        "gru": FamilyOps(gru.gru_forward, gru.gru_backward, gru.saved_shapes, gru.GRUSaved, gru.gates_of,
                         gru.gru_jvp),
        "rnn": FamilyOps(rnn.rnn_forward, rnn.rnn_backward, rnn.saved_shapes, rnn.RNNSaved, rnn.gates_of,
                         rnn.rnn_jvp),
    }


__all__ = ["ReferenceKernel"]
