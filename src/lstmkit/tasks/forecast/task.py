"""Forecasting as a :class:`~lstmkit.train.TrainTask`: random training windows, pinball loss, validation MAE."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ...train import TrainTask
from .config import ForecastConfig
from .model import Forecaster, pinball_loss
from .series import Series, load_series
from .windows import Scaler, Windows, make_windows, n_features, split_series

__all__ = ["ForecastTask", "predict"]


@torch.no_grad()
def predict(model: Forecaster, windows: Windows, scaler: Scaler, relative: bool, batch: int = 512) -> np.ndarray:
    """Quantile forecasts ``(N, horizon, Q)`` in the target's units, sorted along Q (no crossing)."""
    device = next(model.parameters()).device
    parts = [model(windows.x[s: s + batch].to(device)).cpu() for s in range(0, len(windows.x), batch)]
    pred = torch.cat(parts).sort(dim=-1).values.double().numpy()                  # (N, H, Q)
    return windows.to_raw(pred, scaler, relative)


class ForecastTask(TrainTask):
    """Reads and splits the series, fits the normaliser on the training rows, and trains a
    :class:`Forecaster` on windows drawn at random from the training part; the best checkpoint is the one
    with the lowest validation MAE of the median forecast.

    Example::

        >>> from lstmkit.tasks.forecast import ForecastConfig, ForecastTask
        >>> task = ForecastTask(ForecastConfig(dataset="sunspots", window=22, horizon=5))
        >>> task.split, len(task.train_origins), task.monitor
        (Split(n=309, train_end=232, val_end=263), 206, 'val_mae')
    """

    unit = "windows"
    monitor = "val_mae"
    loss_label = "pinball loss (normalised)"

    def __init__(self, config: ForecastConfig, series: Optional[Series] = None) -> None:
        super().__init__(config)
        config.validate()
        self.series = series if series is not None else load_series(config)
        c = config
        self.split = split_series(len(self.series), c.window, c.horizon, c.val_fraction, c.test_fraction)
        values = self.series.values
        self.scaler = Scaler.fit(values[: self.split.train_end])
        self.train_origins = np.arange(c.window, self.split.train_end - c.horizon + 1)
        self.train = make_windows(values, self.train_origins, c.window, c.horizon, self.scaler, c.relative)
        self.val = self.windows_at(np.arange(self.split.train_end, self.split.val_end - c.horizon + 1))
        self.quantiles = torch.tensor(c.quantiles)
        self.gen = torch.Generator().manual_seed(c.seed + 1)
        self.device = torch.device(c.device)

    def windows_at(self, origins) -> Windows:
        c = self.config
        return make_windows(self.series.values, origins, c.window, c.horizon, self.scaler, c.relative)

    @property
    def features(self) -> int:
        return n_features(self.series.values.shape[1] - 1)

    def build_model(self) -> Forecaster:
        return Forecaster(self.features, self.config)

    def train_step(self, model: Forecaster, step: int) -> tuple[Tensor, int]:
        idx = torch.randint(len(self.train_origins), (self.config.batch_size,), generator=self.gen)
        x, y = self.train.x[idx].to(self.device), self.train.y[idx].to(self.device)   # (B, W, F), (B, H)
        pred = model(x, y if self.config.decoder == "autoregressive" else None)      # (B, H, Q)
        return pinball_loss(pred, y, self.quantiles.to(self.device)), len(idx)

    def evaluate(self, model: Forecaster) -> dict[str, float]:
        c = self.config
        raw = model(self.val.x.to(self.device)).cpu()
        loss = pinball_loss(raw, self.val.y, self.quantiles).item()
        pred = predict(model, self.val, self.scaler, c.relative)[..., c.median_index]
        return {"val_loss": round(loss, 6), "val_mae": round(float(np.nanmean(np.abs(pred - self.val.truth))), 6)}

    def metadata(self) -> dict:
        return {"scaler": self.scaler.to_json(), "names": self.series.names, "source": self.series.source,
                "features": self.features, "split": vars(self.split)}

    def state_dict(self) -> dict:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["generator"])
