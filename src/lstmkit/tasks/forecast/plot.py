"""The forecast plot: history, truth, median forecasts from a few origins and their prediction interval."""

from __future__ import annotations

import pathlib

import numpy as np

from ...train.atomic import atomic_path

__all__ = ["plot_forecasts"]


def plot_forecasts(path: str | pathlib.Path, y: np.ndarray, origins, pred: np.ndarray, title: str,
                   quantiles: list[float], history: int = 200, every: int = 0) -> None:
    """Write a PNG: the series ``y``, and from origins ``every`` steps apart (default: the horizon) the
    median forecast ``pred (N, H, Q)`` with a band from the lowest to the highest quantile. Origins may
    reach past the end of ``y`` (a forecast of the future)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    origins = np.asarray(origins)
    H = pred.shape[1]
    every = every or H
    med = quantiles.index(0.5)
    start = max(0, int(origins[0]) - history)
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(np.arange(start, len(y)), y[start:], color="black", lw=1, label="series")
    for k, i in enumerate(range(len(origins) - 1, -1, -every)):
        t = origins[i] + np.arange(H)
        ax.fill_between(t, pred[i, :, 0], pred[i, :, -1], color="tab:blue", alpha=0.2,
                        label=f"{quantiles[0]:g}-{quantiles[-1]:g} interval" if k == 0 else None)
        ax.plot(t, pred[i, :, med], color="tab:blue", lw=1.5, label="median forecast" if k == 0 else None)
    ax.axvline(origins[0], color="grey", ls=":", lw=1)
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
