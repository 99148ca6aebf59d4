"""lstmkit.RNN: drop-in for torch.nn.RNN (Elman, tanh or relu), plus recurrent regularisation."""

from __future__ import annotations

from torch import nn

from ..cells.base import check_prob
from ..cells.rnn import NONLINEARITIES, RNNSpec
from .base import RecurrentBase
from .torch_compat import no_projection


class RNN(RecurrentBase):
    r"""Multi-layer Elman RNN; a drop-in replacement for :class:`torch.nn.RNN`.

    Equations: :class:`lstmkit.cells.RNNCell`. Same arguments (``nonlinearity`` 'tanh' or 'relu'),
    parameter names, layouts, initialisation and outputs as torch.nn.RNN. Other arguments and the
    forward signature as :class:`lstmkit.GRU` (``zoneout`` of h, variational dropout, ``lengths``,
    ``reset``).

    Example::

        >>> import torch, lstmkit
        >>> rnn = lstmkit.RNN(10, 20, nonlinearity="relu", batch_first=True)
        >>> out, h = rnn(torch.randn(3, 5, 10))
        >>> out.shape, h.shape
        (torch.Size([3, 5, 20]), torch.Size([1, 3, 20]))
    """

    _torch_cls = nn.RNN
    _torch_args = RecurrentBase._torch_args + ("nonlinearity",)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None, *, input_dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, zoneout: float = 0.0, backend: str = "auto",
                 proj_size=None) -> None:
        no_projection(proj_size)
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        self.zoneout = check_prob("zoneout", zoneout)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype, input_dropout=input_dropout, recurrent_dropout=recurrent_dropout,
                         backend=backend, nonlinearity=nonlinearity)

    def _make_spec(self, input_size, hidden_size, bias, **options) -> RNNSpec:
        return RNNSpec(input_size, hidden_size, bias, **options)

    def _zoneout_rates(self) -> tuple[float, ...]:
        return (self.zoneout,)

    def _variant_options(self) -> dict:
        out = super()._variant_options()
        out.pop("nonlinearity", None)
        if self.zoneout > 0:
            out["zoneout"] = self.zoneout
        return out

    def _torch_extra_repr(self) -> dict:
        return {"nonlinearity": self.nonlinearity}

    # ------------------------------------------------------------------------------------ other frameworks
    @classmethod
    def from_keras(cls, *weights, layer=None, config=None, **options) -> "RNN":
        """An RNN holding Keras SimpleRNN weights (:func:`lstmkit.export.keras.from_keras`): ``kernel``
        (I, H), ``recurrent_kernel`` (H, H), ``bias`` (H,); the config's activation ('tanh' or 'relu')
        becomes ``nonlinearity``. Arrays, a ``get_weights()`` list, a list of those, or a Keras weight file.

        Example::

            >>> import numpy as np, lstmkit
            >>> lstmkit.RNN.from_keras([np.ones((3, 4)), np.eye(4), np.zeros(4)], config={"activation": "relu"})
            RNN(3, 4, nonlinearity=relu)
        """
        from ..export.keras import from_keras
        return from_keras(cls, *weights, layer=layer, config=config, **options)

    def to_keras(self) -> list:
        """Keras SimpleRNN ``set_weights`` lists, one per layer (:func:`lstmkit.export.keras.to_keras`).

        Example::

            >>> import lstmkit
            >>> [a.shape for a in lstmkit.RNN(3, 4).to_keras()[0]]
            [(3, 4), (4, 4), (4,)]
        """
        from ..export.keras import to_keras
        return to_keras(self)
