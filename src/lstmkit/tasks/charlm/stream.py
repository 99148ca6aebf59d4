"""A continuous text as B parallel streams, read in windows for truncated BPTT.

The ids are cut into B equal contiguous streams, a matrix X of shape (L + 1, B). Batch n reads the
window ``X[s : s + k2]`` (s = n * k1) as inputs and scores the last k1 of its positions against the next
characters. The recurrent state after the window's first k1 steps is where the next window starts, so
the trainer carries it (detached) into the next batch: with k2 = k1 the windows tile the streams; with
k2 > k1 they overlap and each gradient reaches k2 steps back (Williams & Peng's BPTT(k1, k2)).

When the streams run out an epoch ends: the carried state is dropped and the next epoch starts the
streams at a random offset in [0, k1) (from the stream's own generator), so cut points move.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["TextStreams", "min_chars"]


def min_chars(batch: int, k2: int) -> int:
    """Characters needed for one window: B streams of k2 inputs plus one target."""
    return batch * k2 + 1


class TextStreams:
    """Windows over ``ids`` for truncated BPTT; :meth:`state_dict` is the exact data position.

    Example::

        >>> import torch
        >>> from lstmkit.tasks.charlm.stream import TextStreams
        >>> s = TextStreams(torch.arange(20), batch=2, k1=3, k2=3, seed=0)
        >>> x, y, new_epoch = s.next()
        >>> x.T.tolist(), y.T.tolist(), new_epoch                # (k2, B) inputs, (k1, B) targets
        ([[0, 1, 2], [9, 10, 11]], [[1, 2, 3], [10, 11, 12]], True)
        >>> s.next()[0].T.tolist()                              # the next window carries on
        [[3, 4, 5], [12, 13, 14]]
    """

    def __init__(self, ids: Tensor, batch: int, k1: int, k2: int, seed: int) -> None:
        if ids.dim() != 1:
            raise ValueError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
        if k2 < k1:
            raise ValueError(f"k2 must be >= k1 = {k1}, got {k2}")
        need = min_chars(batch, k2) + k1 - 1                       # room for any epoch offset
        if ids.numel() < need:
            raise ValueError(f"the training text has {ids.numel()} characters; one batch needs at least "
                             f"{need} (--batch-size {batch} x --bptt {k2}, plus offset room {k1 - 1}, plus 1): "
                             f"give a longer text or lower --batch-size / --seq-len")
        self.ids, self.batch, self.k1, self.k2 = ids, batch, k1, k2
        self.gen = torch.Generator().manual_seed(seed)
        self.epoch, self.pos = 0, None                              # pos None: start a new epoch
        self.offset = 0
        self._x = None

    def _layout(self) -> None:
        data = self.ids[self.offset:]
        L = (data.numel() - 1) // self.batch
        # column b is stream b: X[t, b] = data[b * L + t], t in [0, L] (one extra for the last target)
        idx = torch.arange(L + 1).unsqueeze(1) + L * torch.arange(self.batch).unsqueeze(0)   # (L+1, B)
        self._x = data[idx]
        self.L = L

    def next(self) -> tuple[Tensor, Tensor, bool]:
        """``(inputs (k2, B), targets (k1, B), new_epoch)``; ``new_epoch`` means: drop the carried state."""
        new_epoch = False
        if self.pos is None or self.pos + self.k2 > self.L:
            if self.pos is not None:
                self.epoch += 1
                self.offset = int(torch.randint(self.k1, (1,), generator=self.gen))
            self.pos, new_epoch = 0, True
            self._layout()
        elif self._x is None:
            self._layout()
        s = self.pos
        x = self._x[s: s + self.k2]                                  # (k2, B)
        y = self._x[s + 1 + self.k2 - self.k1: s + 1 + self.k2]     # (k1, B)
        self.pos = s + self.k1
        return x, y, new_epoch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos, "offset": self.offset, "generator": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.pos, self.offset = state["epoch"], state["pos"], state["offset"]
        self.gen.set_state(state["generator"])
        self._x = None
        if self.pos is not None:
            self._layout()
