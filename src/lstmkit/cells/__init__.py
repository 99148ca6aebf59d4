"""The math of each cell family: options (spec), parameter layout, equations, single-step functions."""

from .base import CellModule, CellSpec, ParamInfo
from .gru import GRUCell, GRUSpec, GRUWeights, gru_step
from .lstm import LSTMCell, LSTMSpec, LSTMWeights, lstm_step
from .rnn import RNNCell, RNNSpec, RNNWeights, rnn_step

__all__ = ["CellModule", "CellSpec", "ParamInfo", "LSTMCell", "LSTMSpec", "LSTMWeights", "lstm_step",
           "GRUCell", "GRUSpec", "GRUWeights", "gru_step", "RNNCell", "RNNSpec", "RNNWeights", "rnn_step"]
