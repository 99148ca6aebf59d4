"""PyTorch's test/test_nn.py recurrent-module tests, re-expressed here, run on lstmkit and on torch.nn.

Each test takes ``nn_``: a namespace with the six recurrent classes, either torch.nn's (the control: the
test is PyTorch's own and must pass there) or lstmkit's. The CPU parts of PyTorch's cuDNN-gated tests
(dropout placement and state, seq_len 0) and of its CUDA-only ones (one-output LSTMCell backward, partial
flat weights) are included, and so are the third-party uses of torch.nn's internals that "drop-in" has to
honour: pruning, both weight-norm APIs, AWD-LSTM's weight drop by setattr, torch.func.functional_call.
"""

from __future__ import annotations

import copy
import io
import re
import types
import warnings
from itertools import product

import pytest
import torch
import torch.nn.utils.parametrizations  # noqa: F401 (torch.nn.utils does not import them)
import torch.nn.utils.prune  # noqa: F401
import torch.nn.utils.rnn as rnn_utils
from torch.autograd import gradcheck, gradgradcheck

import lstmkit

NAMES = ("RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell")
TORCH = types.SimpleNamespace(**{n: getattr(torch.nn, n) for n in NAMES})
OURS = types.SimpleNamespace(**{n: getattr(lstmkit, n) for n in NAMES})


@pytest.fixture(params=[TORCH, OURS], ids=["torch.nn", "lstmkit"])
def nn_(request):
    return request.param


def assert_equal(a, b, atol=None, rtol=None):
    if atol is None:
        torch.testing.assert_close(a, b)
    else:
        torch.testing.assert_close(a, b, atol=atol, rtol=rtol)


def flat_parameter_count(module):
    return sum(isinstance(p, torch.nn.Parameter) for p in module._flat_weights)


# ------------------------------------------------------------------------------------ construction

def test_RNN_nonlinearity(nn_):
    assert nn_.RNN(1, 10).nonlinearity == "tanh"
    assert nn_.RNN(1, 10, nonlinearity="relu").nonlinearity == "relu"
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn_.RNN(1, 10, nonlinearity="garbage")


def test_RNN_nonlinearity_passed_as_arg(nn_):
    assert nn_.RNN(2, 3, 1, "relu").nonlinearity == "relu"


def test_projections_errors_on_gru_and_rnn(nn_):
    for mode in ("RNN", "GRU"):
        with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
            getattr(nn_, mode)(30, 20, 2, proj_size=10)


def test_save_lstm_compatibility(nn_):
    """An LSTM pickled before torch 1.8 has no proj_size: loading its state still works."""
    model = nn_.LSTM(2, 3)
    x = torch.randn(32, 5, 2)
    expected = model(x)
    assert model.proj_size == 0
    state = model.__dict__
    del state["proj_size"]
    loaded = nn_.LSTM(2, 3)
    loaded.__setstate__(state)
    assert_equal(loaded(x), expected)


# ------------------------------------------------------------------------------------ cells

def test_RNN_cell(nn_):
    for module, bias in product((nn_.RNNCell, nn_.GRUCell), (True, False)):
        x, hx = torch.randn(3, 10), torch.randn(3, 20)
        cell = module(10, 20, bias=bias)
        for _ in range(6):
            hx = cell(x, hx)
        hx.sum().backward()


def test_LSTM_cell(nn_):
    for bias in (True, False):
        x, hx, cx = torch.randn(3, 10), torch.randn(3, 20), torch.randn(3, 20)
        lstm = nn_.LSTMCell(10, 20, bias=bias)
        for _ in range(6):
            hx, cx = lstm(x, (hx, cx))
        (hx + cx).sum().backward()


def test_RNN_cell_forward_zero_hidden_size(nn_):
    x, hx = torch.randn(3, 10), torch.randn(3, 0)
    for cell in (nn_.RNNCell(10, 0, nonlinearity="relu"), nn_.RNNCell(10, 0, nonlinearity="tanh"), nn_.GRUCell(10, 0)):
        assert cell(x, hx).shape == torch.Size([3, 0])


def test_RNN_cell_no_broadcasting(nn_):
    def check(cell_module, x, hx, input_size, hidden_size):
        cell = cell_module(input_size, hidden_size)
        with pytest.raises(RuntimeError):
            cell(x, hx)

    def check_all(hidden_size, bad_hx, good_hx, input_size, x):
        check(nn_.RNNCell, x, bad_hx, input_size, hidden_size)
        check(nn_.GRUCell, x, bad_hx, input_size, hidden_size)
        check(nn_.LSTMCell, x, (bad_hx, good_hx), input_size, hidden_size)
        check(nn_.LSTMCell, x, (good_hx, bad_hx), input_size, hidden_size)

    x, good_hx = torch.randn(3, 10), torch.randn(3, 20)
    check_all(20, torch.randn(1, 20), good_hx, 10, x)                  # batch size
    check_all(20, torch.randn(3, 1), good_hx, 10, x)                   # hidden size
    check_all(20, good_hx, good_hx, 10, torch.randn(3, 1))             # input size


def test_LSTM_cell_forward_input_size(nn_):
    lstm = nn_.LSTMCell(10, 20)
    with pytest.raises(Exception):
        lstm(torch.randn(3, 11), (torch.randn(3, 20), torch.randn(3, 20)))


def test_LSTM_cell_forward_hidden_size(nn_):
    lstm, x = nn_.LSTMCell(10, 20), torch.randn(3, 10)
    hx, cx = torch.randn(3, 21), torch.randn(3, 20)
    with pytest.raises(Exception):
        lstm(x, (hx, cx))
    with pytest.raises(Exception):
        lstm(x, (cx, hx))


def test_lstmcell_backward_only_one_output_grad(nn_):
    """(CUDA-only in PyTorch; the same on CPU.) Backward through h alone or c alone."""
    cell = nn_.LSTMCell(2, 3).double()
    s = torch.randn(1, 2, dtype=torch.double, requires_grad=True)
    for i in range(2):
        cell(s)[i].sum().backward()
        assert s.grad is not None and s.grad.abs().sum().item() != 0


# ------------------------------------------------------------------------------------ argument checks

def test_cudnn_forward_exception(nn_):
    rnns = [(nn_.LSTM(10, 20, batch_first=True), (torch.zeros(1, 2, 19), torch.zeros(1, 2, 19))),
            (nn_.LSTM(10, 20, batch_first=True, proj_size=10), (torch.zeros(1, 2, 19), torch.zeros(1, 2, 19))),
            (nn_.GRU(10, 20, batch_first=True), torch.zeros(1, 2, 19)),
            (nn_.RNN(10, 20, batch_first=True), torch.zeros(1, 2, 19))]
    x_wrong, x_right = torch.randn(2, 3, 3), torch.randn(2, 3, 10)
    for rnn, hidden in rnns:
        with pytest.raises(RuntimeError, match="Expected hidden.*size.*got"):
            rnn(x_right, hidden)
        with pytest.raises(RuntimeError, match=re.escape("input.size(-1) must be equal to input_size")):
            rnn(x_wrong)


def _with(shape, dim, size):
    shape = list(shape)
    shape[dim] = size
    return tuple(shape)


def test_rnn_args_check(nn_):
    input_size, hidden_size, num_layers, batch_size, seq_len, bad = 3, 5, 2, 4, 6, 7
    good_x, good_h = (seq_len, batch_size, input_size), (num_layers, batch_size, hidden_size)

    def inputs(x_shape, h_shape, mode):
        x, h = torch.randn(x_shape), torch.randn(h_shape)
        if mode != "LSTM":
            return [(x, h)]
        if h_shape == good_h:
            return [(x, (h, h))]
        good = torch.randn(good_h)
        return [(x, (h, good)), (x, (good, h))]

    for mode in ("RNN", "GRU", "LSTM"):
        for x_shape, h_shape in [(_with(good_x, 1, bad), good_h), (good_x, _with(good_h, 1, bad)),
                                 (_with(good_x, 2, bad), good_h), (good_x, _with(good_h, 2, bad)),
                                 (good_x, _with(good_h, 0, bad))]:
            for x, h in inputs(x_shape, h_shape, mode):
                model = getattr(nn_, mode)(input_size, hidden_size, num_layers)
                with pytest.raises(RuntimeError):
                    model(x, h)


def test_projections_lstm_args_check(nn_):
    input_size, hidden_size, proj_size, num_layers, batch_size, seq_len, bad = 3, 5, 2, 2, 4, 6, 7
    good_x = (seq_len, batch_size, input_size)
    good_h, good_c = (num_layers, batch_size, proj_size), (num_layers, batch_size, hidden_size)
    cases = [(_with(good_x, 1, bad), good_h, good_c),
             (good_x, _with(good_h, 1, bad), _with(good_c, 1, bad)),
             (_with(good_x, 2, bad), good_h, good_c),
             (good_x, _with(good_h, 2, bad), _with(good_c, 2, bad)),
             (good_x, _with(good_h, 0, bad), _with(good_c, 0, bad)),
             (good_x, _with(good_h, 0, hidden_size), good_c),
             (good_x, _with(good_h, 0, bad), good_c),
             (good_x, good_h, _with(good_c, 0, bad))]
    for x_shape, h_shape, c_shape in cases:
        model = nn_.LSTM(input_size, hidden_size, num_layers, proj_size=proj_size)
        with pytest.raises(RuntimeError):
            model(torch.randn(x_shape), (torch.randn(h_shape), torch.randn(c_shape)))


def test_error_RNN_seq_len_zero(nn_):
    for module, bidirectional in product((nn_.RNN, nn_.LSTM, nn_.GRU), (True, False)):
        rnn = module(5, 6, bidirectional=bidirectional).double()
        with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
            rnn(torch.ones(0, 10, 5, dtype=torch.double))


def test_RNN_input_size_zero(nn_):
    for module in (nn_.RNN, nn_.LSTM, nn_.GRU):
        outs = module(input_size=3, hidden_size=4)(torch.zeros((5, 0, 3)))
        assert outs[0].shape == torch.Size([5, 0, 4])
        outs[0].sum().backward()


# ------------------------------------------------------------------------------------ state and outputs

def test_rnn_initial_hidden_state(nn_):
    for mode in ("RNN", "GRU", "LSTM"):
        rnn = getattr(nn_, mode)(30, 20, 2)
        x, hidden = torch.randn(10, 32, 30), torch.zeros(2, 32, 20)
        if mode == "LSTM":
            hidden = (hidden, hidden)
        out1, h1 = rnn(x, hidden)
        out2, h2 = rnn(x)
        assert_equal(out1, out2)
        assert_equal(h1, h2)


def test_projections_lstm_initial_hidden_state(nn_):
    for bidir in (False, True):
        rnn = nn_.LSTM(30, 20, 2, bidirectional=bidir, proj_size=10)
        D = 2 if bidir else 1
        x = torch.randn(10, 32, 30)
        out1, h1 = rnn(x, (torch.zeros(2 * D, 32, 10), torch.zeros(2 * D, 32, 20)))
        out2, h2 = rnn(x)
        assert_equal(out1, out2)
        assert_equal(h1, h2)


@pytest.mark.parametrize("proj_size", [0, 2])
@pytest.mark.parametrize("use_default_hiddens", [True, False])
@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [5]), (False, [5]), (True, [10, 10, 6, 2, 2, 1, 1]),
                                                    (False, [10, 10, 6, 2, 2, 1, 1]), (False, [2, 1, 3, 2, 10, 5, 3])])
def test_variable_sequence(nn_, enforce_sorted, lengths, use_default_hiddens, proj_size):
    """Packed (sorted or not) bidirectional 2-layer LSTM equals each sequence run alone, gradients too."""
    def pad(v, length):
        return v if v.size(0) == length else torch.cat([v, v.new_zeros(length - v.size(0), *v.size()[1:])])

    input_size, hidden_size, num_layers, D = 3, 4, 2, 2
    T = max(lengths)
    x = torch.randn(T, len(lengths), input_size, requires_grad=True)
    lstm = nn_.LSTM(input_size, hidden_size, bidirectional=True, num_layers=num_layers, proj_size=proj_size)
    lstm2 = copy.deepcopy(lstm)
    hidden0 = None
    if not use_default_hiddens:
        hidden0 = (torch.randn(D * num_layers, len(lengths), proj_size or hidden_size),
                   torch.randn(D * num_layers, len(lengths), hidden_size))
    seq_outs, seq_hiddens = [], []
    for i, n in enumerate(lengths):
        h_i = None if hidden0 is None else tuple(h[:, i:i + 1].contiguous() for h in hidden0)
        out, hid = lstm2(x[:n, i:i + 1], h_i)
        seq_outs.append(pad(out, T))
        seq_hiddens.append(hid)
    seq_out = torch.cat(seq_outs, 1)
    seq_hidden = tuple(torch.cat(h, 1) for h in zip(*seq_hiddens))
    packed_out, packed_hidden = lstm(rnn_utils.pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted),
                                     hidden0)
    unpacked, unpacked_len = rnn_utils.pad_packed_sequence(packed_out)
    assert_equal(packed_hidden, seq_hidden, atol=1e-5, rtol=0)
    assert_equal(unpacked, seq_out, atol=1e-5, rtol=0)
    assert unpacked_len.tolist() == lengths
    seq_out.sum().backward()
    grad_x = x.grad.clone()
    x.grad.zero_()
    unpacked.sum().backward()
    assert_equal(x.grad, grad_x, atol=1e-5, rtol=0)
    for p1, p2 in zip(lstm.parameters(), lstm2.parameters()):
        assert_equal(p1.grad, p2.grad, atol=2e-4, rtol=0)


# ------------------------------------------------------------------------------------ dropout

def test_RNN_dropout(nn_):
    """Dropout sits between layers (the CPU half of PyTorch's cuDNN-gated test)."""
    for p, train in product((0, 0.276, 0.731, 1), (True, False)):
        rnn = nn_.RNN(10, 1000, 2, bias=False, dropout=p, nonlinearity="relu").double().train(train)
        for name in ("weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"):
            getattr(rnn, name).data.fill_(1)
        output, hy = rnn(torch.ones(1, 1, 10, dtype=torch.double), torch.zeros(2, 1, 1000, dtype=torch.double))
        assert output.min() == output.max()
        value = output[0][0][0].item()
        if p == 0 or not train:
            assert value == 10000
        elif p == 1:
            assert value == 0
        else:
            assert 8000 < value < 12000
            denorm = (value * (1 - p)) % 10
            assert min(denorm, 10 - denorm) < 1e-2
        assert hy[0].min() == hy[0].max() and hy[1].min() == hy[1].max()
        assert hy[0][0][0].item() == 10 and hy[1][0][0].item() == value


def test_RNN_dropout_state(nn_):
    for p, train in product((0, 0.1234), (True, False)):
        rnn = nn_.RNN(100, 100, 2, bias=False, dropout=p, nonlinearity="relu").train(train)
        x, hx = torch.rand(1, 1, 100), torch.rand(2, 1, 100)
        out1, hy1 = rnn(x, hx)
        out2, hy2 = rnn(x, hx)
        buf = io.BytesIO()
        torch.save(rnn, buf)
        buf.seek(0)
        rnn2 = torch.load(buf, weights_only=False)
        rnn2.flatten_parameters()
        out3, hy3 = rnn2(x, hx)
        same = p == 0 or not train
        for a, b in ((out1, out2), (out1, out3), (hy1, hy2), (hy1, hy3)):
            assert torch.equal(a, b) == same


def test_RNN_change_dropout(nn_):
    for train in (True, False):
        rnn = nn_.RNN(100, 100, 2, dropout=0, nonlinearity="relu").double().train(train)
        x = torch.rand(3, 2, 100, dtype=torch.double)
        prev = None
        for p in (0, 0.5, 0, 0.7, 0.2, 1, 0.2, 0):
            rnn.dropout = p
            out1, hy1 = rnn(x)
            out2, hy2 = rnn(x)
            same = p == 0 or p == 1 or not train
            assert torch.equal(out1, out2) == same and torch.equal(hy1, hy2) == same
            if prev is not None:
                assert torch.equal(out1.data, prev) == (not train)
                assert torch.equal(out2.data, prev) == (not train)
            prev = out1.data


# ------------------------------------------------------------------------------------ gradients

def test_rnn_retain_variables(nn_):
    for rnn in (nn_.LSTM(10, 20, num_layers=2).double(), nn_.GRU(10, 20, num_layers=2).double(),
                nn_.RNN(10, 20, num_layers=2).double()):
        x = torch.randn(5, 6, 10, dtype=torch.double, requires_grad=True)
        output = rnn(x)
        output[0].sum().backward(retain_graph=True)
        grads = [x.grad.data.clone()] + [p.grad.data.clone() for p in rnn.parameters()]
        for _ in range(4):
            rnn.zero_grad()
            x.grad.data.zero_()
            output[0].sum().backward(retain_graph=True)
            assert_equal([x.grad.data] + [p.grad.data for p in rnn.parameters()], grads)


def _grad_and_gradgrad(mod, x):
    def flat(inp):
        out = mod(inp)
        return tuple(t if isinstance(t, torch.Tensor) else tt for t in out for tt in t)
    assert gradcheck(flat, x, check_batched_grad=False)
    assert gradgradcheck(flat, x, check_batched_grad=False)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_grad_and_gradgrad(nn_, name):
    x = torch.rand(1, 3, 4, dtype=torch.double, requires_grad=True)
    for bias in (True, False):
        _grad_and_gradgrad(getattr(nn_, name)(4, 4, bias=bias).double(), x)


def test_LSTM_differentiable_backward(nn_):
    """A gradient of the input taken with create_graph=True, then differentiated again (a 20-layer LSTM;
    PyTorch compares its oneDNN and native paths, here lstmkit is compared with torch.nn)."""
    torch.manual_seed(0)
    net = nn_.LSTM(3, 3, 20, batch_first=True)
    ref = torch.nn.LSTM(3, 3, 20, batch_first=True)
    ref.load_state_dict(net.state_dict())
    x = torch.rand(10, 12, 3)
    results = []
    for model in (net, ref):
        xx = x.clone().requires_grad_(True)
        out, _ = model(xx)
        der = torch.autograd.grad(out, xx, grad_outputs=torch.ones_like(out), retain_graph=True, create_graph=True)[0]
        der.sum().backward(retain_graph=True)
        results.append((der, xx.grad))
    assert torch.allclose(results[0][0], results[1][0], atol=1e-6)
    assert torch.allclose(results[0][1], results[1][1], atol=1e-6)


# ------------------------------------------------------------------------------------ weights from outside

def test_rnn_weight_norm(nn_):
    def check(layer, name, num_params):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)                 # torch.nn.utils.weight_norm is old
            layer = torch.nn.utils.weight_norm(layer, name=name)
        assert flat_parameter_count(layer) == num_params - 1
        layer = torch.nn.utils.remove_weight_norm(layer, name=name)
        assert flat_parameter_count(layer) == num_params
        assert name in layer._parameters and layer._parameters[name] is not None
        assert name + "_v" not in layer._parameters and name + "_g" not in layer._parameters
        params = dict(layer.named_parameters())
        assert params.get(name) is not None and name + "_v" not in params and name + "_g" not in params

    check(nn_.LSTM(32, 32), "weight_ih_l0", 4)
    check(nn_.LSTM(32, 32, proj_size=16), "weight_hr_l0", 5)


def test_partial_flat_weights(nn_):
    """(CUDA-only in PyTorch; the same with a dtype move.) A module moved while a weight is deleted keeps
    working once the weight is put back."""
    m = nn_.LSTM(10, 6, 2).double()
    x = torch.randn(3, 2, 10, dtype=torch.double)
    expected = m(x)
    weight = m.weight_hh_l0
    del m.weight_hh_l0
    assert not hasattr(m, "weight_hh_l0")
    m.float()
    m.weight_hh_l0 = weight.float()
    assert_equal(m(x.float())[0], expected[0].float())


def test_flat_weights_follow_the_module(nn_):
    m = nn_.GRU(3, 4, num_layers=2, bidirectional=True)
    assert m._flat_weights_names == [n for n, _ in m.named_parameters()]
    assert [[p.shape for p in w] for w in m.all_weights] == [[p.shape for p in w] for w in torch.nn.GRU(
        3, 4, num_layers=2, bidirectional=True).all_weights]
    m.double()
    assert all(w.dtype == torch.float64 for w in m._flat_weights)
    assert all(a is b for a, b in zip(m._flat_weights, m.parameters()))
    m.flatten_parameters()


def _same_weights(ours, ref):
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def test_pruning_and_parametrized_weight_norm_act_on_the_forward(nn_):
    torch.manual_seed(0)
    for apply in (lambda m: torch.nn.utils.prune.l1_unstructured(m, "weight_hh_l0", amount=0.4),
                  lambda m: torch.nn.utils.parametrizations.weight_norm(m, "weight_ih_l0"),
                  lambda m: torch.nn.utils.prune.random_structured(m, "weight_ih_l0", amount=0.5, dim=0)):
        m, ref = _same_weights(nn_.LSTM(5, 6), torch.nn.LSTM(5, 6))
        torch.manual_seed(1)
        apply(m)
        torch.manual_seed(1)
        apply(ref)
        x = torch.randn(4, 3, 5)
        assert_equal(m(x), ref(x))
        m(x)[0].sum().backward()
        ref(x)[0].sum().backward()
        for (n, p), (n2, p2) in zip(m.named_parameters(), ref.named_parameters()):
            assert n == n2
            assert_equal(p.grad, p2.grad)


def test_weight_drop_by_setattr(nn_):
    """AWD-LSTM's WeightDrop: the raw weight becomes a parameter of its own and a dropped copy is assigned
    (setattr) before every forward."""
    torch.manual_seed(0)
    m, ref = _same_weights(nn_.LSTM(5, 6), torch.nn.LSTM(5, 6))
    for mod in (m, ref):
        raw = mod.weight_hh_l0
        del mod._parameters["weight_hh_l0"]
        mod.register_parameter("weight_hh_l0_raw", torch.nn.Parameter(raw.data))
    x = torch.randn(4, 3, 5)
    mask = (torch.rand(24, 6) > 0.5).float() * 2
    outs = []
    for mod in (m, ref):
        mod.weight_hh_l0 = mod.weight_hh_l0_raw * mask
        out = mod(x)[0]
        out.sum().backward()
        outs.append((out, mod.weight_hh_l0_raw.grad))
    assert_equal(outs[0], outs[1])


def test_functional_call(nn_):
    m, ref = _same_weights(nn_.LSTM(5, 6, num_layers=2), torch.nn.LSTM(5, 6, num_layers=2))
    params = {k: torch.randn_like(v) for k, v in m.named_parameters()}
    x = torch.randn(4, 3, 5)
    assert_equal(torch.func.functional_call(m, params, (x,)), torch.func.functional_call(ref, params, (x,)))
    assert_equal(m(x), ref(x))                                    # and the module's own weights after
