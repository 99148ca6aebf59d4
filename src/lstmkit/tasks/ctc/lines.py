"""The default CTC data: lines of handwritten digits built from scikit-learn's bundled 8x8 digits.

Each line puts a few digit images side by side with random gaps between them, adds noise, and is read
column by column: step t of the sequence is the 8 pixels of column t. The label is the digit string;
where each digit sits is never given (the alignment CTC learns). The 1,797 images are split once, by a
fixed permutation, into pools for training, validation and test lines, so held-out lines are made of
digit images the model never saw.
"""

from __future__ import annotations

import math
import pathlib
import zipfile
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["DigitPools", "LineSpec", "Lines", "make_lines", "save_lines", "load_lines", "need_sklearn"]

#: seed of the permutation that splits the digit images into train / val / test pools (never changes)
POOL_SEED = 20140
POOL_FRACTIONS = (0.7, 0.15, 0.15)


def need_sklearn():
    """``sklearn.datasets``, or an ImportError that names the extra to install."""
    try:
        from sklearn import datasets
    except ImportError:
        raise ImportError("the default CTC data (handwritten digit lines) needs scikit-learn: "
                          "pip install 'lstmkit[ctc]'") from None
    return datasets


class DigitPools:
    """The 8x8 digit images (scaled to [0, 1]) and labels, split into ``train``, ``val`` and ``test`` pools.

    Example::

        >>> from lstmkit.tasks.ctc.lines import DigitPools
        >>> pools = DigitPools.load()
        >>> [len(pools.labels[s]) for s in ("train", "val", "test")]
        [1258, 270, 269]
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        perm = np.random.default_rng(POOL_SEED).permutation(len(labels))
        n_train = int(round(len(labels) * POOL_FRACTIONS[0]))
        n_val = int(round(len(labels) * POOL_FRACTIONS[1]))
        parts = {"train": perm[:n_train], "val": perm[n_train:n_train + n_val], "test": perm[n_train + n_val:]}
        self.images = {k: torch.from_numpy(images[v]).float() for k, v in parts.items()}     # (N, 8, 8)
        self.labels = {k: torch.from_numpy(labels[v]).long() for k, v in parts.items()}      # (N,)

    @classmethod
    def load(cls) -> "DigitPools":
        digits = need_sklearn().load_digits()
        return cls(digits.images / 16.0, digits.target)


@dataclass
class LineSpec:
    """How lines are drawn: digits per line, gap widths (columns), noise level."""

    min_digits: int = 3
    max_digits: int = 6
    min_gap: int = 0
    max_gap: int = 4
    noise: float = 0.1

    def validate(self) -> None:
        if not 1 <= self.min_digits <= self.max_digits:
            raise ValueError(f"digits per line must satisfy 1 <= min_digits <= max_digits, got "
                             f"{self.min_digits}..{self.max_digits}")
        if not 0 <= self.min_gap <= self.max_gap:
            raise ValueError(f"gaps must satisfy 0 <= min_gap <= max_gap, got {self.min_gap}..{self.max_gap}")
        if not (self.noise >= 0 and math.isfinite(self.noise)):
            raise ValueError(f"noise must be a finite number >= 0, got {self.noise}")


@dataclass
class Lines:
    """A batch of lines: ``x (T, B, 8)`` zero-padded columns, ``lengths (B,)``, ``targets (B, L)`` digit
    labels padded with -1, ``target_lengths (B,)``."""

    x: Tensor
    lengths: Tensor
    targets: Tensor
    target_lengths: Tensor

    def __len__(self) -> int:
        return int(self.lengths.numel())

    def strings(self) -> list[str]:
        """The label strings, e.g. ``["3141", "59"]``."""
        return ["".join(str(int(d)) for d in row[:n]) for row, n in zip(self.targets, self.target_lengths)]

    def subset(self, start: int, stop: int) -> "Lines":
        lengths = self.lengths[start:stop]
        T = int(lengths.max())
        tl = self.target_lengths[start:stop]
        return Lines(self.x[:T, start:stop], lengths, self.targets[start:stop, :int(tl.max())], tl)


def make_lines(images: Tensor, labels: Tensor, n: int, spec: LineSpec, gen: torch.Generator) -> Lines:
    """``n`` lines drawn from an image pool with generator ``gen`` (so a run resumes exactly).

    Example::

        >>> import torch
        >>> from lstmkit.tasks.ctc.lines import DigitPools, LineSpec, make_lines
        >>> pools = DigitPools.load()
        >>> lines = make_lines(pools.images["train"], pools.labels["train"], 4, LineSpec(),
        ...                    torch.Generator().manual_seed(0))
        >>> lines.x.shape[1:], [len(s) for s in lines.strings()] == lines.target_lengths.tolist()
        (torch.Size([4, 8]), True)
    """
    spec.validate()
    cols, digits = [], []
    for _ in range(n):
        k = int(torch.randint(spec.min_digits, spec.max_digits + 1, (1,), generator=gen))
        idx = torch.randint(len(labels), (k,), generator=gen)
        gaps = torch.randint(spec.min_gap, spec.max_gap + 1, (k + 1,), generator=gen).tolist()
        gain = 0.6 + 0.4 * torch.rand(k, generator=gen)                      # ink intensity per digit
        parts = [torch.zeros(gaps[0], 8)]
        for j in range(k):
            parts.append(images[idx[j]].T * gain[j])                          # (8 columns, 8 rows)
            parts.append(torch.zeros(gaps[j + 1], 8))
        line = torch.cat(parts)                                               # (T_i, 8)
        line = (line + spec.noise * torch.randn(line.shape, generator=gen)).clamp(0.0, 1.0)
        cols.append(line)
        digits.append(labels[idx])
    lengths = torch.tensor([c.shape[0] for c in cols])
    x = torch.zeros(int(lengths.max()), n, 8)
    for b, c in enumerate(cols):
        x[: c.shape[0], b] = c
    tl = torch.tensor([len(d) for d in digits])
    targets = torch.full((n, int(tl.max())), -1, dtype=torch.long)
    for b, d in enumerate(digits):
        targets[b, : len(d)] = d
    return Lines(x, lengths, targets, tl)


def save_lines(lines: Lines, path: str | pathlib.Path) -> None:
    """Write lines as ``.npz`` (arrays only, no pickle), atomically: ``x (B, T, 8)``, ``lengths``,
    ``targets`` (padded with -1), ``target_lengths``."""
    from ...train.atomic import atomic_path

    path = pathlib.Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, x=lines.x.transpose(0, 1).numpy(), lengths=lines.lengths.numpy(),
                                targets=lines.targets.numpy(), target_lengths=lines.target_lengths.numpy())


def _check_alignable(path, lengths: np.ndarray, targets: np.ndarray, tl: np.ndarray) -> None:
    """Refuse a line whose labels cannot fit its steps: CTC needs one step per label plus a blank between
    equal neighbours (torch's CTC loss would give inf, or 0 with zero_infinity)."""
    for b in range(len(tl)):
        labels = targets[b, : tl[b]]
        need = int(tl[b]) + int((labels[1:] == labels[:-1]).sum())
        if lengths[b] < need:
            raise ValueError(f"{path}: line {b} has {int(tl[b])} labels but {int(lengths[b])} steps; CTC needs at "
                             f"least {need} steps for them (one per label, one more between repeated labels)")


def load_lines(path: str | pathlib.Path, features: int = 8) -> Lines:
    """Read a ``.npz`` written by :func:`save_lines` (or by hand, same arrays); errors say what is wrong.

    ``targets`` hold label ids ``0 .. n_labels-1`` (digits for the default data), padded with -1.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--data {path}: expected a .npz file of lines, which does not exist")
    try:
        data = np.load(path, allow_pickle=False)
        absent = [k for k in ("x", "lengths", "targets", "target_lengths") if k not in data.files]
        if absent:
            raise KeyError(", ".join(absent))
        arrays = {k: data[k] for k in ("x", "lengths", "targets", "target_lengths")}
    except KeyError as e:
        raise ValueError(f"{path}: expected arrays x, lengths, targets, target_lengths; missing {e.args[0]}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: expected a .npz file of arrays x, lengths, targets, target_lengths; "
                         f"got {e}") from None
    x, lengths, targets, tl = (arrays[k] for k in ("x", "lengths", "targets", "target_lengths"))
    B = x.shape[0] if x.ndim == 3 else -1
    if x.ndim != 3 or x.shape[2] != features:
        raise ValueError(f"{path}: x must be (lines, steps, {features}), got shape {x.shape}")
    if B == 0:
        raise ValueError(f"{path} holds no lines; expected at least one")
    if lengths.shape != (B,) or tl.shape != (B,) or targets.ndim != 2 or targets.shape[0] != B:
        raise ValueError(f"{path}: expected lengths ({B},), target_lengths ({B},), targets ({B}, L); got "
                         f"{lengths.shape}, {tl.shape}, {targets.shape}")
    for name, a in (("lengths", lengths), ("targets", targets), ("target_lengths", tl)):
        if a.dtype.kind not in "iu":
            raise ValueError(f"{path}: {name} must hold integers, got dtype {a.dtype}")
    if (lengths < 1).any() or (lengths > x.shape[1]).any():
        raise ValueError(f"{path}: lengths must be in 1..{x.shape[1]}, got {int(lengths.min())}..{int(lengths.max())}")
    if (tl < 0).any() or (tl > targets.shape[1]).any():
        b = int(np.argmax((tl < 0) | (tl > targets.shape[1])))
        raise ValueError(f"{path}: target_lengths must be in 0..{targets.shape[1]} (the width of targets), got "
                         f"{int(tl[b])} for line {b}")
    _check_alignable(path, lengths, targets, tl)
    if not np.isfinite(x).all():
        raise ValueError(f"{path}: x holds NaN or infinite values; expected finite features")
    order = torch.from_numpy(np.ascontiguousarray(x)).float().transpose(0, 1).contiguous()  # (T, B, F)
    return Lines(order, torch.from_numpy(lengths).long(), torch.from_numpy(targets).long(),
                 torch.from_numpy(tl).long())
