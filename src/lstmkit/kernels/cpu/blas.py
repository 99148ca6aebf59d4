"""BLAS GEMMs callable from compiled loops: MKL's ``sgemm_`` / ``dgemm_`` as exported by torch's CPU build.

The fused whole-sequence loops (:mod:`.fused`) keep the time loop in compiled code; with this module their
per-step GEMM is MKL's (the same library ``torch.mm`` runs on), called through its address, so the loop
never returns to Python and the GEMM still runs at the machine's speed. Where the symbols are missing (a
torch build without MKL) or fail a check on a small product at import, or with ``LSTMKIT_NO_BLAS_LOOPS=1``
in the environment, :data:`ADDRESSES` is ``(0, 0)`` and the loops fall back to their own row-GEMM.

The addresses are runtime arguments of the compiled functions, never baked into them, so the functions
stay cacheable on disk (a function that names a ctypes function is not).
"""

from __future__ import annotations

import ctypes
import os

from llvmlite import ir
from numba import types
from numba.core.extending import intrinsic

from ..native import torch_cpu_library
from .jit import jit_inline

__all__ = ["ADDRESSES", "gemm_rows"]


def _addresses() -> tuple[int, int]:
    """(sgemm_, dgemm_) addresses in the loaded libtorch_cpu, or (0, 0); each checked on a small product."""
    if os.environ.get("LSTMKIT_NO_BLAS_LOOPS"):
        return 0, 0
    import numpy as np
    lib = torch_cpu_library()
    try:
        fns = [getattr(lib, name) for name in ("sgemm_", "dgemm_")]
    except AttributeError:  # pragma: no cover - builds without MKL's BLAS symbols (or no library found)
        return 0, 0
    out = []
    for fn, dtype, real in zip(fns, (np.float32, np.float64), (ctypes.c_float, ctypes.c_double)):
        a = np.arange(6, dtype=dtype).reshape(2, 3)
        b = np.arange(12, dtype=dtype).reshape(3, 4) - 5
        c = np.zeros((2, 4), dtype)
        i = [ctypes.byref(ctypes.c_int(v)) for v in (4, 2, 3, 4, 3, 4)]   # n, m, k, ldb, lda, ldc (32-bit, as ATen)
        trans = ctypes.c_char(b"N")
        fn(ctypes.byref(trans), ctypes.byref(trans), i[0], i[1], i[2], ctypes.byref(real(1.0)),
           ctypes.c_void_p(b.ctypes.data), i[3], ctypes.c_void_p(a.ctypes.data), i[4], ctypes.byref(real(0.0)),
           ctypes.c_void_p(c.ctypes.data), i[5])
        ok = np.array_equal(c, a @ b)
        out.append((ctypes.cast(fn, ctypes.c_void_p).value or 0) if ok else 0)
    return out[0], out[1]


#: (float32, float64) GEMM entry points for the compiled loops; 0 where there is none
ADDRESSES: tuple[int, int] = _addresses()


@intrinsic
def _fortran_gemm(typingctx, fptr, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """``?gemm_('N', 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)`` (column-major, Fortran calling
    convention: every argument by address) for the function at ``fptr``; a, b, c are data addresses."""
    sig = types.void(fptr, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        real = context.get_value_type(signature.args[4])
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = builder.inttoptr(args[0], ir.FunctionType(ir.VoidType(), [i8p] * 13).as_pointer())

        def by_address(value, ty):
            with builder.goto_entry_block():
                slot = builder.alloca(ty)
            if isinstance(ty, ir.IntType) and value.type != ty:
                value = builder.trunc(value, ty)
            builder.store(value, slot)
            return builder.bitcast(slot, i8p)

        no_trans = ir.Constant(ir.IntType(8), ord("N"))
        _, m_, n_, k_, alpha_, a_, lda_, b_, ldb_, beta_, c_, ldc_ = args
        builder.call(fn, [by_address(no_trans, ir.IntType(8)), by_address(no_trans, ir.IntType(8)),
                          by_address(m_, i32), by_address(n_, i32), by_address(k_, i32), by_address(alpha_, real),
                          builder.inttoptr(a_, i8p), by_address(lda_, i32), builder.inttoptr(b_, i8p),
                          by_address(ldb_, i32), by_address(beta_, real), builder.inttoptr(c_, i8p),
                          by_address(ldc_, i32)])
        return context.get_dummy_value()

    return sig, codegen


@jit_inline
def _row_stride(x):
    return x.strides[0] // x.itemsize


@jit_inline
def gemm_rows(blas, n, a, w, out, bias):
    """out[:n] = a[:n] @ w (+ bias): a (B, K), w (K, N), out (B, N), each row-major with unit column stride
    (row strides free). ``blas`` is :data:`ADDRESSES` (or (0, 0) for the loop's own row-GEMM, vectorised
    over the output's columns: faster for a single row)."""
    K, N = w.shape
    fptr = blas[0] if a.itemsize == 4 else blas[1]
    if fptr != 0 and n > 1:
        beta = 0.0
        if bias is not None:
            for b in range(n):
                out[b, :] = bias
            beta = 1.0
        # row-major out = a @ w is column-major out^T = w^T a^T
        _fortran_gemm(fptr, N, n, K, a.dtype.type(1.0), w.ctypes.data, _row_stride(w), a.ctypes.data,
                      _row_stride(a), a.dtype.type(beta), out.ctypes.data, _row_stride(out))
        return
    for b in range(n):
        o = out[b]
        if bias is None:
            for j in range(N):
                o[j] = 0.0
        else:
            for j in range(N):
                o[j] = bias[j]
        for k in range(K):
            av = a[b, k]
            wk = w[k]
            for j in range(N):
                o[j] += av * wk[j]

