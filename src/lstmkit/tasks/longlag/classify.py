"""Experiments 3a and 6: classifying a sequence by what it held long ago.

**Two-sequence problem (3a**, Bengio et al. 1994): one real input per step, length T..T+T/10. The
first N elements are 1.0 (class 1) or -1.0 (class 2); all later ones are Gaussian noise with mean 0
and variance 0.2. The target at the end is 1.0 for class 1 and 0.0 for class 2; a sequence is correct
when the absolute error there is below 0.2. Training stops when none of a fixed set of 256 test
sequences is misclassified (ST1) and, further, their mean absolute error is below 0.01 (ST2); both
counts are recorded. Paper, T=100, N=3: ST1 27,380, ST2 39,850 sequences; T=1000, N=3: 446,850.

**Temporal order (6a, 6b)**: symbols E, B, a, b, c, d, X, Y, locally represented; length 100..110.
The sequence starts with E and ends with B; at relevant positions (6a: t1 in [10, 20], t2 in [50, 60];
6b: also t3, with t1 in [10, 20], t2 in [33, 43], t3 in [66, 76], 1-based) stands X or Y; everything
else is drawn from a..d. The class is the order of the X/Y symbols (6a: XX, XY, YX, YY; 6b: 8
classes), one output unit per class, read at the end. A sequence is correct when every output error is
below 0.3; training stops when the last 2,000 sequences were correct and their mean error is below
0.1. Paper: 6a 31,390 sequences; 6b 571,100.

Example::

    >>> import torch
    >>> from lstmkit.tasks.longlag.classify import TemporalOrder
    >>> b = TemporalOrder.six_a().sample(2, torch.Generator().manual_seed(0))
    >>> b.x.shape[-1], b.target.shape[-1], b.x[0].argmax(-1).tolist()      # every sequence starts with E
    (8, 4, [0, 0])
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import Tensor

from .base import Batch, Task, check_param, end_mask, one_hot, randint
from .criteria import HeldOut, RecentWindow

__all__ = ["TwoSequence", "TemporalOrder", "ORDER_SYMBOLS"]

ORDER_SYMBOLS = "EBabcdXY"


class TwoSequence(Task):
    """Experiment 3a: class decided by the first N elements, then noise (see the module docstring).

    Example::

        >>> import torch
        >>> b = TwoSequence(T=100, N=3).sample(2000, torch.Generator().manual_seed(0))
        >>> first = b.x[:3, :, 0]
        >>> bool((first.abs() == 1).all()), round(b.x[3:100, :, 0].var().item(), 2)
        (True, 0.2)
    """

    name = "3a"
    kind = "sigmoid"
    input_size = output_size = 1
    tol = 0.2
    n_test = 2560

    def __init__(self, T: int = 100, N: int = 3, seed: int = 0, check_every: int = 256) -> None:
        self.T = check_param(self.name, "T", T, 2)
        self.N = check_param(self.name, "N", N, 1)
        if N >= T:
            raise ValueError(f"3a: N must be smaller than T ({T}), got {N}")
        self.horizon = T + T // 10
        self.seed, self.check_every = seed, check_param(self.name, "check_every", check_every, 1)

    def describe(self) -> str:
        return f"3a two-sequence T={self.T} N={self.N}"

    def sample(self, batch: int, g: torch.Generator) -> Batch:
        T, N = self.T, self.N
        lengths = T + randint(0, T // 10, (batch,), g)
        Tm = int(lengths.max())
        cls1 = randint(0, 1, (batch,), g).float()                    # 1: class 1, 0: class 2
        x = torch.randn(Tm, batch, generator=g) * math.sqrt(0.2)
        x[:N] = (2 * cls1 - 1)[None]
        x = x * (torch.arange(Tm)[:, None] < lengths)
        target = torch.zeros(Tm, batch, 1)
        target[lengths - 1, torch.arange(batch), 0] = cls1
        return Batch(x=x.unsqueeze(-1), lengths=lengths, target=target, mask=end_mask(lengths, Tm))

    def criterion(self, predict: Callable[[Batch], Tensor]) -> HeldOut:
        test_set = self.sample(256, torch.Generator().manual_seed(10_000 + self.seed))

        def check():
            with torch.no_grad():
                correct, error = self.score(predict(test_set), test_set)
            wrong, mae = int((~correct).sum()), float(error.mean())
            st1 = wrong == 0
            st2 = st1 and mae < 0.01
            return st2, {"ST1": st1, "ST2": st2, "misclassified": wrong, "mean_abs_error": mae}
        return HeldOut(check, self.check_every)

    def test(self, predict: Callable[[Batch], Tensor], g: torch.Generator) -> dict:
        return self.evaluate(predict, g, self.n_test)


class TemporalOrder(Task):
    """Experiment 6: the order of widely separated X/Y symbols decides the class.

    Args:
        positions: 1-based inclusive ranges of the relevant positions (6a: ((10, 20), (50, 60))).
        length: inclusive range of the sequence length (100, 110).

    Example::

        >>> import torch
        >>> task = TemporalOrder.six_b()
        >>> b = task.sample(1, torch.Generator().manual_seed(3))
        >>> s = "".join(ORDER_SYMBOLS[i] for i in b.x[: int(b.lengths[0]), 0].argmax(-1).tolist())
        >>> s[0], s[-1], len([c for c in s if c in "XY"]), task.output_size
        ('E', 'B', 3, 8)
    """

    kind = "sigmoid"
    input_size = len(ORDER_SYMBOLS)
    tol = 0.3
    n_test = 2560

    def __init__(self, positions: Sequence[tuple[int, int]] = ((10, 20), (50, 60)),
                 length: tuple[int, int] = (100, 110), name: str = "6a") -> None:
        self.positions, self.length, self.name = tuple(positions), tuple(length), name
        for lo, hi in self.positions:
            if not 2 <= lo <= hi < length[0]:
                raise ValueError(f"{name}: relevant positions must lie in [2, {length[0] - 1}], got {(lo, hi)}")
        self.output_size = 2 ** len(self.positions)
        self.horizon = length[1]

    @classmethod
    def six_a(cls) -> "TemporalOrder":
        return cls(((10, 20), (50, 60)), (100, 110), "6a")

    @classmethod
    def six_b(cls) -> "TemporalOrder":
        return cls(((10, 20), (33, 43), (66, 76)), (100, 110), "6b")

    def describe(self) -> str:
        return f"{self.name} temporal order ({len(self.positions)} symbols)"

    def sample(self, batch: int, g: torch.Generator) -> Batch:
        lengths = randint(self.length[0], self.length[1], (batch,), g)
        Tm, cols = int(lengths.max()), torch.arange(batch)
        ids = randint(2, 5, (Tm, batch), g)                           # a..d
        ids[0] = 0                                                    # E
        ids[lengths - 1, cols] = 1                                    # B, the trigger
        cls = torch.zeros(batch, dtype=torch.long)
        for lo, hi in self.positions:
            bit = randint(0, 1, (batch,), g)
            ids[randint(lo, hi, (batch,), g) - 1, cols] = 6 + bit     # X or Y
            cls = 2 * cls + bit
        x = one_hot(ids, self.input_size) * (torch.arange(Tm)[:, None] < lengths).unsqueeze(-1)
        target = torch.zeros(Tm, batch, self.output_size)
        target[lengths - 1, cols] = one_hot(cls, self.output_size)
        return Batch(x=x, lengths=lengths, target=target, mask=end_mask(lengths, Tm))

    def criterion(self, predict: Callable[[Batch], Tensor]) -> RecentWindow:
        return RecentWindow(2000, mean_below=0.1, all_correct=True)

    def test(self, predict: Callable[[Batch], Tensor], g: torch.Generator) -> dict:
        return self.evaluate(predict, g, self.n_test)
