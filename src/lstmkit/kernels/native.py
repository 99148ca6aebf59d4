"""torch's own native library, for the symbols it exports that lstmkit calls directly:
and the OpenMP and MKL thread controls (:mod:`.concurrent`)."""

from __future__ import annotations

import ctypes
import functools
import os
from typing import Optional

import torch

__all__ = ["torch_cpu_library"]


@functools.lru_cache(maxsize=None)
def torch_cpu_library() -> Optional[ctypes.CDLL]:
    """The loaded ``libtorch_cpu`` (a symbol looked up on it is also found in the libraries it links, such
    as torch's OpenMP runtime), or None for a torch laid out otherwise."""
    try:
        return ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
    except OSError:  # pragma: no cover - other torch layouts
        return None
