"""The compiled loops' GEMM (lstmkit.kernels.cpu.packed_gemm): out[:n, :N] = a[:n] @ W (+ bias) from a
weight packed once, against numpy, for every row-block and column-panel tail, strided operands, and
nothing written outside out[:n, :N]."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.kernels.cpu.packed_gemm import GP, MR, NR, gemm_packed, gemm_packed_order, pack
from lstmkit.kernels.cpu.jit import jit


@jit
def _call(n, a, wp, N, out, bias):
    gemm_packed(n, a, wp, N, out, bias)


@jit
def _call_order(n, a, wp, N, out, bias, rev):
    gemm_packed_order(n, a, wp, N, out, bias, rev)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reversed_panel_order_gives_the_same_bits(dtype):
    """The time loops alternate the panel order step by step (``gemm_packed_order``): the same tiles
    last to first, so the same result to the bit, for GEMV (groups of GP panels and the single ones left)
    and GEMM row blocks alike."""
    rng = np.random.default_rng(1)
    for K in (1, 64):
        for N in (5, NR, GP * NR, GP * NR + 1, 11 * NR - 3, 256):
            w = rng.standard_normal((K, N)).astype(dtype)
            wp = pack(w)
            bias = rng.standard_normal(N).astype(dtype)
            for n in (1, 2, MR + 1):
                a = rng.standard_normal((n, K)).astype(dtype)
                fwd, rev = np.full((n, N), 7.0, dtype), np.full((n, N), 7.0, dtype)
                _call_order(n, a, wp, N, fwd, bias, 0)
                _call_order(n, a, wp, N, rev, bias, 1)
                assert np.array_equal(fwd, rev), (K, N, n)
                assert np.abs(fwd - (a @ w + bias)).max() <= 1e-4 * K


@pytest.mark.parametrize("dtype, with_bias", [(np.float32, True), (np.float64, False)])
def test_packed_gemm_matches_numpy(dtype, with_bias):
    rng = np.random.default_rng(0)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for K in (0, 1, 5, 67):
        for N in (1, 7, NR, NR + 1, 3 * NR + 5, 100):
            w = rng.standard_normal((K, N)).astype(dtype)
            wp = pack(w)
            assert wp.shape == (-(-N // NR), K, NR)
            bias = rng.standard_normal(N).astype(dtype) if with_bias else None
            for n in (1, 2, 3, MR, MR + 3, 2 * MR + 1):
                big_a = rng.standard_normal((n + 2, K + 3)).astype(dtype)
                a = big_a[1:, 2:2 + K]                       # rows with a longer stride than K
                big_out = np.full((n + 3, N + 5), 7.0, dtype)
                out = big_out[1:, 2:2 + N]
                _call(n, a, wp, N, out, bias)
                want = a[:n] @ w + (0 if bias is None else bias)
                scale = 1 + np.abs(want).max(initial=0)
                assert np.abs(out[:n] - want).max(initial=0) <= tol * scale * max(K, 1), (K, N, n)
                untouched = big_out.copy()
                untouched[1:1 + n, 2:2 + N] = 7.0
                assert (untouched == 7.0).all(), (K, N, n)   # nothing beyond out[:n, :N]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pack_of_a_transposed_weight_equals_pack_of_a_copy(dtype):
    """pack reads a column-major weight (a transposed parameter) down its columns: the same panels."""
    rng = np.random.default_rng(1)
    for K, N in ((1, 1), (5, NR + 3), (67, 3 * NR + 5)):
        w_t = rng.standard_normal((N, K)).astype(dtype).T          # (K, N), column-major
        assert np.array_equal(pack(w_t), pack(np.ascontiguousarray(w_t)))
