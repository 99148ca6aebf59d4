"""The layers' step API (streaming): layer.step against whole-sequence runs."""

from __future__ import annotations

import pytest
import torch
import lstmkit
from helpers import assert_close, tuned


STEP_CASES = [(lstmkit.LSTM, {}),
              (lstmkit.LSTM, {"proj_size": 3, "peephole": True, "layer_norm": True}),
              (lstmkit.LSTM, {"cifg": True, "bias": False, "zoneout_h": 0.2, "zoneout_c": 0.4}),
              (lstmkit.GRU, {}), (lstmkit.GRU, {"reset_before": True, "zoneout": 0.3}),
              (lstmkit.RNN, {}), (lstmkit.RNN, {"nonlinearity": "relu", "bias": False})]


@pytest.mark.parametrize("cls,kw", STEP_CASES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("grad,blas_rows", [(True, 8), (False, 8), (False, 1)], ids=["grad", "no_grad", "no_grad_blas"])
def test_layer_step_equals_forward(cls, kw, batch_first, grad, blas_rows, monkeypatch):
    """With gradients the step runs the differentiable path; under no_grad the compiled single step, its
    products as dot products (3 rows) or, when the rows reach ``step_blas_min_rows``, the BLAS's GEMM."""
    tuned(monkeypatch, step_blas_min_rows=blas_rows)
    layer = cls(5, 6, num_layers=2, batch_first=batch_first, dtype=torch.float64, **kw).eval()
    x = torch.randn(8, 3, 5, dtype=torch.float64)
    with torch.set_grad_enabled(grad):
        y_seq, st_seq = layer(x.transpose(0, 1) if batch_first else x)
        state = layer.init_state(3)
        ys = []
        for x_t in x:
            y_t, state = layer.step(x_t, state)
            ys.append(y_t)
    assert_close(torch.stack(ys, 1 if batch_first else 0), y_seq, torch.float64, "outputs")
    as_tuple = lambda s: s if isinstance(s, tuple) else (s,)   # noqa: E731
    for a, b in zip(as_tuple(state), as_tuple(st_seq)):
        assert_close(a, b, torch.float64, "state")
    assert y_t.requires_grad == grad


def test_step_in_training_with_sampling_takes_the_sequence_path():
    layer = lstmkit.LSTM(5, 6, zoneout_c=0.5)                       # training mode: masks are sampled
    with torch.no_grad():
        assert not layer._fast_step_ok(torch.randn(2, 5), None)
        assert layer.eval()._fast_step_ok(torch.randn(2, 5), None)  # evaluation: the expectation, compiled
    assert not layer._fast_step_ok(torch.randn(2, 5), None)        # gradients wanted: differentiable path


def test_layer_step_unbatched_and_zoneout_eval():
    layer = lstmkit.LSTM(5, 6, zoneout_h=0.3, zoneout_c=0.5, dtype=torch.float64).eval()
    x = torch.randn(4, 5, dtype=torch.float64)
    y_seq, (h, c) = layer(x)
    state = None
    for x_t in x:
        y_t, state = layer.step(x_t, state)
    assert y_t.shape == (6,)
    assert_close(y_t, y_seq[-1], torch.float64, "last output")
    assert_close(state[1], c, torch.float64, "cell state")
