"""The Triton GRU (both forms) and Elman RNN (tanh, relu) kernels against the reference: outputs, final state
and every gradient, for every bookkeeping mask. Without a GPU the kernels run in Triton's interpreter on CPU
tensors (tests/conftest.py switches it on), at tiny shapes; the CUDA tests at the end run the same checks
at a medium size on a GPU."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="the Triton kernels need the optional triton package (lstmkit[gpu])")

import lstmkit  # noqa: E402
from lstmkit import kernels  # noqa: E402
from lstmkit.cells.base import CellSpec  # noqa: E402
from lstmkit.cells.gru import GRUSpec  # noqa: E402
from lstmkit.cells.rnn import RNNSpec  # noqa: E402
from helpers import masks_on, needs_cuda, random_masks, rel_err, triton_devices  # noqa: E402

DEVICES = triton_devices()

FORMS = {
    "gru": lambda I, H, **kw: GRUSpec(I, H, **kw),
    "gru_before": lambda I, H, **kw: GRUSpec(I, H, reset_before=True, **kw),
    "rnn_tanh": lambda I, H, **kw: RNNSpec(I, H, **kw),
    "rnn_relu": lambda I, H, **kw: RNNSpec(I, H, nonlinearity="relu", **kw),
}


def _run_both(spec: CellSpec, masks: kernels.SeqMasks, reverse: bool, T: int, B: int, device: str,
              grad: bool = True):
    """[(y, h_T, dx, dh0, *dw)] of the reference in float64 and of triton in float32 (``grad=False``: (y, h_T)
    under no_grad, the forward that keeps only a ring of two states)."""
    g = torch.Generator().manual_seed(3)
    params = {i.field: torch.randn(i.shape, generator=g) * 0.5 for i in spec.layout()}
    x = torch.randn(T, B, spec.input_size, generator=g)
    h0 = torch.randn(B, spec.hidden_size, generator=g)
    out = []
    for backend, dtype in (("reference", torch.float64), ("triton", torch.float32)):
        dev = "cpu" if backend == "reference" else device
        leaves = [t.to(dev, dtype).requires_grad_(grad) for t in [x, h0, *params.values()]]
        w = spec.make_weights(dict(zip(params, leaves[2:])))
        with torch.set_grad_enabled(grad):
            y, (hT,) = kernels.run(spec, w, leaves[0], (leaves[1],), masks_on(masks, dev, dtype), reverse=reverse,
                                   backend=backend)
        if not grad:
            out.append([y, hT])
            continue
        gen = torch.Generator().manual_seed(11)
        loss = sum((t * torch.randn(t.shape, generator=gen).to(dev, dtype)).sum() for t in (y, hT))
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        out.append([y, hT, *[torch.zeros_like(v) if d is None else d for d, v in zip(grads, leaves)]])
    return out


def _check(spec, masks, reverse, T, B, device, what, tol=2e-5):
    ref, tri = _run_both(spec, masks, reverse, T, B, device)
    for k, (a, b) in enumerate(zip(tri, ref)):
        assert rel_err(a.cpu(), b) < tol, f"{what} output {k}: {rel_err(a.cpu(), b)}"
    return tri


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("form", list(FORMS))
def test_forms_with_lengths_both_directions(form, device):
    """Each form, with and without biases (H = 20 and 5, neither a power of two), lengths, both directions."""
    T, B = 5, 3
    for bias, H in ((True, 20), (False, 5)):
        spec = FORMS[form](4, H, bias=bias)
        masks = random_masks(spec, T, B, "len", True, device)
        for reverse in (False, True):
            _check(spec, masks, reverse, T, B, device, f"{form} bias={bias} reverse={reverse}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("form", list(FORMS))
def test_bookkeeping_masks(form, device):
    """Resets, variational dropout, zoneout (training {0, 1} masks and evaluation rates) and lengths, in
    combinations (each fused into the step kernels); the no-grad forward (a ring of two states) gives the
    training forward's outputs."""
    spec = FORMS[form](3, 5)
    T, B = 6, 3
    for kinds, training in (("reset drop", True), ("zone len", True), ("zone reset len", False),
                            ("zone len reset drop", True)):
        masks = random_masks(spec, T, B, kinds, training, device)
        tri = _check(spec, masks, False, T, B, device, f"{form} {kinds} training={training}")
        _, tri_ng = _run_both(spec, masks, False, T, B, device, grad=False)
        for a, b in zip(tri_ng, tri[:2]):
            torch.testing.assert_close(a, b.detach(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_reverse_with_every_mask(device):
    spec = GRUSpec(3, 5, reset_before=True)
    _check(spec, random_masks(spec, 6, 3, "zone len reset drop", True, device), True, 6, 3, device, "reverse")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cls,kw", [(lstmkit.GRU, {}), (lstmkit.GRU, dict(reset_before=True)),
                                    (lstmkit.RNN, dict(nonlinearity="relu"))])
def test_layer_stack_bidirectional(cls, kw, device):
    """Through the layer: two layers, bidirectional, lengths: outputs, final states, every gradient; the
    recorded gates equal the reference's."""
    torch.manual_seed(0)
    ref = cls(4, 6, num_layers=2, bidirectional=True, backend="reference", **kw)
    tri = cls(4, 6, num_layers=2, bidirectional=True, backend="triton", **kw).to(device)
    tri.load_state_dict(ref.state_dict())
    x, lengths = torch.randn(5, 3, 4), torch.tensor([5, 2, 4])
    outs = []
    for layer, dev in ((ref, "cpu"), (tri, device)):
        xs = x.to(dev).requires_grad_()
        y, h = layer(xs, lengths=lengths.to(dev))
        (y.square().sum() + h.sum()).backward()
        outs.append([y.detach(), h.detach(), xs.grad] + [p.grad for p in layer.parameters()])
    for k, (a, b) in enumerate(zip(outs[1], outs[0])):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-5, atol=1e-5, msg=f"output {k}")
    with torch.no_grad():
        ref(x, lengths=lengths, record=True)
        tri(x.to(device), lengths=lengths.to(device), record=True)
    for key, rec in ref.last_record.items():
        for name, v in rec.items():
            torch.testing.assert_close(tri.last_record[key][name].cpu(), v, rtol=1e-5, atol=1e-5, msg=name)


@pytest.mark.parametrize("device", DEVICES)
def test_saved_shapes_and_step(device):
    for spec in (GRUSpec(3, 5), GRUSpec(3, 5, reset_before=True), RNNSpec(3, 5)):
        masks = random_masks(spec, 4, 2, "zone len reset", True, device)
        w = spec.make_weights({i.field: torch.randn(i.shape, device=device) for i in spec.layout()})
        x = torch.randn(4, 2, 3, device=device)
        state0 = (torch.randn(2, 5, device=device),)
        kernel = kernels.select("triton", spec, x)
        _, _, saved = kernel.run_forward(spec, w, x, state0, masks, False, save=True)
        real = {f: tuple(getattr(saved, f).shape) for f in saved._fields if getattr(saved, f) is not None}
        assert real == {f: tuple(s) for f, s in kernel.families[spec.family].saved_shapes(spec, 4, 2, 3, masks).items()}
        step = kernel.step(spec, w, x[0], state0, zone_rates=(0.25,))
        ref = kernels.select("reference", spec, x).step(spec, w, x[0], state0, zone_rates=(0.25,))
        torch.testing.assert_close(step[0], ref[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_forward_and_backward(dtype, device):
    """Half-precision inputs (GEMMs in their dtype, the gate math in float32) against the float32 reference."""
    T, B = 6, 2
    for spec in (GRUSpec(4, 8), GRUSpec(4, 8, reset_before=True), RNNSpec(4, 8)):
        g = torch.Generator().manual_seed(5)
        params = {i.field: torch.randn(i.shape, generator=g) * 0.3 for i in spec.layout()}
        x = torch.randn(T, B, 4, generator=g)
        outs = []
        for backend, dt in (("reference", torch.float32), ("triton", dtype)):
            dev = "cpu" if backend == "reference" else device
            xs = x.to(dev, dt).requires_grad_()
            w = spec.make_weights({k: v.to(dev, dt) for k, v in params.items()})
            y, (h,) = kernels.run(spec, w, xs, (torch.zeros(B, 8, device=dev, dtype=dt),), backend=backend)
            (dx,) = torch.autograd.grad(y.float().sum(), xs)
            assert y.dtype == dt and h.dtype == dt and dx.dtype == dt
            outs.append((y.float().cpu(), h.float().cpu(), dx.float().cpu()))
        for a, b in zip(*outs[::-1]):
            assert rel_err(a, b) < 3e-2, spec


def test_refuses_float64_with_the_reason():
    for spec in (GRUSpec(3, 4), RNNSpec(3, 4)):
        with pytest.raises(ValueError, match="float64"):
            kernels.select("triton", spec, torch.randn(2, 1, 3, dtype=torch.float64))


@needs_cuda
@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("kinds", ["len zone", "reset drop", "len zone reset drop"])
def test_cuda_medium_size_against_reference(form, kinds):
    """On a GPU: B=16, T=32, H=256 (and a ragged H=200), every gradient against the float64 reference
    (tf32 off), both directions."""
    torch.backends.cuda.matmul.allow_tf32 = False
    for H, reverse in ((256, False), (200, True)):
        spec = FORMS[form](64, H)
        _check(spec, random_masks(spec, 32, 16, kinds, True, "cuda"), reverse, 32, 16, "cuda",
               f"{form} {kinds} H={H}", tol=1e-4)


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_cuda_half_precision(dtype):
    for form in FORMS:
        spec = FORMS[form](64, 256)
        g = torch.Generator().manual_seed(5)
        params = {i.field: (torch.randn(i.shape, generator=g) * 0.1).cuda() for i in spec.layout()}
        x = torch.randn(32, 16, 64, generator=g).cuda()
        outs = []
        for backend, dt in (("reference", torch.float32), ("triton", dtype)):
            xs = x.to(dtype=dt).requires_grad_()
            w = spec.make_weights({k: v.to(dtype=dt) for k, v in params.items()})
            y, (h,) = kernels.run(spec, w, xs, (torch.zeros(16, 256, device="cuda", dtype=dt),), backend=backend)
            (dx,) = torch.autograd.grad(y.float().sum(), xs)
            outs.append((y.float(), h.float(), dx.float()))
        for a, b in zip(*outs[::-1]):
            assert rel_err(a, b) < 3e-2, form


@needs_cuda
@pytest.mark.parametrize("cls,kw", [(lstmkit.GRU, {}), (lstmkit.GRU, dict(reset_before=True)), (lstmkit.RNN, {})])
def test_cuda_bitwise_deterministic_and_graphs_equal_eager(cls, kw):
    import os
    layer = cls(64, 256, num_layers=2, bidirectional=True, zoneout=0.1, backend="triton", **kw).cuda().eval()
    x = torch.randn(48, 16, 64, device="cuda", requires_grad=True)
    reset = torch.rand(48, 16, device="cuda") < 0.05
    results = []
    for graphs in ("0", "1", "1"):
        os.environ["LSTMKIT_CUDA_GRAPHS"] = graphs
        for _ in range(3):                          # eager, capture, replay
            layer.zero_grad()
            x.grad = None
            y, h = layer(x, reset=reset)
            (y.square().sum() + h.sum()).backward()
        results.append([y.detach(), h.detach(), x.grad] + [p.grad for p in layer.parameters()])
    os.environ.pop("LSTMKIT_CUDA_GRAPHS")
    for run in results[1:]:
        for a, b in zip(run, results[0]):
            assert torch.equal(a, b)
