"""Scores and baselines on a chronological hold-out: MAE, RMSE, MASE, interval coverage; seasonal-naive,
ARIMA and ETS (statsmodels), each forecasting from every origin of the hold-out like the model does."""

from __future__ import annotations

import warnings

import numpy as np

from .series import need_statsmodels

__all__ = ["scores", "mase_scale", "coverage", "seasonal_naive", "arima_forecasts", "ets_forecasts", "arima_orders",
           "MAX_STATE_SEASON"]


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


#: the longest season fitted as a seasonal ARIMA / seasonal ETS; longer ones (daily data, season 365) take
#: minutes to hours that way, and go through Fourier terms instead
MAX_STATE_SEASON = 24


def _rolling(results, model_cls, y: np.ndarray, origins, horizon: int, exog=None, **kwargs) -> np.ndarray:
    """Forecasts ``(N, horizon)`` from each origin with the fitted parameters: one Kalman filter pass over
    all of ``y`` gives the predicted state at every origin (the same as re-filtering ``y[:origin]``), then
    the state-space matrices carry each forward ``horizon`` steps."""
    full = model_cls(y, exog=exog, **kwargs) if exog is not None else model_cls(y, **kwargs)
    ssm = full.filter(results.params).filter_results
    origins = np.asarray(origins)
    a = np.asarray(ssm.predicted_state)[:, origins]                       # (k, N): state at o given y[:o]
    T, Z = (np.asarray(ssm.transition), np.asarray(ssm.design))
    c, d = np.asarray(ssm.state_intercept), np.asarray(ssm.obs_intercept)

    def at(m, t):                                                        # time-invariant or (.., n)
        return m[..., 0] if m.shape[-1] == 1 else m[..., np.minimum(t, m.shape[-1] - 1)]

    out = np.empty((len(origins), horizon))
    for j in range(horizon):
        t = origins + j
        Zt, dt = at(Z, t), at(d, t)                                      # (1, k[, N]), (1[, N])
        out[:, j] = (np.einsum("ik,kn->n", Zt, a) if Zt.ndim == 2 else np.einsum("ikn,kn->n", Zt, a)) + dt.reshape(-1)
        Tt, ct = at(T, t), at(c, t)
        a = (Tt @ a if Tt.ndim == 2 else np.einsum("ikn,kn->in", Tt, a)) + (ct[:, None] if ct.ndim == 1 else ct)
    return out


def fourier_terms(n: int, period: int, harmonics: int = 4) -> np.ndarray:
    """``(n, 2K)``: the Fourier basis of the season for rows 0..n-1 (the long-season baselines' regressors)."""
    from .prep import fourier

    return fourier(np.mod(np.arange(n, dtype=np.float64), period), period, min(harmonics, period // 2))


def arima_forecasts(y: np.ndarray, fit_end: int, origins, horizon: int, period: int, dataset: str = "") -> dict:
    """SARIMAX fitted on ``y[:fit_end]``, forecasting from each origin: ``{"pred": (N, H), "model": str}``.
    A season longer than :data:`MAX_STATE_SEASON` is regressed on 4 Fourier pairs with ARIMA(2,1,1) errors
    (what a seasonal ARIMA of period 365 would take hours to fit)."""
    sm = need_statsmodels("the ARIMA baseline (or --no-baselines)")
    exog = None
    if period > MAX_STATE_SEASON:
        order, seasonal, exog = (2, 1, 1), (0, 0, 0, 0), fourier_terms(len(y), period)
    else:
        order, seasonal = arima_orders(period, dataset)
    trend = "c" if order[1] == 0 and seasonal[1] == 0 else "n"
    kw = dict(order=order, seasonal_order=seasonal, trend=trend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.tsa.SARIMAX(y[:fit_end], exog=None if exog is None else exog[:fit_end], **kw).fit(disp=False)
        pred = _rolling(res, sm.tsa.SARIMAX, y, origins, horizon, exog=exog, **kw)
    name = f"SARIMAX{order}x{seasonal} trend={trend}"
    return {"pred": pred, "model": name + (f" + Fourier terms (K={exog.shape[1] // 2}) of period {period}"
                                           if exog is not None else "")}


def ets_forecasts(y: np.ndarray, fit_end: int, origins, horizon: int, period: int) -> dict:
    """Additive damped-trend exponential smoothing (seasonal when ``period`` > 1), fitted on ``y[:fit_end]``.
    A season longer than :data:`MAX_STATE_SEASON` is removed first (Fourier terms fitted on the
    moving-average-detrended ``y[:fit_end]``) and added back to the forecasts of a non-seasonal ETS."""
    need_statsmodels("the ETS baseline (or --no-baselines)")
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    from .prep import fourier, harmonics_for, seasonal_fit

    seasonal = period if 1 < period <= MAX_STATE_SEASON else None
    s = np.zeros(len(y) + horizon)
    if period > MAX_STATE_SEASON:
        phase = np.mod(np.arange(len(y) + horizon, dtype=np.float64), period)
        coef = seasonal_fit(y[:fit_end], phase[:fit_end], period)[0]
        if coef:
            s = fourier(phase, period, harmonics_for(period)) @ np.asarray(coef)
    yd = y - s[: len(y)]
    kw = dict(trend=True, damped_trend=True, seasonal=seasonal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ExponentialSmoothing(yd[:fit_end], **kw).fit(disp=False)
        pred = _rolling(res, ExponentialSmoothing, yd, origins, horizon, **kw)
    pred = pred + s[np.asarray(origins)[:, None] + np.arange(horizon)[None, :]]
    if period > MAX_STATE_SEASON:
        return {"pred": pred, "model": f"ETS(A,Ad,N) on the series less a Fourier seasonal component of period {period}"}
    return {"pred": pred, "model": f"ETS(A,Ad,{'A' if seasonal else 'N'}) period={period}"}
