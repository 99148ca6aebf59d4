"""The CTC model: per-step features -> bidirectional lstmkit stack -> linear to blank + labels."""

from __future__ import annotations

from torch import Tensor, nn

from ...layers import Dropout, GRU, LSTM, RNN
from .config import CTCConfig

__all__ = ["CTCModel"]


class CTCModel(nn.Module):
    """``forward(x (T, B, F), lengths (B,))`` -> log-probabilities ``(T, B, 1 + n_labels)``, blank at 0.

    Example::

        >>> import torch
        >>> from lstmkit.tasks.ctc import CTCConfig, CTCModel
        >>> model = CTCModel(8, 10, CTCConfig(hidden=16, layers=1)).eval()
        >>> model(torch.rand(20, 3, 8), torch.tensor([20, 15, 9])).shape
        torch.Size([20, 3, 11])
    """

    def __init__(self, features: int, n_labels: int, cfg: CTCConfig) -> None:
        super().__init__()
        cls = {"lstm": LSTM, "gru": GRU, "rnn": RNN}[cfg.cell]
        self.rnn = cls(features, cfg.hidden, cfg.layers, dropout=cfg.dropout if cfg.layers > 1 else 0.0,
                       bidirectional=True, backend=cfg.backend)
        self.drop = Dropout(cfg.dropout)
        self.head = nn.Linear(2 * cfg.hidden, n_labels + 1)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        out, _ = self.rnn(x, lengths=lengths)                            # (T, B, 2H), zero past each end
        return self.head(self.drop(out)).log_softmax(-1)                  # (T, B, 1 + labels)
