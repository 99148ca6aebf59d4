"""How a CPU kernel lays a call out: internal order, active rows per step, conversions, windows.

Internally a sequence runs forward in time with the batch sorted by length, longest first. Then the
rows still running at step t are a prefix [0, n_t) of the batch: GEMMs and pointwise work touch only
those (what packing buys, without packing), and a finished row's state simply stays where it was.
The reverse direction is first reversed within each length (:func:`~lstmkit.kernels.common.reverse_index`).
Both reorderings are one row gather over the (T*B) flattened steps (:attr:`Plan.flat_in`).

An inference call (nothing saved for a backward) runs in windows of steps (:meth:`Plan.windows`, sized
by :func:`lstmkit.kernels.dispatch.window_steps`): the input projection W_ih x_t of one window at a time,
into a few MB that stay in cache, instead of one (T, B, G*H) buffer -- a buffer over glibc's mmap
threshold (32 MB) comes back from the OS each call and page-faults on first touch.
"""

from __future__ import annotations

import weakref
from functools import partial
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..common import SeqMasks, reverse_index, reverse_masks

@dataclass
class Plan:
    T: int
    B: int
    reverse: bool
    order: Optional[Tensor]        # (B,) internal row -> original row; None when already sorted
    inverse: Optional[Tensor]      # (B,) original row -> internal row
    flat_in: Optional[Tensor]      # (T*B,) internal step-row t*B+b -> original t'*B+b'; None: the identity
    flat_out: Optional[Tensor]     # (T*B,) its inverse
    n_t: np.ndarray                # (T,) int64: rows [0, n_t[t]) run at step t
    last: Optional[Tensor]         # (B,) int64: each internal row's last valid step, or None (all T-1)
    pad: Optional[Tensor]          # (K,) int64: internal step-rows t*B+b past their row's end; None if none
    masks: SeqMasks                # masks in internal order

    def rows(self, t: Tensor) -> Tensor:
        """A (B, ...) tensor in original batch order -> internal order."""
        return t if self.order is None else t.index_select(0, self.order)

    def unrows(self, t: Tensor) -> Tensor:
        return t if self.inverse is None else t.index_select(0, self.inverse)

    def seq_in(self, seq: Optional[Tensor], t0: int = 0, t1: Optional[int] = None, rows: Optional[int] = None,
               out: Optional[Tensor] = None) -> Optional[Tensor]:
        """Steps [t0, t1) of a (T, B, ...) tensor in original time and batch order -> internal order,
        internal rows [0, rows) of them (all by default); into ``out`` when given."""
        if seq is None:
            return None
        t1 = self.T if t1 is None else t1
        rows = self.B if rows is None else rows
        if self.flat_in is None:
            part = seq[t0:t1, :rows]
            return part if out is None else out.copy_(part)
        flat = seq.reshape((self.T * self.B,) + seq.shape[2:])
        idx = self.flat_in.view(self.T, self.B)[t0:t1, :rows].reshape(-1)
        if out is None:
            return flat.index_select(0, idx).view((t1 - t0, rows) + seq.shape[2:])
        torch.index_select(flat, 0, idx, out=out.view((-1,) + seq.shape[2:]))
        return out

    def seq_out(self, seq: Tensor) -> Tensor:
        """A (T, B, ...) tensor in internal order -> original time and batch order (a new tensor, or
        ``seq`` itself when the orders agree)."""
        if self.flat_out is None:
            return seq
        flat = seq.reshape((self.T * self.B,) + seq.shape[2:])
        return flat.index_select(0, self.flat_out).view(seq.shape)

    def final(self, seq: Tensor) -> Tensor:
        """The state at each row's last valid step from a per-step record seq (T, B, N), internal order
        (a new tensor)."""
        if self.last is None:
            return seq[-1].clone()
        return seq[self.last, torch.arange(self.B, device=seq.device)]

    def zero_pad(self, buf: Tensor) -> Tensor:
        """Zero the rows of a contiguous (T, B, N) buffer past each sequence's end, in place (a
        (1, B, N) per-step buffer is zeroed whole when there is padding)."""
        if self.pad is not None:
            if buf.shape[0] == self.T:
                buf.view(self.T * self.B, -1).index_fill_(0, self.pad, 0)
            else:
                buf.zero_()
        return buf

    def windows(self, steps: int) -> list[tuple[int, int]]:
        """[(t0, t1), ...] covering [0, T) in windows of ``steps``, stopping where no row runs."""
        end = int(np.count_nonzero(self.n_t))
        return [(t0, min(t0 + steps, end)) for t0 in range(0, end, steps)]

    def window(self, t0: int, t1: int) -> "Plan":
        """The plan of steps [t0, t1) as a call of its own (what the per-step drivers read: T, B, n_t
        and the masks)."""
        m = self.masks

        def sl(a):
            return None if a is None else a[t0:t1]
        masks = SeqMasks(lengths=None, reset=sl(m.reset), drop_x=m.drop_x, drop_h=m.drop_h,
                         zone_h=sl(m.zone_h), zone_c=sl(m.zone_c))
        return replace(self, T=t1 - t0, n_t=self.n_t[t0:t1], masks=masks, flat_in=None, flat_out=None,
                       last=None, pad=None)

    def carry(self, state: Tensor, record: Tensor, t0: int, t1: int) -> Tensor:
        """After window [t0, t1) with per-step record (t1 - t0, B, N): ``state`` (B, N) updated in place
        to each row's latest value -- at step t1 - 1 for rows still running there, at its last step for
        a row that ended inside the window, unchanged for rows that ended before. It is the next
        window's initial state, and after the last window the final one."""
        k = t1 - 1 - t0
        n_end, n_start = int(self.n_t[t1 - 1]), int(self.n_t[t0])
        state[:n_end] = record[k, :n_end]
        if n_start > n_end:                                           # rows whose last step is in [t0, t1 - 1)
            rows = torch.arange(n_end, n_start, device=state.device)
            state[n_end:n_start] = record[self.last[n_end:n_start] - t0, rows]
        return state


def running_rows(sorted_lengths: np.ndarray, T: int) -> np.ndarray:
    """(T,) int64: how many rows still run at each step, for lengths sorted longest first."""
    return (sorted_lengths[None, :] > np.arange(T)[:, None]).sum(1).astype(np.int64)


def make_plan(x: Tensor, m: SeqMasks, reverse: bool) -> Plan:
    T, B = x.shape[0], x.shape[1]
    dev = x.device
    rev_idx = reverse_index(T, B, m.lengths, dev) if reverse else None
    if reverse:
        m = reverse_masks(m, T, rev_idx)
    order = inverse = last = pad = None
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
        n_t = running_rows(sl, T)
        if int(sl.min()) < T:
            last = (sorted_len - 1).to(torch.int64)
            pad = torch.from_numpy(np.flatnonzero(np.arange(B)[None, :] >= n_t[:, None])).to(dev)
    flat_in = flat_out = None
    if reverse or order is not None:
        t = torch.arange(T, device=dev).unsqueeze(1)
        src_t = (T - 1 - t).expand(T, B) if reverse and rev_idx is None else (rev_idx if reverse else t.expand(T, B))
        cols = torch.arange(B, device=dev) if order is None else order
        flat_in = (src_t[:, cols] * B + cols).reshape(-1)               # internal (t, j) <- original
        inv = torch.arange(B, device=dev) if inverse is None else inverse
        flat_out = (src_t * B + inv).reshape(-1)                        # original (t, b) <- internal
    # a time reversal is an involution: original (t, b) sits at internal (src_t[t, b], inverse[b])

    def rows(t):
        return t if (t is None or order is None) else t.index_select(0, order)

    def seq(t):
        return t if (t is None or order is None or t.stride(1) == 0) else t.index_select(1, order)

    internal = SeqMasks(lengths=None, reset=seq(m.reset), drop_x=rows(m.drop_x), drop_h=rows(m.drop_h),
                        zone_h=seq(m.zone_h), zone_c=seq(m.zone_c))
    return Plan(T, B, reverse, order, inverse, flat_in, flat_out, n_t, last, pad, internal)


def plain(plan: Plan) -> bool:
    """No lengths, resets, recurrent dropout or zoneout: every row runs every step of the same cell."""
    mi = plan.masks
    return int(plan.n_t[-1]) == plan.B and mi.reset is None and mi.drop_h is None and mi.zone_h is None and \
        mi.zone_c is None


def np_view(t: Optional[Tensor]) -> Optional[np.ndarray]:
    """A numpy view sharing memory with a CPU tensor (None stays None; bool stays bool)."""
    if t is None:
        return None
    return t.detach().numpy()


def weight_view(w: Optional[Tensor]) -> Optional[np.ndarray]:
    """A numpy view of a weight (None stays None), through DLPack: ``Tensor.numpy()`` marks the storage it
    shares as not resizable, and FSDP frees the storage of the parameters it gathered for a layer (resizing
    it to 0) once the layer is done, so a weight seen through ``.numpy()`` breaks FSDP. (Activations and
    buffers keep ``.numpy()``, which costs a third as much.)"""
    return None if w is None else np.from_dlpack(w.detach().contiguous())


#: id(parameter) -> (weak reference to it, data_ptr, shape, stride, dtype, its numpy view); an entry goes with
#: its parameter (keyed by identity: a tensor's == is elementwise, so no WeakKeyDictionary)
_VIEWS: dict[int, tuple] = {}


def _forget_view(key: int, ref) -> None:
    hit = _VIEWS.get(key)
    if hit is not None and hit[0] is ref:
        _VIEWS.pop(key, None)


def kept_weight_view(w: Optional[Tensor]) -> Optional[np.ndarray]:
    """:func:`weight_view`, kept per parameter for calls that are all overhead (one step of a small layer:
    a DLPack view costs ~4 us, the step itself ~2). The view reads the parameter's memory, so in-place
    writes (optimiser steps, ``.data`` or numpy writes) show through; it is rebuilt when the parameter's
    address, shape, strides or dtype change (``.data =``, ``.to()``, FSDP's gather into new memory). The
    entry holds the old storage, so no new tensor can take its address while it lives. Non-contiguous
    weights (whose view is a copy) are not kept."""
    if w is None:
        return None
    ptr = w.data_ptr()
    hit = _VIEWS.get(id(w))
    if hit is not None and hit[0]() is w and hit[1] == ptr and hit[2] == w.shape and hit[3] == w.stride() \
            and hit[4] == w.dtype:
        return hit[5]
    view = weight_view(w)
    _VIEWS.pop(id(w), None)
    if w.is_contiguous() and ptr:
        try:
            _VIEWS[id(w)] = (weakref.ref(w, partial(_forget_view, id(w))), ptr, w.shape, w.stride(), w.dtype, view)
        except TypeError:                                   # not weak-referenceable: not kept
            pass
    return view


def contiguous_zone(z: Optional[Tensor]) -> Optional[Tensor]:
    """Zoneout weights as a real (T, B, N) array (an expand()-ed constant is materialised once)."""
    return None if z is None else z.contiguous()
