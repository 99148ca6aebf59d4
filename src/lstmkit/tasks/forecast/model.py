"""The forecaster: an lstmkit LSTM encoder over the window, then a direct or an autoregressive decoder
that outputs every quantile of every future step; and the pinball (quantile) loss."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...layers import Dropout, LSTM
from .config import ForecastConfig

__all__ = ["Forecaster", "pinball_loss"]


def pinball_loss(pred: Tensor, y: Tensor, quantiles: Tensor) -> Tensor:
    """Mean quantile loss of ``pred (N, H, Q)`` against ``y (N, H)``: ``max(q e, (q - 1) e)``, ``e = y - pred``.

    Example::

        >>> import torch
        >>> from lstmkit.tasks.forecast.model import pinball_loss
        >>> pinball_loss(torch.zeros(1, 1, 2), torch.ones(1, 1), torch.tensor([0.1, 0.9]))
        tensor(0.5000)
    """
    e = y.unsqueeze(-1) - pred                                                     # (N, H, Q)
    return torch.maximum(quantiles * e, (quantiles - 1) * e).mean()


class Forecaster(nn.Module):
    """``forward(x (B, window, F), y (B, H) or None)`` -> quantile forecasts ``(B, H, Q)`` (normalised).

    ``direct``: one linear head maps the encoder's last output to all H x Q values. ``autoregressive``: a
    recurrent decoder starts from the encoder's state and reads the previous value at each step: the true
    one in training (teacher forcing, ``y`` given), its own median forecast otherwise (``y`` None).

    Example::

        >>> import torch
        >>> from lstmkit.tasks.forecast import ForecastConfig, Forecaster
        >>> cfg = ForecastConfig(horizon=5, hidden=16, decoder="autoregressive")
        >>> Forecaster(3, cfg).eval()(torch.randn(4, 24, 3)).shape
        torch.Size([4, 5, 3])
    """

    def __init__(self, features: int, cfg: ForecastConfig) -> None:
        super().__init__()
        self.horizon, self.n_q, self.decoder = cfg.horizon, len(cfg.quantiles), cfg.decoder
        self.median, self.relative = cfg.median_index, cfg.relative
        common = dict(num_layers=cfg.layers, dropout=cfg.dropout if cfg.layers > 1 else 0.0, batch_first=True,
                      backend=cfg.backend)
        self.encoder = LSTM(features, cfg.hidden, **common)
        self.drop = Dropout(cfg.dropout)
        if cfg.decoder == "direct":
            self.head = nn.Linear(cfg.hidden, cfg.horizon * self.n_q)
        else:
            self.dec = LSTM(1, cfg.hidden, **common)
            self.head = nn.Linear(cfg.hidden, self.n_q)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        out, state = self.encoder(x)                                               # (B, W, H), ((L, B, H),) * 2
        B = x.shape[0]
        if self.decoder == "direct":
            return self.head(self.drop(out[:, -1])).view(B, self.horizon, self.n_q)
        start = x[:, -1:, :1] if self.relative else x[:, -1:, 1:2]                 # (B, 1, 1): the last value
        if y is not None:                                                          # teacher forcing
            prev = torch.cat([start, y[:, :-1].unsqueeze(-1)], dim=1)              # (B, H, 1)
            dec, _ = self.dec(prev, state)                                         # (B, H, hidden)
            return self.head(self.drop(dec))                                       # (B, H, Q)
        preds, inp = [], start[:, 0]                                               # (B, 1)
        for _ in range(self.horizon):
            h, state = self.dec.step(inp, state)                                   # (B, hidden)
            q = self.head(h)                                                       # (B, Q)
            preds.append(q)
            inp = q[:, self.median: self.median + 1]
        return torch.stack(preds, dim=1)                                           # (B, H, Q)
