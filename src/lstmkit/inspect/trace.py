"""A trace: what every shown layer-direction of a model did at every step of one sequence, beside the tokens
it read. The page, the heatmaps and the feature analysis all read a :class:`Trace`.

Example::

    >>> import torch, lstmkit
    >>> from lstmkit.inspect import trace_layer
    >>> gru = lstmkit.GRU(3, 4, num_layers=2, bidirectional=True)
    >>> tr = trace_layer(gru, torch.randn(6, 3), tokens=list("abcdef"))
    >>> [v.label for v in tr.views][:2], tr.views[0].quantities["z"].shape     # (T, H)
    (['layer 0 forward', 'layer 0 backward'], (6, 4))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..layers import GRU, LSTM, RNN, RecurrentBase
from .record import recording

__all__ = ["View", "Trace", "trace", "trace_layer", "GATES", "BOUNDED"]

#: the sigmoid gates of each family (values in [0, 1]); saturation is measured on these
GATES = ("i", "f", "o", "r", "z")
#: quantities bounded in [-1, 1] whatever the weights (tanh); the others are scaled by their largest value
BOUNDED = ("g", "n")


@dataclass
class View:
    """One layer-direction of one lstmkit module: ``quantities[name]`` is a (T, H) float32 array.

    Example::

        >>> import numpy as np
        >>> from lstmkit.inspect import View
        >>> v = View("enc", 1, 1, "GRU", {"z": np.full((3, 2), 0.5, np.float32), "h": np.zeros((3, 2), np.float32)})
        >>> v.label, v.size, v.value_range("z").tolist()
        ('enc layer 1 backward', 2, [[0.0, 1.0], [0.0, 1.0]])
    """

    module: str                              # qualified name in model.named_modules() ("" for the model itself)
    layer: int
    direction: int                           # 0 forward, 1 backward (time-aligned: row t is step t either way)
    cell: str                                # "LSTM", "GRU" or "RNN"
    quantities: dict = field(default_factory=dict)
    bounded_h: bool = True                   # h in [-1, 1] (tanh); False for a ReLU RNN

    @property
    def label(self) -> str:
        where = f"{self.module} " if self.module else ""
        return f"{where}layer {self.layer} {'backward' if self.direction else 'forward'}"

    @property
    def size(self) -> int:
        return next(iter(self.quantities.values())).shape[1]

    def value_range(self, quantity: str) -> np.ndarray:
        """(H, 2) [low, high] per cell used for colouring: [0, 1] for gates, [-1, 1] for tanh-bounded
        quantities, [-m, m] with m the cell's largest |value| for the rest (c, a ReLU RNN's h)."""
        v = self.quantities[quantity]
        H = v.shape[1]
        if quantity in GATES:
            return np.tile(np.array([0.0, 1.0], dtype=np.float32), (H, 1))
        if quantity in BOUNDED or (quantity == "h" and self.bounded_h):
            return np.tile(np.array([-1.0, 1.0], dtype=np.float32), (H, 1))
        m = np.maximum(np.abs(v).max(axis=0), 1e-6).astype(np.float32)   # (H,)
        return np.stack([-m, m], axis=1)


@dataclass
class Trace:
    """Tokens (length T) and the views recorded while the model read them (made by :func:`trace`).

    Example::

        >>> import numpy as np
        >>> from lstmkit.inspect import Trace, View
        >>> tr = Trace(["a", "b"], [View("", 0, 0, "RNN", {"h": np.zeros((2, 4), np.float32)})])
        >>> tr.view("layer 0 forward").size
        4
    """

    tokens: list
    views: list

    def view(self, label: str) -> View:
        for v in self.views:
            if v.label == label:
                return v
        raise KeyError(f"no view {label!r}; the trace has {[v.label for v in self.views]}")


def _family(layer: RecurrentBase) -> str:
    for cls in (LSTM, GRU, RNN):
        if isinstance(layer, cls):
            return cls.__name__
    return type(layer).__name__


def _views_of(name: str, layer: RecurrentBase, record: dict, batch_index: int, T: int) -> list[View]:
    views = []
    for (k, d), r in sorted(record.items()):
        first = next(iter(r.values()))                                   # (T, B, H)
        if first.shape[0] != T:
            raise ValueError(f"layer {name!r} ran over {first.shape[0]} steps, but there are {T} tokens; "
                             f"expected one token per step of the shown layers")
        if not 0 <= batch_index < first.shape[1]:
            raise ValueError(f"batch_index must be in [0, {first.shape[1]}), got {batch_index}")
        q = {n: t[:, batch_index].detach().float().cpu().numpy() for n, t in r.items()}   # (T, H) each
        bounded = not (isinstance(layer, RNN) and getattr(layer, "nonlinearity", "tanh") == "relu")
        if isinstance(layer, LSTM) and getattr(layer, "proj_size", 0):
            bounded = False                                              # h = W_hr (o * tanh c): unbounded
        views.append(View(name, k, d, _family(layer), q, bounded))
    return views


def trace(model: nn.Module, run: Callable[[], object], tokens: Sequence[str],
          layers: Optional[Sequence[str]] = None, batch_index: int = 0) -> Trace:
    """Call ``run()`` once while recording ``model`` and collect the views of ``layers`` (qualified module
    names; default: every lstmkit layer inside), each step aligned with ``tokens``.

    Example::

        >>> import torch, lstmkit
        >>> from lstmkit.inspect import trace
        >>> model = torch.nn.Sequential(torch.nn.Embedding(5, 3), lstmkit.LSTM(3, 4))
        >>> ids = torch.tensor([[1], [2], [3]])                                    # (T, B)
        >>> tr = trace(model, lambda: model(ids), tokens=["a", "b", "c"])
        >>> tr.views[0].label, sorted(tr.views[0].quantities)
        ('1 layer 0 forward', ['c', 'f', 'g', 'h', 'i', 'o'])
    """
    tokens = [str(t) for t in tokens]
    modules = dict(model.named_modules())
    if layers is None:
        layers = [n for n, m in modules.items() if isinstance(m, RecurrentBase)]
    for name in layers:
        if not isinstance(modules.get(name), RecurrentBase):
            known = [n for n, m in modules.items() if isinstance(m, RecurrentBase)]
            raise ValueError(f"layers must name lstmkit layers of the model, one of {known}; got {name!r}")
    if not tokens:
        raise ValueError("tokens must hold at least one token (one per step), got none")
    with torch.no_grad(), recording(model) as rec:
        run()
    views = []
    for name in layers:
        if name not in rec.records:
            raise ValueError(f"layer {name!r} did not run during run(); expected run() to call every shown layer")
        views += _views_of(name, modules[name], rec.last(name), batch_index, len(tokens))
    return Trace(tokens, views)


def trace_layer(layer: RecurrentBase, x: Tensor, tokens: Optional[Sequence[str]] = None, **forward_kw) -> Trace:
    """Trace one lstmkit layer over ``x``: (T, input_size) for one sequence, or batched as the layer takes
    it (the first sequence is shown). ``tokens`` defaults to the step numbers."""
    if not isinstance(layer, RecurrentBase):
        raise TypeError(f"trace_layer expects an lstmkit LSTM, GRU or RNN, got {type(layer).__name__}")
    if x.dim() == 2:
        x = x.unsqueeze(0 if layer.batch_first else 1)
    T = x.shape[1] if layer.batch_first else x.shape[0]
    tokens = [str(t) for t in range(T)] if tokens is None else tokens
    return trace(layer, lambda: layer(x, **forward_kw), tokens, layers=[""])
