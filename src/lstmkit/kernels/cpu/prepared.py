"""Weights prepared for a GEMM once per weight value, across inference calls.

The CPU kernels run their GEMMs on weights laid out for them: :func:`~.packed_gemm.pack`'s panels for the
compiled loops, oneDNN's blocked layout (``torch.ops.mkldnn._reorder_linear_weight``) for GEMMs called
from Python. Preparing costs a pass over the weight plus, for oneDNN, a fixed ~0.1 ms: measured on the
2-core AMD EPYC (Zen 4), 0.11 ms for a (256, 64) weight -- a tenth of a whole (1, 1000, 64, 64) LSTM
call -- and 2.3 ms for a (4096, 1024) one. A deployed model calls with the same weights every time, so an
inference call (nothing saved for a backward, :func:`reusing`) keeps what it prepared and the next call
takes it back if the weight has not changed.

"Not changed" is checked on the content, not trusted to torch's version counter: a write through
``.data`` or a numpy view of a parameter does not bump ``Tensor._version``. A cached entry is taken only
when the weight's address, shape, strides, dtype, version counter and a 64-bit fingerprint of its bytes
(:func:`fingerprint`, one streaming pass: ~40 GB/s, 0.4 ms for a 16 MB weight) all match. Training calls
never use the cache (their weights change every step, and training memory stays what it was).

The cache holds at most ``LSTMKIT_WEIGHT_CACHE_MB`` (default 256) MB of prepared weights, least recently
used first out; ``LSTMKIT_WEIGHT_CACHE_MB=0`` turns it off; :func:`clear` empties it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from typing import Callable, Iterator, Optional, TypeVar

import numpy as np
import torch
from torch import Tensor

from .jit import jit

__all__ = ["prepared", "reusing", "clear", "fingerprint", "fingerprint_of", "fingerprint_view", "limit_bytes", "source"]

V = TypeVar("V")

_LOCK = threading.Lock()
_CACHE: "OrderedDict[tuple, tuple]" = OrderedDict()      # key -> (version, fingerprint, value, nbytes)
_STATE = threading.local()                                # .on: this thread's kernel call may reuse


def limit_bytes() -> int:
    """The cache's size limit in bytes (``LSTMKIT_WEIGHT_CACHE_MB``, default 256; 0: off)."""
    raw = os.environ.get("LSTMKIT_WEIGHT_CACHE_MB", "256")
    try:
        mb = float(raw)
    except ValueError:
        raise ValueError(f"LSTMKIT_WEIGHT_CACHE_MB must be a number of megabytes, got {raw!r}") from None
    return max(int(mb * (1 << 20)), 0)


@contextlib.contextmanager
def reusing(on: bool = True) -> Iterator[None]:
    """Within this block (in this thread) :func:`prepared` keeps and reuses what it prepares."""
    before = getattr(_STATE, "on", False)
    _STATE.on = on
    try:
        yield
    finally:
        _STATE.on = before


def reuse_on() -> bool:
    """Whether this thread is inside :func:`reusing` (what :func:`prepared` prepares is then kept)."""
    return getattr(_STATE, "on", False)


@jit
def _fingerprint(v):
    s1 = np.uint64(0)
    s2 = np.uint64(0)
    for i in range(v.shape[0]):
        x = np.uint64(v[i])
        s1 += x                                          # the bits' sum ...
        s2 += x * np.uint64(i + 1)                       # ... and weighted by position (a swap shows)
    return s1 ^ (s2 * np.uint64(0x9E3779B97F4A7C15))


def fingerprint_view(t: Tensor) -> np.ndarray:
    """The flat view of a contiguous CPU tensor's bytes that :func:`fingerprint_of` reads (it shares the
    tensor's memory and keeps it alive)."""
    t = t.detach()
    raw = (t.numpy() if t.dtype in (torch.float32, torch.float64) else np.from_dlpack(t)).reshape(-1)
    return raw.view(np.uint32) if raw.nbytes % 4 == 0 else raw.view(np.uint8)


def fingerprint_of(view: np.ndarray) -> int:
    """:func:`fingerprint` of the tensor behind ``view`` (from :func:`fingerprint_view`), now."""
    return int(_fingerprint(view))


def fingerprint(t: Tensor) -> int:
    """A 64-bit fingerprint of a contiguous CPU tensor's bytes."""
    return fingerprint_of(fingerprint_view(t))


def source(w: Tensor) -> Optional[Tensor]:
    """The contiguous tensor whose bytes ``w`` shows (``w`` itself or its transpose), or None."""
    if w.is_contiguous():
        return w
    if w.dim() == 2 and w.t().is_contiguous():
        return w.t()
    return None


def prepared(kind: tuple, w: Tensor, make: Callable[[], V]) -> V:
    """``make()``, the prepared form of weight ``w`` (``kind`` names the preparation and its options); inside
    :func:`reusing`, the one kept from an earlier call when ``w`` still holds the same values."""
    src = source(w) if reuse_on() and w.device.type == "cpu" else None
    limit = limit_bytes() if src is not None else 0
    if src is None or limit == 0:
        return make()
    key = (kind, src.data_ptr(), tuple(w.shape), tuple(w.stride()), w.dtype)
    version, fp = src._version, fingerprint(src)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == version and hit[1] == fp:
            _CACHE.move_to_end(key)
            return hit[2]
    value = make()
    nbytes = w.numel() * w.element_size()
    if nbytes <= limit:
        with _LOCK:
            _CACHE[key] = (version, fp, value, nbytes)
            _CACHE.move_to_end(key)
            total = sum(e[3] for e in _CACHE.values())
            while total > limit:
                total -= _CACHE.popitem(last=False)[1][3]
    return value


def clear() -> None:
    """Forget every prepared weight."""
    with _LOCK:
        _CACHE.clear()


def size() -> tuple[int, int]:
    """(entries, bytes of the weights they were prepared from)."""
    with _LOCK:
        return len(_CACHE), sum(e[3] for e in _CACHE.values())
