"""Scores and baselines on a chronological hold-out: MAE, RMSE, MASE, interval coverage; seasonal-naive,
ARIMA and ETS (statsmodels), each forecasting from every origin of the hold-out like the model does."""

from __future__ import annotations

import warnings

import numpy as np

from .series import need_statsmodels

__all__ = ["scores", "mase_scale", "seasonal_naive", "arima_forecasts", "ets_forecasts", "arima_orders"]


def mase_scale(history: np.ndarray, period: int) -> float:
    """Mean absolute error of the in-sample seasonal-naive forecast (lag ``period``): MASE's denominator.

    Example::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast.baselines import mase_scale
        >>> mase_scale(np.array([1.0, 2.0, 4.0, 7.0]), period=1)
        2.0
    """
    if len(history) <= period:
        raise ValueError(f"MASE needs more than period = {period} history values, got {len(history)}")
    return float(np.mean(np.abs(history[period:] - history[:-period])))      # 0 for a constant history


def scores(pred: np.ndarray, truth: np.ndarray, scale: float) -> dict:
    """MAE, RMSE and MASE of ``pred (N, H)`` against ``truth (N, H)`` (NaN truth is skipped). MASE is None
    (undefined, not a made-up number) when ``scale`` is 0: the in-sample seasonal-naive forecast was exact
    (a constant history).

    Example::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast.baselines import scores
        >>> scores(np.array([[1.0, 2.0]]), np.array([[2.0, 4.0]]), scale=3.0)
        {'mae': 1.5, 'rmse': 1.5811388300841898, 'mase': 0.5}
    """
    ok = ~np.isnan(truth)
    err = (pred - truth)[ok]
    mae = float(np.mean(np.abs(err)))
    return {"mae": mae, "rmse": float(np.sqrt(np.mean(err ** 2))), "mase": mae / scale if scale > 0 else None}


def coverage(lower: np.ndarray, upper: np.ndarray, truth: np.ndarray) -> float:
    """The fraction of true values inside ``[lower, upper]``."""
    ok = ~np.isnan(truth)
    return float(np.mean((truth[ok] >= lower[ok]) & (truth[ok] <= upper[ok])))


def seasonal_naive(y: np.ndarray, origins, horizon: int, period: int) -> np.ndarray:
    """``(N, horizon)``: step h from origin o repeats the value one season before, ``y[o - 1 + h - m * ceil(h / m)]``.

    Example::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast.baselines import seasonal_naive
        >>> seasonal_naive(np.arange(10.0), [6], horizon=4, period=3).tolist()
        [[3.0, 4.0, 5.0, 3.0]]
    """
    h = np.arange(1, horizon + 1)
    lag = period * np.ceil(h / period).astype(np.int64)
    idx = np.asarray(origins)[:, None] - 1 + h[None, :] - lag[None, :]
    return y[idx]


def arima_orders(period: int, dataset: str) -> tuple[tuple, tuple]:
    """(order, seasonal_order): the airline model ``(1,1,1)(0,1,1)m`` for a seasonal series; AR(3) with a
    constant for sunspots (whose ~11-year cycle drifts); ``(2,1,1)`` otherwise."""
    if dataset == "sunspots":
        return (3, 0, 0), (0, 0, 0, 0)
    if period > 1:
        return (1, 1, 1), (0, 1, 1, period)
    return (2, 1, 1), (0, 0, 0, 0)


def _rolling(results, y: np.ndarray, origins, horizon: int) -> np.ndarray:
    """Forecasts from each origin with the fitted parameters, the state filtered over ``y[:origin]``."""
    out = np.empty((len(origins), horizon))
    for i, o in enumerate(origins):
        out[i] = np.asarray(results.apply(y[:o]).forecast(horizon))
    return out


def arima_forecasts(y: np.ndarray, fit_end: int, origins, horizon: int, period: int, dataset: str = "") -> dict:
    """SARIMAX fitted on ``y[:fit_end]``, forecasting from each origin: ``{"pred": (N, H), "model": str}``."""
    sm = need_statsmodels("the ARIMA baseline (or --no-baselines)")
    order, seasonal = arima_orders(period, dataset)
    trend = "c" if order[1] == 0 and seasonal[1] == 0 else "n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.tsa.SARIMAX(y[:fit_end], order=order, seasonal_order=seasonal, trend=trend).fit(disp=False)
        pred = _rolling(res, y, origins, horizon)
    return {"pred": pred, "model": f"SARIMAX{order}x{seasonal} trend={trend}"}


def ets_forecasts(y: np.ndarray, fit_end: int, origins, horizon: int, period: int) -> dict:
    """Additive damped-trend exponential smoothing (seasonal when ``period`` > 1), fitted on ``y[:fit_end]``."""
    need_statsmodels("the ETS baseline (or --no-baselines)")
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    seasonal = period if period > 1 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ExponentialSmoothing(y[:fit_end], trend=True, damped_trend=True, seasonal=seasonal).fit(disp=False)
        pred = _rolling(res, y, origins, horizon)
    return {"pred": pred, "model": f"ETS(A,Ad,{'A' if seasonal else 'N'}) period={period}"}
