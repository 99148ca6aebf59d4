"""Drop-in recurrent layers: lstmkit.LSTM, lstmkit.GRU, lstmkit.RNN."""

from .base import RecurrentBase
from .dropout import Dropout
from .gru import GRU
from .lstm import LSTM
from .rnn import RNN

__all__ = ["LSTM", "GRU", "RNN", "RecurrentBase", "Dropout"]
