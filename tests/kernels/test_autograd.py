"""What autograd and torch.func do with lstmkit's sequence node (kernels/autograd.py, kernels/batching.py):
double backward, forward mode and vmap, for every cell and variant, against autograd through the step
functions (cells.unroll) and against torch.nn."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.autograd.forward_ad as fwAD
from torch.func import functional_call, grad, hessian, jacfwd, jacrev, jvp, stack_module_state, vmap
from torch.testing._internal.common_utils import freeze_rng_state
from torch.utils._pytree import tree_leaves

import lstmkit

F64 = dict(dtype=torch.float64)
TOL = dict(rtol=1e-7, atol=1e-9)

LAYER_VARIANTS = {
    "lstm": (lstmkit.LSTM, {}),
    "lstm_nobias_2layers": (lstmkit.LSTM, dict(bias=False, num_layers=2)),
    "lstm_bidir_proj": (lstmkit.LSTM, dict(bidirectional=True, proj_size=2)),
    "lstm_peephole": (lstmkit.LSTM, dict(peephole=True)),
    "lstm_layer_norm": (lstmkit.LSTM, dict(layer_norm=True)),
    "lstm_cifg": (lstmkit.LSTM, dict(cifg=True)),
    "lstm_all": (lstmkit.LSTM, dict(peephole=True, layer_norm=True, cifg=True, proj_size=2, bidirectional=True)),
    "lstm_zoneout_dropout_train": (lstmkit.LSTM, dict(zoneout_h=0.3, zoneout_c=0.2, input_dropout=0.2,
                                                      recurrent_dropout=0.3, num_layers=2, dropout=0.3)),
    "lstm_zoneout_eval": (lstmkit.LSTM, dict(zoneout_h=0.3, zoneout_c=0.2)),
    "gru": (lstmkit.GRU, {}),
    "gru_reset_before_bidir": (lstmkit.GRU, dict(reset_before=True, bidirectional=True)),
    "gru_zoneout_dropout_train": (lstmkit.GRU, dict(zoneout=0.3, recurrent_dropout=0.3)),
    "rnn_tanh": (lstmkit.RNN, {}),
    "rnn_relu_bidir": (lstmkit.RNN, dict(nonlinearity="relu", bidirectional=True)),
    "rnn_zoneout_dropout_train": (lstmkit.RNN, dict(zoneout=0.3, input_dropout=0.2, recurrent_dropout=0.3)),
}
FORWARD_OPTIONS = {"plain": {}, "lengths": dict(lengths=torch.tensor([3, 1])),
                   "reset": dict(reset=torch.tensor([[False, False], [True, False], [False, True]]))}


def make_layer(name, seed=0):
    cls, kw = LAYER_VARIANTS[name]
    torch.manual_seed(seed)
    layer = cls(2, 3, **kw, **F64)
    if name.endswith("_eval"):
        layer.eval()
    if name.startswith("rnn_relu"):                          # keep pre-activations away from relu's kink
        with torch.no_grad():
            for p in layer.parameters():
                p.add_(0.3 * torch.sign(p))
    return layer


def sequence_fn(layer, option, n_states):
    """f(x, *state0, *params) -> every output of the layer, flat; the masks frozen across calls."""
    names = [n for n, _ in layer.named_parameters()]
    kwargs = FORWARD_OPTIONS[option]

    def f(x, *rest):
        state, params = rest[:n_states], dict(zip(names, rest[n_states:]))
        hx = state[0] if n_states == 1 else tuple(state)
        with freeze_rng_state():
            return tuple(tree_leaves(functional_call(layer, params, (x, hx), kwargs)))
    return f


def sequence_inputs(layer, seed=1):
    g = torch.Generator().manual_seed(seed)
    D = 2 if layer.bidirectional else 1
    x = torch.randn(3, 2, 2, generator=g, **F64).requires_grad_()
    sizes = [s for _, _, s in layer._state_shapes()]
    states = [torch.randn(D * layer.num_layers, 2, s, generator=g, **F64).requires_grad_() for s in sizes]
    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    return [x, *states, *params], len(states)


WITH_OPTIONS = ["lstm_all", "lstm_zoneout_dropout_train", "gru_reset_before_bidir", "rnn_relu_bidir"]


@pytest.mark.parametrize("name,option", [(n, "plain") for n in LAYER_VARIANTS] +
                         [(n, o) for n in WITH_OPTIONS for o in ("lengths", "reset")])
def test_layers_pass_gradcheck_and_gradgradcheck(name, option):
    """First and second derivatives (reverse over reverse, forward over reverse), batched gradients and
    forward mode, of every output with respect to the input, the initial state and every parameter
    (fast mode: the Jacobians projected on random vectors, as PyTorch's own module tests run them)."""
    layer = make_layer(name)
    inputs, n_states = sequence_inputs(layer)
    f = sequence_fn(layer, option, n_states)
    assert torch.autograd.gradcheck(f, inputs, check_batched_grad=True, check_forward_ad=True, fast_mode=True)
    assert torch.autograd.gradgradcheck(f, inputs, check_batched_grad=True, check_fwd_over_rev=True,
                                        fast_mode=True)


CELLS = [(lstmkit.LSTMCell, {}), (lstmkit.LSTMCell, dict(peephole=True, layer_norm=True, proj_size=2)),
         (lstmkit.LSTMCell, dict(cifg=True, bias=False)), (lstmkit.GRUCell, {}),
         (lstmkit.GRUCell, dict(reset_before=True)), (lstmkit.RNNCell, dict(nonlinearity="tanh"))]


@pytest.mark.parametrize("cls,kw", CELLS, ids=lambda v: getattr(v, "__name__", None) or str(v))
def test_cells_pass_gradcheck_and_gradgradcheck(cls, kw):
    torch.manual_seed(0)
    cell = cls(2, 3, **kw, **F64)
    names = [n for n, _ in cell.named_parameters()]
    state = [torch.randn(2, n, **F64).requires_grad_() for n in cell.spec.state_sizes()]
    x = torch.randn(2, 2, **F64).requires_grad_()
    params = [p.detach().clone().requires_grad_() for p in cell.parameters()]

    def f(x, *rest):
        st, ps = rest[:len(state)], dict(zip(names, rest[len(state):]))
        return tuple(tree_leaves(functional_call(cell, ps, (x, st[0] if len(st) == 1 else tuple(st)))))
    assert torch.autograd.gradcheck(f, [x, *state, *params], check_forward_ad=True, check_batched_grad=True)
    assert torch.autograd.gradgradcheck(f, [x, *state, *params], check_fwd_over_rev=True, fast_mode=True)


def test_create_graph_gives_a_differentiable_gradient_equal_to_torch_nn():
    """A gradient penalty through lstmkit equals the same through torch.nn (not silently zero)."""
    torch.manual_seed(0)
    ours = lstmkit.LSTM(3, 4, num_layers=2, bidirectional=True, **F64)
    ref = ours.to_torch()
    results = []
    for m in (ours, ref):
        x = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(1), **F64).requires_grad_()
        out, (h, c) = m(x)
        (gx,) = torch.autograd.grad(out.pow(2).sum() + c.sum(), x, create_graph=True)
        assert gx.requires_grad
        penalty = gx.pow(2).sum()
        penalty.backward()
        results.append([gx, x.grad, *[p.grad for p in m.parameters()]])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, **TOL)


def per_sample_loss(layer):
    def loss(params, x_b):                                     # one sample: (T, I) unbatched
        out = functional_call(layer, params, (x_b,))
        y, state = out
        return y.pow(2).sum() + sum(s.sum() for s in tree_leaves(state))
    return loss


@pytest.mark.parametrize("name", ["lstm", "lstm_all", "lstm_nobias_2layers", "gru_reset_before_bidir",
                                  "rnn_relu_bidir", "lstm_zoneout_eval"])
def test_per_sample_gradients_by_vmap_equal_a_loop(name):
    layer = make_layer(name)
    params = {k: v.detach() for k, v in layer.named_parameters()}
    xs = torch.randn(4, 5, 2, **F64)                             # 4 samples of (T=5, I=2)
    batched = vmap(grad(per_sample_loss(layer)), in_dims=(None, 0))(params, xs)
    for b in range(4):
        single = grad(per_sample_loss(layer))(params, xs[b])
        for k in params:
            torch.testing.assert_close(batched[k][b], single[k], rtol=0, atol=1e-6)
    # and the loop of plain backward calls agrees too
    for b in range(2):
        layer.zero_grad()
        per_sample_loss(layer)(dict(layer.named_parameters()), xs[b]).backward()
        for k, p in layer.named_parameters():
            torch.testing.assert_close(batched[k][b], p.grad, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cls,kw", [(lstmkit.LSTM, dict(proj_size=2, num_layers=2)),
                                    (lstmkit.GRU, dict(bidirectional=True)), (lstmkit.RNN, {})])
def test_jacobians_hessians_and_forward_mode_equal_torch_nn(cls, kw):
    torch.manual_seed(0)
    ours = cls(2, 3, **kw, **F64)
    ref = ours.to_torch()
    x = torch.randn(3, 2, 2, **F64)
    f_ours, f_ref = (lambda xx: ours(xx)[0]), (lambda xx: ref(xx)[0])
    for transform in (jacrev, jacfwd):
        torch.testing.assert_close(transform(f_ours)(x), transform(f_ref)(x), **TOL)
    scalar = (lambda m: lambda xx: m(xx)[0].pow(2).sum())
    torch.testing.assert_close(hessian(scalar(ours))(x[:2, :1]), hessian(scalar(ref))(x[:2, :1]), **TOL)
    for strategy in ("reverse-mode", "forward-mode"):
        torch.testing.assert_close(torch.autograd.functional.jacobian(f_ours, x, vectorize=True, strategy=strategy),
                                   torch.autograd.functional.jacobian(f_ref, x, vectorize=True), **TOL)
    v = torch.randn(4, 3, 2, ours.proj_size if cls is lstmkit.LSTM else 3 * (2 if ours.bidirectional else 1), **F64)
    xs = [x.clone().requires_grad_() for _ in range(2)]
    gs = [torch.autograd.grad(f(xx), xx, v, is_grads_batched=True)[0] for f, xx in zip((f_ours, f_ref), xs)]
    torch.testing.assert_close(gs[0], gs[1], **TOL)
    tangent = torch.randn_like(x)
    with fwAD.dual_level():
        t_ours = fwAD.unpack_dual(f_ours(fwAD.make_dual(x, tangent))).tangent
        t_ref = fwAD.unpack_dual(f_ref(fwAD.make_dual(x, tangent))).tangent
    torch.testing.assert_close(t_ours, t_ref, **TOL)


def test_vmap_over_a_stacked_ensemble_runs_each_member():
    models = [lstmkit.LSTM(3, 4, num_layers=2, **F64) for _ in range(3)]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    x = torch.randn(5, 2, 3, **F64)

    def f(p, b, xx):
        return functional_call(base, (p, b), (xx,))[0]
    torch.testing.assert_close(vmap(f, in_dims=(0, 0, None))(params, buffers, x), torch.stack([m(x)[0] for m in models]))
    grads = vmap(grad(lambda p, b, xx: f(p, b, xx).pow(2).sum()), in_dims=(0, 0, None))(params, buffers, x)
    for k, m in enumerate(models):
        m(x)[0].pow(2).sum().backward()
        for n, p in m.named_parameters():
            torch.testing.assert_close(grads[n][k], p.grad, **TOL)


def test_vmap_without_gradients_folds_the_batch_and_keeps_lengths():
    layer = lstmkit.GRU(3, 4, bidirectional=True, **F64)
    xs = torch.randn(3, 6, 2, 3, **F64)
    lengths = torch.tensor([6, 3])
    with torch.no_grad():
        batched = vmap(lambda xx: layer(xx, lengths=lengths)[0])(xs)
        loop = torch.stack([layer(xx, lengths=lengths)[0] for xx in xs])
    torch.testing.assert_close(batched, loop, **TOL)


def test_streaming_step_serves_tangents_and_transforms():
    """layer.step's compiled single step is only taken when nothing needs a gradient or a tangent."""
    layer = lstmkit.LSTM(3, 4, num_layers=2, **F64).eval()
    x, t = torch.randn(2, 3, **F64), torch.randn(2, 3, **F64)
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(layer.step(fwAD.make_dual(x, t))[0]).tangent
    expect = jvp(lambda xx: layer(xx.unsqueeze(0))[0][0], (x,), (t,))[1]
    torch.testing.assert_close(tangent, expect, **TOL)
    xs = torch.randn(5, 2, 3, **F64)
    torch.testing.assert_close(vmap(lambda xx: layer.step(xx)[0])(xs), torch.stack([layer.step(v)[0] for v in xs]))


def test_masks_under_vmap_follow_its_randomness_setting():
    """Dropout and zoneout masks drawn under vmap use torch's generator, so vmap's randomness rules hold."""
    layer = lstmkit.GRU(3, 4, recurrent_dropout=0.5, zoneout=0.3, **F64).train()
    xs = torch.randn(5, 2, 3, **F64).expand(4, 5, 2, 3)                # four identical elements
    with pytest.raises(RuntimeError, match="randomness"):
        vmap(lambda xx: layer(xx)[0])(xs)
    same = vmap(lambda xx: layer(xx)[0], randomness="same")(xs)
    assert all(torch.equal(same[0], s) for s in same[1:])
    different = vmap(lambda xx: layer(xx)[0], randomness="different")(xs)
    assert not torch.equal(different[0], different[1])
