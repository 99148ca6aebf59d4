"""Piano-roll pictures: real and generated music one above the other, as PNG."""

from __future__ import annotations

import pathlib
from typing import Sequence

import torch

from ...train.atomic import atomic_path

__all__ = ["plot_rolls"]


def plot_rolls(path: str | pathlib.Path, rolls: Sequence[tuple[str, torch.Tensor]], title: str = "") -> None:
    """Write a PNG with one panel per ``(label, roll (T, K))``: time across, keys up (only the keys that
    sound in some panel are shown), written atomically."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    used = torch.zeros(rolls[0][1].shape[1], dtype=torch.bool)
    for _, r in rolls:
        used |= torch.as_tensor(r).bool().any(0)
    keys = torch.nonzero(used).flatten()
    lo, hi = (int(keys.min()) - 2, int(keys.max()) + 3) if len(keys) else (0, rolls[0][1].shape[1])
    lo = max(lo, 0)
    fig = Figure(figsize=(10, 2.6 * len(rolls)), dpi=100)
    for i, (label, roll) in enumerate(rolls):
        ax = fig.add_subplot(len(rolls), 1, i + 1)
        r = torch.as_tensor(roll).float()[:, lo:hi]
        if len(r):
            ax.imshow(r.T.numpy(), aspect="auto", origin="lower", cmap="Greys", interpolation="nearest",
                      extent=(0, len(r), lo - 0.5, lo + r.shape[1] - 0.5))
        ax.set_ylabel("key")
        ax.set_title(label, fontsize=9)
    fig.axes[-1].set_xlabel("frame")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
