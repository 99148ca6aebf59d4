"""sigmoid and tanh for compiled loops, and the derivative identities the backward uses.

numba's SVML is off here, so a call to libm's ``tanhf``/``expf`` in a loop stays scalar. For float32 we
use a rational approximation of tanh (the minimax form used by Eigen and XLA; max error 3.3e-7 over the
real line, about 5 ulp near ±1; checked in the tests) built only from multiply, add, divide and clamps, which LLVM turns
into AVX2/AVX-512 code. For float64 we call libm, exactly: float64 is the precision of the parity
tests, not of speed.

Cost. In a cell these loops are bound by the two FMA pipes and by the length of each element's chain of
dependent operations, not by the division. So the polynomials are evaluated in Estrin's form (three levels
of FMA instead of six in a row), and the float32 sigmoid is the same rational function with the 1/2 inside
and outside folded into its coefficients: sigmoid(x) = 1/2 + x P'(x^2) / Q'(x^2), P'(y) = P(y/4) / 4,
Q'(y) = Q(y/4). Measured on a Zen 3 core (10240 elements, AVX2): sigmoid 6.0 -> 4.8 us, tanh 5.0 -> 4.6 us,
the same maximum error (``benchmarks`` history: docs/performance.md, "seventh session").
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.extending import overload

from .jit import jit_inline

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


def _folded_sigmoid_coefficients():
    """P' and Q' of the module docstring: the tanh coefficients with v = x / 2 and the outer 1/2 folded in."""
    p = tuple(_P[k] / 4.0 ** (len(_P) - 1 - k) / 4.0 for k in range(len(_P)))
    q = tuple(_Q[k] / 4.0 ** (len(_Q) - 1 - k) for k in range(len(_Q)))
    return p, q


_SP, _SQ = _folded_sigmoid_coefficients()


def as_type_of(x, ref):
    """``x`` as a float of ``ref``'s type, in compiled code. numba types Python float literals and
    int / int as float64, and float32 op float64 gives float64, so a float32 loop that mixes them runs
    in float64 and at half the vector width or scalar; converting the constants once keeps it float32."""
    return float(x)


def _is_f32(x) -> bool:
    return isinstance(x, numba.types.Float) and x.bitwidth == 32


@jit_inline
def _estrin7(y, a0, a1, a2, a3, a4, a5, a6):
    """a0 y^6 + a1 y^5 + ... + a6, as three levels of FMA (Estrin's scheme)."""
    y2 = y * y
    return (a0 * y2 + (a1 * y + a2)) * (y2 * y2) + ((a3 * y + a4) * y2 + (a5 * y + a6))


@jit_inline
def _estrin4(y, a0, a1, a2, a3):
    """a0 y^3 + a1 y^2 + a2 y + a3 (Estrin's scheme)."""
    return (a0 * y + a1) * (y * y) + (a2 * y + a3)


@overload(tanh, inline="always", fastmath=True)
def _tanh(x):
    if _is_f32(x):
        c, p0, p1, p2, p3, p4, p5, p6 = (np.float32(v) for v in (_CLAMP,) + _P)
        q0, q1, q2, q3 = (np.float32(v) for v in _Q)

        def impl(x):
            x = min(max(x, -c), c)
            return x * _estrin7(x * x, p0, p1, p2, p3, p4, p5, p6) / _estrin4(x * x, q0, q1, q2, q3)
        return impl

    def impl(x):
        return math.tanh(x)
    return impl


@overload(sigmoid, inline="always", fastmath=True)
def _sigmoid(x):
    if _is_f32(x):
        half, c = np.float32(0.5), np.float32(2 * _CLAMP)
        p0, p1, p2, p3, p4, p5, p6 = (np.float32(v) for v in _SP)
        q0, q1, q2, q3 = (np.float32(v) for v in _SQ)

        def impl(x):                                   # 1/2 + 1/2 tanh(x / 2), constants folded
            x = min(max(x, -c), c)
            return half + x * _estrin7(x * x, p0, p1, p2, p3, p4, p5, p6) / _estrin4(x * x, q0, q1, q2, q3)
        return impl

    def impl(x):
        return 1.0 / (1.0 + math.exp(-x))
    return impl


@overload(as_type_of, inline="always")
def _as_type_of(x, ref):
    if _is_f32(ref):
        return lambda x, ref: np.float32(x)
    return lambda x, ref: np.float64(x)
