"""PNG heatmaps of a trace: for every view and quantity, steps (x, labelled with the tokens when few)
against units (y); plus one scatter per view of each gate's saturation (fraction of steps below 0.1
against fraction above 0.9, as Karpathy, Johnson & Fei-Fei 2015, figure 3).

Example::

    >>> import tempfile, torch, lstmkit
    >>> from lstmkit.inspect import trace_layer, write_heatmaps
    >>> tr = trace_layer(lstmkit.GRU(2, 3), torch.randn(5, 2))
    >>> sorted(p.name for p in write_heatmaps(tr, tempfile.mkdtemp(), prefix="gru"))[:3]
    ['gru-layer0-fwd-h.png', 'gru-layer0-fwd-n.png', 'gru-layer0-fwd-r.png']
"""

from __future__ import annotations

import os
import pathlib
import re

from .analysis import SATURATED_HIGH, SATURATED_LOW, saturation_fractions
from .page import NAMES, ORDER
from .trace import GATES, Trace, View

__all__ = ["write_heatmaps", "heatmap_name"]

#: token labels are drawn under the steps when there are at most this many
MAX_LABELS = 80


def heatmap_name(view: View, quantity: str, prefix: str = "") -> str:
    """File name of one heatmap: ``[prefix-][module-]layerK-fwd|bwd-QUANTITY.png``."""
    module = re.sub(r"[^A-Za-z0-9_]+", "_", view.module)
    parts = [p for p in (prefix, module, f"layer{view.layer}", "bwd" if view.direction else "fwd", quantity) if p]
    return "-".join(parts) + ".png"


def _label(tok: str) -> str:
    return {"\n": "\\n", " ": "\u2423", "\t": "\\t"}.get(tok, tok[:8])


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _heatmap(tr: Trace, view: View, q: str):
    v = view.quantities[q]                                                 # (T, H)
    T, H = v.shape
    rng = view.value_range(q)
    lo, hi = (0.0, 1.0) if q in GATES else (float(rng[:, 0].min()), float(rng[:, 1].max()))
    fig = _figure(min(max(6.0, T * 0.12), 30.0), min(max(3.0, H * 0.06 + 1.5), 16.0))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(v.T, aspect="auto", interpolation="nearest", cmap="viridis" if q in GATES else "RdBu_r",
                   vmin=lo, vmax=hi)
    fig.colorbar(im, ax=ax, fraction=0.03)
    ax.set_ylabel("unit")
    if T <= MAX_LABELS:
        ax.set_xticks(range(T))
        chars = all(len(t) <= 1 for t in tr.tokens)
        ax.set_xticklabels([_label(t) for t in tr.tokens], fontsize=7, rotation=0 if chars else 90)
        ax.set_xlabel("step (token read)")
    else:
        ax.set_xlabel("step")
    ax.set_title(f"{view.label} ({view.cell}): {NAMES.get(q, q)}")
    fig.tight_layout()
    return fig


def _saturation_plot(tr: Trace, vi: int, fractions: dict):
    fig = _figure(4.5, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    for (i, q), (low, high) in fractions.items():
        if i == vi:
            ax.scatter(low, high, s=10, alpha=0.6, label=q)
    ax.plot([0, 1], [1, 0], color="#aaa", lw=0.8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"fraction of steps below {SATURATED_LOW}")
    ax.set_ylabel(f"fraction of steps above {SATURATED_HIGH}")
    ax.set_title(f"gate saturation, {tr.views[vi].label}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_heatmaps(tr: Trace, folder: str | os.PathLike, prefix: str = "") -> list[pathlib.Path]:
    """Write every heatmap (and each view's gate-saturation scatter, when it has gates) into ``folder``
    (made if missing), each file atomically; returns the paths written."""
    from ..train.atomic import atomic_path

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fractions = saturation_fractions(tr)
    written = []
    for vi, view in enumerate(tr.views):
        figures = [(heatmap_name(view, q, prefix), _heatmap(tr, view, q)) for q in ORDER if q in view.quantities]
        if any(i == vi for i, _ in fractions):
            figures.append((heatmap_name(view, "saturation", prefix), _saturation_plot(tr, vi, fractions)))
        for name, fig in figures:
            with atomic_path(folder / name) as tmp:
                fig.savefig(tmp, format="png")
            written.append(folder / name)
    return written
