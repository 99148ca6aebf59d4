"""Forecasting as a :class:`~lstmkit.train.TrainTask`: the series prepared (season, transform, seasonal
component: :mod:`.prep`), random training windows for each ensemble member, pinball loss, validation MAE."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ...train import TrainTask
from .config import ForecastConfig
from .model import Forecaster, pinball_loss
from .prep import Prep, calendar_of, infer_season, phases
from .series import Series, load_series
from .windows import Scaler, Windows, encode, make_windows, n_features, split_series

__all__ = ["ForecastTask", "predict", "predict_units"]


@torch.no_grad()
def predict_units(model: Forecaster, windows: Windows, batch: int = 512) -> np.ndarray:
    """Quantile forecasts ``(N, horizon, Q)`` in the model's units (changes over the scale), sorted."""
    device = next(model.parameters()).device
    parts = [model(windows.x[s: s + batch].to(device)).cpu() for s in range(0, len(windows.x), batch)]
    return torch.cat(parts).sort(dim=-1).values.double().numpy()                   # (N, H, Q)


def predict(model: Forecaster, windows: Windows, prep: Prep, factors=None, median: int = 0) -> np.ndarray:
    """Quantile forecasts ``(N, horizon, Q)`` in the target's units, sorted along Q (no crossing); with
    ``factors`` (one per quantile, :func:`~.calibrate.conformal_factors`) the calibrated quantiles."""
    from .calibrate import apply_factors

    pred = predict_units(model, windows)
    if factors is not None:
        pred = apply_factors(pred, factors, median)
    return windows.to_raw(pred, prep)


#: the step limit of the defaults without a time budget; with --max-time the run goes on (to UNCAPPED_STEPS)
#: until the budget is spent or validation stops improving (--patience), the cosine decay still spanning it
DEFAULT_STEPS, UNCAPPED_STEPS = 1500, 100_000


def resolve(config: ForecastConfig, series: Series) -> tuple[str, object]:
    """Fill in what the defaults leave open, in place: the step limit (lifted by a --max-time), the season (inferred from the --time dates of the
    first three quarters of a CSV series) and the window; returns ``(calendar, split)``."""
    c = config
    if c.max_time and not c.changed("max_steps"):      # a time budget: it and early stopping end the run
        c.max_steps, c.decay_steps = UNCAPPED_STEPS, c.decay_steps or DEFAULT_STEPS
    calendar = calendar_of(series.times)[0]
    if c.season == 0 and c.csv:
        head = int(len(series) * 0.75)
        c.season = infer_season(series.target[:head], series.times[:head])[0]
    if c.window == 0:
        rough = split_series(len(series), c.horizon, c.horizon, c.val_fraction, c.test_fraction)
        c.window = c.auto_window(rough.train_end)
    return calendar, split_series(len(series), c.window, c.horizon, c.val_fraction, c.test_fraction)


class ForecastTask(TrainTask):
    """Reads and splits the series, resolves the season and window, fits the preparation (:class:`Prep`)
    on the training rows, and trains a :class:`Forecaster` ensemble on windows drawn at random from the
    training part (each member its own); the best checkpoint is the one with the lowest validation MAE
    of the ensemble's median forecast.

    Example::

        >>> from lstmkit.tasks.forecast import ForecastConfig, ForecastTask
        >>> task = ForecastTask(ForecastConfig(dataset="sunspots", window=22, horizon=5))
        >>> task.split, len(task.train_origins), task.monitor
        (Split(n=309, train_end=232, val_end=263), 206, 'val_mae')
    """

    unit = "windows"
    monitor = "val_mae"
    loss_label = "pinball loss (model units)"

    def __init__(self, config: ForecastConfig, series: Optional[Series] = None) -> None:
        super().__init__(config)
        config.validate()
        self.series = series if series is not None else load_series(config)
        c = config
        self.calendar, self.split = resolve(c, self.series)
        values, end, seen = self.series.values, self.split.train_end, self.split.val_end
        self.phase = phases(self.series.times, c.period, self.calendar)
        self.prep = Prep.fit(values[:seen, 0], self.phase[:seen], c.period, c.horizon, c.transform,
                             c.deseasonalise, self.calendar)
        self.level = c.level_input == "on" or (c.level_input == "auto" and self.prep.stationary)
        self.blank_level = False                          # a global model's series without a level of its own
        self.cov_scaler = Scaler.fit(values[:end, 1:])
        self.enc = encode(values, self.phase, self.prep, self.cov_scaler, c.horizon)
        self.train_origins = np.arange(c.window, end - c.horizon + 1)
        self.train = self.windows_at(self.train_origins)
        self.val = self.windows_at(np.arange(end, self.split.val_end - c.horizon + 1))
        self.quantiles = torch.tensor(c.quantiles)
        self.gen = torch.Generator().manual_seed(c.seed + 1)
        self.device = torch.device(c.device)

    def windows_at(self, origins) -> Windows:
        c = self.config
        return make_windows(self.enc, origins, c.window, c.horizon, self.prep, self.level, self.blank_level)

    @property
    def n_train_windows(self) -> int:
        return len(self.train_origins)

    def refit_windows(self) -> Windows:
        """The windows of every origin before the hold-out (training and validation parts): the refit's."""
        c = self.config
        return self.windows_at(np.arange(c.window, self.split.val_end - c.horizon + 1))

    @property
    def features(self) -> int:
        return n_features(self.series.values.shape[1] - 1, self.level, self.config.period > 1)

    def build_model(self) -> Forecaster:
        return Forecaster(self.features, self.config, 1 + int(self.level))

    def train_step(self, model: Forecaster, step: int) -> tuple[Tensor, int]:
        c = self.config
        idx = torch.randint(len(self.train_origins), (c.ensemble, c.batch_size), generator=self.gen)
        idx = idx[:, self.shard.part(c.batch_size, "batch of --batch-size windows")]   # this rank's windows
        x, y = self.train.x[idx].to(self.device), self.train.y[idx].to(self.device)   # (K, B, W, F), (K, B, H)
        pred = model.members(x, y if c.decoder == "autoregressive" else None)          # (K, B, H, Q)
        return pinball_loss(pred, y, self.quantiles.to(self.device)) * c.ensemble, idx.numel()

    def evaluate(self, model: Forecaster) -> dict[str, float]:
        c = self.config
        raw = model.members(self.val.x.to(self.device)).cpu()                          # (K, N, H, Q)
        loss = pinball_loss(raw, self.val.y, self.quantiles).item()
        pred = predict(model, self.val, self.prep)[..., c.median_index]
        return {"val_loss": round(loss, 6), "val_mae": round(float(np.nanmean(np.abs(pred - self.val.truth))), 6)}

    def metadata(self) -> dict:
        return {"prep": self.prep.to_json(), "covariates": self.cov_scaler.to_json(), "level": self.level,
                "blank_level": self.blank_level,
                "names": self.series.names, "source": self.series.source, "features": self.features,
                "split": vars(self.split)}

    def state_dict(self) -> dict:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["generator"])
