"""How a CPU kernel lays a call out: internal order, active rows per step, conversions.

Internally a sequence runs forward in time with the batch sorted by length, longest first. Then the
rows still running at step t are a prefix [0, n_t) of the batch: GEMMs and pointwise work touch only
those (what packing buys, without packing), and a finished row's state simply stays where it was.
The reverse direction is first reversed within each length (:func:`~lstmkit.kernels.common.reverse_index`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..common import SeqMasks, reverse_index, reverse_masks, reverse_time


@dataclass
class Plan:
    T: int
    B: int
    reverse: bool
    rev_idx: Optional[Tensor]      # (T, B) per-sample reversal index (original batch order), or None
    order: Optional[Tensor]        # (B,) internal row -> original row; None when already sorted
    inverse: Optional[Tensor]      # (B,) original row -> internal row
    n_t: np.ndarray                # (T,) int64: rows [0, n_t[t]) run at step t
    last: Optional[Tensor]         # (B,) int64: each internal row's last valid step, or None (all T-1)
    masks: SeqMasks                # masks in internal order

    def rows(self, t: Tensor) -> Tensor:
        """A (B, ...) tensor in original batch order -> internal order."""
        return t if self.order is None else t.index_select(0, self.order)

    def unrows(self, t: Tensor) -> Tensor:
        return t if self.inverse is None else t.index_select(0, self.inverse)

    def seq_in(self, seq: Optional[Tensor]) -> Optional[Tensor]:
        """A (T, B, ...) tensor in original time and batch order -> internal order."""
        if seq is None:
            return None
        if self.reverse:
            seq = reverse_time(seq, self.rev_idx)
        return seq if self.order is None else seq.index_select(1, self.order)

    def seq_out(self, seq: Tensor) -> Tensor:
        if self.inverse is not None:
            seq = seq.index_select(1, self.inverse)
        return reverse_time(seq, self.rev_idx) if self.reverse else seq

    def final(self, seq: Tensor, initial: Tensor) -> Tensor:
        """The state at each row's last valid step from a per-step record seq (T, B, N), internal order."""
        if self.last is None:
            return seq[-1]
        return seq[self.last, torch.arange(self.B, device=seq.device)]


def make_plan(x: Tensor, m: SeqMasks, reverse: bool) -> Plan:
    T, B = x.shape[0], x.shape[1]
    rev_idx = reverse_index(T, B, m.lengths, x.device) if reverse else None
    if reverse:
        m = reverse_masks(m, T, rev_idx)
    order = inverse = last = None
    n_t = np.full(T, B, dtype=np.int64)
    lengths = m.lengths
    if lengths is not None:
        if bool((lengths[:-1] >= lengths[1:]).all()):
            sorted_len = lengths
        else:
            sorted_len, order = torch.sort(lengths, descending=True, stable=True)
            inverse = torch.empty_like(order)
            inverse[order] = torch.arange(B, device=order.device)
        sl = sorted_len.cpu().numpy()
        n_t = (sl[None, :] > np.arange(T)[:, None]).sum(1).astype(np.int64)
        if int(sl.min()) < T:
            last = (sorted_len - 1).to(torch.int64)

    def rows(t):
        return t if (t is None or order is None) else t.index_select(0, order)

    def seq(t):
        return t if (t is None or order is None or t.stride(1) == 0) else t.index_select(1, order)

    internal = SeqMasks(lengths=None, reset=seq(m.reset), drop_x=rows(m.drop_x), drop_h=rows(m.drop_h),
                        zone_h=seq(m.zone_h), zone_c=seq(m.zone_c))
    return Plan(T, B, reverse, rev_idx, order, inverse, n_t, last, internal)


def np_view(t: Optional[Tensor]) -> Optional[np.ndarray]:
    """A numpy view sharing memory with a CPU tensor (None stays None; bool stays bool)."""
    if t is None:
        return None
    return t.detach().numpy()


def contiguous_zone(z: Optional[Tensor]) -> Optional[Tensor]:
    """Zoneout weights as a real (T, B, N) array (an expand()-ed constant is materialised once)."""
    return None if z is None else z.contiguous()
