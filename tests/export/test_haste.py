"""lstmkit.export.haste: haste (lmnt-com/haste) LSTM and GRU weights in and out, checked against a NumPy
implementation of haste's equations (its PyTorch LSTMScript / GRUScript: gates i|g|f|o and z|r|h)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import lstmkit

B, T, I, H = 2, 5, 3, 4


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def haste_lstm(x, kernel, recurrent_kernel, bias):
    """haste's LSTM, time-major x (T, B, I): v = x K + h R + b split i|g|f|o; c = f c + i g; h = o tanh(c)."""
    h = np.zeros((x.shape[1], recurrent_kernel.shape[0]))
    c = np.zeros_like(h)
    out = []
    for t in range(x.shape[0]):
        v = x[t] @ kernel + h @ recurrent_kernel + bias
        i, g, f, o = np.split(v, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out), h, c


def haste_gru(x, kernel, recurrent_kernel, bias, recurrent_bias):
    """haste's GRU: z|r|h blocks; g = tanh(x K_h + b_h + r * (h R_h + rb_h)); h = z h + (1 - z) g."""
    h = np.zeros((x.shape[1], recurrent_kernel.shape[0]))
    out = []
    for t in range(x.shape[0]):
        vx = np.split(x[t] @ kernel + bias, 3, axis=-1)
        vh = np.split(h @ recurrent_kernel + recurrent_bias, 3, axis=-1)
        z, r = sigmoid(vx[0] + vh[0]), sigmoid(vx[1] + vh[1])
        g = np.tanh(vx[2] + r * vh[2])
        h = z * h + (1 - z) * g
        out.append(h)
    return np.stack(out), h


def haste_weights(n, input_size=I, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    out = {"kernel": rng.normal(scale=0.5, size=(input_size, n * H)),
           "recurrent_kernel": rng.normal(scale=0.5, size=(H, n * H)), "bias": rng.normal(scale=0.5, size=n * H)}
    if n == 3:
        out["recurrent_bias"] = rng.normal(scale=0.5, size=n * H)
    return {k: v.astype(dtype) for k, v in out.items()}


class FakeHasteLSTM(nn.Module):
    """A stand-in with haste_pytorch.LSTM's parameters and attributes (haste needs CUDA to build)."""

    def __init__(self, w, zoneout=0.0, batch_first=False):
        super().__init__()
        for k, v in w.items():
            self.register_parameter(k, nn.Parameter(torch.from_numpy(v)))
        self.zoneout, self.batch_first = zoneout, batch_first


@pytest.mark.parametrize("dtype,atol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_lstm_equals_haste_equations(dtype, atol):
    w = haste_weights(4, dtype=dtype)
    layer = lstmkit.LSTM.from_haste(w["kernel"], w["recurrent_kernel"], w["bias"])
    assert layer.weight_ih_l0.dtype == torch.from_numpy(w["kernel"]).dtype
    x = np.random.default_rng(1).normal(size=(T, B, I)).astype(dtype)
    y_ref, h_ref, c_ref = haste_lstm(x.astype(np.float64), *(w[k].astype(np.float64) for k in
                                                             ("kernel", "recurrent_kernel", "bias")))
    with torch.no_grad():
        y, (h, c) = layer(torch.from_numpy(x))
    np.testing.assert_allclose(y.double().numpy(), y_ref, atol=atol, rtol=0)
    np.testing.assert_allclose(h[0].double().numpy(), h_ref, atol=atol, rtol=0)
    np.testing.assert_allclose(c[0].double().numpy(), c_ref, atol=atol, rtol=0)


@pytest.mark.parametrize("dtype,atol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_gru_equals_haste_equations(dtype, atol):
    w = haste_weights(3, dtype=dtype)
    layer = lstmkit.GRU.from_haste(w)                                    # a state_dict
    x = np.random.default_rng(2).normal(size=(T, B, I)).astype(dtype)
    y_ref, h_ref = haste_gru(x.astype(np.float64), *(v.astype(np.float64) for v in w.values()))
    with torch.no_grad():
        y, h = layer(torch.from_numpy(x))
    np.testing.assert_allclose(y.double().numpy(), y_ref, atol=atol, rtol=0)
    np.testing.assert_allclose(h[0].double().numpy(), h_ref, atol=atol, rtol=0)


def test_module_input_keeps_zoneout_and_batch_first_and_stack():
    w0, w1 = haste_weights(4), haste_weights(4, input_size=H, seed=1)
    layer = lstmkit.LSTM.from_haste(FakeHasteLSTM(w0, zoneout=0.1, batch_first=True))
    assert layer.zoneout_h == 0.1 and layer.batch_first
    stack = lstmkit.LSTM.from_haste([w0, w1]).eval()
    assert stack.num_layers == 2
    x = np.random.default_rng(3).normal(size=(T, B, I))
    y0, _, _ = haste_lstm(x, w0["kernel"], w0["recurrent_kernel"], w0["bias"])
    y1, _, _ = haste_lstm(y0, w1["kernel"], w1["recurrent_kernel"], w1["bias"])
    with torch.no_grad():
        np.testing.assert_allclose(stack(torch.from_numpy(x))[0].numpy(), y1, atol=1e-12, rtol=0)


@pytest.mark.parametrize("n,cls", [(4, lstmkit.LSTM), (3, lstmkit.GRU)])
def test_round_trips(n, cls):
    w = haste_weights(n)
    back = cls.from_haste(w).to_haste()
    assert len(back) == 1 and list(back[0]) == list(w)
    for k in w:
        np.testing.assert_array_equal(back[0][k], w[k])
    layer = cls(I, H, num_layers=2, dtype=torch.float64).eval()
    again = cls.from_haste(layer.to_haste()).eval()
    x = torch.randn(T, B, I, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(again(x)[0], layer(x)[0], atol=1e-12, rtol=0)


def test_refusals():
    w = haste_weights(4)
    with pytest.raises(ValueError, match=r"kernel must be \(input_size, 16\).*got \(3, 12\)"):
        lstmkit.LSTM.from_haste(w["kernel"][:, :12], w["recurrent_kernel"], w["bias"])
    with pytest.raises(ValueError, match=r"bias must be \(16,\).*got \(15,\)"):
        lstmkit.LSTM.from_haste(w["kernel"], w["recurrent_kernel"], w["bias"][:15])
    with pytest.raises(ValueError, match=r"missing \['recurrent_bias'\]"):
        lstmkit.GRU.from_haste(haste_weights(4))
    with pytest.raises(ValueError, match="unidirectional"):
        lstmkit.LSTM(I, H, bidirectional=True).to_haste()
    with pytest.raises(ValueError, match="reset_before.*no haste equivalent"):
        lstmkit.GRU(I, H, reset_before=True).to_haste()
    with pytest.raises(ValueError, match="zoneout_c.*no haste equivalent"):
        lstmkit.LSTM(I, H, zoneout_c=0.1).to_haste()
    with pytest.raises(ValueError, match="always have biases"):
        lstmkit.LSTM(I, H, bias=False).to_haste()
