"""What every long-lag task shares: a batch of generated sequences, the output kinds and their losses,
and the per-sequence error measures the paper's criteria are stated in.

A task generates fresh sequences on the fly from a seeded :class:`torch.Generator`. A :class:`Batch`
holds inputs, targets and a mask of the steps that carry an error signal (the paper gives error signals
at every step for next-symbol prediction, and only at the sequence end for the classification and
regression tasks).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["Batch", "Task", "one_hot", "randint", "end_mask"]


@dataclass
class Batch:
    """Padded sequences of one batch.

    Attributes:
        x: (T, B, I) inputs, zero past each sequence's end.
        lengths: (B,) valid lengths.
        target: (T, B, O) float targets ("sigmoid"/"linear" outputs) or (T, B) class ids ("softmax").
        mask: (T, B) bool, True where an error signal is given.
        legal: optional (T, B, O) bool, the legal next symbols (grammar tasks).
        count: training sequences this batch counts as (None: B; a continual stream counts the
            strings it completed).
    """

    x: Tensor
    lengths: Tensor
    target: Tensor
    mask: Tensor
    legal: Optional[Tensor] = None
    count: Optional[int] = None

    @property
    def size(self) -> int:
        return self.x.shape[1]

    @property
    def sequences(self) -> int:
        return self.size if self.count is None else self.count


def randint(low: int, high: int, shape, g: torch.Generator) -> Tensor:
    """Uniform integers in [low, high] (both ends included)."""
    return torch.randint(low, high + 1, tuple(shape), generator=g)


def one_hot(ids: Tensor, n: int) -> Tensor:
    """(…) long -> (…, n) float local representation."""
    return F.one_hot(ids, n).float()


def end_mask(lengths: Tensor, T: int) -> Tensor:
    """(T, B) bool, True at each sequence's last valid step."""
    mask = torch.zeros(T, lengths.numel(), dtype=torch.bool)
    mask[lengths - 1, torch.arange(lengths.numel())] = True
    return mask


class Task(ABC):
    """A long-time-lag task: its generator, loss, per-sequence scores, criterion and test.

    Subclasses set ``name``, ``input_size``, ``output_size``, ``kind`` ("sigmoid": logistic outputs and
    binary cross-entropy; "linear": linear outputs and squared error; "softmax": cross-entropy over
    classes) and ``tol`` (a sequence is correct when every output error at a signalled step is below it),
    and implement :meth:`sample`, :meth:`criterion` and :meth:`test`.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "sigmoid"
    input_size: int = 1
    output_size: int = 1
    tol: float = 0.5
    #: the longest lag the task asks to bridge, in steps (the chrono initialisation's horizon)
    horizon: int = 30

    @abstractmethod
    def sample(self, batch: int, g: torch.Generator) -> Batch:
        """``batch`` fresh sequences."""

    @abstractmethod
    def criterion(self, predict: Callable[[Batch], Tensor]):
        """The paper's stopping criterion (a :class:`~lstmkit.tasks.longlag.criteria.Criterion`);
        ``predict`` maps a batch to outputs (T, B, O), for criteria checked on fixed held-out sets."""

    @abstractmethod
    def test(self, predict: Callable[[Batch], Tensor], g: torch.Generator) -> dict:
        """The test error the paper reports, on fresh sequences drawn from ``g``."""

    def describe(self) -> str:
        """A one-line name with the parameters, for tables."""
        return self.name

    # ------------------------------------------------------------------------------------ losses
    def activate(self, out: Tensor) -> Tensor:
        """Raw outputs (T, B, O) -> predictions (sigmoid, identity, or softmax probabilities)."""
        if self.kind == "sigmoid":
            return torch.sigmoid(out)
        if self.kind == "softmax":
            return out.softmax(-1)
        return out

    def loss(self, out: Tensor, batch: Batch) -> Tensor:
        """Mean loss per signalled step, averaged over the batch's sequences. ``out``: (T, B, O)."""
        m = batch.mask.float()                                        # (T, B)
        if self.kind == "softmax":
            per = F.cross_entropy(out.flatten(0, 1), batch.target.flatten(), reduction="none").view_as(m)
        elif self.kind == "sigmoid":
            per = F.binary_cross_entropy_with_logits(out, batch.target, reduction="none").sum(-1)
        else:
            per = (out - batch.target).pow(2).sum(-1)
        per_seq = (per * m).sum(0) / m.sum(0).clamp(min=1)            # (B,)
        return per_seq.mean()

    def score(self, out: Tensor, batch: Batch) -> tuple[Tensor, Tensor]:
        """Per sequence: ``correct`` (B,) bool, every output error at a signalled step below ``tol``;
        and ``error`` (B,) float, the mean absolute output error over signalled steps and units."""
        with torch.no_grad():
            err = (self.activate(out) - batch.target).abs()           # (T, B, O)
            m = batch.mask.unsqueeze(-1).float()
            worst = (err * m).amax(dim=(0, 2))                        # (B,)
            mean = (err * m).sum(dim=(0, 2)) / (m.sum(dim=(0, 2)) * err.shape[-1]).clamp(min=1)
        return worst < self.tol, mean

    def evaluate(self, predict: Callable[[Batch], Tensor], g: torch.Generator, n: int,
                 chunk: int = 256) -> dict:
        """Score ``n`` fresh sequences: ``wrong`` of ``of`` (not :meth:`score`-correct), their
        ``mean_abs_error``, and ``mse`` of the predictions at the signalled steps."""
        wrong, abs_sum, sq_sum, cells = 0, 0.0, 0.0, 0
        for start in range(0, n, chunk):
            b = self.sample(min(chunk, n - start), g)
            with torch.no_grad():
                out = predict(b)
            correct, error = self.score(out, b)
            wrong += int((~correct).sum())
            abs_sum += float(error.sum())
            if self.kind != "softmax":
                m = b.mask.unsqueeze(-1).expand_as(out)
                d = (self.activate(out) - b.target)[m]
                sq_sum, cells = sq_sum + float(d.pow(2).sum()), cells + d.numel()
        res = {"wrong": wrong, "of": n, "mean_abs_error": abs_sum / n}
        if cells:
            res["mse"] = sq_sum / cells
        return res


def check_param(task: str, name: str, value: int, minimum: int) -> int:
    """Validate an integer task parameter; the message names task, expected and actual."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{task}: {name} must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{task}: {name} must be >= {minimum}, got {value}")
    return value
