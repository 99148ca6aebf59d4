"""Pieces every reference kernel uses: the input projection over all steps and its gradients."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ..common import SeqMasks, valid_mask


def drop_input(x: Tensor, m: SeqMasks, valid: Optional[Tensor]) -> Tensor:
    """x with padding zeroed (it never reaches the cell) and the input-dropout mask applied: (T, B, I)."""
    if valid is not None:
        x = torch.where(valid, x, torch.zeros_like(x))
    return x if m.drop_x is None else x * m.drop_x


def project_all(xd: Tensor, weight: Tensor) -> Tensor:
    """W x_t for every step at once: (T, B, I) @ (N, I)^T -> (T, B, N), one GEMM."""
    T, B, _ = xd.shape
    return (xd.reshape(T * B, xd.shape[2]) @ weight.t()).view(T, B, weight.shape[0])


def gemm_grad(d_out_all: Tensor, inp_all: Tensor) -> Tensor:
    """dW = sum_t d_out_t^T inp_t over all T*B rows: (T, B, N), (T, B, K) -> (N, K)."""
    return d_out_all.reshape(-1, d_out_all.shape[-1]).t() @ inp_all.reshape(-1, inp_all.shape[-1])


def input_grads(d_ax_all: Tensor, xd: Tensor, w_ih: Tensor, m: SeqMasks) -> tuple[Tensor, Tensor]:
    """(dW_ih, dx) from dL/d(W_ih x_t) for all steps; dx is zero on padding and masked by input dropout."""
    T = d_ax_all.shape[0]
    dw_ih = gemm_grad(d_ax_all, xd)                                   # dW_ih = sum_t da_x^T x_t
    dx = (d_ax_all.reshape(-1, d_ax_all.shape[-1]) @ w_ih).view(T, xd.shape[1], w_ih.shape[1])  # W_ih^T da_x
    if m.drop_x is not None:
        dx = dx * m.drop_x
    if m.lengths is not None:
        dx = torch.where(valid_mask(m.lengths, T), dx, torch.zeros_like(dx))
    return dw_ih, dx


def recurrent_input(hp: Tensor, m: SeqMasks) -> Tensor:
    """h_{t-1} as it enters W_hh: with the recurrent-dropout mask applied."""
    return hp if m.drop_h is None else hp * m.drop_h


def zones_at(zones, t: int):
    """The zoneout weights of step t (None stays None)."""
    return tuple(None if z is None else z[t] for z in zones)


def at(seq: Optional[Tensor], t: int) -> Optional[Tensor]:
    return None if seq is None else seq[t]
