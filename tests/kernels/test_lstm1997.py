"""The 1997 LSTM options (memory blocks, no forget gate, the 1997 squashing functions, the truncated gradient)
on the reference kernel: its hand-written BPTT against autograd through the step loop over every option
combination, against a cell written from the paper's equations (forward, and the truncated gradient as the
paper computed it: forward-accumulated partials of the cell states, RTRL style), and its forward-mode
derivative; plus how the other kernels decline them."""

from __future__ import annotations

import itertools

import pytest
import torch

import lstmkit
from lstmkit import kernels
from lstmkit.cells import LSTMSpec
from lstmkit.cells.unroll import unroll
from helpers import make_masks, option_sets

I, H = 3, 4
SQUASH = [("tanh", "tanh"), ("1997", "1997"), ("1997", "identity")]


def all_specs():
    """Every combination of the 1997 options with the other LSTM options (cifg needs the forget gate)."""
    out = {}
    for S, fg, (sq_in, sq_out), trunc, peep, cifg, ln, proj, bias in itertools.product(
            [1, 2], [True, False], SQUASH, [False, True], [False, True], [False, True], [False, True], [0, 2],
            [True, False]):
        if cifg and not fg:
            continue
        spec = LSTMSpec(I, H, bias, cells_per_block=S, forget_gate=fg, input_squash=sq_in, output_squash=sq_out,
                        truncated_gradient=trunc, peephole=peep, cifg=cifg, layer_norm=ln, proj_size=proj)
        name = "-".join(f"{k}={v}" for k, v in spec.variant_options().items()) + ("" if bias else "-nobias")
        out[name or "plain"] = spec
    return out


SPECS = all_specs()
#: a few specs that every sequence option (lengths, resets, zoneout, dropout) runs with
MASKED = {
    "blocks-nofg-1997-trunc": LSTMSpec(I, H, cells_per_block=2, forget_gate=False, input_squash="1997",
                                       output_squash="1997", truncated_gradient=True),
    "blocks-peep-ln-proj": LSTMSpec(I, H, cells_per_block=2, peephole=True, layer_norm=True, proj_size=2),
    "blocks-cifg-trunc-identity": LSTMSpec(I, H, cells_per_block=2, cifg=True, truncated_gradient=True,
                                           output_squash="identity", peephole=True),
}


def weights_and_inputs(spec, T, B, seed=0):
    g = torch.Generator().manual_seed(seed)
    params = {i.field: (0.6 * torch.randn(i.shape, generator=g, dtype=torch.float64)).requires_grad_()
              for i in spec.layout()}
    x = torch.randn(T, B, spec.input_size, generator=g, dtype=torch.float64, requires_grad=True)
    state0 = tuple(torch.randn(B, n, generator=g, dtype=torch.float64, requires_grad=True) for n in spec.state_sizes())
    return params, x, state0


def loss_of(y, state):
    """A loss that weighs every output and both final states differently."""
    w = torch.arange(y.numel(), dtype=y.dtype).view_as(y).sin()
    return (y * w).sum() + 0.3 * state[0].sum() + (state[1] ** 2).sum()


def grads(loss, inputs):
    out = torch.autograd.grad(loss, inputs, allow_unused=True)
    return [torch.zeros_like(i) if g is None else g for g, i in zip(out, inputs)]


def check_against_unroll(spec, T, B, reverse=False, options=()):
    params, x, state0 = weights_and_inputs(spec, T, B)
    w = spec.make_weights(params)
    kw = make_masks(spec, T, B, options)
    inputs = [x, *state0, *params.values()]
    y1, s1 = kernels.run(spec, w, x, state0, kernels.SeqMasks(**kw), reverse=reverse, backend="reference")
    y2, s2 = unroll(spec, w, x, state0, reverse=reverse, **kw)
    torch.testing.assert_close(y1, y2, rtol=1e-10, atol=1e-12)
    for a, b in zip(s1, s2):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    names = ["x", "h0", "c0", *params]
    for name, a, b in zip(names, grads(loss_of(y1, s1), inputs), grads(loss_of(y2, s2), inputs)):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11, msg=lambda m: f"d{name}: {m}")


@pytest.mark.parametrize("name", list(SPECS))
def test_every_option_combination_matches_autograd_through_steps(name):
    check_against_unroll(SPECS[name], T=5, B=3)


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("options", option_sets(), ids=lambda o: "+".join(o) or "plain")
@pytest.mark.parametrize("name", list(MASKED))
def test_with_every_sequence_option(name, options, reverse):
    check_against_unroll(MASKED[name], T=6, B=4, reverse=reverse, options=options)


# ------------------------------------------------------------------------------ the paper's equations

def sig(x):
    return 1.0 / (1.0 + torch.exp(-x))


def paper_lstm(spec, w, x, state0, e):
    """Hochreiter & Schmidhuber (1997), section 4 and appendix A.1, one scalar unit at a time.

    Memory block j (input gate in_j, output gate out_j; Gers et al. 2000's forget gate phi_j when
    ``spec.forget_gate``) holds cells c_j^v, v = 1..S:

        net_in_j(t) = sum_m w_{in_j m} y^m(t-1),          y^{in_j}(t) = f_in(net_in_j(t))
        net_c(t)    = sum_m w_{c m} y^m(t-1),             s_c(t) = y^phi(t) s_c(t-1) + y^{in_j}(t) g(net_c(t))
        y^c(t)      = y^{out_j}(t) h(s_c(t))

    where the y^m(t-1) are the sources feeding the net inputs: this layer's inputs x_t and the cells'
    previous outputs (w_ih and w_hh columns) and a bias. g = 4 sigma - 2 and h = 2 sigma - 1 (or the
    identity); f = sigma. ``e`` (T, B, H) is dE/dy^c(t), the error arriving at each cell output from the
    output layer at time t.

    Returns (y (T, B, H), the truncated gradient {w_ih, w_hh, b}) with the gradient computed as the paper
    does (appendix A.2): the partials ds_c(t)/dw are carried forward in time through the cell state only,
    and at each t the error dE/ds_c(t) = e_c(t) y^out(t) h'(s_c(t)) is multiplied into them; output
    gates get delta_out_j(t) = f'_out(net_out_j(t)) sum_v h(s_cv(t)) e_cv(t).
    """
    T, B, _ = x.shape
    S, nb = spec.cells_per_block, spec.num_blocks
    rows = {}
    k = 0
    for name in spec.gate_names:                       # the weight rows of each unit
        n = H if name == "g" else nb
        rows[name] = list(range(k, k + n))
        k += n
    g_sq = (lambda v: 4 * sig(v) - 2) if spec.input_squash == "1997" else torch.tanh
    dg = (lambda v: 4 * sig(v) * (1 - sig(v))) if spec.input_squash == "1997" else (lambda v: 1 - torch.tanh(v) ** 2)
    h_sq = {"1997": lambda v: 2 * sig(v) - 1, "identity": lambda v: v}.get(spec.output_squash, torch.tanh)
    dh = {"1997": lambda v: 2 * sig(v) * (1 - sig(v)), "identity": lambda v: torch.ones_like(v)}.get(
        spec.output_squash, lambda v: 1 - torch.tanh(v) ** 2)
    W = torch.cat([w.w_ih, w.w_hh, (w.b_ih + w.b_hh)[:, None]], 1)          # (R, I + H + 1): sources m
    grad = torch.zeros_like(W)
    ys = torch.zeros(T, B, H, dtype=x.dtype)
    for b in range(B):
        h_prev, s = state0[0][b].clone(), state0[1][b].clone()
        ds_dW = torch.zeros(H, *W.shape, dtype=x.dtype)                     # ds_c / dW, carried in time
        for t in range(T):
            src = torch.cat([x[t, b], h_prev, torch.ones(1, dtype=x.dtype)])   # y^m(t-1)
            net = W @ src
            s_new, y = torch.empty(H, dtype=x.dtype), torch.empty(H, dtype=x.dtype)
            for j in range(nb):
                y_in = sig(net[rows["i"][j]])
                y_phi = sig(net[rows["f"][j]]) if spec.forget_gate else torch.tensor(1.0, dtype=x.dtype)
                y_out = sig(net[rows["o"][j]])
                err_out = torch.tensor(0.0, dtype=x.dtype)
                for v in range(S):
                    c = j * S + v
                    net_c = net[rows["g"][c]]
                    s_new[c] = y_phi * s[c] + y_in * g_sq(net_c)
                    y[c] = y_out * h_sq(s_new[c])
                    # ds_c(t)/dw = y^phi ds_c(t-1)/dw + [the terms of this step's net inputs]
                    part = y_phi * ds_dW[c]
                    part[rows["g"][c]] += y_in * dg(net_c) * src                         # cell-input weights
                    part[rows["i"][j]] += g_sq(net_c) * y_in * (1 - y_in) * src          # input-gate weights
                    if spec.forget_gate:
                        part[rows["f"][j]] += s[c] * y_phi * (1 - y_phi) * src           # forget-gate weights
                    ds_dW[c] = part
                    grad += e[t, b, c] * y_out * dh(s_new[c]) * part                     # e_s(t) ds_c(t)/dw
                    err_out = err_out + h_sq(s_new[c]) * e[t, b, c]
                grad[rows["o"][j]] += y_out * (1 - y_out) * err_out * src                # delta_out y^m
            s, h_prev = s_new, y
            ys[t, b] = y
    n_ih = w.w_ih.shape[1]
    return ys, {"w_ih": grad[:, :n_ih], "w_hh": grad[:, n_ih:n_ih + H], "b": grad[:, -1]}


@pytest.mark.parametrize("forget_gate", [False, True], ids=["1997", "forget-gate"])
@pytest.mark.parametrize("squash", SQUASH[1:], ids=["h=2sig-1", "h=identity"])
def test_the_paper_cell_and_its_truncated_gradient(forget_gate, squash):
    spec = LSTMSpec(I, H, cells_per_block=2, forget_gate=forget_gate, input_squash=squash[0],
                    output_squash=squash[1], truncated_gradient=True)
    T, B = 7, 2
    params, x, state0 = weights_and_inputs(spec, T, B, seed=3)
    w = spec.make_weights(params)
    e = torch.randn(T, B, H, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    y, _ = kernels.run(spec, w, x, state0, backend="reference")
    d = torch.autograd.grad((y * e).sum(), [params["w_ih"], params["w_hh"], params["b_ih"]])
    y_paper, g_paper = paper_lstm(spec, w, x, state0, e)
    torch.testing.assert_close(y, y_paper, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(d[0], g_paper["w_ih"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(d[1], g_paper["w_hh"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(d[2], g_paper["b"], rtol=1e-10, atol=1e-12)


def test_the_truncated_gradient_differs_from_the_full_one():
    """Truncation changes the gradient (it is not the derivative of the loss) but leaves the forward alone."""
    full = LSTMSpec(I, H, cells_per_block=2, forget_gate=False)
    cut = LSTMSpec(I, H, cells_per_block=2, forget_gate=False, truncated_gradient=True)
    params, x, state0 = weights_and_inputs(full, 6, 2)
    outs = []
    for spec in (full, cut):
        y, s = kernels.run(spec, spec.make_weights(params), x, state0, backend="reference")
        outs.append((y, grads(loss_of(y, s), [x, state0[0], params["w_hh"]])))
    torch.testing.assert_close(outs[0][0], outs[1][0])
    assert (outs[0][1][2] - outs[1][1][2]).abs().max() > 1e-3
    assert outs[1][1][1].abs().max() == 0                   # nothing reaches h0 through the net inputs
    assert outs[1][1][0].abs().max() > 0                    # the input at each step still gets its error


@pytest.mark.parametrize("name", ["blocks-peep-ln-proj", "blocks-nofg-1997-trunc"])
def test_forward_mode_derivative_matches_autograd_through_steps(name):
    spec = MASKED[name]
    params, x, state0 = weights_and_inputs(spec, 5, 3)
    tangents = [torch.randn_like(t) for t in (x, *state0, *params.values())]
    primals = [t.detach() for t in (x, *state0, *params.values())]
    n = len(state0)

    def through(run):
        def f(*args):
            xx, st, ps = args[0], args[1:1 + n], dict(zip(params, args[1 + n:]))
            y, s = run(spec, spec.make_weights(ps), xx, tuple(st))
            return y, *s
        return torch.func.jvp(f, tuple(primals), tuple(tangents))

    ours = through(lambda *a: kernels.run(*a, backend="reference"))
    oracle = through(unroll)
    for a, b in zip(ours[1], oracle[1]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", ["blocks-peep-ln-proj", "blocks-cifg-trunc-identity"])
def test_gradcheck_of_the_untruncated_options(name):
    spec = MASKED[name]
    if spec.truncated_gradient:                          # gradcheck needs the true gradient
        spec = LSTMSpec(**{**{k: getattr(spec, k) for k in spec.__dataclass_fields__}, "truncated_gradient": False})
    params, x, state0 = weights_and_inputs(spec, 4, 2)
    names = list(params)

    def f(x, *rest):
        st, ps = rest[:len(state0)], dict(zip(names, rest[len(state0):]))
        y, s = kernels.run(spec, spec.make_weights(ps), x, tuple(st), backend="reference")
        return y, *s

    assert torch.autograd.gradcheck(f, (x, *state0, *params.values()))


# ------------------------------------------------------------------------------ layout and dispatch

def test_parameter_layout_of_memory_blocks():
    spec = LSTMSpec(5, 6, cells_per_block=3, peephole=True)
    shapes = {i.name: i.shape for i in spec.layout()}
    assert spec.num_blocks == 2 and spec.gate_rows == 6 + 3 * 2
    assert shapes == {"weight_ih": (12, 5), "weight_hh": (12, 6), "bias_ih": (12,), "bias_hh": (12,),
                      "weight_ch": (3, 6)}
    nofg = LSTMSpec(5, 6, cells_per_block=3, forget_gate=False, peephole=True)
    assert nofg.gate_names == "igo" and nofg.gate_rows == 10
    assert {i.name: i.shape for i in nofg.layout()}["weight_ch"] == (2, 6)
    assert LSTMSpec(5, 6, cells_per_block=1).classic == {} and LSTMSpec(5, 6).gate_rows == 24


def test_the_1997_initialisation():
    torch.manual_seed(0)
    lstm = lstmkit.LSTM(3, 8, cells_per_block=2, init_range=0.1, gate_bias_steps=(-0.5, 0.5, -1.0))
    for name, p in lstm.named_parameters():
        if name.startswith("weight"):
            assert p.abs().max() <= 0.1 and p.abs().max() > 0.05, name
    b_ih, b_hh = lstm.bias_ih_l0.detach(), lstm.bias_hh_l0.detach()
    blocks = torch.arange(1.0, 5.0)
    torch.testing.assert_close(b_ih[0:4], -0.5 * blocks)            # input gates: -0.5, -1, -1.5, -2
    torch.testing.assert_close(b_ih[4:8], 0.5 * blocks)             # forget gates
    torch.testing.assert_close(b_ih[16:20], -1.0 * blocks)          # output gates
    assert b_hh[0:8].abs().max() == 0 and b_hh[16:20].abs().max() == 0
    assert 0 < b_ih[8:16].abs().max() <= 0.1                         # cell inputs: U(-0.1, 0.1)
    nofg = lstmkit.LSTM(3, 4, forget_gate=False, gate_bias_steps=(0.0, 9.0, -2.0))
    torch.testing.assert_close(nofg.bias_ih_l0.detach()[-4:], -2.0 * torch.arange(1.0, 5.0))


@pytest.mark.parametrize("kw, message", [
    ({"cells_per_block": 3}, "cells_per_block must divide hidden_size (4)"),
    ({"cells_per_block": 0}, "cells_per_block must be >= 1"),
    ({"forget_gate": False, "cifg": True}, "needs forget_gate=True"),
    ({"forget_gate": False, "forget_bias": 1.0}, "forget_bias=1.0 needs forget_gate=True"),
    ({"input_squash": "relu"}, "input_squash must be one of ('tanh', '1997')"),
    ({"output_squash": "sigmoid"}, "output_squash must be one of ('tanh', '1997', 'identity')"),
    ({"init_range": -1}, "init_range must be a positive number"),
    ({"gate_bias_steps": (1.0, 2.0)}, "gate_bias_steps must be three finite numbers"),
    ({"gate_bias_steps": (0, 0, -1), "bias": False}, "gate_bias_steps=(0.0, 0.0, -1.0) needs bias=True"),
    ({"truncated_gradient": "yes"}, "truncated_gradient must be a bool"),
])
def test_bad_options_say_what_was_expected(kw, message):
    with pytest.raises((ValueError, TypeError), match=message.replace("(", r"\(").replace(")", r"\)")):
        lstmkit.LSTM(2, 4, **kw)


def test_other_kernels_decline_and_auto_runs_the_reference():
    lstm = lstmkit.LSTM(3, 4, num_layers=2, bidirectional=True, cells_per_block=2, forget_gate=False,
                        input_squash="1997", output_squash="1997", truncated_gradient=True)
    x = torch.randn(6, 2, 3)
    for backend in ("cpu", "cpu-fused", "triton", "cudnn"):
        with pytest.raises(ValueError, match=f"backend='{backend}' cannot run this layer"):
            lstmkit.LSTM(3, 4, cells_per_block=2, backend=backend)
    assert "the 1997 LSTM options run on the reference kernel" in str(lstm.explain(x))
    ref = lstmkit.LSTM(3, 4, num_layers=2, bidirectional=True, cells_per_block=2, forget_gate=False,
                       input_squash="1997", output_squash="1997", truncated_gradient=True, backend="reference")
    ref.load_state_dict(lstm.state_dict())
    y1, (h1, c1) = lstm(x)
    y2, (h2, c2) = ref(x)
    torch.testing.assert_close(y1, y2)
    torch.testing.assert_close(c1, c2)


def test_cell_records_block_gates_per_cell():
    spec = LSTMSpec(I, H, cells_per_block=2, forget_gate=False)
    params, x, state0 = weights_and_inputs(spec, 5, 3)
    with torch.no_grad():
        rec = kernels.record(spec, spec.make_weights(params), x, state0)
    assert set(rec) == {"i", "f", "g", "o", "c"} and all(v.shape == (5, 3, H) for v in rec.values())
    assert torch.equal(rec["f"], torch.ones_like(rec["f"]))                   # the carousel
    torch.testing.assert_close(rec["i"][..., 0], rec["i"][..., 1])           # one input gate per block
    assert not torch.equal(rec["i"][..., 1], rec["i"][..., 2])


def test_cell_module_with_1997_options_equals_a_layer_step():
    kw = dict(cells_per_block=2, forget_gate=False, input_squash="1997", output_squash="1997", peephole=True)
    cell = lstmkit.LSTMCell(3, 4, **kw)
    layer = lstmkit.LSTM(3, 4, **kw)
    layer.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()})
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    h1, c1 = cell(x, (h, c))
    y, (h2, c2) = layer(x[None], (h[None], c[None]))
    torch.testing.assert_close(h1, h2[0])
    torch.testing.assert_close(c1, c2[0])
