"""Dropout with compiled masks: the same function as ``torch.nn.Dropout``, several times faster on CPU.

On CPU float32/float64 tensors the mask comes from :func:`lstmkit.kernels.cpu.bernoulli.bernoulli_mask`
(one compiled pass; ``torch.nn.functional.dropout`` spends ~10-20 ns an element in ``bernoulli_`` here);
elsewhere, and under ``torch.compile``, it is ``torch.nn.functional.dropout``. Training zeroes each element
with probability ``p`` and scales the rest by ``1 / (1 - p)``; evaluation is the identity.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..kernels.cpu.bernoulli import bernoulli_mask, compiled_for

__all__ = ["Dropout", "dropout"]


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """``torch.nn.functional.dropout(x, p, training)`` with a compiled mask on CPU.

    Args:
        x: any shape.
        p: probability of zeroing an element, in [0, 1].
    Returns:
        a new tensor of x's shape; the gradient flows through the kept elements, scaled like them.

    Example::

        >>> import torch
        >>> from lstmkit.layers.dropout import dropout
        >>> y = dropout(torch.ones(4, 1000), 0.5)
        >>> y.unique().tolist(), round(float((y == 0).float().mean()), 1)
        ([0.0, 2.0], 0.5)
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0 or not compiled_for(x):
        return F.dropout(x, p, training=True)
    return x * bernoulli_mask(x.shape, 1.0 - p, 1.0 / (1.0 - p), x)


class Dropout(nn.Module):
    """Drop-in for ``torch.nn.Dropout(p)``: :func:`dropout` in training, the identity in evaluation.

    Args:
        p: probability of zeroing an element.

    Example::

        >>> import torch
        >>> from lstmkit.layers import Dropout
        >>> drop = Dropout(0.5)
        >>> drop(torch.ones(2, 3)).shape, torch.equal(drop.eval()(torch.ones(2, 3)), torch.ones(2, 3))
        (torch.Size([2, 3]), True)
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
