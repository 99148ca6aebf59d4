"""Experiment 2: remembering one symbol across a long lag (tasks 2a, 2b, 2c).

Symbols are locally represented (one-hot). In every task the first informative symbol (x or y) must be
reproduced at the end; in between come distractors:

* **2a, noise-free** — two sequences only, ``(y, a1, ..., a_{p-1}, y)`` and ``(x, a1, ..., a_{p-1}, x)``;
  the net predicts the last symbol (2 outputs: x, y; error signal at the step before it). (The paper's
  net also predicted every intermediate symbol; with a forget gate, those targets reward forgetting the
  past at every step, and the net settles there: we give the error signal at the end only.)
* **2b, random middle** — as 2a with the middle symbols drawn at random from a1..a_{p-1}.
* **2c, very long lags** — p distractors a1..ap plus e (trigger), b (start), x, y: a prefix
  ``(b, s, a_{i1}, ..., a_{iq})`` of length q+2, then each further element is a distractor with
  probability 9/10 or the trigger e with probability 1/10, and after e the signal s again. The lag is
  at least q+1; the minimal length q+4. Error signal only at the end (2 outputs: x, y).

Criterion (paper): maximal absolute output error below 0.25 (2a, 2b) or 0.2 (2c) for 10,000 successive
sequences.

Example::

    >>> import torch
    >>> from lstmkit.tasks.longlag.lags import VeryLongLag
    >>> b = VeryLongLag(q=50, p=50).sample(8, torch.Generator().manual_seed(0))
    >>> bool((b.lengths >= 54).all()), b.x.shape[-1], int(b.mask.sum())
    (True, 54, 8)
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .base import Batch, Task, check_param, end_mask, one_hot, randint
from .criteria import Successive

__all__ = ["NoiseFreeLag", "RandomMiddleLag", "VeryLongLag"]


class _LagTask(Task):
    kind = "sigmoid"
    successive = 10_000
    n_test = 1000

    def criterion(self, predict: Callable[[Batch], Tensor]) -> Successive:
        return Successive(self.successive)

    def test(self, predict: Callable[[Batch], Tensor], g: torch.Generator) -> dict:
        return self.evaluate(predict, g, self.n_test)


class RandomMiddleLag(_LagTask):
    """Task 2b: ``(s, a_{i1}, ..., a_{i_{p-1}}, s)`` with random middle symbols; predict the last s.

    Inputs: p+1 units (a1..a_{p-1} = 0..p-2, x = p-1, y = p); outputs: 2 (x, y), signalled at the step
    before the last (reading a_{p-1}). Tolerance 0.25.

    Example::

        >>> import torch
        >>> b = RandomMiddleLag(p=10).sample(3, torch.Generator().manual_seed(0))
        >>> b.x.shape, b.target.shape, b.mask[-2].all().item()
        (torch.Size([11, 3, 11]), torch.Size([11, 3, 2]), True)
    """

    name = "2b"
    tol = 0.25
    output_size = 2
    random_middle = True

    def __init__(self, p: int = 100) -> None:
        self.p = check_param(self.name, "p", p, 2)
        self.input_size = p + 1
        self.horizon = p + 1

    def describe(self) -> str:
        return f"2b random middle p={self.p}"

    def sample(self, batch: int, g: torch.Generator) -> Batch:
        p = self.p
        bit = randint(0, 1, (batch,), g)
        s = (p - 1) + bit                                             # x = p-1, y = p
        if self.random_middle:
            middle = randint(0, p - 2, (p - 1, batch), g)
        else:
            middle = torch.arange(p - 1)[:, None].expand(p - 1, batch)
        ids = torch.cat([s[None], middle, s[None]])                   # (p+1, B)
        target = torch.zeros(p + 1, batch, 2)
        target[-2] = one_hot(bit, 2)
        mask = torch.zeros(p + 1, batch, dtype=torch.bool)
        mask[-2] = True
        return Batch(x=one_hot(ids, p + 1), lengths=torch.full((batch,), p + 1), target=target, mask=mask)


class NoiseFreeLag(RandomMiddleLag):
    """Task 2a: the two sequences ``(y, a1, ..., a_{p-1}, y)`` and ``(x, a1, ..., a_{p-1}, x)``; predict
    the last symbol (inputs and outputs as :class:`RandomMiddleLag`). Tolerance 0.25.

    Example::

        >>> import torch
        >>> b = NoiseFreeLag(p=5).sample(2, torch.Generator().manual_seed(1))
        >>> b.x[:, 0].argmax(-1).tolist(), b.mask[:, 0].tolist()
        ([5, 0, 1, 2, 3, 5], [False, False, False, False, True, False])
    """

    name = "2a"
    random_middle = False

    def describe(self) -> str:
        return f"2a noise-free p={self.p}"


class VeryLongLag(_LagTask):
    """Task 2c: ``(b, s, q distractors, [more distractors w.p. 9/10 each], e, s)``; predict s after e.

    Inputs: p+4 units (a1..ap = 0..p-1, e = p, b = p+1, x = p+2, y = p+3); outputs: 2 (x, y),
    signalled at the trigger e. Tolerance 0.2. Paper: q=p=100: 31,000 sequences; q=p=1000: 49,000;
    q=1000, p=50: 203,000.

    Example::

        >>> import torch
        >>> b = VeryLongLag(q=20, p=10).sample(1, torch.Generator().manual_seed(0))
        >>> ids = b.x[: int(b.lengths[0]), 0].argmax(-1).tolist()
        >>> ids[0] == 11, ids[1] == ids[-1], ids[-2] == 10, max(ids[2:-2]) < 10
        (True, True, True, True)
    """

    name = "2c"
    tol = 0.2
    output_size = 2

    def __init__(self, q: int = 100, p: int = 100) -> None:
        self.q = check_param(self.name, "q", q, 1)
        self.p = check_param(self.name, "p", p, 1)
        self.input_size = p + 4
        self.horizon = q + 24

    def describe(self) -> str:
        return f"2c very long lag q={self.q} p={self.p}"

    def sample(self, batch: int, g: torch.Generator) -> Batch:
        p, q = self.p, self.q
        u = torch.rand(batch, generator=g).clamp(min=1e-12)
        extra = torch.floor(torch.log(u) / math.log(0.9)).long()      # distractors before e: Geometric(1/10)
        lengths = q + 4 + extra                                       # (B,)
        T = int(lengths.max())
        bit = randint(0, 1, (batch,), g)
        ids = randint(0, p - 1, (T, batch), g)                        # distractors everywhere first
        cols = torch.arange(batch)
        ids[0] = p + 1                                                # b
        ids[1] = p + 2 + bit                                          # the signal s
        ids[lengths - 2, cols] = p                                    # the trigger e
        ids[lengths - 1, cols] = p + 2 + bit                          # s again
        valid = torch.arange(T)[:, None] < lengths                    # (T, B)
        x = one_hot(ids, p + 4) * valid.unsqueeze(-1)
        mask = end_mask(lengths - 1, T)                               # the step reading e
        target = torch.zeros(T, batch, 2)
        target[lengths - 2, cols] = one_hot(bit, 2)
        return Batch(x=x, lengths=lengths, target=target, mask=mask)
