"""A small ONNX graph builder (:class:`Graph`); :func:`emit_recurrent` and :func:`emit_cell`
(:mod:`lstmkit.export.recurrent`, importable from here too) write one lstmkit recurrent layer (LSTM, GRU, RNN
with every option) or cell into such a graph.

Standard configurations become ONNX's own LSTM / GRU / RNN operators (one per layer, both directions in it);
the variants (layer norm, CIFG, projection, zoneout, memory blocks, the 1997 squashing functions, GRU's
reset-before form) become the input projection of all steps as one MatMul and a ``Scan`` over time whose
body is the cell step of :mod:`lstmkit.cells` (:mod:`lstmkit.export.scan`). The export computes the layer in
evaluation mode (dropout off, zoneout as its expectation) in float32.

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


def __getattr__(name: str):
    """``emit_recurrent`` and ``emit_cell`` from :mod:`lstmkit.export.recurrent`, which imports this module (so
    they are looked up when first asked for, not imported at the top: no import cycle)."""
    if name in ("emit_recurrent", "emit_cell"):
        from . import recurrent
        return getattr(recurrent, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
