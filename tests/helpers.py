"""Test helpers (imported as `helpers`; tests/ is on pytest's pythonpath): tolerances, losses that weigh
every output, gradients of everything, the shared data folder."""

from __future__ import annotations

import itertools
import os
import pathlib

import pytest
import torch

import lstmkit
from lstmkit import kernels

SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: every kernel implementation. "cpu" is not listed: it only chooses between "cpu-fused" and "cpu-stepped" by
#: problem size (tests/kernels/test_cpu.py checks that choice), and both routes run every test here.
#: "cpu-bf16" is the stepped/fused code with bfloat16 GEMMs, held to bfloat16 tolerances in
#: tests/kernels/test_cpu.py instead. The GPU routes ("triton", "cudnn") have their own tests in tests/kernels/gpu:
#: the Triton kernels run float32 and lower only, and on CPU only in Triton's interpreter.
BACKENDS = [b for b in kernels.available() if b not in ("cpu", "cpu-bf16", "triton", "cudnn")]
TOL = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-5, atol=1e-5)}


def assert_close(actual, expected, dtype, what=""):
    torch.testing.assert_close(actual, expected, **TOL[dtype], msg=lambda m: f"{what}: {m}")


def loss_of(out, states, seed=1234):
    """A loss that weighs every output and state element differently, so every gradient is exercised."""
    g = torch.Generator().manual_seed(seed)
    total = 0
    for t in [out, *states]:
        w = torch.randn(t.shape, generator=g, dtype=t.dtype).to(t.device)
        total = total + (t * w).sum()
    return total


def grads(loss, named_inputs: dict):
    """{name: d loss / d input} with zeros for inputs the loss does not reach."""
    names = list(named_inputs)
    gs = torch.autograd.grad(loss, [named_inputs[n] for n in names], allow_unused=True)
    return {n: torch.zeros_like(named_inputs[n]) if g is None else g for n, g in zip(names, gs)}


def needs_shared(name: str) -> pathlib.Path:
    """Path of a file under ../shared/data, or skip with the reason (a fresh clone has no ../shared)."""
    p = SHARED_DATA / name
    if not p.exists():
        pytest.skip(f"{p} is absent: the shared data folder sits beside the repo in CI, not in a fresh clone")
    return p


__all__ = ["BACKENDS", "TOL", "assert_close", "loss_of", "grads", "needs_shared", "lstmkit"]


@pytest.fixture
def one_thread_per_xdist_worker():
    """Under pytest-xdist each worker shares the 2 cores with the others: one intra-op thread per worker
    avoids the stalls of oversubscribed parallel regions (results do not depend on it). The training and
    task suites use it for every test (their conftest.py makes it autouse)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(previous)
    else:
        yield


@pytest.fixture
def two_threads():
    """Exactly two torch threads for the test (a 1-core machine included): the routes that share work
    between two threads -- batch halves, the units split -- are then taken, and decided, as on 2 cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def load_benchmark(name: str):
    """The module of ``benchmarks/<name>.py`` (the benchmarks are scripts, not a package)."""
    import importlib.util

    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def tuned(monkeypatch, **changes) -> None:
    """Set fields of the routing thresholds (:class:`lstmkit.kernels.dispatch.Tuning`) for one test."""
    from lstmkit.kernels import dispatch
    monkeypatch.setattr(dispatch, "_TUNING", dispatch.tuning().replace(**changes, source="a test"))


#: CUDA-only tests (the GPU routes' medium sizes, graphs, determinism); a GPU machine runs them
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def triton_devices() -> list[str]:
    """Where the Triton kernels run here: "cpu" in Triton's interpreter (tests/conftest.py switches it on
    without a GPU), "cuda" on a GPU. Skips the calling test module when neither (call at module level, after
    ``pytest.importorskip("triton")``)."""
    from lstmkit.kernels.gpu.triton_env import unsupported_device
    devices = (["cpu"] if unsupported_device(torch.empty(1)) is None else []) + \
        (["cuda"] if torch.cuda.is_available() else [])
    if not devices:
        pytest.skip("Triton runs neither on a GPU here nor in its interpreter (TRITON_INTERPRET=1 before triton "
                    "is imported)", allow_module_level=True)
    return devices


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| relative to max |b| (at least 1), in float64."""
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1.0)).item()


def random_masks(spec, T: int, B: int, kinds: str, training: bool, device) -> kernels.SeqMasks:
    """SeqMasks with the parts named in ``kinds`` ("len", "reset", "drop", "zone"), drawn from a fixed seed:
    every batch row's length in [1, T] (row 0 full), resets with probability 0.3, variational dropout masks
    (p = 0.3), zoneout of h (0.3) and c (0.5): {0, 1} masks when ``training``, else the rates expanded."""
    g = torch.Generator().manual_seed(7)
    kw = {}
    if "len" in kinds:
        kw["lengths"] = torch.randint(1, T + 1, (B,), generator=g).index_fill_(0, torch.tensor([0]), T)
    if "reset" in kinds:
        kw["reset"] = torch.rand(T, B, generator=g) < 0.3
    if "drop" in kinds:
        kw["drop_x"] = (torch.rand(B, spec.input_size, generator=g) < 0.7).float() / 0.7
        kw["drop_h"] = (torch.rand(B, spec.state_sizes()[0], generator=g) < 0.7).float() / 0.7
    if "zone" in kinds:
        for key, n, p in zip(("zone_h", "zone_c"), spec.state_sizes(), (0.3, 0.5)):
            kw[key] = (torch.rand(T, B, n, generator=g) < p).float() if training else \
                torch.full((1, 1, 1), p).expand(T, B, n)
    return kernels.SeqMasks(**{k: v.to(device) for k, v in kw.items()})


def masks_on(m: kernels.SeqMasks, device, dtype) -> kernels.SeqMasks:
    """The masks on ``device``, the floating ones in ``dtype``."""
    return kernels.SeqMasks(*(None if t is None else (t.to(device, dtype) if t.is_floating_point() else t.to(device))
                              for t in m))


#: the sequence options a kernel test combines: lengths, resets, zoneout, variational dropout
OPTIONS = ["lengths", "reset", "zoneout", "dropout"]


def make_masks(spec, T, B, options, dtype=torch.float64):
    kw = {}
    if "lengths" in options:
        kw["lengths"] = torch.tensor([T, 2, T - 1, 1][:B])
    if "reset" in options:
        kw["reset"] = torch.rand(T, B) < 0.3
    if "zoneout" in options:
        kw["zone_h"] = (torch.rand(T, B, spec.out_size) < 0.4).to(dtype)
        if spec.family == "lstm":
            kw["zone_c"] = (torch.rand(T, B, spec.hidden_size) < 0.4).to(dtype)
    if "dropout" in options:
        kw["drop_x"] = (torch.rand(B, spec.input_size) < 0.7).to(dtype) / 0.7
        kw["drop_h"] = (torch.rand(B, spec.out_size) < 0.7).to(dtype) / 0.7
    return kw


def option_sets():
    return [combo for r in range(len(OPTIONS) + 1) for combo in itertools.combinations(OPTIONS, r)]


def count_results(monkeypatch, owner, name: str) -> list:
    """A list that grows by one each time ``owner.name(...)`` (a method or a module function, patched for
    the test) returns something other than None."""
    seen = []
    real = getattr(owner, name)

    def counting(*args, **kwargs):
        done = real(*args, **kwargs)
        if done is not None:
            seen.append(1)
        return done
    monkeypatch.setattr(owner, name, counting)
    return seen
