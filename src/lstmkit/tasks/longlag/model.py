"""The network every long-lag experiment trains: a recurrent layer stack and a linear read-out at
every step (the task decides which steps count, and the output non-linearity)."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ...layers import GRU, LSTM, RNN

__all__ = ["CELLS", "Net"]

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN, "lstm1997": LSTM}


class Net(nn.Module):
    """``cell`` layer(s) of ``hidden`` units, then a linear layer to ``output_size`` at every step.

    Args:
        cell: "lstm", "gru", "rnn" (Elman, tanh) or "lstm1997" (the 1997 LSTM: memory blocks, no forget
            gate, its squashing, truncated gradient and initialisation; ``lstm1997`` gives its options, see
            :mod:`~lstmkit.tasks.longlag.topology`).
        peephole: LSTM peephole connections (LSTM only).
        forget_bias: initial LSTM forget-gate bias (None: torch.nn's initialisation; LSTM only).
        chrono: if set, the chrono initialisation of Tallec & Ollivier (2018) for lags up to ``chrono``
            steps: LSTM forget-gate biases log(U(1, chrono-1)) and input-gate biases their negatives;
            GRU update-gate biases log(U(1, chrono-1)) (torch.nn's GRU keeps h_{t-1} where z_t = 1).
            Gates then start by remembering over a spread of time scales up to the task's lag. No
            effect on the Elman RNN, which has no gates. Overrides ``forget_bias``.
        backend: kernel choice passed to the layer.
        lstm1997: the :class:`lstmkit.LSTM` options of the 1997 cell (``Topology.options()``), with
            ``cell="lstm1997"``; ``hidden`` must be a whole number of its memory blocks.

    Example::

        >>> import torch
        >>> net = Net("gru", input_size=2, hidden=8, output_size=1)
        >>> out, state = net(torch.randn(30, 4, 2), lengths=torch.tensor([30, 25, 20, 30]))
        >>> out.shape, state.shape
        (torch.Size([30, 4, 1]), torch.Size([1, 4, 8]))
    """

    def __init__(self, cell: str, input_size: int, hidden: int, output_size: int, layers: int = 1,
                 peephole: bool = False, forget_bias: Optional[float] = None, chrono: Optional[int] = None,
                 backend: str = "auto", lstm1997: Optional[dict] = None) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        options = {}
        if cell == "lstm":
            options = {"peephole": peephole, "forget_bias": forget_bias}
        elif cell == "lstm1997":
            if lstm1997 is None:
                raise ValueError("cell='lstm1997' needs lstm1997= (the options of Topology.options())")
            if chrono is not None:
                raise ValueError("chrono initialisation sets forget-gate biases; the 1997 cell has no forget gate "
                                 "and its own initialisation (init_range, gate_bias_steps)")
            options = {"peephole": peephole, **lstm1997}
        elif peephole:
            raise ValueError(f"peephole connections are an LSTM option, got cell={cell!r}")
        self.cell = cell
        self.rnn = CELLS[cell](input_size, hidden, num_layers=layers, backend=backend, **options)
        self.head = nn.Linear(hidden, output_size)
        if chrono is not None:
            self.chrono_init(chrono)

    @torch.no_grad()
    def chrono_init(self, horizon: int) -> None:
        """Set the gate biases of every layer for memories of up to ``horizon`` steps (see above)."""
        if horizon < 3:
            raise ValueError(f"chrono horizon must be >= 3 steps, got {horizon}")
        if self.cell == "rnn":
            return
        H = self.rnn.hidden_size
        for k in range(self.rnn.num_layers):
            b_ih, b_hh = getattr(self.rnn, f"bias_ih_l{k}"), getattr(self.rnn, f"bias_hh_l{k}")
            timescales = torch.log(torch.empty(H).uniform_(1.0, horizon - 1.0))   # (H,)
            if self.cell == "lstm":                                   # rows i|f|g|o
                b_ih[H:2 * H], b_ih[:H] = timescales, -timescales
                b_hh[:2 * H] = 0.0
            else:                                                     # GRU rows r|z|n
                b_ih[H:2 * H] = timescales
                b_hh[H:2 * H] = 0.0

    def forward(self, x: Tensor, lengths: Optional[Tensor] = None, state=None):
        """x (T, B, I) -> (outputs (T, B, O), final state)."""
        y, state = self.rnn(x, state, lengths=lengths)                # (T, B, H)
        return self.head(y), state
