"""Whether Triton can run a call, and the pieces every Triton kernel module shares.

Triton is optional (``pip install 'lstmkit[gpu]'``). Its kernels run on CUDA tensors, and on CPU tensors
under Triton's interpreter (``TRITON_INTERPRET=1`` set before :mod:`triton` is first imported), which is how
CI tests them without a GPU. The kernel modules (:mod:`.lstm`, :mod:`.gru`, :mod:`.rnn`) import triton at
their top, so they are imported only through :func:`family_module`, never by ``import lstmkit``.

Interpreter facts the kernels respect: ``tl.dot`` is exact float32 there (the GPU's default is tf32, so the
kernels leave GEMMs to torch); ``libdevice.tanh`` fails there, so :func:`tanh` is 2 sigmoid(2x) - 1.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from functools import lru_cache
from typing import Optional

import torch

#: the dtypes the Triton kernels run (the cell state is carried in float32 inside a step either way)
DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def interpreting() -> bool:
    """Whether Triton runs kernels in its interpreter (CPU tensors) rather than compiling them for a GPU."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


@lru_cache(maxsize=None)
def triton_missing() -> Optional[str]:
    """None when triton can be imported, else why not."""
    if importlib.util.find_spec("triton") is None:
        return "triton is not installed (pip install 'lstmkit[gpu]')"
    try:
        importlib.import_module("triton")
    except Exception as e:  # pragma: no cover - a broken install
        return f"triton failed to import ({type(e).__name__}: {e})"
    return None


def unsupported_device(x: torch.Tensor) -> Optional[str]:
    """None if a Triton kernel can run on ``x``'s device and dtype, else the reason."""
    missing = triton_missing()
    if missing:
        return missing
    if x.device.type == "cpu" and not interpreting():
        return "CPU tensors run Triton kernels only in its interpreter (TRITON_INTERPRET=1 before triton is imported)"
    if x.device.type not in ("cuda", "cpu"):
        return f"Triton kernels run on CUDA tensors, got {x.device.type}"
    if x.dtype not in DTYPES:
        return f"Triton kernels run float32, float16 and bfloat16, got {x.dtype}"
    return None


def family_module(family: str):
    """The Triton kernel module of a cell family (imports triton)."""
    return importlib.import_module(f"{__package__}.{family}")


def block_for(n: int, cap: int = 1024) -> int:
    """A power-of-two block covering ``n`` columns, at most ``cap`` (and at least 16)."""
    b = 16
    while b < n and b < cap:
        b *= 2
    return b


def zone_strides(z) -> tuple[int, int]:
    """(batch, column) strides of one step of a zoneout mask (T, B, N), (0, 0) when there is none: an
    evaluation mask is an ``expand``-ed constant with stride 0."""
    return (0, 0) if z is None else (z.stride(1), z.stride(2))
