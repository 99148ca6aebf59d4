"""The network every long-lag experiment trains: a recurrent layer stack and a linear read-out at
every step (the task decides which steps count, and the output non-linearity)."""

from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from ...layers import GRU, LSTM, RNN

__all__ = ["CELLS", "Net"]

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


class Net(nn.Module):
    """``cell`` layer(s) of ``hidden`` units, then a linear layer to ``output_size`` at every step.

    Args:
        cell: "lstm", "gru" or "rnn" (Elman, tanh).
        peephole: LSTM peephole connections (LSTM only).
        forget_bias: initial LSTM forget-gate bias (None: torch.nn's initialisation; LSTM only).
        backend: kernel choice passed to the layer.

    Example::

        >>> import torch
        >>> net = Net("gru", input_size=2, hidden=8, output_size=1)
        >>> out, state = net(torch.randn(30, 4, 2), lengths=torch.tensor([30, 25, 20, 30]))
        >>> out.shape, state.shape
        (torch.Size([30, 4, 1]), torch.Size([1, 4, 8]))
    """

    def __init__(self, cell: str, input_size: int, hidden: int, output_size: int, layers: int = 1,
                 peephole: bool = False, forget_bias: Optional[float] = None, backend: str = "auto") -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        options = {}
        if cell == "lstm":
            options = {"peephole": peephole, "forget_bias": forget_bias}
        elif peephole:
            raise ValueError(f"peephole connections are an LSTM option, got cell={cell!r}")
        self.cell = cell
        self.rnn = CELLS[cell](input_size, hidden, num_layers=layers, backend=backend, **options)
        self.head = nn.Linear(hidden, output_size)

    def forward(self, x: Tensor, lengths: Optional[Tensor] = None, state=None):
        """x (T, B, I) -> (outputs (T, B, O), final state)."""
        y, state = self.rnn(x, state, lengths=lengths)                # (T, B, H)
        return self.head(y), state
