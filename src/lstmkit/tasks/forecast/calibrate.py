"""Intervals that mean what they say: each interval of the forecast (quantiles q and 1 - q) is stretched
(or shrunk) about the median by one factor fitted on the validation part of the first fit, so that the
share of validation values inside it is 1 - 2q (split conformal prediction on the model's own quantiles,
pooled over the horizon steps: the model's quantiles give each step's width and skew, the validation part
scales them; the finite-sample correction counts forecast origins, not correlated outcomes). The refitted
model forecasts the hold-out from as far as the first fit forecast the validation part, so the same
factors apply to it."""

from __future__ import annotations

import numpy as np

__all__ = ["conformal_factors", "apply_factors"]


def conformal_factors(pred: np.ndarray, y: np.ndarray, quantiles: list[float], median: int,
                      valid: np.ndarray | None = None, blocks: int | None = None) -> list[float]:
    """One factor per quantile from forecasts ``pred (N, H, Q)`` and outcomes ``y (N, H)`` (model units;
    ``valid (N, H)`` marks the outcomes that exist). A pair of quantiles ``q`` and ``1 - q`` gets one
    factor, the interval's: the score of an outcome is how far it lies past the median in units of that
    side's width, ``max((median - y) / (median - pred_q), (y - median) / (pred_1-q - median))``, and the
    factor is the scores' ``1 - 2q`` quantile with the finite-sample correction ``(n + 1) / n`` -- one
    parameter, so a validation part that happened to run above the model does not tilt every later
    interval. ``n`` is ``blocks`` when given: the number of forecast origins, not of the (strongly
    correlated) outcomes, which makes small validation parts conservative. A quantile without its mirror
    gets its own factor (scores on its side only). The median's factor is 1.

    Example (forecast quantiles half as wide as the outcomes' spread get a factor of about 2)::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast.calibrate import conformal_factors
        >>> y = np.random.default_rng(0).normal(size=(4000, 1))
        >>> pred = np.broadcast_to(np.array([-0.64, 0.0, 0.64]), (4000, 1, 3))
        >>> [round(f, 1) for f in conformal_factors(pred, y, [0.1, 0.5, 0.9], 1)]
        [2.0, 1.0, 2.0]
    """
    if pred.shape[:2] != y.shape:
        raise ValueError(f"pred (N, H, Q) and y (N, H) must agree on N, H: got {pred.shape} and {y.shape}")
    ok = np.ones(y.shape, bool) if valid is None else valid
    med, yy = pred[..., median][ok], y[ok]

    def side(k: int) -> np.ndarray:                       # how far past the median, in units of k's width
        s = (med - yy) if quantiles[k] < 0.5 else (yy - med)
        return s / np.maximum(np.abs(pred[..., k][ok] - med), 1e-6)

    def factor(s: np.ndarray, level: float) -> float:
        n = blocks or len(s)
        if len(s) == 0 or n == 0:
            return 1.0
        return float(max(np.quantile(s, min(1.0, level * (n + 1) / n)), 0.0))

    out = [1.0] * len(quantiles)
    for k, q in enumerate(quantiles):
        if k == median or q > 0.5 and any(abs(p - (1 - q)) < 1e-9 for p in quantiles):
            continue
        mirror = next((j for j, p in enumerate(quantiles) if abs(p - (1 - q)) < 1e-9), None)
        if mirror is None:
            out[k] = factor(side(k), 1 - min(q, 1 - q))
        else:
            out[k] = out[mirror] = factor(np.maximum(side(k), side(mirror)), 1 - 2 * q)
    return out


def apply_factors(pred: np.ndarray, factors: list[float], median: int) -> np.ndarray:
    """``pred (..., Q)`` with each quantile moved to ``median + factor * (quantile - median)``, sorted."""
    med = pred[..., median: median + 1]
    return np.sort(med + np.asarray(factors) * (pred - med), axis=-1)
