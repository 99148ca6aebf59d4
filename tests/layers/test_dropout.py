"""lstmkit.layers.Dropout / dropout: torch.nn.Dropout's function (scaling, gradient, evaluation, edges)
with compiled masks, and the layers' dropout between layers and zoneout masks drawn with them."""

from __future__ import annotations

import pytest
import torch

import lstmkit
from lstmkit.layers import Dropout
from lstmkit.layers.dropout import dropout


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_training_zeroes_and_scales_and_the_gradient_follows_the_mask(dtype):
    torch.manual_seed(0)
    x = (torch.rand(64, 1000, dtype=torch.float64) + 0.5).to(dtype).requires_grad_()
    y = dropout(x, 0.25)
    kept = y != 0
    assert abs(float(kept.double().mean()) - 0.75) < 0.01
    torch.testing.assert_close(y[kept], (x * (1 / 0.75)).to(dtype)[kept])
    y.backward(torch.ones_like(y))
    torch.testing.assert_close(x.grad, kept.to(dtype) / 0.75)


def test_module_is_a_drop_in_for_torch_nn_dropout():
    x = torch.randn(3, 4)
    drop = Dropout(0.5)
    assert repr(drop) == "Dropout(p=0.5)"
    assert drop.eval()(x) is x and dropout(x, 0.0) is x and dropout(x, 0.9, training=False) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))
    torch.manual_seed(5)
    a = Dropout(0.3).train()(x)
    torch.manual_seed(5)
    assert torch.equal(a, dropout(x, 0.3))
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            Dropout(bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            dropout(x, bad)


def test_layers_draw_their_masks_repeatably_and_with_the_set_rates():
    torch.manual_seed(0)
    lstm = lstmkit.LSTM(16, 32, num_layers=2, dropout=0.4, zoneout_c=0.5, recurrent_dropout=0.2)
    x = torch.randn(50, 8, 16)
    torch.manual_seed(1)
    a, _ = lstm(x)
    torch.manual_seed(1)
    b, _ = lstm(x)
    torch.manual_seed(2)
    c, _ = lstm(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    masks = lstm._zoneout_masks(lstm._specs[0], x, 50, 8)
    assert abs(float(masks["zone_c"].mean()) - 0.5) < 0.02
