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
