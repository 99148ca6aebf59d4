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


class Member(nn.Module):
    """One network of the ensemble: ``forward(x (B, window, F), y (B, H) or None)`` -> ``(B, H, Q)``.

    ``direct``: one linear head maps the encoder's last output to all H x Q values, plus a linear map of
    the window's relative target values (a skip path that learns the autoregressive part early, as in
    LSTNet, Lai et al. 2018; it starts at zero) and, with ``skip_channels=2``, of its level channel too
    (so that the linear part can pull a mean-reverting series back to its mean, as an AR model with a
    mean does). ``autoregressive``: a recurrent decoder starts from the
    encoder's state and reads the previous value at each step: the true one in training (teacher forcing,
    ``y`` given), its own median forecast otherwise (``y`` None).
    """

    def __init__(self, features: int, cfg: ForecastConfig, skip_channels: int = 1) -> None:
        super().__init__()
        self.skip_channels = skip_channels
        self.horizon, self.n_q, self.decoder = cfg.horizon, len(cfg.quantiles), cfg.decoder
        self.median = cfg.median_index
        common = dict(num_layers=cfg.layers, dropout=cfg.dropout if cfg.layers > 1 else 0.0, batch_first=True,
                      backend=cfg.backend)
        self.encoder = LSTM(features, cfg.hidden, **common)
        self.drop = Dropout(cfg.dropout)
        if cfg.decoder == "direct":
            self.head = nn.Linear(cfg.hidden, cfg.horizon * self.n_q)
            self.skip = (nn.Linear(cfg.window * skip_channels, cfg.horizon, bias=False) if cfg.linear_skip
                         else None)
            if self.skip is not None:
                nn.init.zeros_(self.skip.weight)
        else:
            self.dec = LSTM(1, cfg.hidden, **common)
            self.head = nn.Linear(cfg.hidden, self.n_q)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        out, state = self.encoder(x)                                               # (B, W, H), ((L, B, H),) * 2
        B = x.shape[0]
        if self.decoder == "direct":
            q = self.head(self.drop(out[:, -1])).view(B, self.horizon, self.n_q)   # (B, H, Q)
            if self.skip is not None:
                past = x[:, :, : self.skip_channels].flatten(1)                   # (B, W * C)
                q = q + self.skip(past).unsqueeze(-1)                               # (B, H, 1): all quantiles
            return q
        start = x[:, -1:, :1]                                                      # (B, 1, 1): the last value (0)
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


class Forecaster(nn.Module):
    """An ensemble of ``cfg.ensemble`` :class:`Member` networks (each initialised and trained on batches of
    its own; ``skip_channels``: the first input channels the linear skip reads, 2 when the level is an
    input): ``forward(x (B, window, F))`` -> quantile forecasts ``(B, H, Q)`` (model units), each
    quantile the median of the members'; ``members(x, y)`` -> ``(K, B, H, Q)``, every member's, where ``x``
    is ``(B, window, F)`` (the same windows for all) or ``(K, B, window, F)`` (one batch per member).

    Example::

        >>> import torch
        >>> from lstmkit.tasks.forecast import ForecastConfig, Forecaster
        >>> cfg = ForecastConfig(window=24, horizon=5, hidden=16, ensemble=3)
        >>> model = Forecaster(3, cfg).eval()
        >>> model(torch.randn(4, 24, 3)).shape, model.members(torch.randn(3, 4, 24, 3)).shape
        (torch.Size([4, 5, 3]), torch.Size([3, 4, 5, 3]))
    """

    def __init__(self, features: int, cfg: ForecastConfig, skip_channels: int = 1) -> None:
        super().__init__()
        if cfg.window < 1:
            raise ValueError(f"the Forecaster needs a resolved window >= 1, got {cfg.window}")
        if not 1 <= skip_channels <= features:
            raise ValueError(f"skip_channels must be in [1, features = {features}], got {skip_channels}")
        self.nets = nn.ModuleList(Member(features, cfg, skip_channels) for _ in range(cfg.ensemble))

    def members(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        K = len(self.nets)
        if x.dim() == 4 and x.shape[0] != K:
            raise ValueError(f"x.size(0) must be {K} (ensemble members) for a 4-d input, got {x.shape[0]}")
        outs = [net(x[k] if x.dim() == 4 else x, None if y is None else (y[k] if y.dim() == 3 else y))
                for k, net in enumerate(self.nets)]
        return torch.stack(outs)                                                   # (K, B, H, Q)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.members(x, y).median(dim=0).values if len(self.nets) > 1 else self.nets[0](x, y)
