"""lstmkit: LSTM, GRU and Elman RNN for PyTorch from the equations up.

Layers (:class:`LSTM`, :class:`GRU`, :class:`RNN`) are drop-in for torch.nn's and add the variants
(peephole, layer norm, CIFG, projection, variational dropout, zoneout, lengths, resets); cells
(:class:`LSTMCell`, :class:`GRUCell`, :class:`RNNCell`) run one step at a time for streaming.
"""

from .cells import GRUCell, LSTMCell, RNNCell
from .layers import GRU, LSTM, RNN
from .state import detach_state

__version__ = "0.1.0"
__all__ = ["LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell", "detach_state", "__version__"]
