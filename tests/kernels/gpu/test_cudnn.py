"""The cuDNN route (backend="cudnn", lstmkit.kernels.gpu.cudnn): the whole stack through torch's own RNN op.

On CPU the same torch._VF calls run ATen, so the plumbing (weights, states, lengths by packing, batch order,
dropout between layers) is checked here against the reference and torch.nn: outputs, final states and every
gradient, float64. The CUDA tests at the end (cuDNN itself) skip without a GPU."""

from __future__ import annotations

import warnings

import pytest
import torch
from helpers import assert_close, grads, loss_of
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import lstmkit
from lstmkit.kernels.gpu import cudnn

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (cuDNN)")
I, H, T, B = 3, 4, 5, 3

FAMILIES = {"lstm": (lstmkit.LSTM, {}), "lstm-proj": (lstmkit.LSTM, {"proj_size": 2}),
            "gru": (lstmkit.GRU, {}), "rnn-tanh": (lstmkit.RNN, {"nonlinearity": "tanh"}),
            "rnn-relu": (lstmkit.RNN, {"nonlinearity": "relu"})}
CONFIGS = {"stacked-bidirectional": {"num_layers": 2, "bidirectional": True}, "no-bias": {"bias": False},
           "batch-first-stacked": {"batch_first": True, "num_layers": 2},
           "dropout-eval": {"num_layers": 2, "dropout": 0.5}}
#: how the layer is called: lengths (unequal, or all T) and whether hx is given
CALLS = {"plain": (None, False), "lengths": ([5, 2, 4], False), "lengths-hx": ([3, 5, 1], True),
         "full-lengths-hx": ([5, 5, 5], True)}


def _pair(family: str, device="cpu", dtype=torch.float64, **config):
    cls, opts = FAMILIES[family]
    fast = cls(I, H, **opts, **config, backend="cudnn", device=device, dtype=dtype)
    ref = cls(I, H, **opts, **config, backend="reference", device=device, dtype=dtype)
    ref.load_state_dict(fast.state_dict())
    fast.eval(), ref.eval()
    return fast, ref


def _inputs(layer, lengths, with_hx: bool, device="cpu", dtype=torch.float64):
    shape = (B, T, I) if layer.batch_first else (T, B, I)
    x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
    hx = None
    if with_hx:
        state = layer.init_state(B)
        hx = tuple(torch.randn_like(s).requires_grad_() for s in
                   ((state,) if isinstance(state, torch.Tensor) else state))
    lens = None if lengths is None else torch.tensor(lengths, device=device)
    return x, hx, lens


def _call(layer, x, hx, lens):
    if hx is not None and len(hx) == 1:
        hx = hx[0]
    out, state = layer(x, hx, lengths=lens)
    return out, (state,) if isinstance(state, torch.Tensor) else tuple(state)


def _everything(layer, x, hx, lens):
    out, states = _call(layer, x, hx, lens)
    named = {"input": x, **{f"hx{k}": s for k, s in enumerate(hx or ())}, **dict(layer.named_parameters())}
    return out, states, grads(loss_of(out, states), named)


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("family", FAMILIES)
def test_matches_reference_outputs_states_and_every_gradient(family, config, call):
    fast, ref = _pair(family, **CONFIGS[config])
    x, hx, lens = _inputs(fast, *CALLS[call])
    out, states, g = _everything(fast, x, hx, lens)
    out_r, states_r, g_r = _everything(ref, x, hx, lens)
    assert_close(out, out_r, torch.float64, "output")
    for k, (s, s_r) in enumerate(zip(states, states_r)):
        assert_close(s, s_r, torch.float64, f"final state {k}")
    assert set(g) == set(g_r)
    for name in g:
        assert_close(g[name], g_r[name], torch.float64, f"d/d {name}")


@pytest.mark.parametrize("family", FAMILIES)
def test_matches_torch_nn_with_lengths_as_packed(family):
    """torch.nn on the PackedSequence of the same padded batch: the same outputs and final states."""
    fast, _ = _pair(family, num_layers=2, bidirectional=True)
    nn_mod = fast.to_torch()
    x, hx, lens = _inputs(fast, [5, 2, 4], True)
    out, states = _call(fast, x, hx, lens)
    packed = pack_padded_sequence(x, lens, enforce_sorted=False)
    out_nn, states_nn = nn_mod(packed, hx if len(hx) == 2 else hx[0])
    out_nn, _ = pad_packed_sequence(out_nn, total_length=T)
    states_nn = (states_nn,) if isinstance(states_nn, torch.Tensor) else states_nn
    assert_close(out, out_nn, torch.float64, "output")
    for s, s_nn in zip(states, states_nn):
        assert_close(s, s_nn, torch.float64, "final state")


def test_dropout_between_layers_in_training_is_torch_nns():
    """The op draws torch.nn's dropout masks: the same seed gives the same numbers as torch.nn.LSTM."""
    fast, _ = _pair("lstm", num_layers=3, dropout=0.5)
    nn_mod = fast.to_torch()
    fast.train(), nn_mod.train()
    x = torch.randn(T, B, I, dtype=torch.float64)
    torch.manual_seed(3)
    out, (h, c) = fast(x)
    torch.manual_seed(3)
    out_nn, (h_nn, c_nn) = nn_mod(x)
    assert_close(out, out_nn, torch.float64, "output")
    assert_close(c, c_nn, torch.float64, "c_n")
    fast.eval()
    assert not torch.allclose(fast(x)[0], out)                    # dropout did act in training


def test_unbatched_packed_input_and_step():
    fast, ref = _pair("lstm-proj", num_layers=2)
    x = torch.randn(T, I, dtype=torch.float64)
    torch.testing.assert_close(fast(x)[0], ref(x)[0], rtol=1e-10, atol=1e-10)
    xs = torch.randn(T, B, I, dtype=torch.float64)
    packed = pack_padded_sequence(xs, torch.tensor([5, 2, 4]), enforce_sorted=False)
    torch.testing.assert_close(fast(packed)[0].data, ref(packed)[0].data, rtol=1e-10, atol=1e-10)
    y_t, (h, c) = fast.step(xs[0])                                 # a step is a forward() of one step
    y_r, (h_r, c_r) = ref.step(xs[0])
    torch.testing.assert_close((y_t, h, c), (y_r, h_r, c_r), rtol=1e-10, atol=1e-10)


def test_eval_with_gradients_runs_the_training_forward_without_dropout(monkeypatch):
    """cuDNN's backward refuses a forward run with train=False: in eval mode a call that needs gradients
    runs the op with train=True and dropout 0 (eval's math); without gradients, train=False."""
    seen = []
    op = torch._VF.lstm

    def spy(*args):
        packed = isinstance(args[1], torch.Tensor)                  # (data, batch_sizes, hx, ...)
        seen.append(args[-3:] if packed else args[-4:-1])          # (dropout, train, bidirectional)
        return op(*args)
    monkeypatch.setattr(torch._VF, "lstm", spy, raising=False)
    layer = lstmkit.LSTM(I, H, num_layers=2, dropout=0.5, backend="cudnn").eval()
    x = torch.randn(T, B, I)
    with torch.no_grad():
        layer(x)
    layer(x, lengths=torch.tensor([5, 2, 4]))                      # the parameters need gradients
    layer.train()
    layer(x)
    assert seen == [(0.0, False, False), (0.0, True, False), (0.5, True, False)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_lower_precisions_are_torch_nns_numbers(dtype):
    fast, _ = _pair("gru", dtype=dtype, num_layers=2)
    x = torch.randn(T, B, I, dtype=dtype)
    torch.testing.assert_close(fast(x)[0], fast.to_torch()(x)[0], rtol=0, atol=0)


@pytest.mark.parametrize("family, option", [("lstm", {"peephole": True}), ("lstm", {"layer_norm": True}),
                                            ("lstm", {"zoneout_c": 0.2}), ("lstm", {"cifg": True}),
                                            ("gru", {"reset_before": True}), ("rnn-tanh", {"zoneout": 0.1}),
                                            ("gru", {"recurrent_dropout": 0.3})])
def test_variant_options_raise_naming_the_option(family, option):
    cls, opts = FAMILIES[family]
    name = next(iter(option))
    with pytest.raises(ValueError, match=f"backend='cudnn' cannot run this layer: {name}="):
        cls(I, H, **opts, **option, backend="cudnn")
    layer = cls(I, H, **opts, **option)                            # switched later: the forward says it
    layer.backend = "cudnn"
    with pytest.raises(ValueError, match=f"{name}="):
        layer(torch.randn(T, B, I))


def test_reset_recording_and_forward_ad_raise_naming_what():
    layer = lstmkit.LSTM(I, H, backend="cudnn")
    x = torch.randn(T, B, I)
    reset = torch.zeros(T, B, dtype=torch.bool)
    with pytest.raises(ValueError, match="reset="):
        layer(x, reset=reset)
    with pytest.raises(ValueError, match="record"):
        layer(x, record=True)
    import torch.autograd.forward_ad as fwAD
    with fwAD.dual_level(), pytest.raises(ValueError, match="forward-mode AD"):
        layer(fwAD.make_dual(x, torch.randn_like(x)))


def test_forget_bias_only_initialises_so_the_route_runs():
    fast = lstmkit.LSTM(I, H, forget_bias=1.0, backend="cudnn", dtype=torch.float64)
    ref = lstmkit.LSTM(I, H, forget_bias=1.0, backend="reference", dtype=torch.float64)
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(T, B, I, dtype=torch.float64)
    torch.testing.assert_close(fast(x)[0], ref(x)[0], rtol=1e-10, atol=1e-10)
    assert fast.explain(x).calls[0]["kernel"] == "cudnn"


def test_auto_on_cpu_never_takes_the_route(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("auto ran the cudnn route on CPU")
    monkeypatch.setattr(cudnn, "run", refuse)
    for family in FAMILIES:
        cls, opts = FAMILIES[family]
        layer = cls(I, H, **opts, num_layers=2, bidirectional=True)
        x = torch.randn(T, B, I)
        layer(x, lengths=torch.tensor([5, 2, 4]))[0].sum().backward()
        assert layer.explain(x).calls[0]["kernel"] != "cudnn"


def test_explain_reports_the_route():
    layer = lstmkit.LSTM(I, H, num_layers=2, bidirectional=True, backend="cudnn")
    why = layer.explain(torch.randn(T, B, I), lengths=torch.tensor([5, 2, 4]))
    assert [c["kernel"] for c in why.calls] == ["cudnn", "cudnn"]
    assert "torch._VF.lstm" in str(why) and "packed" in str(why) and "backward" in str(why)
    layer._recorder = lambda rec: None                             # as lstmkit.inspect's recording sets it
    try:
        with pytest.raises(ValueError, match="record"):            # what forward would refuse
            layer.explain(torch.randn(T, B, I))
    finally:
        del layer._recorder


def test_cudnn_is_a_valid_backend_name_but_no_layer_direction_kernel():
    assert "cudnn" in lstmkit.kernels.available()
    layer = lstmkit.GRU(I, H, backend="cudnn")
    assert "backend='cudnn'" in repr(layer)
    with pytest.raises(ValueError, match="whole stack"):
        lstmkit.kernels.select("cudnn", layer._specs[0], torch.randn(T, B, I))
    empty = layer(torch.randn(T, 0, I))                            # an empty batch: the reference's torch ops
    assert empty[0].shape == (T, 0, H)


def test_flatten_parameters_is_a_no_op_on_cpu():
    layer = lstmkit.LSTM(I, H, num_layers=2, proj_size=2)
    ptrs = [w.data_ptr() for w in layer._flat_weights]
    layer.flatten_parameters()
    assert [w.data_ptr() for w in layer._flat_weights] == ptrs
    assert all(a is b for a, b in zip(layer._flat_weights, layer.parameters()))


# ------------------------------------------------------------------------------------------------ CUDA

@needs_cuda
@pytest.mark.parametrize("family", FAMILIES)
def test_cuda_auto_takes_cudnn_with_torch_nns_numbers(family):
    cls, opts = FAMILIES[family]
    layer = cls(16, 32, **opts, num_layers=2, bidirectional=True, device="cuda")
    nn_mod = layer.to_torch()
    x = torch.randn(7, 4, 16, device="cuda", requires_grad=True)
    assert layer.explain(x).calls[0]["kernel"] == "cudnn"
    out, states = _call(layer, x, None, None)
    out_nn, states_nn = nn_mod(x)
    states_nn = (states_nn,) if isinstance(states_nn, torch.Tensor) else states_nn
    torch.testing.assert_close(out, out_nn, rtol=0, atol=0)       # the same cuDNN call
    for s, s_nn in zip(states, states_nn):
        torch.testing.assert_close(s, s_nn, rtol=0, atol=0)
    g = torch.autograd.grad(loss_of(out, states), [x, *layer.parameters()])
    g_nn = torch.autograd.grad(loss_of(out_nn, states_nn), [x, *nn_mod.parameters()])
    for a, b in zip(g, g_nn):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@needs_cuda
@pytest.mark.parametrize("family", ["lstm", "lstm-proj", "gru"])
def test_cuda_lengths_match_the_reference(family):
    fast, ref = _pair(family, device="cuda", num_layers=2, bidirectional=True)
    fast.backend = "auto"
    x, hx, lens = _inputs(fast, [5, 2, 4], True, device="cuda")
    out, states, g = _everything(fast, x, hx, lens)
    out_r, states_r, g_r = _everything(ref, x, hx, lens)
    torch.testing.assert_close(out, out_r, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(states, states_r, rtol=1e-9, atol=1e-9)
    for name in g:
        torch.testing.assert_close(g[name], g_r[name], rtol=1e-8, atol=1e-8, msg=name)
    out_host, states_host = _call(fast, x, hx, lens.cpu())          # lengths given on the host: no sync
    torch.testing.assert_close((out_host, states_host), (out, states), rtol=0, atol=0)


@needs_cuda
def test_cuda_flatten_parameters_leaves_no_copy_warning():
    layer = lstmkit.LSTM(16, 32, num_layers=2, bidirectional=True, proj_size=8).cuda()
    x = torch.randn(7, 4, 16, device="cuda")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*contiguous chunk.*")
        layer(x)[0].sum().backward()
    assert all(a is b for a, b in zip(layer._flat_weights, layer.parameters()))
    for moved in (layer.cpu().cuda(), lstmkit.GRU(16, 32, bidirectional=True, device="cuda"),
                  lstmkit.LSTM(16, 32, forget_bias=1.0).to("cuda", torch.float64)):
        with warnings.catch_warnings():                             # built or moved there: flattened there
            warnings.filterwarnings("error", message=".*contiguous chunk.*")
            moved(x.to(moved._flat_weights[0].dtype))[0].sum().backward()


@needs_cuda
def test_cuda_variants_do_not_take_cudnn():
    layer = lstmkit.LSTM(16, 32, peephole=True, device="cuda")
    why = layer.explain(torch.randn(7, 4, 16, device="cuda"))
    assert why.calls[0]["kernel"] != "cudnn" and "peephole=True" in why.calls[0]["why"]
