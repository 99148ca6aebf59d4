"""The cells (one step of the math): against torch.nn's cells, against a one-step layer with every variant,
unbatched input, and state errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import lstmkit
from helpers import assert_close


CELLS = [(lstmkit.LSTMCell, nn.LSTMCell, {}), (lstmkit.GRUCell, nn.GRUCell, {}),
         (lstmkit.RNNCell, nn.RNNCell, {"nonlinearity": "relu"})]


@pytest.mark.parametrize("ours_cls,torch_cls,kw", CELLS)
def test_cells_match_torch_cells(ours_cls, torch_cls, kw):
    ref = torch_cls(5, 6, **kw, dtype=torch.float64)
    cell = ours_cls.from_torch(ref)
    x = torch.randn(3, 5, dtype=torch.float64)
    state = tuple(torch.randn_like(s) for s in cell.init_state(3))
    h, new = cell.step(x, state)
    expect = ref(x, state if len(state) == 2 else state[0])
    expect = expect if isinstance(expect, tuple) else (expect,)
    for a, b in zip(new, expect):
        assert_close(a, b, torch.float64, "state")
    assert torch.equal(h, new[0])
    back = cell.to_torch()
    for k, v in ref.state_dict().items():
        assert torch.equal(back.state_dict()[k], v)


@pytest.mark.parametrize("ours_cls,torch_cls,kw", CELLS)
def test_cells_are_called_as_torch_cells(ours_cls, torch_cls, kw):
    """cell(x, hx) takes and returns what torch.nn's cell does: h for GRU/RNN, (h, c) for LSTM; hx=None,
    unbatched input, the canonical loop."""
    ref = torch_cls(5, 6, **kw, dtype=torch.float64)
    cell = ours_cls.from_torch(ref)
    x = torch.randn(4, 3, 5, dtype=torch.float64)
    hx_ours = hx_ref = None
    for x_t in x:
        hx_ours, hx_ref = cell(x_t, hx_ours), ref(x_t, hx_ref)
        assert type(hx_ours) is type(hx_ref)
        for a, b in zip(torch.utils._pytree.tree_leaves(hx_ours), torch.utils._pytree.tree_leaves(hx_ref)):
            assert_close(a, b, torch.float64, "state")
    one = cell(x[0, 0])                                                  # unbatched, no state
    for a, b in zip(torch.utils._pytree.tree_leaves(one), torch.utils._pytree.tree_leaves(ref(x[0, 0]))):
        assert a.shape == b.shape == (6,)
        assert_close(a, b, torch.float64, "unbatched")
    assert repr(cell) == repr(ref)


def test_cell_unbatched_and_state_errors():
    cell = lstmkit.LSTMCell(5, 6, proj_size=2)
    h, (h2, c) = cell.step(torch.randn(5))
    assert h.shape == (2,) and c.shape == (6,)
    h, c = cell(torch.randn(5))
    assert h.shape == (2,) and c.shape == (6,)
    for exc in (RuntimeError, ValueError):
        with pytest.raises(exc, match="input has inconsistent input_size: got 4 expected 5"):
            cell(torch.randn(3, 4))
        with pytest.raises(exc, match="hidden1 has inconsistent hidden_size: got 5, expected 6"):
            cell(torch.randn(3, 5), (torch.zeros(3, 2), torch.zeros(3, 5)))
        with pytest.raises(exc, match="Input batch size 3 doesn't match hidden0 batch size 4"):
            cell(torch.randn(3, 5), (torch.zeros(4, 2), torch.zeros(4, 6)))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h, c\) of 2 tensors"):
        cell(torch.randn(3, 5), (torch.zeros(3, 2),))
    with pytest.raises(ValueError, match=r"LSTMCell: Expected input to be 1D or 2D, got 3D instead"):
        cell(torch.randn(1, 3, 5))
    with pytest.raises(ValueError, match=r"GRUCell: Expected hidden to be 1D or 2D, got 3D instead"):
        lstmkit.GRUCell(5, 6)(torch.randn(3, 5), torch.zeros(1, 3, 6))
    with pytest.raises(TypeError, match="hx must be a tensor"):
        lstmkit.GRUCell(5, 6)(torch.randn(3, 5), (torch.zeros(3, 6),))
    with pytest.raises(TypeError, match=r"input dtype \(torch.float64\) does not match weight dtype"):
        lstmkit.RNNCell(5, 6)(torch.randn(3, 5, dtype=torch.float64))


VARIANTS = [(lstmkit.LSTMCell, lstmkit.LSTM, {"peephole": True, "layer_norm": True, "cifg": True, "proj_size": 3}),
            (lstmkit.LSTMCell, lstmkit.LSTM, {"peephole": True, "forget_bias": 1.0}),
            (lstmkit.LSTMCell, lstmkit.LSTM, {"peephole": True, "bias": False}),
            (lstmkit.GRUCell, lstmkit.GRU, {"reset_before": True}),
            (lstmkit.RNNCell, lstmkit.RNN, {"nonlinearity": "relu"})]


@pytest.mark.parametrize("cell_cls,layer_cls,kw", VARIANTS)
def test_cell_step_equals_one_step_of_the_layer(cell_cls, layer_cls, kw):
    """A cell and a one-layer layer with the same parameters compute the same step, gradients included."""
    torch.manual_seed(1)
    cell = cell_cls(5, 6, dtype=torch.float64, **kw)
    layer = layer_cls(5, 6, dtype=torch.float64, **kw)
    layer.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn_like(s) for s in cell.init_state(3))
    h, new = cell.step(x, state)
    y, final = layer(x.unsqueeze(0), tuple(s.unsqueeze(0) for s in state) if len(state) > 1 else state[0][None])
    final = final if isinstance(final, tuple) else (final,)
    assert_close(h, y[0], torch.float64, "h_t")
    for a, b in zip(new, final):
        assert_close(a, b[0], torch.float64, "state")
    g_cell = torch.autograd.grad(h.sum() + new[-1].pow(2).sum(), [x, *cell.parameters()])
    g_layer = torch.autograd.grad(y[0].sum() + final[-1][0].pow(2).sum(), [x, *layer.parameters()])
    for a, b in zip(g_cell, g_layer):
        assert_close(a, b, torch.float64, "gradient")


COMPILED = VARIANTS + [(lstmkit.LSTMCell, None, {}), (lstmkit.GRUCell, None, {}), (lstmkit.RNNCell, None, {}),
                       (lstmkit.LSTMCell, None, {"cells_per_block": 2, "forget_gate": False, "input_squash": "1997",
                                                 "output_squash": "1997", "truncated_gradient": True}),
                       (lstmkit.LSTMCell, None, {"cells_per_block": 3, "cifg": True})]


@pytest.mark.parametrize("cell_cls,_,kw", COMPILED)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cell_without_gradient_takes_the_compiled_step(cell_cls, _, kw, dtype, monkeypatch):
    """A cell called where nothing needs a gradient (no_grad, inference mode, or nothing requiring one) runs
    the CPU kernel's compiled single step when the kernel takes the cell (the classic 1997 forms too, where
    it does): the torch-ops step's result, batched and unbatched, with and without a state."""
    from lstmkit.kernels.cpu import CpuKernel
    ran = []
    real = CpuKernel.step
    monkeypatch.setattr(CpuKernel, "step", lambda self, *a, **k: (ran.append(1), real(self, *a, **k))[1])
    torch.manual_seed(2)
    cell = cell_cls(5, 6, dtype=dtype, **kw)
    takes = lstmkit.kernels.select("auto", cell.spec, torch.zeros(1, 5, dtype=dtype)).name == "cpu"
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    for x, state in ((torch.randn(3, 5, dtype=dtype), None), (torch.randn(5, dtype=dtype), None),
                     (torch.randn(3, 5, dtype=dtype), tuple(torch.randn_like(s) for s in cell.init_state(3)))):
        for mode in (torch.no_grad, torch.inference_mode):
            n = len(ran)
            with mode():
                h, new = cell.step(x, state)
            assert len(ran) == n + takes
            xb = x if x.dim() == 2 else x.unsqueeze(0)
            st = state or tuple(xb.new_zeros(xb.shape[0], k) for k in cell.spec.state_sizes())
            with torch.no_grad():
                want_h, want = type(cell)._step(cell.spec, cell.weights(), xb, st)
            if x.dim() == 1:
                want_h, want = want_h[0], tuple(w[0] for w in want)
            torch.testing.assert_close(h, want_h, atol=tol, rtol=0)
            for a, b in zip(new, want):
                torch.testing.assert_close(a, b, atol=tol, rtol=0)
    n = len(ran)
    cell.step(torch.randn(3, 5, dtype=dtype))                 # parameters requiring grad: autograd's step
    assert len(ran) == n
