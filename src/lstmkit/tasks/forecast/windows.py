"""From a series to training examples: the chronological split, the normalisation (fitted on the
training part only) and the windows (``window`` past rows in, ``horizon`` future target values out)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["Split", "split_series", "Scaler", "Windows", "make_windows"]


@dataclass
class Split:
    """Row ranges: training ``[0, train_end)``, validation ``[train_end, val_end)``, test ``[val_end, n)``."""

    n: int
    train_end: int
    val_end: int


def split_series(n: int, window: int, horizon: int, val_fraction: float, test_fraction: float) -> Split:
    """The chronological split, or a ValueError when the series is too short for its windows.

    Example::

        >>> from lstmkit.tasks.forecast.windows import split_series
        >>> split_series(100, window=24, horizon=6, val_fraction=0.1, test_fraction=0.15)
        Split(n=100, train_end=75, val_end=85)
        >>> split_series(30, window=24, horizon=6, val_fraction=0.1, test_fraction=0.15)
        Traceback (most recent call last):
        ...
        ValueError: the series has 30 rows, too short: the training part (23 rows) must hold window + horizon = 30, ...
    """
    n_test = max(1, int(round(n * test_fraction)))
    n_val = max(1, int(round(n * val_fraction)))
    split = Split(n, n - n_test - n_val, n - n_test)
    need = window + horizon
    if split.train_end < need or n_val < horizon or n_test < horizon:
        raise ValueError(f"the series has {n} rows, too short: the training part ({split.train_end} rows) must hold "
                         f"window + horizon = {need}, and the validation ({n_val}) and test ({n_test}) parts at "
                         f"least horizon = {horizon} each; give a longer series or a smaller --window/--horizon")
    return split


class Scaler:
    """Per-column mean and standard deviation, fitted on the training rows only.

    Example::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast.windows import Scaler
        >>> s = Scaler.fit(np.array([[1.0], [3.0]]))
        >>> s.mean.tolist(), s.std.tolist(), s.to_json()
        ([2.0], [1.0], {'mean': [2.0], 'std': [1.0]})
    """

    def __init__(self, mean, std) -> None:
        self.mean, self.std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)

    @classmethod
    def fit(cls, values: np.ndarray) -> "Scaler":
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 0, std, 1.0))

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> "Scaler":
        return cls(data["mean"], data["std"])


@dataclass
class Windows:
    """``x (N, window, F)`` model inputs, ``y (N, horizon)`` normalised targets, ``anchor (N,)`` the value the
    targets are relative to (raw units), ``truth (N, horizon)`` raw future values (NaN past the end)."""

    x: Tensor
    y: Tensor
    anchor: np.ndarray
    truth: np.ndarray
    origins: np.ndarray

    def to_raw(self, pred: np.ndarray, scaler: Scaler, relative: bool) -> np.ndarray:
        """Normalised forecasts ``(N, horizon, ...)`` back to the target's units."""
        shape = (-1,) + (1,) * (pred.ndim - 1)
        base = self.anchor.reshape(shape) if relative else scaler.mean[0]
        return pred * scaler.std[0] + base


def n_features(covariates: int) -> int:
    """Inputs per step: the target relative to the window's last value, the target normalised, covariates."""
    return 2 + covariates


def make_windows(values: np.ndarray, origins, window: int, horizon: int, scaler: Scaler,
                 relative: bool) -> Windows:
    """Windows whose forecasts start at rows ``origins`` (inputs: rows ``[o - window, o)``).

    Example::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast.windows import Scaler, make_windows
        >>> v = np.arange(10.0)[:, None]
        >>> w = make_windows(v, [4, 5], window=3, horizon=2, scaler=Scaler([0.0], [1.0]), relative=True)
        >>> w.x.shape, w.y.tolist(), w.anchor.tolist()
        (torch.Size([2, 3, 2]), [[1.0, 2.0], [1.0, 2.0]], [3.0, 4.0])
    """
    origins = np.asarray(origins, dtype=np.int64)
    norm = (values - scaler.mean) / scaler.std                                      # (N_rows, K)
    idx = origins[:, None] + np.arange(-window, 0)[None, :]                         # (N, window)
    past = norm[idx]                                                                # (N, window, K)
    anchor_n = past[:, -1, 0]                                                       # (N,)
    x = np.concatenate([past[:, :, :1] - anchor_n[:, None, None], past], axis=2)    # (N, window, 2 + cov)
    fut = origins[:, None] + np.arange(horizon)[None, :]                            # (N, horizon)
    inside = fut < len(values)
    truth = np.where(inside, values[np.minimum(fut, len(values) - 1), 0], np.nan)
    y = (truth - scaler.mean[0]) / scaler.std[0]
    if relative:
        y = y - anchor_n[:, None]
    return Windows(torch.from_numpy(x).float(), torch.from_numpy(np.nan_to_num(y)).float(),
                   values[origins - 1, 0].astype(np.float64), truth, origins)
