"""sigmoid and tanh for compiled loops, and the derivative identities the backward uses.

numba's SVML is off here, so a call to libm's ``tanhf``/``expf`` in a loop stays scalar. For float32 we
use a rational approximation of tanh (the minimax form used by Eigen and XLA; max error 3.3e-7 over the
real line, about 5 ulp near ±1; checked in the tests) built only from multiply, add, divide and clamps, which LLVM turns
into AVX2/AVX-512 code. For float64 we call libm, exactly: float64 is the precision of the parity
tests, not of speed.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.extending import overload

__all__ = ["tanh", "sigmoid", "as_type_of"]

_CLAMP = 7.90531110763549805
_P = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
      1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03)
_Q = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)


def tanh(x):
    """tanh(x) in compiled code (float32: rational approximation; float64: libm)."""
    return math.tanh(x)


def sigmoid(x):
    """1 / (1 + exp(-x)) in compiled code (float32: 0.5 + 0.5 tanh(x/2); float64: libm exp)."""
    return 1.0 / (1.0 + math.exp(-x))


def as_type_of(x, ref):
    """``x`` as a float of ``ref``'s type, in compiled code. numba types Python float literals and
    int / int as float64, and float32 op float64 gives float64, so a float32 loop that mixes them runs
    in float64 and at half the vector width or scalar; converting the constants once keeps it float32."""
    return float(x)


def _is_f32(x) -> bool:
    return isinstance(x, numba.types.Float) and x.bitwidth == 32


@overload(tanh, inline="always", fastmath=True)
def _tanh(x):
    if _is_f32(x):
        c, p0, p1, p2, p3, p4, p5, p6 = (np.float32(v) for v in (_CLAMP,) + _P)
        q0, q1, q2, q3 = (np.float32(v) for v in _Q)

        def impl(x):
            x = min(max(x, -c), c)
            x2 = x * x
            p = ((((((p0 * x2 + p1) * x2 + p2) * x2 + p3) * x2 + p4) * x2 + p5) * x2 + p6)
            q = (((q0 * x2 + q1) * x2 + q2) * x2 + q3)
            return x * p / q
        return impl

    def impl(x):
        return math.tanh(x)
    return impl


@overload(sigmoid, inline="always", fastmath=True)
def _sigmoid(x):
    if _is_f32(x):
        half = np.float32(0.5)

        def impl(x):
            return half + half * tanh(half * x)
        return impl

    def impl(x):
        return 1.0 / (1.0 + math.exp(-x))
    return impl


@overload(as_type_of, inline="always")
def _as_type_of(x, ref):
    if _is_f32(ref):
        return lambda x, ref: np.float32(x)
    return lambda x, ref: np.float64(x)
