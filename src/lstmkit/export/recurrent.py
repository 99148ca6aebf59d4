"""Recurrent layers and cells into a :class:`~lstmkit.export.graph.Graph`: :func:`emit_recurrent` (a whole
layer, every option) and :func:`emit_cell` (one step of a cell).

Standard configurations become ONNX's own LSTM / GRU / RNN operators (one per layer, both directions in it);
the variants become the input projection of all steps as one MatMul and a ``Scan`` over time whose body is the
cell step (:mod:`lstmkit.export.scan`). Both are also importable from :mod:`lstmkit.export.graph`.

Example::

    >>> import lstmkit
    >>> from lstmkit.export.graph import Graph
    >>> from lstmkit.export.recurrent import emit_cell
    >>> g = Graph("step")
    >>> x = g.input("x", "float32", ["batch", 3])
    >>> h, c = emit_cell(g, lstmkit.GRUCell(3, 4), x)
    >>> g.output("h", "float32", ["batch", 4], value=h)
    >>> c is None, g.model().graph.output[0].name
    (True, 'h')
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .graph import MIN_OPSET, Graph, _elem_type
from .scan import _emit_scan_direction, _gru_step, _input_side, _lstm_step, _np, _rnn_step, _zeros

__all__ = ["emit_recurrent", "emit_cell"]


def emit_recurrent(g: Graph, layer, x: str, *, h0: Optional[str] = None, c0: Optional[str] = None,
                   lengths: Optional[str] = None) -> tuple:
    """Write ``layer`` (an :class:`lstmkit.LSTM`, :class:`~lstmkit.GRU` or :class:`~lstmkit.RNN`) into ``g``,
    in evaluation mode and float32.

    Args:
        g: the graph (opset >= 17).
        layer: the lstmkit layer.
        x: float32 value laid out as the layer expects: (T, B, I), or (B, T, I) with ``batch_first``.
        h0: optional (L*D, B, P) initial hidden state (zeros when None).
        c0: optional (L*D, B, H) initial cell state (LSTM only; zeros when None).
        lengths: optional int64 (B,) valid lengths, each in [1, T].
    Returns:
        ``(output, h_n, c_n)`` value names with the layer's shapes: output (T, B, D*P) ((B, T, D*P) with
        ``batch_first``; zero at padded steps), h_n (L*D, B, P), c_n (L*D, B, H) for LSTM, else None.
    """
    _check_layer(g, layer)
    if c0 is not None and layer._specs[0].num_states < 2:
        raise ValueError(f"c0 is for LSTM layers; {type(layer).__name__} has only h")
    D, L = layer.num_directions, layer.num_layers
    xt = g.op("Transpose", [x], perm=[1, 0, 2], hint="x_time_major") if layer.batch_first else x   # (T, B, I)
    plan = _plan(layer)
    h_list, c_list = [], []
    for k in range(L):
        if plan == "standard":
            xt, hs, cs = _emit_standard(g, layer, k, xt, h0, c0, lengths)
            h_list.append(hs)
            if cs is not None:
                c_list.append(cs)
            continue
        outs = []
        for d in range(D):
            y, states = _emit_scan_direction(g, layer, k, d, xt, (h0, c0), lengths)
            outs.append(y)
            h_list.append(g.op("Unsqueeze", [states[0], g.ints([0])], hint="h_n_part"))
            if len(states) > 1:
                c_list.append(g.op("Unsqueeze", [states[1], g.ints([0])], hint="c_n_part"))
        xt = outs[0] if D == 1 else g.op("Concat", outs, axis=2, hint=f"y_l{k}")        # (T, B, D*P)
    out = g.op("Transpose", [xt], perm=[1, 0, 2], hint="y_batch_first") if layer.batch_first else xt
    h_n = h_list[0] if len(h_list) == 1 else g.op("Concat", h_list, axis=0, hint="h_n")
    c_n = None
    if c_list:
        c_n = c_list[0] if len(c_list) == 1 else g.op("Concat", c_list, axis=0, hint="c_n")
    return out, h_n, c_n


def emit_cell(g: Graph, cell, x: str, *, h0: Optional[str] = None, c0: Optional[str] = None) -> tuple:
    """Write one step of ``cell`` (an :class:`lstmkit.LSTMCell`, :class:`~lstmkit.GRUCell` or
    :class:`~lstmkit.RNNCell`) into ``g``.

    Args:
        x: float32 (B, I) input x_t.
        h0: optional (B, P) previous hidden state; c0: optional (B, H) previous cell state (LSTM); zeros when
            None.
    Returns:
        ``(h_t, c_t)`` value names: (B, P) and (B, H) for LSTM, c_t None for GRU and RNN.
    """
    spec, w = cell.spec, cell.weights()
    _check_spec(g, spec, f"{type(cell).__name__}")
    a_x = _input_side(g, spec, w, x)                                   # (B, R)
    h = h0 if h0 is not None else _zeros(g, x, 0, spec.out_size)
    if spec.family == "lstm":
        c = c0 if c0 is not None else _zeros(g, x, 0, spec.hidden_size)
        return _lstm_step(g, spec, w, a_x, h, c)
    if c0 is not None:
        raise ValueError(f"c0 is for LSTM cells; {type(cell).__name__} has only h")
    return (_gru_step if spec.family == "gru" else _rnn_step)(g, spec, w, a_x, h)[0], None


# -------------------------------------------------------------------------------------------- checks and plan
#: options that change only the initialisation or the backward pass: nothing to export
_NO_FORWARD_EFFECT = {"forget_bias", "init_range", "gate_bias_steps", "truncated_gradient"}
#: the options each family's Scan body computes
_SCAN_OPTIONS = {"lstm": {"proj_size", "peephole", "layer_norm", "cifg", "cells_per_block", "forget_gate",
                          "input_squash", "output_squash", "ln_eps"},
                 "gru": {"reset_before"}, "rnn": set()}


def _check_spec(g: Graph, spec, what: str) -> dict:
    """The spec's options that change the evaluation forward pass; errors for what cannot be exported."""
    if g.opset < MIN_OPSET:
        raise ValueError(f"the recurrent export needs opset >= {MIN_OPSET} (LayerNormalization, Split sizes as "
                         f"an input), got opset={g.opset}")
    if spec.family not in _SCAN_OPTIONS:
        raise TypeError(f"{what}: expected an lstm, gru or rnn cell family, got {spec.family!r}")
    options = {k: v for k, v in spec.variant_options().items() if k not in _NO_FORWARD_EFFECT}
    unknown = set(options) - _SCAN_OPTIONS[spec.family]
    if unknown:
        raise ValueError(f"{what}: the ONNX export supports the {spec.family} options "
                         f"{sorted(_SCAN_OPTIONS[spec.family])}, got {sorted(unknown)}")
    return options


def _check_layer(g: Graph, layer) -> None:
    from ..layers.base import RecurrentBase
    if not isinstance(layer, RecurrentBase):
        raise TypeError(f"emit_recurrent expects an lstmkit LSTM, GRU or RNN layer, got {type(layer).__name__}")
    for spec in layer._specs:
        _check_spec(g, spec, type(layer).__name__)


def _plan(layer) -> str:
    """"standard" (ONNX's LSTM / GRU / RNN operator) or "scan" (the cell step in a Scan body): the peephole
    LSTM is ONNX LSTM's P input; any other option that changes the forward pass, and zoneout, need the Scan."""
    options = {k for k in layer._specs[0].variant_options() if k not in _NO_FORWARD_EFFECT}
    if any(p > 0 for p in layer._zoneout_rates()):
        return "scan"
    return "standard" if options <= {"peephole"} else "scan"


# -------------------------------------------------------------------------------------------- standard ops
#: torch.nn's gate blocks -> ONNX's: LSTM i|f|g|o -> i|o|f|c, GRU r|z|n -> z|r|h
_ONNX_ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2), "rnn": (0,)}


def _reorder(m: np.ndarray, family: str) -> np.ndarray:
    order = _ONNX_ORDER[family]
    blocks = np.split(m, len(order), axis=0)
    return np.concatenate([blocks[j] for j in order], axis=0)


def _emit_standard(g: Graph, layer, k: int, xt: str, h0, c0, lengths) -> tuple:
    """Layer ``k`` (both directions) as one ONNX LSTM / GRU / RNN node: (y (T, B, D*H), h_n (D, B, H),
    c_n (D, B, H) or None)."""
    spec = layer._specs[k]
    family, D, H = spec.family, layer.num_directions, spec.hidden_size
    ws = [layer.weights(k, d) for d in range(D)]
    W = g.const(np.stack([_reorder(_np(w.w_ih), family) for w in ws]), f"W_l{k}")       # (D, G*H, I)
    R = g.const(np.stack([_reorder(_np(w.w_hh), family) for w in ws]), f"R_l{k}")       # (D, G*H, H)
    B = None
    if spec.bias:                                                                       # (D, 2*G*H): Wb | Rb
        B = g.const(np.stack([np.concatenate([_reorder(_np(w.b_ih), family), _reorder(_np(w.b_hh), family)])
                              for w in ws]), f"B_l{k}")
    seq = g.op("Cast", [lengths], to=_elem_type(np.int32), hint="seq_lens") if lengths is not None else None
    init = []
    for s in (h0, c0) if family == "lstm" else (h0,):
        init.append(None if s is None else
                    g.op("Slice", [s, g.ints([k * D]), g.ints([(k + 1) * D]), g.ints([0])], hint=f"state0_l{k}"))
    direction = "bidirectional" if D == 2 else "forward"
    if family == "lstm":
        P = None
        if spec.peephole:                                    # lstmkit's peephole rows -> ONNX P (i, o, f)
            from ..cells.lstm import peephole_rows
            rows = peephole_rows(spec)
            P = g.const(np.stack([np.concatenate([_np(w.w_ch)[rows[n]] for n in "iof"]) for w in ws]), f"P_l{k}")
        y, hn, cn = g.op("LSTM", [xt, W, R, B, seq, init[0], init[1], P], outputs=3, hint=f"lstm_l{k}",
                         hidden_size=H, direction=direction)
    elif family == "gru":
        y, hn = g.op("GRU", [xt, W, R, B, seq, init[0]], outputs=2, hint=f"gru_l{k}", hidden_size=H,
                     direction=direction, linear_before_reset=1)
        cn = None
    else:
        act = {"tanh": "Tanh", "relu": "Relu"}[spec.nonlinearity]
        y, hn = g.op("RNN", [xt, W, R, B, seq, init[0]], outputs=2, hint=f"rnn_l{k}", hidden_size=H,
                     direction=direction, activations=[act] * D)
        cn = None
    if D == 1:                                                                          # (T, 1, B, H)
        y = g.op("Squeeze", [y, g.ints([1])], hint=f"y_l{k}")
    else:                                                                               # (T, 2, B, H)
        y = g.op("Transpose", [y], perm=[0, 2, 1, 3], hint=f"y_l{k}_tbdh")
        y = g.op("Reshape", [y, g.ints([0, 0, -1])], hint=f"y_l{k}")                    # (T, B, 2H)
    return y, hn, cn


