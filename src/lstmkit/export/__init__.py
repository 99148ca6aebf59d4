"""Exporting lstmkit's recurrent layers to other runtimes: :func:`onnx` writes an ONNX model of an LSTM, GRU or
RNN layer (or cell); :mod:`lstmkit.export.graph` is the graph builder under it, for whole models.

Importing this package loads nothing heavy: onnx is imported when :func:`onnx` is called.
"""

from __future__ import annotations

__all__ = ["onnx"]


def onnx(module, example_input, path, **kwargs):
    """Write ``module`` as an ONNX model to ``path``: see :func:`lstmkit.export.onnx.onnx` (the full docs)."""
    from .onnx import onnx as _onnx
    return _onnx(module, example_input, path, **kwargs)
