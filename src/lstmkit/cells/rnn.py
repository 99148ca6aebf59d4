"""The Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) with tanh or relu."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch
from torch import Tensor, nn

from .base import CellModule, CellSpec, ParamInfo

__all__ = ["RNNSpec", "RNNWeights", "RNNCell", "rnn_step", "NONLINEARITIES"]

NONLINEARITIES = ("tanh", "relu")


class RNNWeights(NamedTuple):
    """Elman RNN parameters of one layer-direction: w_ih (H, I), w_hh (H, H), b_ih (H), b_hh (H)."""

    w_ih: Tensor
    w_hh: Tensor
    b_ih: Optional[Tensor] = None
    b_hh: Optional[Tensor] = None


@dataclass(frozen=True)
class RNNSpec(CellSpec):
    """Options of one Elman RNN layer-direction. See :class:`RNNCell`. ``nonlinearity``: 'tanh' or 'relu'."""

    nonlinearity: str = "tanh"

    family = "rnn"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {self.nonlinearity!r}")

    def weights_type(self) -> type:
        return RNNWeights

    def layout(self) -> list[ParamInfo]:
        H, I = self.hidden_size, self.input_size
        out = [ParamInfo("w_ih", "weight_ih", (H, I)), ParamInfo("w_hh", "weight_hh", (H, H))]
        if self.bias:
            out += [ParamInfo("b_ih", "bias_ih", (H,)), ParamInfo("b_hh", "bias_hh", (H,))]
        return out


def rnn_step(spec: RNNSpec, w: RNNWeights, x: Tensor, state: tuple[Tensor],
             drop_h: Tensor | None = None) -> tuple[Tensor, tuple[Tensor]]:
    """One Elman step in torch ops. x: (B, I); state ``(h,)`` with h (B, H); drop_h: optional (B, H) mask."""
    (h,) = state
    hd = h if drop_h is None else h * drop_h
    pre = x @ w.w_ih.t() + hd @ w.w_hh.t()                        # (B, H)
    if w.b_ih is not None:
        pre = pre + w.b_ih + w.b_hh
    h_new = torch.tanh(pre) if spec.nonlinearity == "tanh" else torch.relu(pre)
    return h_new, (h_new,)


class RNNCell(CellModule):
    r"""Elman recurrent cell (torch.nn layout).

    .. math::
        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})

    where :math:`x_t` (size I) is the input, :math:`h_{t-1}` (size H) the previous hidden state and
    :math:`\phi` is tanh or relu (``nonlinearity``). Its gradient through time is multiplied by
    :math:`W_{hh}^\top \mathrm{diag}(\phi')` at every step, which is why it vanishes (or explodes) over
    long lags. Exactly ``torch.nn.RNNCell``.

    Call as torch.nn.RNNCell: ``h_t = cell(x_t, h)`` with ``x_t`` (B, I) or (I,) unbatched, ``h`` (B, H)
    (no B dim unbatched) or None for zeros; ``h_t`` (B, H). ``cell.step(x_t, state)`` returns
    ``(h_t, (h_t,))``.

    Example::

        >>> import torch, lstmkit
        >>> cell = lstmkit.RNNCell(8, 16, nonlinearity="relu")
        >>> h = cell(torch.randn(2, 8))
        >>> h.shape
        torch.Size([2, 16])
        >>> cell
        RNNCell(8, 16, nonlinearity=relu)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        super().__init__()
        self._register(RNNSpec(input_size, hidden_size, bias, nonlinearity=nonlinearity), device, dtype)
        self.nonlinearity = nonlinearity

    _step = staticmethod(rnn_step)
    _torch_cls = nn.RNNCell
    _torch_args = ("input_size", "hidden_size", "bias", "nonlinearity")
