"""The GEMMs of the CPU kernels, through the fastest route torch offers for each shape.

Measured on the 2-core AMD EPYC (Zen 4) this project runs on, single thread, float32:
oneDNN's matmul (the primitive torch.nn.LSTM's oneDNN path and inductor's weight prepacking use) beats
MKL's sgemm by 1.15-1.7x for per-step shapes such as (64, 256) x (256, 1024) and for the input
projection over all steps, once the weight is reordered into oneDNN's blocked layout (done once per
call, reused for every step). MKL stays faster for tiny GEMMs (one row: 2.6 us against 16 us), for
reductions over all steps (dW = sum_t d_t^T x_t), and it is the only route for float64.

oneDNN is reached through ``torch.ops.mkldnn._reorder_linear_weight`` / ``_linear_pointwise``, which a
CPU build of torch with oneDNN has; where they are missing everything goes through ``torch.mm``.

Mixed precision (backend ``"cpu-bf16"``): inside :func:`bfloat16_gemms` the large float32 GEMMs take
bfloat16 operands and return float32 (rounded from bfloat16 products accumulated in float32 by
oneDNN/MKL), as ``torch.autocast`` does for matmuls; biases, the cell state and every pointwise step stay
float32. On this Zen 4 (AVX512-BF16) one recurrent step (32, 512) x (512, 2048) takes 195 us against
323 us, the input projection of a 32 x 100 batch 17.7 ms against 31 ms. GEMMs below
the oneDNN threshold (:attr:`lstmkit.kernels.dispatch.Tuning.onednn_min_macs`) stay float32: they are bound by call overhead, not arithmetic.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator, Optional

import numpy as np
import torch
from torch import Tensor

from .. import dispatch
from .jit import jit
from .packed_gemm import gemm_packed, pack
from .plan import weight_view
from .prepared import prepared, reuse_on


def _onednn_available() -> bool:
    try:
        return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise") \
            and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        return False


def _onednn_bf16_available() -> bool:
    """Whether oneDNN's matmul takes bfloat16 operands on this CPU (it needs AVX512-BF16, AVX512BW/VL/DQ or
    AVX-NE-CONVERT; elsewhere bfloat16 GEMMs go through torch.mm)."""
    try:
        return ONEDNN and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without the query
        return False


ONEDNN = _onednn_available()
ONEDNN_BF16 = _onednn_bf16_available()


def onednn_takes(dtype: torch.dtype) -> bool:
    """Whether oneDNN's matmul runs GEMMs on ``dtype`` here (float32; bfloat16 where the CPU has it)."""
    return ONEDNN and (dtype == torch.float32 or (dtype == torch.bfloat16 and ONEDNN_BF16))

_BF16 = contextvars.ContextVar("lstmkit_bf16_gemms", default=False)


@contextlib.contextmanager
def bfloat16_gemms(enabled: bool = True) -> Iterator[None]:
    """Within this block the large float32 GEMMs of the CPU kernels run on bfloat16 operands (see the
    module docstring); float64 is never lowered."""
    token = _BF16.set(enabled)
    try:
        yield
    finally:
        _BF16.reset(token)


def _lowered(t: Tensor, macs: int) -> bool:
    """Whether a GEMM of ``macs`` multiply-adds on ``t``'s dtype runs in bfloat16 here."""
    return _BF16.get() and t.dtype == torch.float32 and macs >= dispatch.tuning().onednn_min_macs


def packed(w: Optional[Tensor]):
    """A weight (K, N) as the compiled loops' GEMM takes it (:func:`~lstmkit.kernels.cpu.packed_gemm.pack`,
    once per call, or kept across inference calls: :mod:`.prepared`); None stays None."""
    return None if w is None else prepared(("packed",), w, lambda: pack(weight_view(w)))


@jit
def _packed_linear(a, wp, N, out, bias):
    gemm_packed(a.shape[0], a, wp, N, out, bias)


class Linear:
    """y = a @ W^T + bias for one weight W (N, K) applied to many inputs (every step of a sequence).

    ``rows`` is the typical number of rows of ``a`` (used to choose the route, :func:`~lstmkit.kernels.
    dispatch.gemm`, and to pack W); ``threads``: the threads the caller's part runs on, when it is one part
    of a call shared out (then, on one thread and from :attr:`~lstmkit.kernels.dispatch.Tuning.
    packed_projection_min_k` inputs, the compiled packed GEMM runs it: :func:`~lstmkit.kernels.dispatch.
    packed_projection`); ``force_mm`` / ``force_onednn`` / ``force_packed`` take one route (for
    measurements). ``kept``: the caller keeps this Linear for many calls (an inference program's), so
    preparing the weight is paid once; otherwise, unless the weight cache keeps it (:func:`.prepared.
    reusing`), a part run side by side takes its own oneDNN/MKL crossover (:func:`~lstmkit.kernels.
    dispatch.gemm`), the packing being part of every call.
    """

    def __init__(self, w: Tensor, rows: int, bias: Optional[Tensor] = None, force_mm: bool = False,
                 force_onednn: bool = False, threads: Optional[int] = None, force_packed: bool = False,
                 kept: bool = False) -> None:
        self.w = w.detach()
        self.bias = None if bias is None else bias.detach()
        n, k = self.w.shape
        self.bf16 = _lowered(self.w, rows * n * k)
        one_thread = threads is not None and not (force_mm or force_onednn) and \
            dispatch.packed_projection(k, threads, self.w.dtype)
        self.packed_gemm = (force_packed or one_thread) and not self.bf16 and w.device.type == "cpu"
        if self.packed_gemm:
            self.wp = packed(self.w.t())                              # (N, K) -> the loops' (K, N) panels
            self.bias_np = None if self.bias is None else self.bias.contiguous().numpy()
            return
        if self.bf16:
            self.w = self.w.to(torch.bfloat16)
        part = None if kept or reuse_on() else dispatch.part_share()         # packed in every call?
        self.onednn = not force_mm and (force_onednn or dispatch.gemm(rows, n, k, self.w.dtype,
                                                                     onednn_takes(self.w.dtype), part) == "onednn")
        if self.onednn:
            hint = 1 << max(rows - 1, 0).bit_length()                # rows rounded up to a power of two
            reorder = torch.ops.mkldnn._reorder_linear_weight
            self.packed = reorder(self.w.contiguous(), hint) if self.bf16 else \
                prepared(("onednn", hint), self.w, lambda: reorder(self.w.contiguous(), hint))
        else:
            self.wt = self.w.t()

    def __call__(self, a: Tensor) -> Tensor:
        """(M, K) -> (M, N), a new tensor (of ``a``'s dtype)."""
        if self.packed_gemm:
            a_np = (a if a.stride(-1) == 1 else a.contiguous()).detach().numpy()
            out = np.empty((a_np.shape[0], self.w.shape[0]), a_np.dtype)
            _packed_linear(a_np, self.wp, out.shape[1], out, self.bias_np)
            return torch.from_numpy(out)
        if self.bf16:
            out = self._gemm(a.to(torch.bfloat16), None).float()
            return out if self.bias is None else out.add_(self.bias)
        return self._gemm(a, self.bias)

    def _gemm(self, a: Tensor, bias: Optional[Tensor]) -> Tensor:
        if self.onednn:
            return torch.ops.mkldnn._linear_pointwise(a, self.packed, bias, "none", [None], "")
        if bias is None:
            return torch.mm(a, self.wt)
        return torch.addmm(bias, a, self.wt)


def project_seq(lin: Linear, xd: Tensor) -> Tensor:
    """W x_t (+ bias) for every step of a (t, n, K) sequence at once: (t, n, N), one GEMM."""
    return lin(xd.reshape(-1, xd.shape[2])).view(xd.shape[0], xd.shape[1], -1)


def project_all(xd: Tensor, w: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """W x_t (+ bias) for every step at once: (T, B, I) -> (T, B, N), one GEMM."""
    return project_seq(Linear(w, xd.shape[0] * xd.shape[1], bias), xd)


def backproject_all(d: Tensor, w: Tensor) -> Tensor:
    """d_t W for every step at once (dx from dL/d(W x_t)): (T, B, N), W (N, K) -> (T, B, K)."""
    T, B, _ = d.shape
    return Linear(w.t(), T * B)(d.reshape(T * B, -1)).view(T, B, -1)


def gemm_grad(d_out: Tensor, inp: Tensor, add: Optional[Tensor] = None) -> Tensor:
    """sum_t d_out_t^T inp_t over all T*B rows (+ ``add``): (T, B, N), (T, B, K) -> (N, K) (MKL: a long
    reduction)."""
    d2, i2 = d_out.reshape(-1, d_out.shape[-1]), inp.reshape(-1, inp.shape[-1])
    if _lowered(d2, d2.shape[0] * d2.shape[1] * i2.shape[1]):
        out = (d2.to(torch.bfloat16).t() @ i2.to(torch.bfloat16)).float()
        return out if add is None else out.add_(add)
    return d2.t() @ i2 if add is None else torch.addmm(add, d2.t(), i2)
