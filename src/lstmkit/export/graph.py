"""A small ONNX graph builder (:class:`Graph`) and :func:`emit_recurrent`, which writes one lstmkit recurrent
layer (LSTM, GRU, RNN with every option) into such a graph.

Standard configurations become ONNX's own LSTM / GRU / RNN operators (one per layer, both directions in it);
the variants (layer norm, CIFG, projection, zoneout, memory blocks, the 1997 squashing functions, GRU's
reset-before form) become the input projection of all steps as one MatMul and a ``Scan`` over time whose
body is the cell step of :mod:`lstmkit.cells`. The export computes the layer in evaluation mode (dropout off,
zoneout as its expectation) in float32.

Example::

    >>> import torch, lstmkit
    >>> from lstmkit.export.graph import Graph, emit_recurrent
    >>> g = Graph("demo")
    >>> x = g.input("x", "float32", ["time", "batch", 3])
    >>> y, h_n, c_n = emit_recurrent(g, lstmkit.LSTM(3, 4), x)
    >>> g.output("y", "float32", ["time", "batch", 4], value=y)
    >>> g.model().graph.output[0].name
    'y'
"""

from __future__ import annotations

import itertools
from typing import Optional, Sequence, Union

import numpy as np

__all__ = ["Graph", "emit_recurrent", "MIN_OPSET"]

#: the lowest opset the builder's recurrent graphs are written for (LayerNormalization, Split's input sizes)
MIN_OPSET = 17


def _onnx():
    import onnx
    return onnx


def _elem_type(dtype) -> int:
    """An onnx TensorProto element type from a numpy dtype (or its name), a torch dtype or the enum itself."""
    if isinstance(dtype, (int, np.integer)) and not isinstance(dtype, bool):
        return int(dtype)
    if hasattr(dtype, "is_floating_point"):                       # a torch.dtype
        import torch
        dtype = torch.empty((), dtype=dtype).numpy().dtype
    return _onnx().helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class Graph:
    """An ONNX graph under construction: inputs, initializers, nodes and outputs with unique value names.

    Args:
        name: the graph's name.
        opset: the default-domain opset version of the model (:meth:`model`).

    Every method returns value names (strings) to pass to later calls. :meth:`subgraph` makes a body graph
    (``Scan``, ``Loop``, ``If``) sharing the name counter; its constants live in the outer graph, which a body
    sees.

    Example::

        >>> import numpy as np
        >>> g = Graph("add_one")
        >>> x = g.input("x", np.float32, ["batch", 2])
        >>> y = g.op("Add", [x, g.const(np.ones(2, np.float32), "one")])
        >>> g.output("y", np.float32, ["batch", 2], value=y)
        >>> [n.op_type for n in g.model().graph.node]
        ['Add', 'Identity']
    """

    def __init__(self, name: str, opset: int = 17, *, _parent: Optional["Graph"] = None) -> None:
        self.name = name
        self.opset = int(opset)
        self._parent = _parent
        self._counter = _parent._counter if _parent is not None else itertools.count()
        self._used: set = _parent._used if _parent is not None else set()
        self.nodes: list = []
        self.inputs: list = []
        self.outputs: list = []
        self.initializers: list = []
        self._input_names: set = set()
        self._output_names: set = set()
        self._memo: dict = {}                  # values built once per graph (zero states, the lengths mask)

    # ------------------------------------------------------------------------------------ names
    def fresh(self, hint: str) -> str:
        """A value name not used anywhere in this graph or its parent/children: ``hint_<n>``. Generated names
        always carry the counter, so that plain names stay free for :meth:`input` and :meth:`output`."""
        hint = hint or "v"
        name = f"{hint}_{next(self._counter)}"
        while name in self._used:
            name = f"{hint}_{next(self._counter)}"
        self._used.add(name)
        return name

    def _root(self) -> "Graph":
        return self if self._parent is None else self._parent._root()

    # ------------------------------------------------------------------------------------ building
    def input(self, name: str, dtype, shape: Sequence[Union[int, str, None]]) -> str:
        """Declare a graph input. ``dtype``: numpy dtype (or name) or TensorProto enum; ``shape``: ints,
        strings (named dynamic dims) or None (unknown). Returns ``name`` (which must be unused)."""
        if name in self._used:
            raise ValueError(f"input name {name!r} is already used in graph {self.name!r}")
        return self._input_as(name, dtype, shape)

    def _input_as(self, name: str, dtype, shape) -> str:
        """:meth:`input` without the check that ``name`` is unused (for names reserved by :meth:`fresh`)."""
        self._used.add(name)
        self._input_names.add(name)
        self.inputs.append(_onnx().helper.make_tensor_value_info(name, _elem_type(dtype), list(shape)))
        return name

    def output(self, name: str, dtype, shape: Sequence[Union[int, str, None]], *,
               value: Optional[str] = None) -> None:
        """Mark a value as a graph output called ``name``. ``value``: the value to output (default: the value
        called ``name``); when it has another name, or is a graph input or already an output, an Identity
        node copies it to ``name``. ``shape``: as :meth:`input` (the checker needs the rank of an output)."""
        value = name if value is None else value
        if value != name and name in self._used:
            raise ValueError(f"output name {name!r} is already used in graph {self.name!r}")
        self._output_as(name, dtype, shape, value)

    def _output_as(self, name: str, dtype, shape, value: str) -> None:
        """:meth:`output` without the check that ``name`` is unused (for names reserved by :meth:`fresh`)."""
        if value != name or value in self._input_names or value in self._output_names:
            self._used.add(name)
            self.nodes.append(_onnx().helper.make_node("Identity", [value], [name], name=f"{name}_identity"))
        self._output_names.add(name)
        self.outputs.append(_onnx().helper.make_tensor_value_info(name, _elem_type(dtype), list(shape)))

    def const(self, array, hint: str) -> str:
        """An initializer holding ``array`` (numpy array, torch tensor or Python scalar/list; its dtype kept);
        returns its unique name. In a subgraph the initializer goes to the outermost graph."""
        if hasattr(array, "detach"):
            array = array.detach().cpu().numpy()
        array = np.asarray(array)
        root = self._root()
        name = root.fresh(hint or "const")
        root.initializers.append(_onnx().numpy_helper.from_array(array.copy(order="C"), name))
        return name

    def op(self, op_type: str, inputs: Sequence[Optional[str]], *, outputs: int = 1, hint: str = "",
           domain: str = "", **attrs) -> Union[str, list]:
        """Add a node; ``inputs`` are value names ("" or None for an omitted optional input); ``attrs`` its
        attributes (a GraphProto for a body). Returns the output name, or a list of ``outputs`` names."""
        names = [self.fresh(hint or op_type) for _ in range(outputs)]
        ins = ["" if i is None else i for i in inputs]
        while ins and ins[-1] == "":                                  # trailing omitted inputs: leave off
            ins.pop()
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(_onnx().helper.make_node(op_type, ins, names, name=self.fresh(f"{hint or op_type}_node"),
                                                   domain=domain or None, **attrs))
        return names[0] if outputs == 1 else names

    def subgraph(self, name: str) -> "Graph":
        """A body graph (for Scan, Loop, If) sharing this graph's names; turn it into the attribute with
        :meth:`graph_proto`."""
        return Graph(name, self.opset, _parent=self)

    def graph_proto(self):
        """This graph as an onnx GraphProto (initializers included)."""
        return _onnx().helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)

    def model(self):
        """The onnx ModelProto (default-domain opset :attr:`opset`), checked by ``onnx.checker.check_model``."""
        onnx = _onnx()
        if self._parent is not None:
            raise ValueError(f"graph {self.name!r} is a subgraph: call model() on the outermost graph")
        model = onnx.helper.make_model(self.graph_proto(), opset_imports=[onnx.helper.make_opsetid("", self.opset)],
                                       producer_name="lstmkit")
        # the IR version this onnx writes may be newer than runtimes read; the opset's own IR version suffices
        model.ir_version = min(model.ir_version, _ir_version_for(self.opset))
        onnx.checker.check_model(model)
        return model

    # ------------------------------------------------------------------------------------ small helpers
    def scalar(self, value, dtype=np.float32, hint: str = "c") -> str:
        """A 0-d constant of ``dtype``."""
        return self.const(np.array(value, dtype=dtype), hint)

    def ints(self, values: Sequence[int], hint: str = "ints") -> str:
        """A 1-d int64 constant (axes, shapes, split sizes)."""
        return self.const(np.array(list(values), dtype=np.int64), hint)


def _ir_version_for(opset: int) -> int:
    table = {17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10, 23: 11, 24: 11}
    return table.get(opset, 11 if opset > 24 else 8)


# ============================================================================================ recurrent layers
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


def _np(t) -> np.ndarray:
    """A parameter as a float32 numpy array."""
    return t.detach().cpu().float().numpy()


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
        if spec.peephole:                                    # lstmkit rows (i, f, o) -> ONNX P (i, o, f)
            P = g.const(np.stack([np.concatenate([_np(w.w_ch)[j] for j in (0, 2, 1)]) for w in ws]), f"P_l{k}")
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


# -------------------------------------------------------------------------------------------- scan (variants)
def _zeros(g: Graph, x: str, batch_axis: int, size: int) -> str:
    """(B, size) float32 zeros, B = dim ``batch_axis`` of ``x``."""
    key = ("zeros", x, batch_axis, size)
    memo = g._memo
    if key not in memo:
        batch = g.op("Shape", [x], start=batch_axis, end=batch_axis + 1, hint="batch")
        shape = g.op("Concat", [batch, g.ints([size])], axis=0, hint="zeros_shape")
        memo[key] = g.op("ConstantOfShape", [shape], hint=f"zeros_{size}",
                         value=_onnx().numpy_helper.from_array(np.zeros(1, np.float32)))
    return memo[key]


def _valid_mask(g: Graph, xt: str, lengths: str) -> str:
    """(T, B, 1) bool, True where t < lengths[b]."""
    memo = g._memo
    key = ("valid", xt, lengths)
    if key not in memo:
        T = g.op("Squeeze", [g.op("Shape", [xt], start=0, end=1, hint="T1"), g.ints([0])], hint="T")
        t = g.op("Range", [g.scalar(0, np.int64, "zero_i"), T, g.scalar(1, np.int64, "one_i")], hint="t")
        t = g.op("Unsqueeze", [t, g.ints([1])], hint="t_col")                          # (T, 1)
        valid = g.op("Less", [t, g.op("Unsqueeze", [lengths, g.ints([0])], hint="len_row")], hint="valid_tb")
        memo[key] = g.op("Unsqueeze", [valid, g.ints([2])], hint="valid")               # (T, B, 1)
    return memo[key]


def _layer_norm(g: Graph, a: str, weight, bias, eps: float, hint: str) -> str:
    """LayerNormalization over the last axis with gain ``weight`` (and ``bias``), as :func:`F.layer_norm`."""
    scale = g.const(_np(weight), f"{hint}_gain")
    b = None if bias is None else g.const(_np(bias), f"{hint}_bias")
    return g.op("LayerNormalization", [a, scale, b], axis=-1, epsilon=float(eps), hint=hint)


def _input_side(g: Graph, spec, w, x: str) -> str:
    """The input half of the pre-activations for every step at once: (..., I) -> (..., R), one MatMul; LSTM:
    LN_ih (layer_norm) and b_ih + b_hh; GRU: b_ih (b_hh enters the step); RNN: b_ih + b_hh."""
    a = g.op("MatMul", [x, g.const(_np(w.w_ih).T.copy(), "W_ih_T")], hint="a_x")
    if spec.family == "lstm" and spec.layer_norm:
        a = _layer_norm(g, a, w.ln_ih, None, spec.ln_eps, "ln_ih")
    if w.b_ih is not None:
        bias = _np(w.b_ih) if spec.family == "gru" else _np(w.b_ih + w.b_hh)
        a = g.op("Add", [a, g.const(bias, "b_x")], hint="a_x_b")
    return a


def _per_cell(g: Graph, v: str, S: int, nb: int) -> str:
    """(B, H/S) per memory block -> (B, H): each block's value repeated for its S cells."""
    if S == 1:
        return v
    v = g.op("Unsqueeze", [v, g.ints([2])], hint="blk")                             # (B, nb, 1)
    v = g.op("Expand", [v, g.ints([1, nb, S])], hint="blk_cells")                    # (B, nb, S)
    return g.op("Reshape", [v, g.ints([0, -1])], hint="per_cell")


def _block_sum(g: Graph, v: str, S: int, nb: int) -> str:
    """(B, H) per cell -> (B, H/S): the sum over each block's S cells."""
    if S == 1:
        return v
    v = g.op("Reshape", [v, g.ints([0, nb, S])], hint="cells_blk")
    return g.op("ReduceSum", [v, g.ints([2])], keepdims=0, hint="block_sum")


def _squash(g: Graph, kind: str, v: str) -> str:
    """tanh, 4 sigma - 2 ("1997g"), 2 sigma - 1 ("1997h") or the identity, as :func:`lstmkit.cells.lstm.squash`."""
    if kind == "tanh":
        return g.op("Tanh", [v])
    if kind in ("1997g", "1997h"):
        a, b = (4.0, 2.0) if kind == "1997g" else (2.0, 1.0)
        s = g.op("Mul", [g.op("Sigmoid", [v]), g.scalar(a)], hint="squash")
        return g.op("Sub", [s, g.scalar(b)], hint="squash")
    return v


def _lstm_step(g: Graph, spec, w, a_x: str, h: str, c: str) -> tuple:
    """One LSTM step (:class:`lstmkit.cells.LSTMCell`): a_x (B, R) with biases, h (B, P), c (B, H) ->
    (h_t (B, P), c_t (B, H))."""
    from ..cells.lstm import gate_slices, peephole_rows, squash_kinds
    S, nb = spec.cells_per_block, spec.num_blocks
    a_h = g.op("MatMul", [h, g.const(_np(w.w_hh).T.copy(), "W_hh_T")], hint="a_h")  # (B, R)
    if spec.layer_norm:
        a_h = _layer_norm(g, a_h, w.ln_hh, None, spec.ln_eps, "ln_hh")
    pre = g.op("Add", [a_x, a_h], hint="pre")
    sl = gate_slices(spec)
    names = list(spec.gate_names)
    parts = g.op("Split", [pre, g.ints([sl[n].stop - sl[n].start for n in names])], axis=1,
                 outputs=len(names), hint="pre_gate")
    pre_of = dict(zip(names, parts))
    pr, (sq_g, sq_h) = peephole_rows(spec), squash_kinds(spec)

    def peep(name: str, cell: str) -> str:
        if not spec.peephole:
            return pre_of[name]
        wc = g.const(_np(w.w_ch)[pr[name]], f"w_c{name}")
        return g.op("Add", [pre_of[name], _block_sum(g, g.op("Mul", [wc, cell]), S, nb)], hint=f"pre_{name}")

    f = g.op("Sigmoid", [peep("f", c)], hint="f") if spec.forget_gate else None      # f_t
    i = g.op("Sub", [g.scalar(1.0), f], hint="i") if spec.cifg else g.op("Sigmoid", [peep("i", c)], hint="i")
    gg = _squash(g, sq_g, pre_of["g"])                                                # g_t
    ig = g.op("Mul", [_per_cell(g, i, S, nb), gg], hint="ig")
    fc = c if f is None else g.op("Mul", [_per_cell(g, f, S, nb), c], hint="fc")
    c_new = g.op("Add", [fc, ig], hint="c_t")                                        # c_t = f c + i g
    o = g.op("Sigmoid", [peep("o", c_new)], hint="o")                                # o_t
    c_hat = c_new
    if spec.layer_norm:
        c_hat = _layer_norm(g, c_new, w.ln_c_w, w.ln_c_b, spec.ln_eps, "ln_c")
    h_new = g.op("Mul", [_per_cell(g, o, S, nb), _squash(g, sq_h, c_hat)], hint="h_t")
    if w.w_hr is not None:
        h_new = g.op("MatMul", [h_new, g.const(_np(w.w_hr).T.copy(), "W_hr_T")], hint="h_t_proj")
    return h_new, c_new


def _gru_step(g: Graph, spec, w, a_x: str, h: str) -> tuple:
    """One GRU step (:class:`lstmkit.cells.GRUCell`): a_x (B, 3H) with b_ih, h (B, H) -> (h_t,)."""
    H = spec.hidden_size
    w_hh, b_hh = _np(w.w_hh), None if w.b_hh is None else _np(w.b_hh)
    x_r, x_z, x_n = g.op("Split", [a_x, g.ints([H, H, H])], axis=1, outputs=3, hint="a_x_gate")

    def lin(v: str, rows: slice, hint: str) -> str:
        out = g.op("MatMul", [v, g.const(w_hh[rows].T.copy(), f"W_hh_{hint}_T")], hint=hint)
        return out if b_hh is None else g.op("Add", [out, g.const(b_hh[rows], f"b_hh_{hint}")], hint=hint)

    if spec.reset_before:
        h_r, h_z = g.op("Split", [lin(h, slice(0, 2 * H), "a_rz"), g.ints([H, H])], axis=1, outputs=2)
        r = g.op("Sigmoid", [g.op("Add", [x_r, h_r])], hint="r")
        z = g.op("Sigmoid", [g.op("Add", [x_z, h_z])], hint="z")
        a_n = lin(g.op("Mul", [r, h], hint="rh"), slice(2 * H, 3 * H), "a_n")
        n = g.op("Tanh", [g.op("Add", [x_n, a_n])], hint="n")
    else:
        h_r, h_z, h_n = g.op("Split", [lin(h, slice(0, 3 * H), "a_h"), g.ints([H, H, H])], axis=1, outputs=3)
        r = g.op("Sigmoid", [g.op("Add", [x_r, h_r])], hint="r")
        z = g.op("Sigmoid", [g.op("Add", [x_z, h_z])], hint="z")
        n = g.op("Tanh", [g.op("Add", [x_n, g.op("Mul", [r, h_n])])], hint="n")
    one_z = g.op("Sub", [g.scalar(1.0), z], hint="one_minus_z")
    h_new = g.op("Add", [g.op("Mul", [one_z, n]), g.op("Mul", [z, h])], hint="h_t")  # (1 - z) n + z h
    return (h_new,)


def _rnn_step(g: Graph, spec, w, a_x: str, h: str) -> tuple:
    """One Elman step: a_x (B, H) with both biases, h (B, H) -> (h_t,)."""
    a_h = g.op("MatMul", [h, g.const(_np(w.w_hh).T.copy(), "W_hh_T")], hint="a_h")
    pre = g.op("Add", [a_x, a_h], hint="pre")
    return (g.op("Tanh" if spec.nonlinearity == "tanh" else "Relu", [pre], hint="h_t"),)


def _emit_scan_direction(g: Graph, layer, k: int, d: int, xt: str, state0: tuple, lengths) -> tuple:
    """Layer ``k``, direction ``d`` as a Scan over time: y (T, B, P) and the final states ((B, P), (B, H))."""
    spec, w = layer._specs[k], layer.weights(k, d)
    rates = layer._zoneout_rates()
    D, reverse = layer.num_directions, d == 1
    a_x = _input_side(g, spec, w, xt)                                                # (T, B, R)
    sizes = spec.state_sizes()
    inits = []
    for s0, size in zip(state0, sizes):
        if s0 is None:
            inits.append(_zeros(g, xt, 1, size))
        else:
            inits.append(g.op("Gather", [s0, g.scalar(k * D + d, np.int64, "idx")], axis=0, hint="state0"))
    valid = None
    if lengths is not None:
        valid = _valid_mask(g, xt, lengths)
        if reverse:           # each sequence backwards from its own last step; the mask is unchanged by it
            a_x = g.op("ReverseSequence", [a_x, lengths], batch_axis=1, time_axis=0, hint="a_x_rev")
    body = g.subgraph(g.fresh(f"step_l{k}{'_reverse' if reverse else ''}"))
    prev = [body._input_as(body.fresh(f"{n}_prev"), np.float32, [None, size]) for n, size in zip("hc", sizes)]
    rows = {"lstm": getattr(spec, "gate_rows", 0), "gru": 3 * spec.hidden_size, "rnn": spec.hidden_size}
    a_t = body._input_as(body.fresh("a_x_t"), np.float32, [None, rows[spec.family]])
    m_t = body._input_as(body.fresh("valid_t"), np.bool_, [None, 1]) if valid is not None else None
    if spec.family == "lstm":
        cand = _lstm_step(body, spec, w, a_t, prev[0], prev[1])
    else:
        cand = (_gru_step if spec.family == "gru" else _rnn_step)(body, spec, w, a_t, prev[0])
    new = []
    for p_, c_, rate in zip(prev, cand, rates):          # zoneout in evaluation: p * previous + (1 - p) * new
        if rate > 0:
            keep = body.op("Mul", [body.scalar(np.float32(rate), hint="zone"), p_], hint="zone_keep")
            take = body.op("Mul", [body.scalar(np.float32(1.0) - np.float32(rate), hint="zone_1m"), c_],
                           hint="zone_new")
            c_ = body.op("Add", [keep, take], hint="zoned")
        new.append(c_)
    y = new[0]
    if m_t is not None:                  # past the length: the state keeps its value and the output is zero
        y = body.op("Where", [m_t, y, body.scalar(0.0, hint="zero")], hint="y_t")
        new = [body.op("Where", [m_t, s, p_], hint="state_t") for s, p_ in zip(new, prev)]
    for s, size in zip(new, sizes):
        body._output_as(body.fresh("state_out"), np.float32, [None, size], s)
    body._output_as(body.fresh("y_out"), np.float32, [None, spec.out_size], y)
    scan_in = [a_x] + ([valid] if valid is not None else [])
    direction = 1 if reverse and lengths is None else None
    outs = g.op("Scan", inits + scan_in, outputs=len(sizes) + 1, hint=f"scan_l{k}", body=body.graph_proto(),
                num_scan_inputs=len(scan_in),
                scan_input_directions=None if direction is None else [1] * len(scan_in),
                scan_output_directions=None if direction is None else [1])
    y_seq, finals = outs[-1], outs[:-1]
    if reverse and lengths is not None:
        y_seq = g.op("ReverseSequence", [y_seq, lengths], batch_axis=1, time_axis=0, hint="y_rev")
    return y_seq, finals
