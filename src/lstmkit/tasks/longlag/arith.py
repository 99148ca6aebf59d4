"""Experiments 4 and 5, the adding and multiplication problems, and the modern adding problem.

**Adding (4)**: a sequence of pairs (value, marker) of random length T..T+T/10. Values are uniform in
[-1, 1]. Exactly two pairs are marked with 1.0: one of the first ten (its value is X1), and one of the
first T/2-1 pairs not marked yet (X2). Every other marker is 0.0, except the first and the final pair's,
which are -1.0; when the first pair is one of the two marked, its value is set to zero. The target at
the sequence end is 0.5 + (X1 + X2) / 4. A sequence is correct when the absolute error at its end is
below 0.04; training stops when the last 2,000 sequences were correct and their mean (absolute)
training error is below 0.01.

**Multiplication (5)**: as adding with values in [0, 1] and target X1 * X2 (a marked first pair's value
becomes 1.0, the neutral element, as adding's becomes 0).

**Modern adding** (Le et al. 2015; Bai et al. 2018): length exactly T, values in [0, 1], markers 1.0 at
two distinct positions drawn uniformly over the whole sequence, target X1 + X2, squared error. Always
predicting 1 gives MSE ~0.1767. No published stopping rule: ours stops when the mean squared error of
the last 2,000 training sequences is below 0.001.

Example::

    >>> import torch
    >>> from lstmkit.tasks.longlag.arith import Adding
    >>> b = Adding(T=100).sample(4, torch.Generator().manual_seed(0))
    >>> b.x.shape[1:], bool(((b.lengths >= 100) & (b.lengths <= 110)).all())
    (torch.Size([4, 2]), True)
    >>> int((b.x[..., 1] == 1).sum())        # two marked pairs per sequence
    8
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .base import Batch, Task, check_param, end_mask, randint
from .criteria import RecentWindow

__all__ = ["Adding", "Multiplication", "ModernAdding"]


def _marks(batch: int, T: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Positions (B,), (B,) of the two marked pairs: one of the first ten, and one of the first T/2-1
    pairs other than it."""
    i1 = randint(0, min(9, T - 1), (batch,), g)
    m = T // 2 - 1                                                    # candidates 0..m-1
    inside = i1 < m
    n_cand = m - inside.long()
    r = (torch.rand(batch, generator=g) * n_cand).floor().long()
    i2 = r + (inside & (r >= i1)).long()                              # skip i1 itself
    return i1, i2


class Adding(Task):
    """Experiment 4: the adding problem of Hochreiter & Schmidhuber (1997).

    Inputs (value, marker); one linear output read at the sequence end. Paper: T=100: 74,000
    sequences; T=500: 209,000; T=1000: 853,000 (0-1 of 2560 test sequences wrong).

    Example::

        >>> import torch
        >>> b = Adding(T=20).sample(3, torch.Generator().manual_seed(0))
        >>> end = b.lengths - 1
        >>> b.target[end, torch.arange(3), 0].shape, bool(b.mask.sum() == 3)
        (torch.Size([3]), True)
    """

    name = "adding"
    kind = "linear"
    input_size, output_size = 2, 1
    tol = 0.04
    low, first_value = -1.0, 0.0
    n_test = 2560

    def __init__(self, T: int = 100) -> None:
        self.T = check_param(self.name, "T", T, 6)
        self.horizon = T + T // 10

    def describe(self) -> str:
        return f"{'4' if self.name == 'adding' else '5'} {self.name} T={self.T}"

    def combine(self, x1: Tensor, x2: Tensor) -> Tensor:
        return 0.5 + (x1 + x2) / 4.0

    def sample(self, batch: int, g: torch.Generator) -> Batch:
        T = self.T
        lengths = T + randint(0, T // 10, (batch,), g)
        Tm, cols = int(lengths.max()), torch.arange(batch)
        values = self.low + (1.0 - self.low) * torch.rand(Tm, batch, generator=g)
        marker = torch.zeros(Tm, batch)
        marker[0] = -1.0
        marker[lengths - 1, cols] = -1.0
        i1, i2 = _marks(batch, T, g)
        marker[i1, cols] = 1.0
        marker[i2, cols] = 1.0
        first_marked = (i1 == 0) | (i2 == 0)
        values[0] = torch.where(first_marked, torch.full_like(values[0], self.first_value), values[0])
        valid = (torch.arange(Tm)[:, None] < lengths).float()
        x = torch.stack([values * valid, marker * valid], -1)         # (T, B, 2)
        target = torch.zeros(Tm, batch, 1)
        target[lengths - 1, cols, 0] = self.combine(values[i1, cols], values[i2, cols])
        return Batch(x=x, lengths=lengths, target=target, mask=end_mask(lengths, Tm))

    def criterion(self, predict: Callable[[Batch], Tensor]) -> RecentWindow:
        return RecentWindow(2000, mean_below=0.01, all_correct=True)

    def test(self, predict: Callable[[Batch], Tensor], g: torch.Generator) -> dict:
        return self.evaluate(predict, g, self.n_test)


class Multiplication(Adding):
    """Experiment 5: as :class:`Adding` with values in [0, 1] and target X1 * X2. Paper: T=100,
    482,000 sequences, test MSE 0.0223.

    Example::

        >>> import torch
        >>> b = Multiplication(T=20).sample(2, torch.Generator().manual_seed(0))
        >>> bool((b.x[..., 0] >= 0).all()), bool((b.target >= 0).all() and (b.target <= 1).all())
        (True, True)
    """

    name = "multiplication"
    low, first_value = 0.0, 1.0

    def combine(self, x1: Tensor, x2: Tensor) -> Tensor:
        return x1 * x2


class ModernAdding(Task):
    """The adding problem as in Le et al. (2015) and Bai et al. (2018): length T, values in [0, 1],
    two markers anywhere, target X1 + X2. Bai et al., T=600: LSTM MSE 0.164, GRU 5.3e-5, RNN 0.177.

    Example::

        >>> import torch
        >>> b = ModernAdding(T=50).sample(3, torch.Generator().manual_seed(0))
        >>> b.x.shape, b.x[..., 1].sum(0).tolist()
        (torch.Size([50, 3, 2]), [2.0, 2.0, 2.0])
    """

    name = "adding-modern"
    kind = "linear"
    input_size, output_size = 2, 1
    tol = 0.04
    n_test = 2560
    baseline_mse = 0.1767

    def __init__(self, T: int = 200) -> None:
        self.T = check_param(self.name, "T", T, 2)
        self.horizon = max(T, 3)

    def describe(self) -> str:
        return f"adding (modern) T={self.T}"

    def sample(self, batch: int, g: torch.Generator) -> Batch:
        T, cols = self.T, torch.arange(batch)
        values = torch.rand(T, batch, generator=g)
        pos = torch.rand(T, batch, generator=g).argsort(0)[:2]       # two distinct positions per column
        marker = torch.zeros(T, batch)
        marker[pos[0], cols] = 1.0
        marker[pos[1], cols] = 1.0
        target = torch.zeros(T, batch, 1)
        target[-1, :, 0] = values[pos[0], cols] + values[pos[1], cols]
        lengths = torch.full((batch,), T)
        return Batch(x=torch.stack([values, marker], -1), lengths=lengths, target=target,
                     mask=end_mask(lengths, T))

    def score(self, out: Tensor, batch: Batch) -> tuple[Tensor, Tensor]:
        """correct: absolute error below 0.04; error: the squared error (the criterion is on MSE)."""
        correct, abs_err = super().score(out, batch)
        return correct, abs_err.pow(2)

    def criterion(self, predict: Callable[[Batch], Tensor]) -> RecentWindow:
        return RecentWindow(2000, mean_below=1e-3, all_correct=False)

    def test(self, predict: Callable[[Batch], Tensor], g: torch.Generator) -> dict:
        res = self.evaluate(predict, g, self.n_test)
        res["baseline_mse"] = self.baseline_mse
        return res
