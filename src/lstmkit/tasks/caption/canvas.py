"""The default captioning data: canvases of real handwritten digits, with captions that say where they are.

A canvas is a ``rows x cols`` grid of square cells of ``cell`` pixels. A few cells (distinct, chosen at
random) each hold one of scikit-learn's 8x8 handwritten digits, upscaled ``scale`` times (nearest
neighbour, so each pixel becomes a ``scale x scale`` block), centred in its cell and moved by up to
``jitter`` pixels each way; its ink is scaled by a random gain in [0.6, 1], then gaussian noise is added and
pixels are clipped to [0, 1]. The digit images come from :class:`~lstmkit.tasks.ctc.lines.DigitPools`, so
validation and test canvases are made only of digit images never used in training.

The caption is fixed by the layout (:func:`describe`): rows top to bottom, empty rows skipped; in a row the
digit words left to right joined by ``left of``; every row after the first is appended as ``, <row>
below``. For every caption token, ``cells`` gives the grid cell (``row * cols + col``) of the digit it
names, or -1 for ``left``, ``of``, ``,`` and ``below``: the place a well-attending decoder should look.
"""

from __future__ import annotations

import json
import math
import pathlib
import zipfile
from dataclasses import asdict, dataclass, fields
from typing import Mapping

import numpy as np
import torch
from torch import Tensor

__all__ = ["CanvasSpec", "Canvases", "DIGIT_WORDS", "CANVAS_WORDS", "describe", "make_canvases", "cell_masks",
           "attention_score", "save_canvases", "load_canvases"]

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: every word a canvas caption can hold
CANVAS_WORDS = DIGIT_WORDS + ("left", "of", ",", "below")
_PAD = -2                                                   # cells padding in a saved .npz (-1 is "no cell")


@dataclass
class CanvasSpec:
    """How canvases are drawn. The image is ``(1, rows * cell, cols * cell)``.

    Attributes:
        rows, cols: the grid of cells.
        cell: pixels per cell side; must hold the ``8 * scale`` pixel digit moved by ``jitter`` either way,
            i.e. ``8 * scale + 2 * jitter <= cell`` (the defaults: 16 + 4 <= 20), so a digit never leaves
            its cell.
        scale: upscaling of the 8x8 digits (nearest neighbour).
        jitter: the largest shift, in pixels, of a digit from its cell's centre, along each axis.
        min_digits, max_digits: digits per canvas (at most ``rows * cols``).
        noise: standard deviation of the gaussian pixel noise.

    Example::

        >>> from lstmkit.tasks.caption.canvas import CanvasSpec
        >>> CanvasSpec(cell=16).validate()
        Traceback (most recent call last):
        ...
        ValueError: cell must be at least 8 * scale + 2 * jitter = 20 so a digit stays inside its cell, got 16
    """

    rows: int = 3
    cols: int = 3
    cell: int = 20
    scale: int = 2
    jitter: int = 2
    min_digits: int = 2
    max_digits: int = 4
    noise: float = 0.05

    def validate(self) -> None:
        for name in ("rows", "cols", "cell", "scale", "min_digits", "max_digits", "jitter"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < (0 if name == "jitter" else 1):
                raise ValueError(f"{name} must be an integer >= {0 if name == 'jitter' else 1}, got {v!r}")
        need = 8 * self.scale + 2 * self.jitter
        if self.cell < need:
            raise ValueError(f"cell must be at least 8 * scale + 2 * jitter = {need} so a digit stays inside its "
                             f"cell, got {self.cell}")
        if not self.min_digits <= self.max_digits <= self.rows * self.cols:
            raise ValueError(f"digits per canvas must satisfy 1 <= min_digits <= max_digits <= rows * cols = "
                             f"{self.rows * self.cols}, got {self.min_digits}..{self.max_digits}")
        if not (isinstance(self.noise, (int, float)) and math.isfinite(self.noise) and self.noise >= 0):
            raise ValueError(f"noise must be a finite number >= 0, got {self.noise!r}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(1, rows * cell, cols * cell)``, the shape of one canvas."""
        return (1, self.rows * self.cell, self.cols * self.cell)


@dataclass
class Canvases:
    """A set of canvases: ``images (N, 1, rows*cell, cols*cell)`` in [0, 1], ``captions`` (strings of
    space-separated tokens), ``tokens`` (each caption split), ``cells`` (per token: the named digit's cell
    ``row * cols + col``, or -1), and the ``spec`` they were drawn with."""

    images: Tensor
    captions: list[str]
    tokens: list[list[str]]
    cells: list[list[int]]
    spec: CanvasSpec

    def __len__(self) -> int:
        return len(self.captions)

    def subset(self, start: int, stop: int) -> "Canvases":
        """Canvases ``start .. stop - 1`` (slice semantics)."""
        return Canvases(self.images[start:stop], self.captions[start:stop], self.tokens[start:stop],
                        self.cells[start:stop], self.spec)


def describe(layout: Mapping[tuple[int, int], int], cols: int) -> tuple[list[str], list[int]]:
    """The caption tokens of a layout ``{(row, col): digit}`` and, per token, its digit's cell or -1.

    Example::

        >>> from lstmkit.tasks.caption.canvas import describe
        >>> tokens, cells = describe({(0, 0): 7, (0, 1): 3, (1, 0): 1}, cols=3)
        >>> " ".join(tokens), cells
        ('seven left of three , one below', [0, -1, -1, 1, -1, 3, -1])
    """
    if not layout:
        raise ValueError("a layout needs at least one digit, got none")
    for (r, c), digit in layout.items():
        if r < 0 or not 0 <= c < cols or int(digit) not in range(10):
            raise ValueError(f"layout entries must be (row >= 0, col 0..{cols - 1}): digit 0..9, got "
                             f"({r}, {c}): {digit}")
    words: list[tuple[str, int]] = []                                         # (token, cell or -1)
    top = min(r for r, _ in layout)
    for r in sorted({r for r, _ in layout}):
        if words:
            words.append((",", -1))
        for j, c in enumerate(sorted(c for rr, c in layout if rr == r)):
            if j:
                words += [("left", -1), ("of", -1)]
            words.append((DIGIT_WORDS[int(layout[r, c])], r * cols + c))
        if r != top:
            words.append(("below", -1))
    return [w for w, _ in words], [k for _, k in words]


def _check_pool(images: Tensor, labels: Tensor) -> None:
    if images.ndim != 3 or images.shape[1:] != (8, 8) or images.size(0) == 0:
        raise ValueError(f"images must be a non-empty (N, 8, 8) pool of digits, got shape {tuple(images.shape)}")
    if labels.shape != (images.size(0),):
        raise ValueError(f"labels must be ({images.size(0)},), one per image, got shape {tuple(labels.shape)}")
    if labels.numel() and not (0 <= int(labels.min()) and int(labels.max()) <= 9):
        raise ValueError(f"labels must be digits 0..9, got {int(labels.min())}..{int(labels.max())}")


def make_canvases(images: Tensor, labels: Tensor, n: int, spec: CanvasSpec, generator: torch.Generator) -> Canvases:
    """``n`` canvases drawn from a digit pool (``images (P, 8, 8)`` in [0, 1], ``labels (P,)``) with
    ``generator`` (same generator state, same canvases).

    Example::

        >>> import torch
        >>> from lstmkit.tasks.ctc.lines import DigitPools
        >>> from lstmkit.tasks.caption.canvas import CanvasSpec, make_canvases
        >>> pools = DigitPools.load()
        >>> cv = make_canvases(pools.images["train"], pools.labels["train"], 5, CanvasSpec(),
        ...                    torch.Generator().manual_seed(0))
        >>> cv.images.shape, len(cv), all(len(t) == len(c) for t, c in zip(cv.tokens, cv.cells))
        (torch.Size([5, 1, 60, 60]), 5, True)
    """
    spec.validate()
    _check_pool(images, labels)
    if n < 0:
        raise ValueError(f"n must be >= 0 canvases, got {n}")
    s, d = spec.scale, 8 * spec.scale
    out = torch.zeros(n, *spec.shape)                                           # (N, 1, H, W)
    captions, tokens, cells = [], [], []
    for b in range(n):
        k = int(torch.randint(spec.min_digits, spec.max_digits + 1, (1,), generator=generator))
        where = torch.randperm(spec.rows * spec.cols, generator=generator)[:k].tolist()
        idx = torch.randint(len(labels), (k,), generator=generator)
        shift = torch.randint(-spec.jitter, spec.jitter + 1, (k, 2), generator=generator).tolist()
        gain = 0.6 + 0.4 * torch.rand(k, generator=generator)                  # ink intensity per digit
        layout = {}
        for j, c in enumerate(where):
            r, col = divmod(c, spec.cols)
            y = r * spec.cell + (spec.cell - d) // 2 + shift[j][0]
            x = col * spec.cell + (spec.cell - d) // 2 + shift[j][1]
            digit = images[idx[j]].repeat_interleave(s, 0).repeat_interleave(s, 1)   # (d, d)
            out[b, 0, y:y + d, x:x + d] = digit * gain[j]
            layout[r, col] = int(labels[idx[j]])
        t, c = describe(layout, spec.cols)
        captions.append(" ".join(t))
        tokens.append(t)
        cells.append(c)
    out = (out + spec.noise * torch.randn(out.shape, generator=generator)).clamp_(0.0, 1.0)
    return Canvases(out, captions, tokens, cells, spec)


def cell_masks(spec: CanvasSpec, grid_h: int, grid_w: int) -> Tensor:
    """``(rows*cols, grid_h*grid_w)``: for an encoder grid of ``grid_h x grid_w`` equal locations covering
    the canvas (row-major, as :class:`~lstmkit.seq2seq.ImageEncoder` flattens it), the fraction of each
    location's area that lies in each cell. Every column sums to 1 (a location's area is shared among the
    cells it overlaps); row k sums to ``grid_h*grid_w / (rows*cols)``, cell k's area in locations.

    Example::

        >>> from lstmkit.tasks.caption.canvas import CanvasSpec, cell_masks
        >>> m = cell_masks(CanvasSpec(rows=1, cols=2), 1, 3)
        >>> m.tolist(), m.sum(0).tolist()
        ([[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]], [1.0, 1.0, 1.0])
    """
    if not (isinstance(grid_h, int) and isinstance(grid_w, int) and grid_h >= 1 and grid_w >= 1):
        raise ValueError(f"grid_h and grid_w must be integers >= 1, got {grid_h!r} x {grid_w!r}")

    def overlap(cells: int, locs: int) -> Tensor:                              # (cells, locs) in [0, 1]
        a = torch.arange(cells, dtype=torch.float64)
        b = torch.arange(locs, dtype=torch.float64)
        lo = torch.maximum(a[:, None] / cells, b[None] / locs)
        hi = torch.minimum((a[:, None] + 1) / cells, (b[None] + 1) / locs)
        return (hi - lo).clamp(min=0) * locs                                   # share of the location's side

    oy, ox = overlap(spec.rows, grid_h), overlap(spec.cols, grid_w)
    m = oy[:, None, :, None] * ox[None, :, None, :]                           # (rows, cols, gh, gw)
    return m.reshape(spec.rows * spec.cols, grid_h * grid_w).float()


def attention_score(weights: Tensor, cells: Tensor, masks: Tensor) -> float:
    """The mean, over digit words (``cells >= 0``), of the attention mass on the named digit's cell.

    ``weights (N_words, L)`` are attention distributions over the ``L`` grid locations, ``cells (N_words,)``
    the named cell or -1 (words that name no digit are left out), ``masks`` from :func:`cell_masks`.
    Uniform attention scores ``1 / (rows * cols)``; all attention inside the right cell scores 1.

    Example::

        >>> import torch
        >>> from lstmkit.tasks.caption.canvas import CanvasSpec, attention_score, cell_masks
        >>> masks = cell_masks(CanvasSpec(), 6, 6)
        >>> attention_score(torch.full((2, 36), 1 / 36), torch.tensor([4, -1]), masks)
        0.111...
    """
    if weights.ndim != 2 or masks.ndim != 2 or weights.size(1) != masks.size(1):
        raise ValueError(f"weights must be (N_words, L) with L = {masks.size(-1)} grid locations (masks "
                         f"{tuple(masks.shape)}), got {tuple(weights.shape)}")
    if cells.shape != (weights.size(0),):
        raise ValueError(f"cells must be ({weights.size(0)},), one per word, got {tuple(cells.shape)}")
    if cells.numel() and not (-1 <= int(cells.min()) and int(cells.max()) < masks.size(0)):
        raise ValueError(f"cells must be -1 or 0..{masks.size(0) - 1}, got {int(cells.min())}..{int(cells.max())}")
    named = cells >= 0
    if not bool(named.any()):
        raise ValueError("no digit words to score: every cell is -1")
    mass = (weights[named].double() * masks[cells[named]].double()).sum(1)    # (N_digit_words,)
    return float(mass.mean())


def save_canvases(canvases: Canvases, path: str | pathlib.Path) -> None:
    """Write canvases as ``.npz`` (arrays only, no pickle), atomically: ``images (N, 1, H, W)`` float32,
    ``captions (N,)`` strings, ``cells (N, L)`` padded with -2, ``spec`` (the :class:`CanvasSpec` as JSON)."""
    from ...train.atomic import atomic_path

    width = max((len(c) for c in canvases.cells), default=0)
    cells = np.full((len(canvases), width), _PAD, dtype=np.int64)
    for b, c in enumerate(canvases.cells):
        cells[b, :len(c)] = c
    with atomic_path(pathlib.Path(path)) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, images=canvases.images.float().numpy(), cells=cells,
                                captions=np.array(canvases.captions, dtype=str),
                                spec=np.array(json.dumps(asdict(canvases.spec))))


def load_canvases(path: str | pathlib.Path) -> Canvases:
    """Read a ``.npz`` written by :func:`save_canvases`; errors say what is wrong and what was expected.

    Example::

        >>> import pathlib, tempfile, torch
        >>> from lstmkit.tasks.ctc.lines import DigitPools
        >>> from lstmkit.tasks.caption.canvas import CanvasSpec, load_canvases, make_canvases, save_canvases
        >>> pools = DigitPools.load()
        >>> cv = make_canvases(pools.images["test"], pools.labels["test"], 3, CanvasSpec(),
        ...                    torch.Generator().manual_seed(1))
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "test.npz"
        >>> save_canvases(cv, path)
        >>> back = load_canvases(path)
        >>> back.captions == cv.captions, back.cells == cv.cells, torch.equal(back.images, cv.images)
        (True, True, True)
    """
    path = pathlib.Path(path)
    keys = ("images", "captions", "cells", "spec")
    if not path.is_file():
        raise FileNotFoundError(f"--data {path}: expected a .npz file of canvases, which does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            absent = [k for k in keys if k not in data.files]
            if absent:
                raise ValueError(f"{path}: expected arrays {', '.join(keys)}; missing {', '.join(absent)}")
            images, captions, cells, spec_json = (data[k] for k in keys)
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: expected a .npz file of arrays {', '.join(keys)}; got {e}") from None
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: expected a .npz file of arrays {', '.join(keys)}; got {e}") from None
    spec = _load_spec(path, spec_json)
    n = images.shape[0] if images.ndim == 4 else -1
    if images.shape[1:] != spec.shape or images.dtype.kind != "f":
        raise ValueError(f"{path}: images must be float (N, {', '.join(map(str, spec.shape))}) for its spec, got "
                         f"{images.dtype} {images.shape}")
    if n == 0:
        raise ValueError(f"{path} holds no canvases; expected at least one")
    if captions.shape != (n,) or captions.dtype.kind != "U" or cells.ndim != 2 or cells.shape[0] != n \
            or cells.dtype.kind not in "iu":
        raise ValueError(f"{path}: expected captions ({n},) strings and cells ({n}, L) integers, got "
                         f"{captions.dtype} {captions.shape} and {cells.dtype} {cells.shape}")
    if not np.isfinite(images).all():
        raise ValueError(f"{path}: images hold NaN or infinite values; expected pixels in [0, 1]")
    tokens, cell_lists = [], []
    for b, caption in enumerate(captions.tolist()):
        t, c = caption.split(), [int(v) for v in cells[b] if v != _PAD]
        bad = [(w, k) for w, k in zip(t, c) if (w in DIGIT_WORDS) != (0 <= k < spec.rows * spec.cols)]
        if not t or len(t) != len(c) or bad:
            raise ValueError(f"{path}: canvas {b}: caption {caption!r} ({len(t)} tokens) needs one cell per token, "
                             f"a cell 0..{spec.rows * spec.cols - 1} for each digit word and -1 otherwise; "
                             f"got cells {c}")
        tokens.append(t)
        cell_lists.append(c)
    return Canvases(torch.from_numpy(np.ascontiguousarray(images)).float(), captions.tolist(), tokens,
                    cell_lists, spec)


def _load_spec(path: pathlib.Path, spec_json: np.ndarray) -> CanvasSpec:
    names = {f.name for f in fields(CanvasSpec)}
    try:
        d = json.loads(str(spec_json[()]))
        if not isinstance(d, dict) or set(d) - names:
            raise ValueError(f"unknown fields {sorted(set(d) - names) if isinstance(d, dict) else d!r}")
        spec = CanvasSpec(**d)
        spec.validate()
    except (ValueError, TypeError, IndexError) as e:
        raise ValueError(f"{path}: spec must be a JSON object of CanvasSpec fields ({', '.join(sorted(names))}); "
                         f"{e}") from None
    return spec
