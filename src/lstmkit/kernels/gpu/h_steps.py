"""The per-step state bookkeeping of the single-state families (GRU, Elman RNN): Triton device functions
called inside their fused step kernels (:mod:`.gru_steps`, :mod:`.rnn`), and the host-side buffers around
them (:class:`HForward`, :class:`HBackward`).

State bookkeeping (:mod:`lstmkit.kernels.common`): resets, zoneout and lengths around the cell's h~_t, and
its backward. Every device function works on one program's slice: batch row ``b``, columns ``cols`` (mask
``cm``); row strides are passed, the zoneout mask's column stride too (an evaluation mask is an
``expand``-ed constant with stride 0). Values are float32 (loads are upcast).

As in the LSTM kernel (:mod:`.lstm`), resets and recurrent dropout never need a torch op between steps:
each forward step also writes the state step t+1 enters and the recurrent GEMM's input, and each backward
step assembles dh_t from step t+1's W_hh^T da_h and the rest of dh_t (``FOLD_DH``).
"""

from __future__ import annotations

from typing import Optional

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..common import SeqMasks
from ..reference._shared import recurrent_input
from .triton_env import block_for, zone_strides


@triton.jit
def load_f32(ptr, cm):
    return tl.load(ptr, mask=cm, other=0.0).to(tl.float32)


@triton.jit
def leave_h(h_new, t, b, cols, cm, hp, h_prev, zone_h, lengths, reset_nx, drop_h,
            h_out, y_out, hp_nx, hd_nx, s_hp, s_h, szh_b, szh_h,
            HAS_ZH: tl.constexpr, HAS_LEN: tl.constexpr, ENTER_NEXT: tl.constexpr,
            HAS_RESET: tl.constexpr, HAS_DROP: tl.constexpr):
    """common.leave for h, then (``ENTER_NEXT``) common.enter of step t+1.

    h'_t = d P_t + (1 - d) h~_t ;  h_t = h'_t if t < len else h_{t-1} ;  y_t = h'_t if t < len else 0.
    ``hp`` is P_t (the entered state), ``h_prev`` S_{t-1}; ``hp``, ``h_prev``, ``hp_nx``, ``hd_nx`` and
    ``drop_h`` share the row stride ``s_hp``; ``h_out`` has ``s_h``, ``y_out`` is contiguous (B, H).
    ``ENTER_NEXT`` writes P_{t+1} = 0 where ``reset_nx`` restarts the state (``hp_nx``) and the recurrent
    GEMM's input P_{t+1} * drop_h (``hd_nx``), so no torch op runs between the steps.
    """
    h = h_new
    if HAS_ZH:
        d = load_f32(zone_h + b * szh_b + cols * szh_h, cm)
        h = d * load_f32(hp + b * s_hp + cols, cm) + (1.0 - d) * h
    y = h
    if HAS_LEN:
        live = t < tl.load(lengths + b)
        h = tl.where(live, h, load_f32(h_prev + b * s_hp + cols, cm))
        y = tl.where(live, y, 0.0)
    h = h.to(h_out.dtype.element_ty)
    tl.store(h_out + b * s_h + cols, h, mask=cm)
    tl.store(y_out + b * s_h + cols, y.to(y_out.dtype.element_ty), mask=cm)
    if ENTER_NEXT:
        h_e = h.to(tl.float32)
        if HAS_RESET:
            h_e = tl.where(tl.load(reset_nx + b) == 0, h_e, 0.0)
            tl.store(hp_nx + b * s_hp + cols, h_e.to(hp_nx.dtype.element_ty), mask=cm)
        if HAS_DROP:
            h_e = h_e * load_f32(drop_h + b * s_hp + cols, cm)
        tl.store(hd_nx + b * s_hp + cols, h_e.to(hd_nx.dtype.element_ty), mask=cm)


@triton.jit
def dh_cand(t, b, cols, cm, dh, dhp_in, ex_in, reset_nx, drop_h, dy, zone_h, lengths, s_dh, szh_b, szh_h,
            FOLD_DH: tl.constexpr, HAS_DROP: tl.constexpr, HAS_RESET: tl.constexpr,
            HAS_LEN: tl.constexpr, HAS_ZH: tl.constexpr):
    """common.leave_backward for h: returns (dh~_t, dP_t through zoneout, dS_{t-1} through the frozen
    branch). ``FOLD_DH``: dh_t (= dS_t) is assembled here from step t+1's pieces instead of read from
    ``dh``: dh_t = (0 if reset[t+1] else drop_h * ``dhp_in``) + ``ex_in``. All (B, H) with row stride
    ``s_dh``; ``dy`` is dy_t, contiguous (B, H) with the same row stride."""
    if FOLD_DH:                                      # enter_backward of step t+1, then its frozen carry
        dh_s = load_f32(dhp_in + b * s_dh + cols, cm)
        if HAS_DROP:
            dh_s *= load_f32(drop_h + b * s_dh + cols, cm)
        if HAS_RESET:
            dh_s = tl.where(tl.load(reset_nx + b) == 0, dh_s, 0.0)
        dh_s += load_f32(ex_in + b * s_dh + cols, cm)
    else:
        dh_s = load_f32(dh + b * s_dh + cols, cm)
    d = dh_s + load_f32(dy + b * s_dh + cols, cm)                 # dh'_t = dS_t + dy_t
    carry = tl.zeros_like(d)
    dhp_z = tl.zeros_like(d)
    if HAS_LEN:                                                   # dS_{t-1} += (1 - valid) dS_t
        live = t < tl.load(lengths + b)
        carry = tl.where(live, 0.0, dh_s)
        d = tl.where(live, d, 0.0)
    if HAS_ZH:                                                    # dh~_t = (1 - d) dh'_t ; dP_t += d dh'_t
        zh = load_f32(zone_h + b * szh_b + cols * szh_h, cm)
        dhp_z = d * zh
        d = d * (1.0 - zh)
    return d, dhp_z, carry


@triton.jit
def store_extra(extra, b, cols, cm, dhp_direct, carry, reset, dh_extra, s_dh,
                HAS_RESET: tl.constexpr, HAS_LEN: tl.constexpr):
    """The part of dh_{t-1} that does not pass through W_hh: enter_backward (nothing crosses a reset) of
    the direct and zoneout terms, then the frozen branch's carry."""
    e = dhp_direct + extra
    if HAS_RESET:
        e = tl.where(tl.load(reset + b) == 0, e, 0.0)
    if HAS_LEN:
        e += carry
    tl.store(dh_extra + b * s_dh + cols, e.to(dh_extra.dtype.element_ty), mask=cm)


# ---------------------------------------------------------------------------------------------- host side

def launch(B: int, H: int) -> tuple[tuple[int, int], dict]:
    """(grid, meta): programs over (batch row, block of H columns)."""
    block = block_for(H, cap=1024)
    return (B, triton.cdiv(H, block)), dict(BLOCK=block, num_warps=4 if block <= 256 else 8)


class HForward:
    """h's buffers over a forward: S_t for every step (``save``) or a ring of two, the entered states P_t
    when there are resets, the recurrent GEMM's input (a ring of two) when there are resets or recurrent
    dropout, and y. :meth:`step` gives step t's GEMM input and the bookkeeping's kernel arguments."""

    def __init__(self, x: Tensor, h0: Tensor, m: SeqMasks, save: bool) -> None:
        T, B = x.shape[:2]
        H = h0.shape[1]
        self.T, self.save, self.dummy = T, save, x
        rows = T + 1 if save else 2
        self.hs = x.new_empty(rows, B, H)                                       # S_t
        self.hs[0] = h0
        self.y = x.new_empty(T, B, H)
        reset = m.reset
        self.hpe = self.reset_nx = self.hdb = None
        if reset is not None:                                                   # P_t = 0 where reset[t]
            self.hpe = x.new_empty(rows, B, H)
            self.hpe[0] = self.hs[0] * (~reset[0]).unsqueeze(-1)
            self.reset_nx = torch.cat([reset[1:], reset.new_zeros(1, B)]).to(torch.uint8)
        self.fused = reset is not None or m.drop_h is not None
        if self.fused:                                                          # P_t * drop_h
            self.hdb = x.new_empty(2, B, H)
            self.hdb[0] = recurrent_input(self.hpe[0] if reset is not None else self.hs[0], m)
        self.zone_h = m.zone_h
        self.lengths = m.lengths.contiguous() if m.lengths is not None else x
        self.drop_h = m.drop_h.contiguous() if m.drop_h is not None else x
        self.flags = dict(HAS_ZH=m.zone_h is not None, HAS_LEN=m.lengths is not None, ENTER_NEXT=self.fused,
                          HAS_RESET=reset is not None, HAS_DROP=m.drop_h is not None)

    def step(self, t: int):
        """(hp, hd, ins, outs, (szh_b, szh_h)): P_t, the GEMM input P_t * drop_h, and :func:`leave_h`'s
        arguments (hp, h_prev, zone_h, lengths, reset_nx, drop_h) and (h_out, y_out, hp_nx, hd_nx)."""
        r0, r1 = (t, t + 1) if self.save else (t % 2, (t + 1) % 2)
        x = self.dummy
        h_prev = self.hs[r0]
        hp = self.hpe[r0] if self.hpe is not None else h_prev
        hd = self.hdb[t % 2] if self.fused else hp
        zh = self.zone_h[t] if self.zone_h is not None else None
        ins = (hp, h_prev, x if zh is None else zh, self.lengths,
               self.reset_nx[t] if self.reset_nx is not None else x, self.drop_h)
        outs = (self.hs[r1], self.y[t], self.hpe[r1] if self.hpe is not None else x,
                self.hdb[(t + 1) % 2] if self.fused else x)
        return hp, hd, ins, outs, zone_strides(self.zone_h)

    def final(self) -> Tensor:
        return self.hs[self.T if self.save else self.T % 2].clone()

    def entered(self) -> Tensor:
        """P_t for every step (T, B, H) (``save`` only)."""
        return (self.hs if self.hpe is None else self.hpe)[: self.T]


class HBackward:
    """dh's buffers over a backward. With resets or recurrent dropout dh_{t-1} is folded into the next
    step's kernel (``FOLD_DH``): the GEMM writes W_hh^T da_h into ``dhp`` and the kernel of step t-1 masks it
    and adds the extra part step t wrote; otherwise dh_{t-1} = W_hh^T da_h + extra is one addmm."""

    def __init__(self, x: Tensor, dy: Tensor, dh_T: Tensor, m: SeqMasks) -> None:
        self.T, self.m, self.dummy = x.shape[0], m, x
        self.dy = dy.contiguous()
        self.dh = dh_T.to(x.dtype).contiguous()
        self.reset_u8 = m.reset.to(torch.uint8) if m.reset is not None else None
        self.fold = m.reset is not None or m.drop_h is not None
        self.dhp = torch.empty_like(self.dh)
        self.extra = (torch.empty_like(self.dh), torch.empty_like(self.dh))
        self.zone_h = m.zone_h
        self.lengths = m.lengths.contiguous() if m.lengths is not None else x
        self.drop_h = m.drop_h.contiguous() if m.drop_h is not None else x

    def step(self, t: int):
        """(ins, extra_out, szh, flags): :func:`dh_cand`'s and :func:`store_extra`'s arguments (dh, dhp_in,
        ex_in, reset_nx, drop_h, dy, zone_h, lengths, reset), the extra part's buffer, zoneout strides."""
        x = self.dummy
        folding = self.fold and t < self.T - 1
        zh = self.zone_h[t] if self.zone_h is not None else None
        ru = self.reset_u8
        ins = (self.dh, self.dhp, self.extra[(t + 1) % 2],
               ru[t + 1] if folding and ru is not None else x, self.drop_h, self.dy[t],
               x if zh is None else zh, self.lengths, ru[t] if ru is not None else x)
        flags = dict(FOLD_DH=folding, HAS_DROP=self.m.drop_h is not None, HAS_RESET=ru is not None,
                     HAS_LEN=self.m.lengths is not None, HAS_ZH=zh is not None)
        return ins, self.extra[t % 2], zone_strides(self.zone_h), flags

    def finish(self, t: int, d_ah: Tensor, w: Tensor, base: Optional[Tensor] = None) -> None:
        """dh_{t-1} from step t's W_hh-side gradient: W_hh^T da_h (+ ``base``, a part already summed)."""
        if self.fold:
            if base is None:
                torch.mm(d_ah, w, out=self.dhp)
            else:
                torch.addmm(base, d_ah, w, out=self.dhp)
        else:                                                   # + zoneout's, the direct and frozen terms
            self.dh = torch.addmm(self.extra[t % 2] if base is None else base, d_ah, w)

    def dh0(self) -> Tensor:
        """dh_0 after the last step (its own assembly when folding, as the kernel would do it)."""
        if not self.fold:
            return self.dh
        dh_w = self.dhp if self.m.drop_h is None else self.dhp * self.m.drop_h
        if self.m.reset is not None:
            dh_w = torch.where(self.m.reset[0].unsqueeze(-1), torch.zeros_like(dh_w), dh_w)
        return dh_w + self.extra[0]
