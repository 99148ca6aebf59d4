"""The input-side layer norm of the layer-normalised LSTM over all steps at once, compiled and split
across cores.

Forward: ``gates = LN(a_x) * g (+ b)`` for every (t, b) row of ``a_x = W_ih x_t`` in one pass, written
straight into the gate buffer. Backward, from ``d = dL/d(gates)``: ``dg = sum_r d_r * n_r``,
``db = sum_r d_r`` and ``da_x = rstd (d g - mean(d g) - n mean(d g n))`` in one pass that recomputes each
row's mean and 1/std instead of storing them (``n = (a_x - mean) / std``). The same work as torch ops
takes six passes over the (T, B, G*H) buffers and as many temporaries; at (B, T, H) = (64, 100, 256) that
was most of what the variant cost over the plain LSTM.

Each thread takes a contiguous block of rows; parameter gradients are summed per block, then over
blocks, so the result does not depend on scheduling.
"""

from __future__ import annotations

from typing import Optional

import numba
import torch
from torch import Tensor

from .jit import pjit
from .lstm.cell import _add_ln, _ln_rec_backward
from .plan import np_view, weight_view


@pjit
def _forward_rows(a, gain, bias, eps, out, chunks):
    R = a.shape[0]
    per = (R + chunks - 1) // chunks
    for c in numba.prange(chunks):
        for r in range(c * per, min(R, (c + 1) * per)):
            if bias is not None:
                out[r] = bias
            else:
                out[r] = 0
            _add_ln(out[r], a[r], gain, eps)                  # out_r += LN(a_r) * gain


@pjit
def _backward_rows(a, d, gain, eps, da, dgain, dbias, chunks):
    R, N = a.shape
    per = (R + chunks - 1) // chunks
    for c in numba.prange(chunks):
        for r in range(c * per, min(R, (c + 1) * per)):
            _ln_rec_backward(d[r], a[r], gain, eps, dgain[c], da[r])   # dgain += d n; da = LN backward
            if dbias is not None:
                for k in range(N):
                    dbias[c, k] += d[r, k]


def _chunks(rows: int) -> int:
    return max(1, min(rows, numba.get_num_threads()))


def ln_forward(a: Tensor, gain: Tensor, bias: Optional[Tensor], eps: float) -> Tensor:
    """LN(a) * gain (+ bias) over the last dim of a (..., N); a new tensor."""
    N = a.shape[-1]
    a2 = a.reshape(-1, N)
    out = torch.empty_like(a2)
    _forward_rows(np_view(a2), weight_view(gain), weight_view(bias), eps, np_view(out),
                  _chunks(a2.shape[0]))
    return out.view(a.shape)


def ln_backward_all(a: Tensor, d: Tensor, gain: Tensor, eps: float, with_bias: bool):
    """(da, dgain, dbias or None) of ``LN(a) * gain (+ bias)`` given d = dL/d(output); a, d (..., N)."""
    N = a.shape[-1]
    a2, d2 = a.reshape(-1, N), d.reshape(-1, N).contiguous()
    chunks = _chunks(a2.shape[0])
    da = torch.empty_like(d2)
    dgain = a2.new_zeros(chunks, N)
    dbias = a2.new_zeros(chunks, N) if with_bias else None
    _backward_rows(np_view(a2), np_view(d2), weight_view(gain), eps, np_view(da),
                   np_view(dgain), None if dbias is None else np_view(dbias), chunks)
    return da.view(d.shape), dgain.sum(0), None if dbias is None else dbias.sum(0)


__all__ = ["ln_forward", "ln_backward_all"]
