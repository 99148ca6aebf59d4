"""From a series to training examples: the chronological split, the normalisation (fitted on the
training part only) and the windows (``window`` past rows in, ``horizon`` future target values out)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["Split", "split_series", "Scaler", "Encoded", "encode", "Windows", "make_windows", "n_features"]


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
        Split(n=100, train_end=73, val_end=85)
        >>> split_series(30, window=24, horizon=6, val_fraction=0.1, test_fraction=0.15)
        Traceback (most recent call last):
        ...
        ValueError: the series has 30 rows, too short: the training part (23 rows) must hold window + horizon = 30, ...
    """
    n_test = max(1, int(round(n * test_fraction)))
    n_val = max(1, int(round(n * val_fraction)))
    if n_val < 2 * horizon and n - n_test - 2 * horizon >= window + 3 * horizon:
        n_val = 2 * horizon                # enough validation origins to select and to calibrate on
    split = Split(n, n - n_test - n_val, n - n_test)
    need = window + horizon
    if split.train_end < need or n_val < horizon or n_test < horizon:
        raise ValueError(f"the series has {n} rows, too short: the training part ({split.train_end} rows) must hold "
                         f"window + horizon = {need}, and the validation ({n_val}) and test ({n_test}) parts at "
                         f"least horizon = {horizon} each; give a longer series or a smaller --window/--horizon")
    return split


class Scaler:
    """Per-column mean and standard deviation, fitted on the training rows only (the covariates').

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
        if values.shape[1] == 0:
            return cls(np.zeros(0), np.ones(0))
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 0, std, 1.0))

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> "Scaler":
        return cls(data["mean"], data["std"])


@dataclass
class Encoded:
    """A series as the model reads it: ``d (n,)`` the target through :class:`~.prep.Prep` (transformed,
    deseasonalised), ``phase (n + horizon,)`` each row's place in the season (and the next rows'),
    ``cov (n, C)`` covariates normalised with training statistics, ``raw (n,)`` the target itself."""

    d: np.ndarray
    phase: np.ndarray
    cov: np.ndarray
    raw: np.ndarray


def encode(values: np.ndarray, phase: np.ndarray, prep, cov_scaler: "Scaler", horizon: int) -> Encoded:
    """``values (n, 1 + C)`` (target, covariates) and ``phase (n,)`` -> :class:`Encoded`."""
    from .prep import extend_phases

    return Encoded(prep.forward(values[:, 0], phase), extend_phases(phase, horizon, prep.period),
                   (values[:, 1:] - cov_scaler.mean) / cov_scaler.std, values[:, 0])


@dataclass
class Windows:
    """``x (N, window, F)`` model inputs, ``y (N, horizon)`` targets (the change of the encoded series
    from the window's last value, over the scale), ``anchor (N,)`` that last value (encoded), ``phase
    (N, horizon)`` the future rows' phases, ``truth (N, horizon)`` raw future values (NaN past the end)."""

    x: Tensor
    y: Tensor
    anchor: np.ndarray
    phase: np.ndarray
    truth: np.ndarray
    origins: np.ndarray

    def to_raw(self, pred: np.ndarray, prep) -> np.ndarray:
        """Forecasts ``(N, horizon, ...)`` in the model's units back to the target's units."""
        shape = (-1,) + (1,) * (pred.ndim - 1)
        d = self.anchor.reshape(shape) + pred * prep.scale
        phase = self.phase.reshape(self.phase.shape + (1,) * (pred.ndim - 2))
        return prep.inverse(d, np.broadcast_to(phase, d.shape))


def n_features(covariates: int, level: bool, seasonal: bool) -> int:
    """Inputs per step: the encoded target relative to the window's last value; its level (for a series
    that returns to its mean); cos and sin of the season's phase; the covariates."""
    return 1 + int(level) + 2 * int(seasonal) + covariates


def make_windows(enc: Encoded, origins, window: int, horizon: int, prep, level: bool,
                 blank_level: bool = False) -> Windows:
    """Windows whose forecasts start at rows ``origins`` (inputs: rows ``[o - window, o)``). ``level``: a
    channel of the series' level; ``blank_level``: that channel is zeros (a global model's series that does
    not return to its mean, beside others that do).

    Example::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast.prep import Prep
        >>> from lstmkit.tasks.forecast.windows import Scaler, encode, make_windows
        >>> v = np.arange(10.0)[:, None]
        >>> enc = encode(v, np.zeros(10), Prep(), Scaler([], []), horizon=2)
        >>> w = make_windows(enc, [4, 5], window=3, horizon=2, prep=Prep(), level=False)
        >>> w.x.shape, w.y.tolist(), w.anchor.tolist()
        (torch.Size([2, 3, 1]), [[1.0, 2.0], [1.0, 2.0]], [3.0, 4.0])
    """
    origins = np.asarray(origins, dtype=np.int64)
    n = len(enc.d)
    idx = origins[:, None] + np.arange(-window, 0)[None, :]                         # (N, window)
    past = enc.d[idx]                                                               # (N, window)
    anchor = past[:, -1]                                                            # (N,)
    parts = [((past - anchor[:, None]) / prep.scale)[..., None]]                    # (N, window, 1)
    if level:
        parts.append(np.zeros_like(past)[..., None] if blank_level else ((past - prep.level) / prep.spread)[..., None])
    if prep.period > 1:
        a = 2 * np.pi * enc.phase[idx] / prep.period
        parts += [np.cos(a)[..., None], np.sin(a)[..., None]]
    if enc.cov.shape[1]:
        parts.append(enc.cov[idx])                                                  # (N, window, C)
    x = np.concatenate(parts, axis=2)                                               # (N, window, F)
    fut = origins[:, None] + np.arange(horizon)[None, :]                            # (N, horizon)
    inside = fut < n
    truth = np.where(inside, enc.raw[np.minimum(fut, n - 1)], np.nan)
    y = np.where(inside, (enc.d[np.minimum(fut, n - 1)] - anchor[:, None]) / prep.scale, 0.0)
    phase = enc.phase[np.minimum(fut, len(enc.phase) - 1)]
    return Windows(torch.from_numpy(x).float(), torch.from_numpy(y).float(), anchor, phase, truth, origins)
