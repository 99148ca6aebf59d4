"""What every kernel shares: the per-call masks, the state bookkeeping around a cell step, time reversal.

A whole-sequence kernel runs one layer-direction of one cell family over T steps. Around the cell's
own equations (the cell docstrings) every family applies the same bookkeeping, per step t and sample b:

.. code-block:: text

    P_t   = 0 if reset[t, b] else S_{t-1}                   enter: document boundary restarts the state
    S~_t  = cell(x_t, P_t)                                  the cell's new state before zoneout (h~_t, c~_t)
    S'_t  = d_t * P_t + (1 - d_t) * S~_t                    zoneout: d_t = 1 keeps the previous unit
    S_t   = S'_t if t < len_b else S_{t-1}                  lengths: the state freezes after the end
    y_t   = h'_t if t < len_b else 0

with S_{-1} the initial state (S~_t is the state before zoneout, not the LSTM's candidate g_t, which
is inside ``cell``). The backward of that bookkeeping is here too, next to the forward.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import Tensor

__all__ = ["SeqMasks", "transformed", "enter", "enter_backward", "leave", "leave_backward", "valid_mask",
           "reverse_index", "reverse_masks", "ln_forward", "ln_backward"]


class SeqMasks(NamedTuple):
    """Per-call tensors that shape a run but are not differentiated. All optional, all in original time
    order (a reverse-direction kernel reorders them itself).

    lengths: (B,) int64, each in [1, T]: steps t >= lengths[b] are padding.
    reset: (T, B) bool: True restarts sample b's state (to zeros) before step t.
    drop_x: (B, I) variational input-dropout mask, already scaled by 1/(1-p); one per sequence.
    drop_h: (B, P) variational recurrent-dropout mask on h_{t-1} where it enters W_hh h_{t-1}.
    zone_h: (T, B, P) zoneout keep-previous weights d_t for h: {0, 1} in training, p in evaluation
        (an ``expand``-ed view is fine).
    zone_c: (T, B, H) the same for the LSTM cell state c.
    """

    lengths: Optional[Tensor] = None
    reset: Optional[Tensor] = None
    drop_x: Optional[Tensor] = None
    drop_h: Optional[Tensor] = None
    zone_h: Optional[Tensor] = None
    zone_c: Optional[Tensor] = None

    def zones(self, num_states: int) -> tuple[Optional[Tensor], ...]:
        return (self.zone_h, self.zone_c)[:num_states]

    def rows(self, r: slice) -> "SeqMasks":
        """The masks of batch rows ``r`` only."""
        batch_dim = {"lengths": 0, "reset": 1, "drop_x": 0, "drop_h": 0, "zone_h": 1, "zone_c": 1}
        return SeqMasks(*(None if t is None else t[(slice(None),) * batch_dim[f] + (r,)]
                          for f, t in zip(self._fields, self)))


def transformed(tensors) -> bool:
    """Whether any of ``tensors`` is wrapped by a ``torch.func`` transform or the legacy vmap of
    ``is_grads_batched``: the compiled kernels (and the compiled mask generator) cannot read those, so the
    torch-ops paths run instead."""
    f = torch._C._functorch
    return any(t is not None and (f.is_functorch_wrapped_tensor(t) or f.is_legacy_batchedtensor(t))
               for t in tensors)


def valid_mask(lengths: Optional[Tensor], T: int) -> Optional[Tensor]:
    """(T, B, 1) bool, True where t < lengths[b]; None when every step is valid."""
    if lengths is None:
        return None
    t = torch.arange(T, device=lengths.device).unsqueeze(1)          # (T, 1)
    return (t < lengths.unsqueeze(0)).unsqueeze(-1)                 # (T, B, 1)


def enter(state: tuple[Tensor, ...], reset_t: Optional[Tensor]) -> tuple[Tensor, ...]:
    """P_t: the state entering step t. reset_t: (B,) bool or None."""
    if reset_t is None:
        return state
    r = reset_t.unsqueeze(-1)                                        # (B, 1)
    return tuple(torch.where(r, torch.zeros_like(s), s) for s in state)


def enter_backward(d_entered: tuple[Tensor, ...], reset_t: Optional[Tensor]) -> tuple[Tensor, ...]:
    """dS_{t-1} from dP_t: nothing flows back across a reset."""
    if reset_t is None:
        return d_entered
    r = reset_t.unsqueeze(-1)
    return tuple(torch.where(r, torch.zeros_like(d), d) for d in d_entered)


def leave(prev: tuple[Tensor, ...], entered: tuple[Tensor, ...], cand: tuple[Tensor, ...],
          zones: tuple[Optional[Tensor], ...],
          valid_t: Optional[Tensor]) -> tuple[tuple[Tensor, ...], Tensor]:
    """S_t and y_t from the candidate S~_t (zoneout, then lengths). Returns (S_t, y_t)."""
    out = []
    for s_prev, p, s_c, d in zip(prev, entered, cand, zones):
        # S'_t = d P_t + (1 - d) S~_t, written so that d in {0, 1} picks one side exactly
        out.append(s_c if d is None else d * p + (1.0 - d) * s_c)
    y = out[0]
    if valid_t is not None:
        y = torch.where(valid_t, y, torch.zeros_like(y))
        out = [torch.where(valid_t, s, s_prev) for s, s_prev in zip(out, prev)]
    return tuple(out), y


def leave_backward(d_state: tuple[Tensor, ...], dy_t: Tensor, zones: tuple[Optional[Tensor], ...],
                   valid_t: Optional[Tensor]):
    """Backward of :func:`leave`.

    Returns (d_cand, d_entered_zoneout, d_prev_frozen): gradients reaching the candidate S~_t, the
    entered state P_t through zoneout, and S_{t-1} through the frozen (padding) branch (None if no lengths).
    """
    # dS'_t = valid * dS_t ;  dh'_t += valid * dy_t ;  dS_{t-1} += (1 - valid) * dS_t
    d_z = list(d_state)
    d_z[0] = d_z[0] + dy_t
    carry = None
    if valid_t is not None:
        carry = tuple(torch.where(valid_t, torch.zeros_like(d), d) for d in d_state)
        d_z = [torch.where(valid_t, d, torch.zeros_like(d)) for d in d_z]
    d_cand, d_entered = [], []
    for d, zone in zip(d_z, zones):
        if zone is None:
            d_cand.append(d)
            d_entered.append(None)
        else:
            # dS~_t = (1 - d_t) dS'_t ;  dP_t += d_t dS'_t
            d_cand.append(d * (1.0 - zone))
            d_entered.append(d * zone)
    return tuple(d_cand), tuple(d_entered), carry


def add_opt(a: Tensor, b: Optional[Tensor]) -> Tensor:
    return a if b is None else a + b


# ---------------------------------------------------------------------------------------------- reversal

def reverse_index(T: int, B: int, lengths: Optional[Tensor], device) -> Optional[Tensor]:
    """(T, B) int64 time index that reverses each sequence within its length (an involution).

    idx[t, b] = lengths[b] - 1 - t for t < lengths[b], else t (padding stays where it is). None when
    there are no lengths: then a plain flip reverses.
    """
    if lengths is None:
        return None
    t = torch.arange(T, device=device).unsqueeze(1).expand(T, B)
    L = lengths.to(device).unsqueeze(0)
    return torch.where(t < L, L - 1 - t, t)


def reverse_time(seq: Optional[Tensor], idx: Optional[Tensor]) -> Optional[Tensor]:
    """Reorder a (T, B, ...) tensor with :func:`reverse_index` (or flip when idx is None)."""
    if seq is None:
        return None
    if idx is None:
        return seq.flip(0)
    if seq.stride(0) == 0 and (seq.dim() < 2 or seq.stride(1) == 0):
        return seq                                                     # constant over time and batch
    ix = idx.view(idx.shape + (1,) * (seq.dim() - 2)).expand(seq.shape)
    return seq.gather(0, ix)


def reverse_masks(m: SeqMasks, T: int, idx: Optional[Tensor]) -> SeqMasks:
    """The masks as the reverse direction sees them, in its processing order.

    A reset before original step s (boundary between s-1 and s) means, in reverse, that the state is
    restarted before step s-1: reset_rev[s-1] = reset[s], and nothing before the first reversed step.
    """
    reset = m.reset
    if reset is not None:
        shifted = torch.zeros_like(reset)
        shifted[:-1] = reset[1:]
        if m.lengths is not None:                                    # a boundary at the end is no boundary
            t = torch.arange(T, device=reset.device).unsqueeze(1)
            shifted &= t < (m.lengths.unsqueeze(0) - 1)
        reset = reverse_time(shifted.unsqueeze(-1), idx).squeeze(-1)
    return m._replace(reset=reset, zone_h=reverse_time(m.zone_h, idx), zone_c=reverse_time(m.zone_c, idx))


# ---------------------------------------------------------------------------------------------- layer norm

def ln_forward(a: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """Normalise over the last dimension: returns n = (a - mu) * rstd and rstd (shape (..., 1))."""
    mu = a.mean(-1, keepdim=True)
    var = (a - mu).square().mean(-1, keepdim=True)
    rstd = torch.rsqrt(var + eps)
    return (a - mu) * rstd, rstd


def ln_backward(dn: Tensor, n: Tensor, rstd: Tensor) -> Tensor:
    """da from dn: da = rstd * (dn - mean(dn) - n * mean(dn * n))."""
    return rstd * (dn - dn.mean(-1, keepdim=True) - n * (dn * n).mean(-1, keepdim=True))
