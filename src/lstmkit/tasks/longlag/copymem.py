"""The copy-memory task (Arjovsky et al. 2016; Bai et al. 2018).

Ten symbols drawn from 1..8, then T-1 blanks (0), then the delimiter 9 repeated 11 times; the target is
blank for the first T+10 steps, then the ten symbols. Length T+20; 9 output classes (blank, 1..8),
cross-entropy at every step. Remembering nothing gives the loss 10 ln(8) / (T+20). Bai et al., T=1000:
LSTM 0.0204, GRU 0.0197, RNN 0.0202 (all near that baseline at their budget). No published stopping
rule: ours stops when the last 2,000 training sequences were each recalled without a wrong symbol.

Example::

    >>> import torch
    >>> from lstmkit.tasks.longlag.copymem import CopyMemory
    >>> task = CopyMemory(T=30)
    >>> b = task.sample(2, torch.Generator().manual_seed(0))
    >>> ids = b.x.argmax(-1)
    >>> b.x.shape, bool((b.target[-10:] == ids[:10]).all()), round(task.baseline_loss, 4)
    (torch.Size([50, 2, 10]), True, 0.4159)
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Batch, Task, check_param, one_hot, randint
from .criteria import RecentWindow

__all__ = ["CopyMemory"]


class CopyMemory(Task):
    """Recall ten symbols after T blanks (see the module docstring)."""

    name = "copy"
    kind = "softmax"
    input_size, output_size = 10, 9
    n_test = 1000

    def __init__(self, T: int = 100) -> None:
        self.T = check_param(self.name, "T", T, 1)
        self.horizon = T + 20

    @property
    def baseline_loss(self) -> float:
        return 10 * math.log(8) / (self.T + 20)

    def describe(self) -> str:
        return f"copy memory T={self.T}"

    def sample(self, batch: int, g: torch.Generator) -> Batch:
        T = self.T
        seq = randint(1, 8, (10, batch), g)
        ids = torch.cat([seq, torch.zeros(T - 1, batch, dtype=torch.long), torch.full((11, batch), 9)])
        target = torch.cat([torch.zeros(T + 10, batch, dtype=torch.long), seq])      # (T+20, B)
        n = T + 20
        return Batch(x=one_hot(ids, 10), lengths=torch.full((batch,), n), target=target,
                     mask=torch.ones(n, batch, dtype=torch.bool))

    def score(self, out: Tensor, batch: Batch) -> tuple[Tensor, Tensor]:
        """correct: all ten symbols recalled (argmax); error: mean cross-entropy over the sequence."""
        with torch.no_grad():
            correct = (out[-10:].argmax(-1) == batch.target[-10:]).all(0)
            ce = F.cross_entropy(out.flatten(0, 1), batch.target.flatten(), reduction="none")
            error = ce.view(batch.target.shape).mean(0)
        return correct, error

    def criterion(self, predict: Callable[[Batch], Tensor]) -> RecentWindow:
        return RecentWindow(2000, mean_below=None, all_correct=True)

    def test(self, predict: Callable[[Batch], Tensor], g: torch.Generator) -> dict:
        res = self.evaluate(predict, g, self.n_test)
        res["loss"] = res.pop("mean_abs_error")
        res["baseline_loss"] = self.baseline_loss
        return res
