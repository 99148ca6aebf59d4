"""The paper's stopping criteria, fed with the per-sequence scores of each training batch in order.

Three shapes cover every experiment:

* :class:`Successive` — "error below the tolerance for n successive sequences" (2a, 2b, 2c);
* :class:`RecentWindow` — "the last n sequences correct and their mean error below a threshold"
  (adding, multiplication, temporal order);
* :class:`HeldOut` — a check on fixed sequences run every so many training sequences (embedded Reber:
  every training and test string; two-sequence: the 256-sequence test set; continual Reber: the test
  streams).

Example::

    >>> import torch
    >>> from lstmkit.tasks.longlag.criteria import Successive
    >>> c = Successive(4)
    >>> c.update(torch.tensor([True, False, True, True]), torch.zeros(4))
    >>> c.met(), c.run
    (False, 2)
    >>> c.update(torch.tensor([True, True]), torch.zeros(2))
    >>> c.met()
    True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from typing import Callable, Optional

from torch import Tensor

__all__ = ["Criterion", "Successive", "RecentWindow", "HeldOut"]


class Criterion(ABC):
    """Consumes (correct (B,), error (B,)) of each training batch; says when training may stop."""

    @abstractmethod
    def update(self, correct: Tensor, error: Tensor, seen: int = 0) -> None:
        """Scores of the latest training sequences, in presentation order; ``seen``: training
        sequences presented so far, these included."""

    @abstractmethod
    def met(self) -> bool:
        """True once the criterion holds."""

    @abstractmethod
    def status(self) -> str:
        """A short progress text for the log line."""


class Successive(Criterion):
    """Met when ``n`` successive sequences were correct (a wrong one restarts the count)."""

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n, self.run = n, 0

    def update(self, correct: Tensor, error: Tensor, seen: int = 0) -> None:
        for ok in correct.tolist():
            self.run = self.run + 1 if ok else 0

    def met(self) -> bool:
        return self.run >= self.n

    def status(self) -> str:
        return f"{self.run}/{self.n} successive correct"


class RecentWindow(Criterion):
    """Met when the last ``n`` sequences were all correct and their mean error is below ``mean_below``
    (either part can be switched off: ``all_correct=False``, ``mean_below=None``)."""

    def __init__(self, n: int, mean_below: Optional[float], all_correct: bool = True) -> None:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if mean_below is None and not all_correct:
            raise ValueError("RecentWindow needs mean_below or all_correct, got neither")
        self.n, self.mean_below, self.all_correct = n, mean_below, all_correct
        self.correct: deque = deque(maxlen=n)
        self.error: deque = deque(maxlen=n)

    def update(self, correct: Tensor, error: Tensor, seen: int = 0) -> None:
        self.correct.extend(correct.tolist())
        self.error.extend(error.tolist())

    def mean_error(self) -> float:
        return sum(self.error) / max(1, len(self.error))

    def met(self) -> bool:
        if len(self.correct) < self.n:
            return False
        if self.all_correct and not all(self.correct):
            return False
        return self.mean_below is None or self.mean_error() < self.mean_below

    def status(self) -> str:
        wrong = len(self.correct) - sum(self.correct)
        return f"last {len(self.correct)}: {wrong} wrong, mean error {self.mean_error():.4f}"


class HeldOut(Criterion):
    """Runs ``check()`` (-> (ok, info)) every ``every`` training sequences (as counted by ``seen``);
    met once it returns ok.

    ``info`` (a dict) of the latest check is kept for the report; ``first`` records, for each key of
    ``info`` that is a bool, the training sequences seen when it first became True (a paper with two
    stopping criteria, such as the two-sequence task, gets both counts).
    """

    def __init__(self, check: Callable[[], tuple[bool, dict]], every: int) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.check, self.every = check, every
        self.seen, self.next_check, self.ok = 0, every, False
        self.info: dict = {}
        self.first: dict[str, int] = {}

    def update(self, correct: Tensor, error: Tensor, seen: int = 0) -> None:
        self.seen = seen
        if self.seen >= self.next_check:
            self.next_check = self.seen + self.every
            self.ok, self.info = self.check()
            for k, v in self.info.items():
                if v is True and k not in self.first:
                    self.first[k] = self.seen

    def met(self) -> bool:
        return self.ok

    def status(self) -> str:
        shown = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in self.info.items()}
        return "held-out: " + (", ".join(f"{k} {v}" for k, v in shown.items()) or "not checked yet")
