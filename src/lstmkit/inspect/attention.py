"""PNG pictures of attention for the encoder-decoder jobs: the alignment of a translation (Bahdanau, Cho &
Bengio 2015, figure 3), where a caption's words look in the image (Xu et al. 2015, Show, Attend and Tell),
and the score against source length of models with and without attention (Bahdanau et al., figure 2).

Every picture is drawn on a bare :class:`matplotlib.figure.Figure` (the Agg canvas; no pyplot window or
global figure list, so nothing is left open) and written atomically (:func:`lstmkit.train.atomic.atomic_path`);
the folder is made if missing. Arrays may be torch tensors (any device, with or without grad) or numpy.
"""

from __future__ import annotations

import math
import os
import pathlib
from typing import Sequence

import numpy as np

__all__ = ["plot_alignment", "plot_image_attention", "plot_score_by_length"]

#: at most this many token labels per axis; longer sequences label every k-th token
MAX_LABELS = 80
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "$": "\\$"}           # "$" would start matplotlib mathtext


def _label(tok, width: int = 12) -> str:
    """A token as an axis label: whitespace made visible (space as ␣), long tokens cut with …."""
    s = str(tok)
    if not s:
        return "''"
    if not s.strip():                                               # only whitespace: every char shown
        s = "".join(c if c in _ESCAPES else "\u2423" for c in s)
    s = s if len(s) <= width else s[:width - 1] + "\u2026"
    return "".join(_ESCAPES.get(c, c) for c in s)


def _array(x, name: str, ndim: int) -> np.ndarray:
    """``x`` (tensor, array or nested lists) as a float64 numpy array of ``ndim`` dimensions, all finite."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(a.shape)}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite, got NaN or inf")
    return a


def _probabilities(a: np.ndarray, name: str) -> np.ndarray:
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(f"{name} must be attention weights in [0, 1], got values from {lo:.4g} to {hi:.4g}")
    return a.clip(0.0, 1.0)


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _save(fig, path: str | os.PathLike) -> pathlib.Path:
    from ..train.atomic import atomic_path

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def _ticks(n: int) -> range:
    return range(0, n, max(1, math.ceil(n / MAX_LABELS)))


def plot_alignment(weights, source_tokens: Sequence, target_tokens: Sequence, path: str | os.PathLike,
                   title: str | None = None) -> pathlib.Path:
    """Write the alignment of one translation as a grey-scale PNG (white: weight 1, black: 0): ``weights``
    ``(T_target, T_source)``, row t the attention while emitting ``target_tokens[t]`` over the
    ``source_tokens`` (drop padding columns first). Source tokens run along the top, target tokens down the
    side; past :data:`MAX_LABELS` tokens every k-th one is labelled. Returns ``path``.

    Example::

        >>> import pathlib, tempfile, numpy as np
        >>> from lstmkit.inspect.attention import plot_alignment
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> plot_alignment(np.eye(3), ["a", " ", "b"], ["x", "\\n", "y"], folder / "eye.png").name
        'eye.png'
        >>> plot_alignment(np.eye(3), ["a", "b"], ["x", "y", "z"], folder / "bad.png")
        Traceback (most recent call last):
        ...
        ValueError: weights has 3 columns but there are 2 source_tokens; expected weights of shape (T_target, T_source) = (3, 2), got (3, 3)
    """
    w = _probabilities(_array(weights, "weights", 2), "weights")            # (T_target, T_source)
    nt, ns = len(target_tokens), len(source_tokens)
    if w.shape != (nt, ns):
        hint = " (transposed? rows are target tokens)" if w.shape == (ns, nt) and nt != ns else ""
        which = f"{w.shape[0]} rows but there are {nt} target_tokens" if w.shape[0] != nt else \
            f"{w.shape[1]} columns but there are {ns} source_tokens"
        raise ValueError(f"weights has {which}; expected weights of shape (T_target, T_source) = "
                         f"({nt}, {ns}), got {tuple(w.shape)}{hint}")
    if not nt or not ns:
        raise ValueError(f"need at least one source and one target token, got {ns} and {nt}")
    fig = _figure(min(max(4.0, 1.8 + 0.24 * ns), 24.0), min(max(3.5, 1.8 + 0.24 * nt), 24.0))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(w, cmap="gray", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    xs, ys = _ticks(ns), _ticks(nt)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xticks(list(xs), [_label(source_tokens[i]) for i in xs], rotation=90, fontsize=8 if ns <= 40 else 6)
    ax.set_yticks(list(ys), [_label(target_tokens[i]) for i in ys], fontsize=8 if nt <= 40 else 6)
    ax.set_xlabel("source")
    ax.set_ylabel("target (emitted)")
    if title:
        ax.set_title(title, fontsize=9, pad=12)
    fig.tight_layout()
    return _save(fig, path)


def _image(image) -> np.ndarray:
    """``image`` (C, H, W) with C 1 or 3, or (H, W), in [0, 1] -> (H, W, 3) or (H, W)."""
    a = image.detach().cpu().double().numpy() if hasattr(image, "detach") else np.asarray(image, np.float64)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
    elif a.ndim != 2:
        hint = " (channels last? permute to (C, H, W))" if a.ndim == 3 and a.shape[-1] in (1, 3) else ""
        raise ValueError(f"image must be (C, H, W) with C 1 or 3, or (H, W), got shape {tuple(a.shape)}{hint}")
    if not np.isfinite(a).all() or a.min() < -1e-6 or a.max() > 1 + 1e-6:
        raise ValueError(f"image values must be in [0, 1], got from {a.min():.4g} to {a.max():.4g}")
    return a.clip(0.0, 1.0)


def _upsample(w: np.ndarray, grid: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """(n, gh*gw) attention -> (n, H, W), bilinear (half-pixel centres, as torch's align_corners=False)."""
    import torch

    maps = torch.from_numpy(w).reshape(len(w), 1, *grid)
    return torch.nn.functional.interpolate(maps, size=size, mode="bilinear", align_corners=False)[:, 0].numpy()


def plot_image_attention(image, weights, words: Sequence, grid: tuple[int, int], path: str | os.PathLike,
                         columns: int = 5) -> pathlib.Path:
    """Write a caption's attention as a PNG of panels (Show, Attend and Tell style): first the plain
    ``image`` ((C, H, W) or (H, W), values in [0, 1]), then for each of the ``words`` the image under its
    attention map, row k of ``weights (n_words, grid_h * grid_w)`` reshaped to ``grid = (grid_h, grid_w)``
    (row-major, as the encoder flattens its feature map), upsampled bilinearly to (H, W) and drawn in grey
    over the image (0 black, the map's own maximum white), ``columns`` panels a row. Returns ``path``.

    Example::

        >>> import pathlib, tempfile, torch
        >>> from lstmkit.inspect.attention import plot_image_attention
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "caption.png"
        >>> w = torch.softmax(torch.randn(3, 4 * 4), dim=-1)
        >>> plot_image_attention(torch.rand(3, 32, 32), w, ["a", "red", "seven"], (4, 4), out).exists()
        True
        >>> plot_image_attention(torch.rand(32, 32), w, ["a", "red", "seven"], (3, 4), out)
        Traceback (most recent call last):
        ...
        ValueError: grid (3, 4) has 12 cells but weights has 16 columns; expected weights of shape (n_words, grid_h * grid_w) = (3, 12)
    """
    img = _image(image)
    w = _probabilities(_array(weights, "weights", 2), "weights")              # (n_words, gh * gw)
    if len(tuple(grid)) != 2 or not all(isinstance(g, (int, np.integer)) and g > 0 for g in grid):
        raise ValueError(f"grid must be (grid_h, grid_w), two positive ints, got {grid!r}")
    if not isinstance(columns, (int, np.integer)) or columns < 1:
        raise ValueError(f"columns must be a positive int, got {columns!r}")
    grid, cells = (int(grid[0]), int(grid[1])), int(grid[0]) * int(grid[1])
    if w.shape[1] != cells or w.shape[0] != len(words):
        which = f"grid {grid} has {cells} cells but weights has {w.shape[1]} columns" if w.shape[1] != cells \
            else f"weights has {w.shape[0]} rows but there are {len(words)} words"
        raise ValueError(f"{which}; expected weights of shape (n_words, grid_h * grid_w) = ({len(words)}, {cells})")
    if not len(words):
        raise ValueError("need at least one word, got none")
    maps = _upsample(w, grid, img.shape[:2])                                  # (n_words, H, W)
    n = len(words) + 1                                                        # the plain image first
    rows, cols = math.ceil(n / columns), min(columns, n)
    fig = _figure(2.0 * cols, 2.2 * rows)
    for k in range(n):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="bilinear")
        if k:
            ax.imshow(maps[k - 1], cmap="gray", alpha=0.7, vmin=0.0, vmax=max(maps[k - 1].max(), 1e-12),
                      interpolation="bilinear")
        ax.set_title("(image)" if k == 0 else _label(words[k - 1], 16), fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return _save(fig, path)


def _rows(rows) -> list[tuple[str, list, np.ndarray]]:
    """Check ``rows`` (see :func:`plot_score_by_length`) -> [(label, lengths, scores)]."""
    if isinstance(rows, dict) or not isinstance(rows, Sequence) or not rows:
        raise ValueError(f"rows must be a non-empty list of dicts, got {type(rows).__name__}")
    keys, out = {"label", "lengths", "scores"}, []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) != keys:
            got = sorted(row) if isinstance(row, dict) else type(row).__name__
            raise ValueError(f"rows[{i}] must be a dict with keys {sorted(keys)}, got {got}")
        lengths, scores = list(row["lengths"]), _array(row["scores"], f"rows[{i}]['scores']", 1)
        if len(lengths) != len(scores) or not lengths:
            raise ValueError(f"rows[{i}] ({row['label']!r}) needs as many lengths as scores, at least one; "
                             f"got {len(lengths)} lengths and {len(scores)} scores")
        out.append((str(row["label"]), lengths, scores))
    labels = [r[0] for r in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"rows need distinct labels, got {labels}")
    return out


def plot_score_by_length(rows, path: str | os.PathLike, metric: str = "BLEU",
                         title: str | None = None) -> pathlib.Path:
    """Write the score against source sentence length, one line per model (Bahdanau et al. 2015, figure
    2): ``rows`` is a list of ``{"label": str, "lengths": [...], "scores": [...]}``, lengths being bucket
    centres (numbers, a numeric axis) or bucket names such as ``"10-19"`` (categories, in order of first
    appearance). ``metric`` names the y axis. Returns ``path``.

    Example::

        >>> import pathlib, tempfile
        >>> from lstmkit.inspect.attention import plot_score_by_length
        >>> rows = [{"label": "attention", "lengths": [10, 20, 30], "scores": [28.1, 27.5, 26.9]},
        ...         {"label": "no attention", "lengths": [10, 20, 30], "scores": [25.0, 19.2, 12.4]}]
        >>> plot_score_by_length(rows, pathlib.Path(tempfile.mkdtemp()) / "bleu.png").suffix
        '.png'
    """
    checked = _rows(rows)
    numeric = all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
                  for _, lengths, _ in checked for x in lengths)
    order = list(dict.fromkeys(str(x) for _, lengths, _ in checked for x in lengths))
    fig = _figure(6.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    for (label, lengths, scores), marker in zip(checked, "os^vDxP*<>" * len(checked)):
        xs = np.asarray(lengths, np.float64) if numeric else [order.index(str(x)) for x in lengths]
        ax.plot(xs, scores, marker=marker, ms=4, lw=1.5, label=_label(label, 40))
    if not numeric:
        ticks = _ticks(len(order))
        ax.set_xticks(list(ticks), [_label(order[i], 16) for i in ticks], rotation=45 if len(order) > 8 else 0,
                      fontsize=8)
    ax.set_xlabel("source sentence length")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
