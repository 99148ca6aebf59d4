"""Bad input: each raises torch.nn's exception type (lstmkit.errors: a subclass of both torch.nn's type and
lstmkit's earlier ValueError/TypeError) with torch.nn's message, naming the expected and the actual value."""

from __future__ import annotations

import re

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import lstmkit


@pytest.fixture
def lstm():
    return lstmkit.LSTM(5, 6, num_layers=2)


def raises(exc, *fragments):
    return pytest.raises(exc, match=".*".join(re.escape(f) for f in fragments))


def test_wrong_feature_size(lstm):
    for exc in (RuntimeError, ValueError):
        with raises(exc, "input.size(-1) must be equal to input_size. Expected 5, got 4"):
            lstm(torch.randn(7, 3, 4))


def test_wrong_ndim(lstm):
    with raises(ValueError, "LSTM: Expected input to be 2D or 3D, got 4D tensor instead", "(2, 7, 3, 5)"):
        lstm(torch.randn(2, 7, 3, 5))
    with raises(ValueError, "got 1D"):
        lstm(torch.randn(5))


def test_integer_dtype(lstm):
    with raises(TypeError, "RNN input dtype (torch.int64) does not match weight dtype (torch.float32)",
                "it must be floating point"):
        lstm(torch.ones(7, 3, 5, dtype=torch.int64))


def test_dtype_mismatch(lstm):
    for exc in (ValueError, TypeError):
        with raises(exc, "RNN input dtype (torch.float64) does not match weight dtype (torch.float32). "
                         "Convert input: input.to(torch.float32), or convert model: model.to(torch.float64)"):
            lstm(torch.randn(7, 3, 5, dtype=torch.float64))


def test_not_a_tensor(lstm):
    with raises(TypeError, "torch.Tensor or PackedSequence, got list"):
        lstm([[1.0] * 5])


def test_empty_sequence(lstm):
    with raises(RuntimeError, "Expected sequence length to be larger than 0 in RNN", "(0, 3, 5)"):
        lstm(torch.randn(0, 3, 5))


def test_h0_c0_wrong_shape(lstm):
    x = torch.randn(7, 3, 5)
    with raises(RuntimeError, "Expected hidden[0] size (2, 3, 6), got [2, 3, 5]"):
        lstm(x, (torch.zeros(2, 3, 5), torch.zeros(2, 3, 6)))
    with raises(ValueError, "Expected hidden[1] size (2, 3, 6), got [1, 3, 6]"):
        lstm(x, (torch.zeros(2, 3, 6), torch.zeros(1, 3, 6)))
    with raises(RuntimeError, "For unbatched 2-D input, hx and cx should also be 2-D but got (3-D, 3-D) tensors"):
        lstm(torch.randn(7, 5), (torch.zeros(2, 3, 6), torch.zeros(2, 3, 6)))
    with raises(RuntimeError, "Expected hidden[0] size (2, 1, 6), got [3, 1, 6]"):
        lstm(torch.randn(7, 5), (torch.zeros(3, 6), torch.zeros(2, 6)))
    with raises(TypeError, "hx must be a tuple (h0 and c0) of 2 tensors, got Tensor"):
        lstm(x, torch.zeros(2, 3, 6))
    gru = lstmkit.GRU(5, 6)
    with raises(RuntimeError, "Expected hidden size (1, 3, 6), got [1, 2, 6]"):
        gru(x, torch.zeros(1, 2, 6))
    with raises(RuntimeError, "For batched 3-D input, hx should also be 3-D but got 2-D tensor"):
        gru(x, torch.zeros(3, 6))
    with raises(TypeError, "h0 dtype must be torch.float32", "got torch.float64"):
        gru(x, torch.zeros(1, 3, 6, dtype=torch.float64))


def test_lengths_out_of_range_or_wrong_count(lstm):
    x = torch.randn(7, 3, 5)
    with raises(ValueError, "lengths must lie in [1, 7]", "got values in [0, 7]"):
        lstm(x, lengths=torch.tensor([7, 0, 3]))
    with raises(ValueError, "lengths must lie in [1, 7]", "got values in [2, 8]"):
        lstm(x, lengths=torch.tensor([8, 2, 3]))
    with raises(ValueError, "one length per sequence (3,), got shape (2,)"):
        lstm(x, lengths=torch.tensor([7, 2]))
    with raises(TypeError, "lengths must hold integers, got dtype torch.float32"):
        lstm(x, lengths=torch.tensor([7.0, 2.0, 1.0]))
    out, _ = lstm(x, lengths=[7, 2, 1])                               # a list is fine
    assert out.shape == (7, 3, 6)


def test_reset_wrong_shape_or_dtype():
    lstm = lstmkit.LSTM(5, 6, batch_first=True)
    x = torch.randn(3, 7, 5)
    with raises(ValueError, "reset must have shape (3, 7) (batch, seq_len), got (7, 3)"):
        lstm(x, reset=torch.zeros(7, 3, dtype=torch.bool))
    with raises(TypeError, "reset must be a bool", "got dtype torch.float32"):
        lstm(x, reset=torch.zeros(3, 7))


def test_proj_size_not_smaller_than_hidden():
    with raises(ValueError, "proj_size has to be smaller than hidden_size (6), got 6"):
        lstmkit.LSTM(5, 6, proj_size=6)
    with raises(ValueError, "proj_size should be a positive integer or zero to disable projections, got -1"):
        lstmkit.LSTM(5, 6, proj_size=-1)
    for cls in (lstmkit.GRU, lstmkit.RNN):
        for exc in (ValueError, TypeError):
            with raises(exc, "proj_size argument is only supported for LSTM, not RNN or GRU"):
                cls(5, 6, proj_size=2)


def test_unknown_nonlinearity():
    with raises(ValueError, "Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'."):
        lstmkit.RNN(5, 6, nonlinearity="sigmoid")


def test_bad_sizes_and_probabilities():
    with raises(ValueError, "hidden_size must be greater than zero, got 0"):
        lstmkit.GRU(5, 0)
    with raises(TypeError, "input_size should be of type int, got: float (5.0)"):
        lstmkit.GRU(5.0, 6)
    with raises(TypeError, "bias should be of type bool, got: int (1)"):
        lstmkit.GRU(5, 6, bias=1)
    with raises(ValueError, "dropout should be a number in range [0, 1]", "got 1.5"):
        lstmkit.LSTM(5, 6, num_layers=2, dropout=1.5)
    with raises(ValueError, "zoneout_c must be in [0, 1), got 1.0"):
        lstmkit.LSTM(5, 6, zoneout_c=1.0)
    with raises(ValueError, "backend must be 'auto' or one of", "got 'fortran'"):
        lstmkit.LSTM(5, 6, backend="fortran")(torch.randn(2, 1, 5))


def test_options_that_do_not_combine():
    with raises(ValueError, "forget_bias=1.0 needs bias=True"):
        lstmkit.LSTM(5, 6, bias=False, forget_bias=1.0)
    lstm = lstmkit.LSTM(5, 6)
    packed = pack_padded_sequence(torch.randn(4, 2, 5), torch.tensor([4, 2]))
    with raises(ValueError, "lengths= cannot be combined with a PackedSequence"):
        lstm(packed, lengths=torch.tensor([4, 2]))
    with raises(ValueError, "lengths= needs a batched 3-D input"):
        lstm(torch.randn(4, 5), lengths=torch.tensor([4]))
    with raises(ValueError, "step() runs forward in time, so it needs bidirectional=False"):
        lstmkit.GRU(5, 6, bidirectional=True).step(torch.randn(2, 5))
    with raises(ValueError, "{'peephole': True} has no torch.nn.LSTM equivalent"):
        lstmkit.LSTM(5, 6, peephole=True).to_torch()
    with raises(ValueError, "{'zoneout': 0.1} has no torch.nn.GRU equivalent"):
        lstmkit.GRU(5, 6, zoneout=0.1).to_torch()
    with raises(TypeError, "from_torch expects a torch.nn.LSTM, got GRU"):
        lstmkit.LSTM.from_torch(torch.nn.GRU(5, 6))


def test_dropout_on_single_layer_warns():
    with pytest.warns(UserWarning, match="does nothing with num_layers=1"):
        lstmkit.LSTM(5, 6, dropout=0.2)


def test_option_values_are_checked_at_construction():
    with raises(TypeError, "forget_bias must be a number or None, got str ('1')"):
        lstmkit.LSTM(5, 6, forget_bias="1")
    with raises(ValueError, "forget_bias must be finite, got nan"):
        lstmkit.LSTM(5, 6, forget_bias=float("nan"))
    with raises(ValueError, "backend must be 'auto' or one of", "got 'fats'"):
        lstmkit.GRU(5, 6, backend="fats")


def test_integer_reset_must_be_zero_or_one(lstm):
    with raises(ValueError, "reset must hold 0/1 (or be a bool tensor), got values in [-1, 0]"):
        lstm(torch.randn(7, 3, 5), reset=-torch.eye(7, 3, dtype=torch.int64))
    out, _ = lstm(torch.randn(7, 3, 5), reset=torch.eye(7, 3, dtype=torch.int64))     # 0/1 integers are fine
    assert out.shape == (7, 3, 6)


@pytest.mark.parametrize("cls", [lstmkit.LSTM, lstmkit.GRU, lstmkit.RNN])
def test_meta_tensors_give_shapes(cls):
    """As torch.nn: a layer on the meta device runs on meta inputs (lengths, resets, dropout included)."""
    layer = cls(3, 4, num_layers=2, bidirectional=True, dropout=0.5, device="meta").train()
    out, h = layer(torch.empty(5, 2, 3, device="meta"), lengths=torch.tensor([5, 3], device="meta"),
                   reset=torch.zeros(5, 2, dtype=torch.bool, device="meta"))
    assert out.shape == (5, 2, 8) and out.is_meta
    assert all(t.shape[:2] == (4, 2) and t.is_meta for t in (h if isinstance(h, tuple) else (h,)))
