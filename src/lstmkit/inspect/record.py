"""Recording what every lstmkit layer in a model does, step by step.

Example::

    >>> import torch, lstmkit
    >>> from lstmkit.inspect import recording
    >>> lstm = lstmkit.LSTM(4, 8, num_layers=2, bidirectional=True)
    >>> with recording(lstm) as rec:
    ...     out, _ = lstm(torch.randn(5, 3, 4))
    >>> r = rec.last("")                       # the module's own name in named_modules() is ""
    >>> sorted(r[(1, 0)])                      # layer 1, forward direction
    ['c', 'f', 'g', 'h', 'i', 'o']
    >>> r[(1, 1)]["f"].shape                   # (T, B, H)
    torch.Size([5, 3, 8])
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from torch import nn

from ..layers import RecurrentBase


@dataclass
class Recorder:
    """Records per layer module name: a list with one entry per forward call, each a dict
    {(layer, direction): {name: (T, B, H) tensor}} (see :meth:`lstmkit.LSTM.forward`, ``record=True``)."""

    records: dict = field(default_factory=dict)

    def add(self, name: str, record: dict) -> None:
        self.records.setdefault(name, []).append(record)

    def last(self, name: str) -> dict:
        """The most recent record of the layer module called ``name``."""
        if name not in self.records:
            raise KeyError(f"no record of a layer named {name!r}; recorded: {sorted(self.records)}")
        return self.records[name][-1]


@contextlib.contextmanager
def recording(module: nn.Module):
    """Within the block, every forward of an lstmkit layer inside ``module`` is recorded into the
    yielded :class:`Recorder`. Outside it, layers record nothing and cost nothing extra."""
    rec = Recorder()
    layers = [(name, m) for name, m in module.named_modules() if isinstance(m, RecurrentBase)]
    if not layers:
        raise ValueError(f"{type(module).__name__} contains no lstmkit layer (LSTM, GRU or RNN) to record")
    previous = [m.__dict__.get("_recorder") for _, m in layers]
    for (name, m), outer in zip(layers, previous):

        def hook(r, name=name, outer=outer):
            rec.add(name, r)
            if outer is not None:                              # an enclosing recording(...) gets it too
                outer(r)
        m._recorder = hook
    try:
        yield rec
    finally:
        for (_, m), old in zip(layers, previous):
            m._recorder = old
