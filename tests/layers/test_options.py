"""What the lstmkit-only options mean, checked against first principles: lengths, resets, zoneout,
variational dropout, forget_bias, truncated BPTT; and module-level gradcheck of combinations."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

import lstmkit
from helpers import assert_close

F64 = torch.float64


def as_tuple(s):
    return s if isinstance(s, tuple) else (s,)


@pytest.mark.parametrize("cls", [lstmkit.LSTM, lstmkit.GRU, lstmkit.RNN])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lengths_equal_running_each_sequence_alone(cls, bidirectional):
    layer = cls(4, 5, num_layers=2, bidirectional=bidirectional, dtype=F64)
    lengths = [6, 2, 4]
    x = torch.randn(6, 3, 4, dtype=F64)
    out, st = layer(x, lengths=torch.tensor(lengths))
    for b, L in enumerate(lengths):
        o_b, st_b = layer(x[:L, b:b + 1])
        assert_close(out[:L, b:b + 1], o_b, F64, "valid outputs")
        assert torch.equal(out[L:, b], torch.zeros_like(out[L:, b])), "outputs past the end are zero"
        for s, s_b in zip(as_tuple(st), as_tuple(st_b)):
            assert_close(s[:, b:b + 1], s_b, F64, "final state")


@pytest.mark.parametrize("cls", [lstmkit.LSTM, lstmkit.GRU, lstmkit.RNN])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_reset_equals_restarting_from_zero(cls, bidirectional):
    """A reset before step 3 of sample 0 splits it into two independent sequences. The forward direction
    restarts the second part at zero; the reverse direction, which enters from the end, restarts the
    first part at zero."""
    layer = cls(4, 5, bidirectional=bidirectional, dtype=F64)
    x = torch.randn(7, 2, 4, dtype=F64)
    hx = tuple(torch.randn_like(h) for h in as_tuple(layer.init_state(2)))
    pack = (lambda t: t) if cls is lstmkit.LSTM else (lambda t: t[0])
    reset = torch.zeros(7, 2, dtype=torch.bool)
    reset[3, 0] = True
    out, _ = layer(x, pack(hx), reset=reset)

    def zeroed(direction):                                            # sample 0's initial state, one direction zero
        return pack(tuple(torch.cat([h[:, :1].index_fill(0, torch.tensor([direction]), 0.0)
                                     if bidirectional or direction == 0 else h[:, :1]], 1) for h in hx))
    first, _ = layer(x[:3, :1], zeroed(1) if bidirectional else pack(tuple(h[:, :1] for h in hx)))
    second, _ = layer(x[3:, :1], zeroed(0))
    assert_close(out[:3, :1], first, F64, "before the boundary")
    assert_close(out[3:, :1], second, F64, "after the boundary")
    whole, _ = layer(x[:, 1:], pack(tuple(h[:, 1:] for h in hx)))
    assert_close(out[:, 1:], whole, F64, "the other sample is untouched")


def test_zoneout_training_keeps_previous_units_at_rate_p_and_eval_is_the_expectation():
    torch.manual_seed(1)
    layer = lstmkit.GRU(8, 64, zoneout=0.3)
    x = torch.randn(50, 16, 8)
    out, _ = layer.train()(x)
    kept = (out[1:] == out[:-1]).float().mean().item()
    assert 0.27 < kept < 0.33
    a, _ = layer.eval()(x)
    b, _ = layer(x)
    assert torch.equal(a, b)
    # evaluation: h_t = p h_{t-1} + (1 - p) h~_t, checked step by step with the cell
    cell = lstmkit.GRUCell(8, 64)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    h = torch.zeros(16, 64)
    for t in range(3):
        h_new = cell(x[t], h)
        h = 0.3 * h + 0.7 * h_new
        assert_close(a[t], h, torch.float32, f"step {t}")


def test_variational_masks_are_one_per_sequence_and_only_in_training():
    layer = lstmkit.LSTM(6, 10, input_dropout=0.25, recurrent_dropout=0.5, proj_size=4)
    x = torch.randn(5, 400, 6)
    from lstmkit.layers.inputs import Prepared
    prep = Prepared(x=x, state0=(), lengths=None, reset=None)
    m = layer.train()._masks(layer._specs[0], x, prep, 5, 400)
    assert m.drop_x.shape == (400, 6) and m.drop_h.shape == (400, 4)
    assert m.drop_x.unique().tolist() == pytest.approx([0.0, 1 / 0.75])
    assert m.drop_h.unique().tolist() == [0.0, 2.0]
    assert abs((m.drop_x == 0).float().mean().item() - 0.25) < 0.04
    assert abs((m.drop_h == 0).float().mean().item() - 0.5) < 0.04
    m = layer.eval()._masks(layer._specs[0], x, prep, 5, 400)
    assert m.drop_x is None and m.drop_h is None
    a, _ = layer(x)
    layer.train()
    torch.manual_seed(5)
    b, _ = layer(x)
    torch.manual_seed(5)
    c, _ = layer(x)
    assert torch.equal(b, c) and not torch.equal(a, b)


def test_recurrent_dropout_drops_the_same_units_at_every_step():
    """With W_ih = 0 and the input mask off, a dropped h unit never reaches the gates: its W_hh column
    gets exactly zero gradient at every step, for that sequence."""
    layer = lstmkit.RNN(3, 8, recurrent_dropout=0.5, dtype=F64)
    with torch.no_grad():
        layer.weight_ih_l0.zero_()
    x = torch.randn(20, 1, 3, dtype=F64)
    h0 = torch.randn(1, 1, 8, dtype=F64)
    torch.manual_seed(2)
    out, _ = layer(x, h0)
    out.sum().backward()
    torch.manual_seed(2)
    mask = layer._masks(layer._specs[0], x, _prep(x), 20, 1).drop_h[0]
    dropped = mask == 0
    assert dropped.any() and (~dropped).any()
    assert torch.all(layer.weight_hh_l0.grad[:, dropped] == 0)
    assert torch.all(layer.weight_hh_l0.grad[:, ~dropped].abs().sum(0) > 0)


def _prep(x):
    from lstmkit.layers.inputs import Prepared
    return Prepared(x=x, state0=(), lengths=None, reset=None)


def test_forget_bias_initial_value():
    layer = lstmkit.LSTM(4, 5, num_layers=2, forget_bias=1.0)
    for k in range(2):
        assert torch.all(getattr(layer, f"bias_ih_l{k}")[5:10] == 1.0)
        assert torch.all(getattr(layer, f"bias_hh_l{k}")[5:10] == 0.0)
    cifg = lstmkit.LSTM(4, 5, cifg=True, forget_bias=2.0)
    assert cifg.bias_ih_l0.shape == (15,) and torch.all(cifg.bias_ih_l0[:5] == 2.0)


def test_variant_parameter_names_and_shapes():
    layer = lstmkit.LSTM(4, 6, bidirectional=True, proj_size=2, peephole=True, layer_norm=True, cifg=True)
    shapes = {k: tuple(v.shape) for k, v in layer.state_dict().items() if k.endswith("_l0_reverse")}
    assert shapes == {"weight_ih_l0_reverse": (18, 4), "weight_hh_l0_reverse": (18, 2),
                      "bias_ih_l0_reverse": (18,), "bias_hh_l0_reverse": (18,), "weight_hr_l0_reverse": (2, 6),
                      "weight_ch_l0_reverse": (2, 6), "weight_ln_ih_l0_reverse": (18,),
                      "weight_ln_hh_l0_reverse": (18,), "weight_ln_c_l0_reverse": (6,),
                      "bias_ln_c_l0_reverse": (6,)}


def test_truncated_bptt_with_detach_state():
    layer = lstmkit.LSTM(3, 4, dtype=F64)
    x = torch.randn(12, 2, 3, dtype=F64, requires_grad=True)
    whole, _ = layer(x)
    state, outs = None, []
    for chunk in x.split(4):
        out, state = layer(chunk, state)
        outs.append(out)
        state = lstmkit.detach_state(state)
        assert all(not s.requires_grad for s in state)
    assert_close(torch.cat(outs), whole, F64, "chunked forward equals the whole sequence")
    outs[-1].sum().backward()                                         # gradient stops at the last chunk
    assert torch.all(x.grad[:8] == 0) and torch.any(x.grad[8:] != 0)
    assert lstmkit.detach_state(None) is None
    with pytest.raises(TypeError, match="got str"):
        lstmkit.detach_state("h")


MODULE_GRADCHECK = [
    (lstmkit.LSTM, dict(peephole=True, layer_norm=True, cifg=True, bidirectional=True, num_layers=2)),
    (lstmkit.LSTM, dict(proj_size=2, zoneout_h=0.3, zoneout_c=0.4, input_dropout=0.2, recurrent_dropout=0.3,
                        bidirectional=True)),
    (lstmkit.GRU, dict(reset_before=True, zoneout=0.3, recurrent_dropout=0.3, bidirectional=True, num_layers=2,
                       dropout=0.2)),
    (lstmkit.RNN, dict(nonlinearity="tanh", input_dropout=0.3, bidirectional=True)),
]


@pytest.mark.parametrize("cls,kw", MODULE_GRADCHECK)
def test_module_gradcheck_with_lengths_and_resets(cls, kw):
    """Whole layers in training mode (random masks fixed by re-seeding), lengths and resets together."""
    layer = cls(3, 4, dtype=F64, **kw).train()
    params = dict(layer.named_parameters())
    names = list(params)
    x = torch.randn(5, 3, 3, dtype=F64, requires_grad=True)
    lengths = torch.tensor([5, 2, 4])
    reset = torch.zeros(5, 3, dtype=torch.bool)
    reset[2, 0] = reset[1, 2] = True

    def f(x, *ps):
        torch.manual_seed(11)
        out, st = functional_call(layer, dict(zip(names, ps)), (x,), dict(lengths=lengths, reset=reset))
        return (out, *as_tuple(st))

    assert torch.autograd.gradcheck(f, (x, *params.values()), eps=1e-6, atol=1e-7, rtol=1e-5)
