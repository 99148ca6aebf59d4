"""lstmkit: LSTM, GRU and Elman RNN for PyTorch from the equations up.

Layers (:class:`LSTM`, :class:`GRU`, :class:`RNN`) are drop-in for torch.nn's and add the variants
(peephole, layer norm, CIFG, projection, variational dropout, zoneout, lengths, resets); cells
(:class:`LSTMCell`, :class:`GRUCell`, :class:`RNNCell`) run one step at a time for streaming.

The names load on first use (``import lstmkit`` itself imports nothing heavy), so the ``lstmkit`` command
can answer Ctrl-C during its imports in one line.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"
__all__ = ["LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell", "detach_state", "explain", "__version__"]

_WHERE = {"LSTM": ".layers", "GRU": ".layers", "RNN": ".layers", "LSTMCell": ".cells", "GRUCell": ".cells",
          "RNNCell": ".cells", "detach_state": ".state"}


def explain(layer, input, hx=None, lengths=None, train=None):
    """Which kernel, loop, GEMM routes, thread split and windows ``layer(input, hx, lengths=lengths)`` would
    take, and why: ``layer.explain(...)`` (:meth:`lstmkit.layers.base.RecurrentBase.explain`).

    Example::

        >>> import torch, lstmkit
        >>> print(lstmkit.explain(lstmkit.GRU(8, 16), torch.randn(20, 4, 8)))  # doctest: +ELLIPSIS
        GRU(8, 16)
        layer 0: one direction, T=20, B=4, ...
    """
    return layer.explain(input, hx, lengths=lengths, train=train)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
