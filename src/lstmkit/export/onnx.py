"""lstmkit's recurrent layers and cells as ONNX models: :func:`onnx`.

The graph is written with :mod:`lstmkit.export.graph` (onnx.helper, no tracing): ONNX's own LSTM / GRU / RNN
operators for the standard configurations, a Scan over the cell step for the variants. onnx is imported only
when a model is written (``pip install lstmkit[onnx]`` installs onnx and onnxruntime).
"""

from __future__ import annotations

import os
import pathlib
import sys
import types
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["onnx"]


def onnx(module, example_input: Tensor, path: Union[str, os.PathLike], *, lengths=None, hx=None,
         opset: int = 17) -> pathlib.Path:
    """Write ``module`` as an ONNX model to ``path`` (atomically: a temporary file, then a rename).

    The model computes the module in evaluation mode, in float32, whatever ``module.training`` says: dropout
    between layers, ``input_dropout`` and ``recurrent_dropout`` are training-only and have no effect there,
    zoneout is its expectation ``p * previous + (1 - p) * new``, and options that only change the
    initialisation or the backward pass (``forget_bias``, ``init_range``, ``gate_bias_steps``,
    ``truncated_gradient``) need nothing. ``backend`` does not matter; forward's ``reset=`` (restarts inside a
    stream) is not an input of the model. Standard configurations (and the
    peephole LSTM) use ONNX's LSTM / GRU / RNN operators; the variants (``layer_norm``, ``cifg``,
    ``proj_size``, zoneout, ``cells_per_block``, ``forget_gate=False``, the 1997 squashing functions, GRU's
    ``reset_before``) a Scan over time whose body is the cell step.

    Args:
        module: an :class:`lstmkit.LSTM`, :class:`~lstmkit.GRU` or :class:`~lstmkit.RNN` layer, an lstmkit
            cell (:class:`~lstmkit.LSTMCell`, :class:`~lstmkit.GRUCell`, :class:`~lstmkit.RNNCell`: one step),
            or the torch.nn module of any of these (converted with ``from_torch``).
        example_input: a layer's input (T, B, I), or (B, T, I) with ``batch_first``; a cell's (B, I). It fixes
            I; T and B stay dynamic in the model ("time", "batch").
        path: the file to write.
        lengths: None (no "lengths" input), True, or an example (B,) tensor of valid lengths: the model takes
            an int64 (B,) input "lengths", each in [1, T] (layers only).
        hx: None (initial states are zeros of the input's batch), True, or an example state as the module
            takes it: the model takes "h0" (L*D, B, P) (a cell's (B, P)) and, for LSTM, "c0" (L*D, B, H)
            (a cell's (B, H)).
        opset: the ONNX opset (17 or newer).

    The model's outputs are the module's: "output" (T, B, D*P) ((B, T, D*P) with ``batch_first``; zero at
    steps past a sequence's length), "h_n" (L*D, B, P) and, for LSTM, "c_n" (L*D, B, H) (the states at each
    sequence's last valid step). For a cell: "output" and "h_n" are h_t (B, P), "c_n" c_t (B, H). D = 2 if
    bidirectional else 1; P = proj_size if set else H.

    Returns:
        the path written, as a :class:`pathlib.Path`.

    Raises:
        TypeError: a module that is none of the above, or an input that is not a tensor.
        ValueError: an input of the wrong shape, an option the export cannot compute, or an opset below 17.

    Example::

        >>> import pathlib, tempfile, torch, lstmkit, lstmkit.export
        >>> import onnxruntime as ort
        >>> lstm = lstmkit.LSTM(3, 4, num_layers=2, layer_norm=True).eval()
        >>> path = lstmkit.export.onnx(lstm, torch.randn(5, 2, 3), pathlib.Path(tempfile.mkdtemp()) / "lstm.onnx",
        ...                            lengths=True)
        >>> session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        >>> x, n = torch.randn(7, 3, 3), torch.tensor([7, 4, 1])        # another T and B than the example
        >>> output, h_n, c_n = session.run(None, {"input": x.numpy(), "lengths": n.numpy()})
        >>> want, (h, c) = lstm(x, lengths=n)
        >>> output.shape, bool(abs(torch.from_numpy(output) - want).max() < 1e-5)
        ((7, 3, 4), True)
    """
    from .graph import Graph
    from .recurrent import emit_cell, emit_recurrent
    from ..train.atomic import write_bytes

    module = _as_lstmkit(module)
    if isinstance(opset, bool) or not isinstance(opset, int):
        raise TypeError(f"opset must be an int, got {type(opset).__name__} ({opset!r})")
    g = Graph(type(module).__name__, opset)
    if _is_cell(module):
        _cell_graph(g, module, example_input, lengths, hx, emit_cell)
    else:
        _layer_graph(g, module, example_input, lengths, hx, emit_recurrent)
    data = g.model().SerializeToString()
    write_bytes(path, data)
    return pathlib.Path(path)


# ------------------------------------------------------------------------------------------------ modules
def _as_lstmkit(module):
    """The lstmkit layer or cell for ``module`` (torch.nn's recurrent modules converted)."""
    from .. import cells, layers
    from ..cells.base import CellModule
    from ..layers.base import RecurrentBase

    if isinstance(module, (RecurrentBase, CellModule)):
        return module
    converters = {nn.LSTM: layers.LSTM, nn.GRU: layers.GRU, nn.RNN: layers.RNN, nn.LSTMCell: cells.LSTMCell,
                  nn.GRUCell: cells.GRUCell, nn.RNNCell: cells.RNNCell}
    for torch_cls, ours in converters.items():
        if type(module) is torch_cls:
            return ours.from_torch(module)
    raise TypeError(f"onnx() exports an lstmkit LSTM, GRU or RNN layer or cell (or torch.nn.LSTM/GRU/RNN and "
                    f"their cells), got {type(module).__module__}.{type(module).__name__}")


def _is_cell(module) -> bool:
    from ..cells.base import CellModule
    return isinstance(module, CellModule)


def _check_input(example_input, want_dims: int, what: str, input_size: int) -> None:
    if not isinstance(example_input, Tensor):
        raise TypeError(f"example_input must be a torch.Tensor {what}, got {type(example_input).__name__} "
                        f"(a PackedSequence: pass the padded tensor and lengths=)")
    if example_input.dim() != want_dims:
        raise ValueError(f"example_input must be {want_dims}-D {what}, got shape {tuple(example_input.shape)}")
    if example_input.size(-1) != input_size:
        raise ValueError(f"example_input.size(-1) must be {input_size} (input_size), got {example_input.size(-1)}")


def _states(hx, num: int) -> Optional[tuple]:
    """hx as a tuple of tensors, () for True, None for None/False."""
    if hx is None or hx is False:
        return None
    if hx is True:
        return ()
    states = (hx,) if isinstance(hx, Tensor) else tuple(hx) if isinstance(hx, (tuple, list)) else None
    if states is None or len(states) != num or not all(isinstance(s, Tensor) for s in states):
        want = "a tensor h_0" if num == 1 else "a tuple (h_0, c_0) of tensors"
        raise TypeError(f"hx must be None, True or {want}, got {type(hx).__name__}")
    return states


def _check_state_shapes(states: tuple, want: list, names: tuple) -> None:
    """Each given example state has the wanted shape (None entries: the batch, taken from the input)."""
    for s, shape, name in zip(states, want, names):
        if s.dim() != len(shape) or any(w is not None and w != got for w, got in zip(shape, s.shape)):
            expected = tuple("B" if w is None else w for w in shape)
            raise ValueError(f"hx's {name} must have shape {expected}, got {tuple(s.shape)}")


# ------------------------------------------------------------------------------------------------ graphs
def _layer_graph(g, layer, example_input, lengths, hx, emit_recurrent) -> None:
    """Inputs "input" [, "h0", "c0"] [, "lengths"] and outputs "output", "h_n" [, "c_n"] of a layer."""
    _check_input(example_input, 3, "(T, B, I), or (B, T, I) with batch_first" if not layer.batch_first
                 else "(B, T, I) (batch_first)", layer.input_size)
    I, D, L = layer.input_size, layer.num_directions, layer.num_layers
    sizes = layer._specs[0].state_sizes()                                   # (P,) or (P, H)
    bf = layer.batch_first
    x = g.input("input", np.float32, ["batch", "time", I] if bf else ["time", "batch", I])
    states = _states(hx, len(sizes))
    names = ("h0", "c0")[:len(sizes)]
    s0 = [None, None]
    if states is not None:
        if states:
            _check_state_shapes(states, [(L * D, None, n) for n in sizes], names)
        s0[:len(sizes)] = [g.input(n, np.float32, [L * D, "batch", size]) for n, size in zip(names, sizes)]
    n = _lengths_input(g, lengths, example_input.size(0 if bf else 1))
    y, h_n, c_n = emit_recurrent(g, layer, x, h0=s0[0], c0=s0[1], lengths=n)
    out = D * sizes[0]
    g.output("output", np.float32, ["batch", "time", out] if bf else ["time", "batch", out], value=y)
    g.output("h_n", np.float32, [L * D, "batch", sizes[0]], value=h_n)
    if c_n is not None:
        g.output("c_n", np.float32, [L * D, "batch", sizes[1]], value=c_n)


def _lengths_input(g, lengths, batch: int) -> Optional[str]:
    if lengths is None or lengths is False:
        return None
    if lengths is not True:
        if not isinstance(lengths, Tensor):
            raise TypeError(f"lengths must be None, True or a (B,) tensor, got {type(lengths).__name__}")
        if tuple(lengths.shape) != (batch,):
            raise ValueError(f"lengths must have shape ({batch},) (the example's batch), got {tuple(lengths.shape)}")
    return g.input("lengths", np.int64, ["batch"])


def _cell_graph(g, cell, example_input, lengths, hx, emit_cell) -> None:
    """Inputs "input" [, "h0", "c0"] and outputs "output", "h_n" [, "c_n"] of one cell step."""
    if lengths is not None and lengths is not False:
        raise ValueError(f"lengths is for sequences; {type(cell).__name__} runs one step (lengths=None)")
    spec = cell.spec
    _check_input(example_input, 2, "(B, I)", spec.input_size)
    sizes = spec.state_sizes()
    x = g.input("input", np.float32, ["batch", spec.input_size])
    states = _states(hx, len(sizes))
    names = ("h0", "c0")[:len(sizes)]
    s0 = [None, None]
    if states is not None:
        if states:
            _check_state_shapes(states, [(example_input.size(0), n) for n in sizes], names)
        s0[:len(sizes)] = [g.input(n, np.float32, ["batch", size]) for n, size in zip(names, sizes)]
    h, c = emit_cell(g, cell, x, h0=s0[0], c0=s0[1])
    g.output("output", np.float32, ["batch", sizes[0]], value=h)
    g.output("h_n", np.float32, ["batch", sizes[0]], value=h)
    if c is not None:
        g.output("c_n", np.float32, ["batch", sizes[1]], value=c)


class _CallableModule(types.ModuleType):
    """This module is also ``lstmkit.export.onnx`` the attribute (importing a submodule sets the package's
    attribute of that name): calling it calls :func:`onnx`."""

    def __call__(self, *args, **kwargs):
        return onnx(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
