"""Intervals that mean what they say: each quantile forecast is stretched (or shrunk) about the median by
a factor fitted on the validation part, so that the share of validation values below it is the quantile
(split conformal prediction on the model's own quantiles, pooled over the horizon steps: the model's
quantiles give each step's width, the validation part scales them)."""

from __future__ import annotations

import numpy as np

__all__ = ["conformal_factors", "apply_factors"]


def conformal_factors(pred: np.ndarray, y: np.ndarray, quantiles: list[float], median: int,
                      valid: np.ndarray | None = None) -> list[float]:
    """One factor per quantile from forecasts ``pred (N, H, Q)`` and outcomes ``y (N, H)`` (model units;
    ``valid (N, H)`` marks the outcomes that exist). For a quantile q below the median the score of an
    outcome is ``(median - y) / (median - pred_q)``, and the factor is the score's (1 - q) quantile with the
    finite-sample correction ``(n + 1) / n``; above the median, mirrored. The median's factor is 1.

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
    med = pred[..., median][ok]
    out = []
    for k, q in enumerate(quantiles):
        if k == median:
            out.append(1.0)
            continue
        width = np.abs(pred[..., k][ok] - med)
        s = (med - y[ok]) if q < 0.5 else (y[ok] - med)
        s = s / np.maximum(width, 1e-6)
        n = len(s)
        if n == 0:
            out.append(1.0)
            continue
        level = min(1.0, (1 - min(q, 1 - q)) * (n + 1) / n)
        out.append(float(max(np.quantile(s, level), 0.0)))
    return out


def apply_factors(pred: np.ndarray, factors: list[float], median: int) -> np.ndarray:
    """``pred (..., Q)`` with each quantile moved to ``median + factor * (quantile - median)``, sorted."""
    med = pred[..., median: median + 1]
    return np.sort(med + np.asarray(factors) * (pred - med), axis=-1)
