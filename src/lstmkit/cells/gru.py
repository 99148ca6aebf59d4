"""The GRU family: torch.nn.GRU's reset-after form and the original reset-before form of Cho et al. 2014."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch
from torch import Tensor, nn

from .base import CellModule, CellSpec, ParamInfo

__all__ = ["GRUSpec", "GRUWeights", "GRUCell", "gru_step"]


class GRUWeights(NamedTuple):
    """GRU parameters of one layer-direction: w_ih (3H, I), w_hh (3H, H), b_ih (3H), b_hh (3H); rows r|z|n."""

    w_ih: Tensor
    w_hh: Tensor
    b_ih: Optional[Tensor] = None
    b_hh: Optional[Tensor] = None


@dataclass(frozen=True)
class GRUSpec(CellSpec):
    """Options of one GRU layer-direction. See :class:`GRUCell` for the equations.

    Attributes:
        input_size, hidden_size, bias: as torch.nn.GRU.
        reset_before: apply the reset gate to h_{t-1} before W_hn (Cho et al. 2014) instead of after
            (torch.nn.GRU, cuDNN).
    """

    reset_before: bool = False

    family = "gru"

    def weights_type(self) -> type:
        return GRUWeights

    def layout(self) -> list[ParamInfo]:
        H, I = self.hidden_size, self.input_size
        out = [ParamInfo("w_ih", "weight_ih", (3 * H, I)), ParamInfo("w_hh", "weight_hh", (3 * H, H))]
        if self.bias:
            out += [ParamInfo("b_ih", "bias_ih", (3 * H,)), ParamInfo("b_hh", "bias_hh", (3 * H,))]
        return out


def gru_step(spec: GRUSpec, w: GRUWeights, x: Tensor, state: tuple[Tensor],
             drop_h: Tensor | None = None) -> tuple[Tensor, tuple[Tensor]]:
    """One GRU step in torch ops (differentiable by autograd). Equations: :class:`GRUCell`.

    Args:
        x: (B, I); state: ``(h_{t-1},)`` with h (B, H); drop_h: optional (B, H) recurrent dropout mask
        applied to h_{t-1} where it enters W_hh (the carried h in the final blend is not dropped).
    Returns:
        ``(h_t, (h_t,))``.
    """
    (h,) = state
    H = spec.hidden_size
    hd = h if drop_h is None else h * drop_h
    a_x = x @ w.w_ih.t()                                           # (B, 3H)
    if w.b_ih is not None:
        a_x = a_x + w.b_ih
    b_hh = w.b_hh if w.b_hh is not None else None
    if spec.reset_before:
        a_rz = hd @ w.w_hh[: 2 * H].t()                            # (B, 2H)
        if b_hh is not None:
            a_rz = a_rz + b_hh[: 2 * H]
        r = torch.sigmoid(a_x[:, :H] + a_rz[:, :H])
        z = torch.sigmoid(a_x[:, H:2 * H] + a_rz[:, H:])
        a_n = (r * hd) @ w.w_hh[2 * H:].t()
        if b_hh is not None:
            a_n = a_n + b_hh[2 * H:]
        n = torch.tanh(a_x[:, 2 * H:] + a_n)
    else:
        a_h = hd @ w.w_hh.t()                                      # (B, 3H)
        if b_hh is not None:
            a_h = a_h + b_hh
        r = torch.sigmoid(a_x[:, :H] + a_h[:, :H])
        z = torch.sigmoid(a_x[:, H:2 * H] + a_h[:, H:2 * H])
        n = torch.tanh(a_x[:, 2 * H:] + r * a_h[:, 2 * H:])
    h_new = (1.0 - z) * n + z * h
    return h_new, (h_new,)


class GRUCell(CellModule):
    r"""Gated recurrent unit (torch.nn layout, rows r|z|n).

    .. math::
        \begin{aligned}
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))
               \quad\text{reset after (torch.nn.GRU)} \\
        n_t &= \tanh(W_{in} x_t + b_{in} + W_{hn} (r_t \odot h_{t-1}) + b_{hn})
               \quad\text{reset before (Cho et al. 2014)} \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{aligned}

    where :math:`x_t` (size I) is the input, :math:`h_{t-1}` (size H) the previous hidden state,
    :math:`r_t` the reset gate, :math:`z_t` the update gate, :math:`n_t` the candidate state,
    :math:`\sigma` the logistic sigmoid and :math:`\odot` the elementwise product. ``W_ih`` stacks
    :math:`W_{ir}|W_{iz}|W_{in}` (3H, I), ``W_hh`` stacks :math:`W_{hr}|W_{hz}|W_{hn}` (3H, H).
    With ``reset_before=False`` (the default) this is exactly ``torch.nn.GRUCell``.

    Call as torch.nn.GRUCell: ``h_t = cell(x_t, h)`` with ``x_t`` (B, I) or (I,) unbatched, ``h`` (B, H)
    (no B dim unbatched) or None for zeros; ``h_t`` (B, H). ``cell.step(x_t, state)`` returns
    ``(h_t, (h_t,))``, the form all three cell families share.

    Example::

        >>> import torch, lstmkit
        >>> cell = lstmkit.GRUCell(8, 16, reset_before=True)
        >>> h = cell(torch.randn(2, 8))
        >>> h = cell(torch.randn(2, 8), h)
        >>> h.shape
        torch.Size([2, 16])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, reset_before: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        self._register(GRUSpec(input_size, hidden_size, bias, reset_before=reset_before), device, dtype)

    _step = staticmethod(gru_step)
    _torch_cls = nn.GRUCell
