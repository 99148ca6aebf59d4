"""Bernoulli masks for training (dropout, variational dropout, zoneout), compiled and split across cores.

``torch.bernoulli`` / ``Tensor.bernoulli_`` on CPU (torch 2.13) draw about 10-20 ns an element on this
machine: the masks of one char-LM training step (zoneout on h and c of two 2 x 512 layers and two dropouts,
six (100, 32, 512) masks) took 14.5% of the step. Here a mask is one pass of integer arithmetic:

    element i of a call with seed s is ``value`` if ``mix(s + (i + 1) * 0x9E3779B97F4A7C15) < p * 2**32``,
    else 0, where ``mix`` is SplitMix64's finaliser (its top 32 bits compared).

Counter-based, so each element depends only on (seed, i): the result does not depend on the number of
threads or their scheduling. The seed is one int64 drawn per call from torch's default CPU generator, so
``torch.manual_seed`` makes a run repeatable and a checkpoint that saves torch's RNG state resumes it
exactly. ``p`` is resolved to 2**-32.

Tensors that are not float32/float64 on the CPU, and calls traced by ``torch.compile``, use
``torch.bernoulli`` instead (same distribution, different stream).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ..common import transformed

try:  # numba is a dependency, but a broken LLVM install should leave torch.bernoulli usable
    import numba

    from .jit import pjit
except ImportError:  # pragma: no cover - exercised only on a broken install
    numba = pjit = None

__all__ = ["bernoulli_mask", "compiled_for"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_CHUNK = 1 << 16                                   # elements per parallel task


def _fill(out, threshold, value, seed):
    n = out.size
    tasks = (n + _CHUNK - 1) // _CHUNK
    s30, s27, s31, s32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
    for c in numba.prange(tasks):
        start = c * _CHUNK
        stop = min(n, start + _CHUNK)
        z0 = seed + np.uint64(start + 1) * _GOLDEN
        for k in range(stop - start):
            z = z0 + np.uint64(k) * _GOLDEN
            z = (z ^ (z >> s30)) * _M1
            z = (z ^ (z >> s27)) * _M2
            z = z ^ (z >> s31)
            out[start + k] = value if (z >> s32) < threshold else 0


_fill = pjit(_fill) if pjit is not None else None


def compiled_for(like: Tensor) -> bool:
    """Whether masks like ``like`` (and dropout on it) are drawn by the compiled generator here: not under
    ``torch.compile``, nor under a torch.func transform (torch's generator then honours vmap's
    ``randomness``)."""
    return (_fill is not None and like.device.type == "cpu" and like.dtype in (torch.float32, torch.float64)
            and not torch.compiler.is_compiling() and not transformed((like,)))


def bernoulli_mask(shape: Sequence[int], p: float, value: float, like: Tensor) -> Tensor:
    """A new tensor of ``shape`` (``like``'s dtype and device) whose elements are ``value`` with
    probability ``p`` and 0 otherwise, independently.

    Args:
        shape: the mask's shape, any.
        p: probability of ``value``, in [0, 1].
        value: the kept elements' value (1 for a zoneout mask, 1 / (1 - rate) for a dropout mask).
        like: any tensor of the wanted dtype and device.

    Example::

        >>> import torch
        >>> from lstmkit.kernels.cpu.bernoulli import bernoulli_mask
        >>> _ = torch.manual_seed(0)
        >>> m = bernoulli_mask((1000, 100), 0.75, 2.0, torch.empty(0))
        >>> m.unique().tolist(), round(float((m > 0).float().mean()), 2)
        ([0.0, 2.0], 0.75)
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p is a probability and must be in [0, 1], got {p}")
    if not compiled_for(like):
        return torch.bernoulli(torch.full(tuple(shape), p, dtype=like.dtype, device=like.device)).mul_(value)
    out = torch.empty(tuple(shape), dtype=like.dtype)
    if out.numel():
        seed = int(torch.randint(-2 ** 63, 2 ** 63 - 1, (), dtype=torch.int64)) & (2 ** 64 - 1)
        threshold = min(int(round(p * 2 ** 32)), 2 ** 32)
        _fill(out.view(-1).numpy(), np.uint64(threshold), float(value), np.uint64(seed))
    return out
