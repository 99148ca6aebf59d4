"""The compiled Bernoulli masks (lstmkit.kernels.cpu.bernoulli): the distribution, independence of
neighbouring elements, repeatability under torch.manual_seed, independence from the thread count, and
the torch fallback."""

from __future__ import annotations

import math

import numba
import pytest
import torch

from lstmkit.kernels.cpu import bernoulli
from lstmkit.kernels.cpu.bernoulli import bernoulli_mask

N = 1 << 20


@pytest.mark.parametrize("p", [0.02, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values_and_frequency(p, dtype):
    torch.manual_seed(1)
    m = bernoulli_mask((N // 64, 64), p, 1.5, torch.empty(0, dtype=dtype))
    assert m.dtype == dtype and m.shape == (N // 64, 64)
    assert set(m.unique().tolist()) <= {0.0, 1.5}
    freq = float((m != 0).double().mean())
    assert abs(freq - p) < 5 * math.sqrt(p * (1 - p) / N)      # 5 standard deviations


def test_neighbours_and_chunk_borders_are_independent():
    torch.manual_seed(2)
    m = (bernoulli_mask((3 * (1 << 16) + 5,), 0.5, 1.0, torch.empty(0)) != 0).double()
    n = m.numel()
    for lag in (1, 2, 7, 1 << 16):                   # incl. the same offset in the next parallel chunk
        pair = float((m[:-lag] * m[lag:]).mean())
        assert abs(pair - 0.25) < 5 * math.sqrt(0.25 * 0.75 / (n - lag))
    bits = m[: (n // 8) * 8].view(-1, 8)             # 8-element patterns are uniform (chi-square, 255 dof)
    codes = (bits * (2 ** torch.arange(8, dtype=torch.float64))).sum(1).long()
    counts = torch.bincount(codes, minlength=256).double()
    expected = codes.numel() / 256
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 255 + 6 * math.sqrt(2 * 255)


def test_repeatable_under_manual_seed_and_fresh_per_call():
    like = torch.empty(0)
    torch.manual_seed(3)
    a, b = bernoulli_mask((999, 7), 0.3, 1.0, like), bernoulli_mask((999, 7), 0.3, 1.0, like)
    torch.manual_seed(3)
    assert torch.equal(a, bernoulli_mask((999, 7), 0.3, 1.0, like))
    assert not torch.equal(a, b)


def test_the_result_does_not_depend_on_the_thread_count():
    before = numba.get_num_threads()
    try:
        out = []
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            torch.manual_seed(4)
            out.append(bernoulli_mask((5, 100_003), 0.6, 2.0, torch.empty(0)))
    finally:
        numba.set_num_threads(before)
    assert torch.equal(out[0], out[1])


def test_edges_and_fallback(monkeypatch):
    like = torch.empty(0)
    assert torch.equal(bernoulli_mask((4, 5), 1.0, 3.0, like), torch.full((4, 5), 3.0))
    assert torch.equal(bernoulli_mask((4, 5), 0.0, 3.0, like), torch.zeros(4, 5))
    assert bernoulli_mask((0, 5), 0.5, 1.0, like).shape == (0, 5)
    with pytest.raises(ValueError, match=r"p is a probability and must be in \[0, 1\], got 1.5"):
        bernoulli_mask((2,), 1.5, 1.0, like)
    half = bernoulli_mask((1000, 100), 0.5, 1.0, torch.empty(0, dtype=torch.bfloat16))  # torch.bernoulli
    assert half.dtype == torch.bfloat16 and abs(float(half.float().mean()) - 0.5) < 0.01
    monkeypatch.setattr(bernoulli, "_fill", None)                                   # no numba
    m = bernoulli_mask((1000, 100), 0.25, 4.0, like)
    assert set(m.unique().tolist()) == {0.0, 4.0} and abs(float((m != 0).float().mean()) - 0.25) < 0.01
