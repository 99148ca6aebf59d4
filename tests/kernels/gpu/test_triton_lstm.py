"""The Triton LSTM kernel against the reference: outputs, final states and every gradient, for every variant
and bookkeeping mask. Without a GPU the kernels run in Triton's interpreter on CPU tensors (tests/conftest.py
switches it on), at tiny shapes; the CUDA tests at the end run the same checks at medium sizes on a GPU."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="the Triton kernels need the optional triton package (lstmkit[gpu])")

import lstmkit  # noqa: E402
from lstmkit import kernels  # noqa: E402
from lstmkit.cells.lstm import LSTMSpec  # noqa: E402
from helpers import masks_on, needs_cuda, random_masks, rel_err, triton_devices  # noqa: E402

DEVICES = triton_devices()


def _inputs(spec: LSTMSpec, T: int, B: int):
    g = torch.Generator().manual_seed(3)
    params = {i.field: torch.randn(i.shape, generator=g) * 0.5 for i in spec.layout()}
    x = torch.randn(T, B, spec.input_size, generator=g)
    state0 = [torch.randn(B, n, generator=g) for n in spec.state_sizes()]
    return params, x, state0


def _outputs(spec: LSTMSpec, masks: kernels.SeqMasks, reverse: bool, T: int, B: int, device: str):
    """[(y, h_T, c_T)] of the reference in float64 and of triton in float32, without gradients."""
    params, x, state0 = _inputs(spec, T, B)
    out = []
    for backend, dtype in (("reference", torch.float64), ("triton", torch.float32)):
        dev = "cpu" if backend == "reference" else device
        w = spec.make_weights({k: v.to(dev, dtype) for k, v in params.items()})
        y, (hT, cT) = kernels.run(spec, w, x.to(dev, dtype), tuple(s.to(dev, dtype) for s in state0),
                                  masks_on(masks, dev, dtype), reverse=reverse, backend=backend)
        out.append([y, hT, cT])
    return out


def _run_both(spec: LSTMSpec, masks: kernels.SeqMasks, reverse: bool, T: int, B: int, device: str):
    """[(y, h_T, c_T, dx, dh0, dc0, *dw)] of the reference in float64 and of triton in float32."""
    params, x, state0 = _inputs(spec, T, B)
    out = []
    for backend, dtype in (("reference", torch.float64), ("triton", torch.float32)):
        dev = "cpu" if backend == "reference" else device
        leaves = [t.to(dev, dtype).requires_grad_() for t in [x, *state0, *params.values()]]
        w = spec.make_weights(dict(zip(params, leaves[3:])))
        y, (hT, cT) = kernels.run(spec, w, leaves[0], tuple(leaves[1:3]), masks_on(masks, dev, dtype), reverse=reverse,
                                  backend=backend)
        gen = torch.Generator().manual_seed(11)
        loss = sum((t * torch.randn(t.shape, generator=gen).to(dev, dtype)).sum() for t in (y, hT, cT))
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        out.append([y, hT, cT, *[torch.zeros_like(v) if d is None else d for d, v in zip(grads, leaves)]])
    return out


VARIANTS = {
    "plain": {},
    "peephole": dict(peephole=True),
    "cifg": dict(cifg=True),
    "layer_norm": dict(layer_norm=True),
    "proj": dict(proj_size=3),
    "all": dict(peephole=True, cifg=True, layer_norm=True, proj_size=4),
    "no_bias": dict(bias=False, peephole=True),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_with_lengths_both_directions(variant, device):
    spec = LSTMSpec(input_size=4, hidden_size=6, **VARIANTS[variant])
    T, B = 5, 3
    masks = random_masks(spec, T, B, "len", True, device)
    for reverse in (False, True):
        ref, tri = _run_both(spec, masks, reverse, T, B, device)
        for k, (a, b) in enumerate(zip(tri, ref)):
            assert rel_err(a.cpu(), b) < 2e-5, f"{variant} reverse={reverse} output {k}: {rel_err(a.cpu(), b)}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kinds,training", [("reset drop", True), ("zone len", True), ("zone reset", False),
                                            ("zone len reset drop", True)])
@pytest.mark.parametrize("proj", [0, 3])
def test_bookkeeping_masks(kinds, training, proj, device):
    """Resets, variational dropout, zoneout (training {0, 1} masks and evaluation rates) and lengths, with
    and without a projection (h's bookkeeping then runs in torch ops around the kernel)."""
    spec = LSTMSpec(input_size=3, hidden_size=5, proj_size=proj, peephole=True)
    T, B = 6, 3
    masks = random_masks(spec, T, B, kinds, training, device)
    ref, tri = _run_both(spec, masks, False, T, B, device)
    for k, (a, b) in enumerate(zip(tri, ref)):
        assert rel_err(a.cpu(), b) < 2e-5, f"{kinds} proj={proj} output {k}: {rel_err(a.cpu(), b)}"
    with torch.no_grad():                                    # inference: the two-row ring of states
        ref_ng, tri_ng = _outputs(spec, masks, False, T, B, device)
    for a, b in zip(tri_ng, tri[:3]):
        torch.testing.assert_close(a, b.detach(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_layer_stack_inference_and_record(device):
    """Through the layer: stacked, bidirectional, lengths; the no-grad forward (two-row state ring) equals
    the training forward, and recording gives the reference's gates."""
    torch.manual_seed(0)
    ref = lstmkit.LSTM(4, 6, num_layers=2, bidirectional=True, layer_norm=True, backend="reference")
    tri = lstmkit.LSTM(4, 6, num_layers=2, bidirectional=True, layer_norm=True, backend="triton").to(device)
    tri.load_state_dict(ref.state_dict())
    x, lengths = torch.randn(5, 3, 4), torch.tensor([5, 2, 4])
    with torch.no_grad():
        y_ref, (h_ref, c_ref) = ref(x, lengths=lengths, record=True)
        y, (h, c) = tri(x.to(device), lengths=lengths.to(device), record=True)
    for a, b in ((y, y_ref), (h, h_ref), (c, c_ref)):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-5, atol=1e-5)
    for key, rec in ref.last_record.items():
        for name, v in rec.items():
            torch.testing.assert_close(tri.last_record[key][name].cpu(), v, rtol=1e-5, atol=1e-5, msg=name)


@pytest.mark.parametrize("device", DEVICES)
def test_saved_shapes_and_step(device):
    spec = LSTMSpec(input_size=3, hidden_size=5, proj_size=2, layer_norm=True)
    masks = random_masks(spec, 4, 2, "zone len reset", True, device)
    params = {i.field: torch.randn(i.shape, device=device) for i in spec.layout()}
    w = spec.make_weights(params)
    x = torch.randn(4, 2, 3, device=device)
    state0 = tuple(torch.randn(2, n, device=device) for n in spec.state_sizes())
    kernel = kernels.select("triton", spec, x)
    _, _, saved = kernel.run_forward(spec, w, x, state0, masks, False, save=True)
    real = {f: tuple(getattr(saved, f).shape) for f in saved._fields if getattr(saved, f) is not None}
    assert real == {f: tuple(s) for f, s in kernel.families["lstm"].saved_shapes(spec, 4, 2, 3, masks).items()}
    step = kernel.step(spec, w, x[0], state0)
    ref = kernels.select("reference", spec, x).step(spec, w, x[0], state0)
    for a, b in zip(step, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_forward_and_backward(dtype, device):
    """Half-precision inputs (GEMMs in their dtype, the cell state in float32) against the float32 reference."""
    spec = LSTMSpec(input_size=4, hidden_size=8, peephole=True)
    T, B = 6, 2
    g = torch.Generator().manual_seed(5)
    params = {i.field: torch.randn(i.shape, generator=g) * 0.3 for i in spec.layout()}
    x = torch.randn(T, B, 4, generator=g)
    outs = []
    for backend, dt in (("reference", torch.float32), ("triton", dtype)):
        dev = "cpu" if backend == "reference" else device
        xs = x.to(dev, dt).requires_grad_()
        w = spec.make_weights({k: v.to(dev, dt) for k, v in params.items()})
        state0 = tuple(torch.zeros(B, n, device=dev, dtype=dt) for n in spec.state_sizes())
        y, (h, c) = kernels.run(spec, w, xs, state0, backend=backend)
        (dx,) = torch.autograd.grad(y.float().sum(), xs)
        assert y.dtype == dt and c.dtype == dt
        outs.append((y.float().cpu(), c.float().cpu(), dx.float().cpu()))
    for a, b in zip(*outs[::-1]):
        assert rel_err(a, b) < 3e-2


def test_refuses_float64_with_the_reason():
    spec = LSTMSpec(input_size=3, hidden_size=4)
    with pytest.raises(ValueError, match="float64"):
        kernels.select("triton", spec, torch.randn(2, 1, 3, dtype=torch.float64))


@needs_cuda
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cuda_medium_size_against_reference(variant):
    """On a GPU: B=16, T=32, H=256, every gradient against the float64 reference (tf32 off)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    spec = LSTMSpec(input_size=64, hidden_size=256, **{**VARIANTS[variant], **(
        {"proj_size": 128} if "proj_size" in VARIANTS[variant] else {})})
    masks = random_masks(spec, 32, 16, "len zone", True, "cuda")
    ref, tri = _run_both(spec, masks, False, 32, 16, "cuda")
    for k, (a, b) in enumerate(zip(tri, ref)):
        assert rel_err(a.cpu(), b) < 1e-4, f"{variant} output {k}: {rel_err(a.cpu(), b)}"


@needs_cuda
def test_cuda_bitwise_deterministic():
    layer = lstmkit.LSTM(64, 256, layer_norm=True, peephole=True, backend="triton").cuda()
    x = torch.randn(64, 16, 64, device="cuda", requires_grad=True)
    runs = []
    for _ in range(2):
        layer.zero_grad()
        x.grad = None
        y, _ = layer(x)
        y.square().sum().backward()
        runs.append([y.detach().clone(), x.grad.clone()] + [p.grad.clone() for p in layer.parameters()])
    for a, b in zip(*runs):
        assert torch.equal(a, b)


def test_graph_wrapper_replays_static_buffers_with_fresh_inputs():
    """The CUDA-graph wrapper's plumbing on CPU, with a stand-in capture that re-runs the body on the static
    buffers: the first call runs eagerly, the second captures, later calls copy inputs in and clone outputs
    out, and a new signature gets its own entry."""
    from lstmkit.kernels.gpu.graphs import Graphed

    calls = []

    def fn(w, x, flag):
        calls.append(flag)
        return (x @ w, {"skipped": None}.get("skipped")), x.sum()

    class OnCpu(Graphed):
        def applies(self, leaves):
            return True

    g = OnCpu(fn, capture=lambda body: (body(), body)[1])
    w = torch.randn(3, 2)
    outs = []
    for k in range(4):
        x = torch.randn(5, 3)
        (y, none), s = g(w, x, True)
        assert none is None
        torch.testing.assert_close(y, x @ w)
        torch.testing.assert_close(s, x.sum())
        outs.append(y)
    assert not any(a.data_ptr() == b.data_ptr() for a, b in zip(outs, outs[1:]))   # clones, not the buffers
    (y, _), _ = g(w, torch.randn(2, 3), False)                                       # another signature
    assert y.shape == (2, 2) and len(g._entries) == 2


@needs_cuda
def test_cuda_graphs_equal_eager():
    import os
    layer = lstmkit.LSTM(32, 64, peephole=True, backend="triton").cuda()
    x = torch.randn(16, 8, 32, device="cuda", requires_grad=True)
    results = []
    for graphs in ("0", "1"):
        os.environ["LSTMKIT_CUDA_GRAPHS"] = graphs
        for _ in range(3):                          # eager, capture, replay
            layer.zero_grad()
            x.grad = None
            y, (h, c) = layer(x)
            (y.square().sum() + c.sum()).backward()
        results.append([y.detach(), c.detach(), x.grad] + [p.grad for p in layer.parameters()])
    os.environ.pop("LSTMKIT_CUDA_GRAPHS")
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_kernel_triton_cannot_build_falls_back_to_the_reference():
    """A GPU on which Triton cannot build a kernel (compile error, resources) runs the reference for that
    family, with one warning; any other error is the caller's and propagates."""
    import warnings
    from triton.runtime.errors import OutOfResources
    from lstmkit.kernels.gpu import BROKEN, Fallback

    def broken(*args):
        raise OutOfResources(1 << 20, 1 << 16, "shared memory")

    f = Fallback("test-family", broken, lambda *args: "reference ran")
    try:
        with pytest.warns(RuntimeWarning, match="could not be built"):
            assert f(1, 2) == "reference ran"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert f(3) == "reference ran"                      # once broken, no more tries or warnings
    finally:
        BROKEN.pop("test-family", None)
    with pytest.raises(ZeroDivisionError):
        Fallback("other", lambda: 1 / 0, lambda: None)()
    assert "other" not in BROKEN
