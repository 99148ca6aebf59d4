"""lstmkit.GRU: drop-in for torch.nn.GRU, plus the reset-before form and recurrent regularisation."""

from __future__ import annotations

from torch import nn

from ..cells.base import check_prob
from ..cells.gru import GRUSpec
from .base import RecurrentBase
from .torch_compat import no_projection


class GRU(RecurrentBase):
    r"""Multi-layer gated recurrent unit; a drop-in replacement for :class:`torch.nn.GRU`.

    Equations: :class:`lstmkit.cells.GRUCell`. Same arguments, parameter names, layouts (rows r|z|n),
    initialisation and outputs as torch.nn.GRU.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype:
            as torch.nn.GRU.
        reset_before: the original Cho et al. (2014) form, reset gate applied to h_{t-1} before W_hn.
        input_dropout, recurrent_dropout: variational dropout (see :class:`lstmkit.LSTM`).
        zoneout: zoneout probability of h (see :class:`lstmkit.LSTM`).
        backend: kernel choice (see :class:`lstmkit.LSTM`).

    Forward: ``output, h_n = gru(input, hx=None, lengths=None, reset=None)`` with the shapes of
    :class:`lstmkit.LSTM` (``hx`` a single tensor (D*num_layers, B, H)).

    Example::

        >>> import torch, lstmkit
        >>> gru = lstmkit.GRU(10, 20, num_layers=2, bidirectional=True)
        >>> out, h = gru(torch.randn(5, 3, 10))
        >>> out.shape, h.shape
        (torch.Size([5, 3, 40]), torch.Size([4, 3, 20]))
    """

    _torch_cls = nn.GRU
    _variant_defaults = {"reset_before": False}

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, reset_before: bool = False, input_dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, zoneout: float = 0.0, backend: str = "auto",
                 proj_size=None) -> None:
        no_projection(proj_size)
        self.zoneout = check_prob("zoneout", zoneout)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype, input_dropout=input_dropout, recurrent_dropout=recurrent_dropout,
                         backend=backend, reset_before=reset_before)

    def _make_spec(self, input_size, hidden_size, bias, **options) -> GRUSpec:
        return GRUSpec(input_size, hidden_size, bias, **options)

    def _zoneout_rates(self) -> tuple[float, ...]:
        return (self.zoneout,)

    def _variant_options(self) -> dict:
        out = super()._variant_options()
        if self.zoneout > 0:
            out["zoneout"] = self.zoneout
        return out

    # ------------------------------------------------------------------------------------ other frameworks
    @classmethod
    def from_keras(cls, *weights, layer=None, config=None, **options) -> "GRU":
        """A GRU holding Keras GRU weights (:func:`lstmkit.export.keras.from_keras`): ``kernel`` (I, 3H),
        ``recurrent_kernel`` (H, 3H) (gates z|r|h), ``bias`` (2, 3H) (``reset_after=True``: torch.nn's form)
        or (3H,) (``reset_after=False``: ``reset_before=True`` here); as arrays, a ``get_weights()`` list, a
        list of those for a stack, or a path to a Keras weight file (``layer=`` picks by name).

        Example::

            >>> import numpy as np, lstmkit
            >>> rng = np.random.default_rng(0)
            >>> w = [rng.normal(size=(3, 12)), rng.normal(size=(4, 12)), np.zeros(12)]   # reset_after=False
            >>> lstmkit.GRU.from_keras(w)
            GRU(3, 4, reset_before=True)
        """
        from ..export.keras import from_keras
        return from_keras(cls, *weights, layer=layer, config=config, **options)

    def to_keras(self) -> list:
        """Keras ``set_weights`` lists, one per layer (:func:`lstmkit.export.keras.to_keras`): bias (2, 3H)
        for Keras ``reset_after=True``, (3H,) with ``reset_before=True`` (Keras ``reset_after=False``).

        Example::

            >>> import lstmkit
            >>> [a.shape for a in lstmkit.GRU(3, 4).to_keras()[0]]
            [(3, 12), (4, 12), (2, 12)]
        """
        from ..export.keras import to_keras
        return to_keras(self)

    @classmethod
    def from_haste(cls, *weights, **options) -> "GRU":
        """A GRU holding haste GRU weights (:func:`lstmkit.export.haste.from_haste`): a ``haste_pytorch.GRU``,
        its state_dict, or ``kernel`` (I, 3H), ``recurrent_kernel`` (H, 3H), ``bias`` (3H,),
        ``recurrent_bias`` (3H,) in haste's gate order z|r|h.

        Example::

            >>> import numpy as np, lstmkit
            >>> lstmkit.GRU.from_haste(np.zeros((3, 12)), np.zeros((4, 12)), np.zeros(12), np.zeros(12))
            GRU(3, 4)
        """
        from ..export.haste import from_haste
        return from_haste(cls, *weights, **options)

    def to_haste(self) -> list:
        """haste's GRU parameters, one dict per layer (:func:`lstmkit.export.haste.to_haste`).

        Example::

            >>> import lstmkit
            >>> sorted(lstmkit.GRU(3, 4).to_haste()[0])
            ['bias', 'kernel', 'recurrent_bias', 'recurrent_kernel']
        """
        from ..export.haste import to_haste
        return to_haste(self)
