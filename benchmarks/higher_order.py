"""What gradients of gradients and torch.func cost: lstmkit against torch.nn, interleaved, medians.

Higher-order gradients run the reference kernel's BPTT in torch ops (kernels/autograd.py), so they cost
more than the compiled first-order path; this measures how much, on the shapes PyTorch's module tests use
and on a mid-sized layer:

1. ``gradgradcheck`` (fast mode) of a 2-layer bidirectional LSTM with projection, (3, 1, 2) -> 3 units;
2. a gradient penalty step: forward, ``autograd.grad(create_graph=True)``, backward of the penalty,
   LSTM (50, 16, 64) -> 128, 2 layers;
3. per-sample gradients, ``vmap(grad(functional_call(...)))`` over 16 sequences of 50 steps, LSTM 64 -> 128
   (torch.nn does not run under vmap here: lstmkit is timed against a loop of its own single-sample
   gradients).

    .venv/bin/python benchmarks/higher_order.py        # ~2 minutes
Writes benchmarks/results/higher_order.json.
"""

from __future__ import annotations

import json
import sys

import torch
from torch.autograd import gradgradcheck
from torch.func import functional_call, grad, vmap

import lstmkit
from lstmkit.bench.timing import interleaved

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402


def gradgrad_case() -> dict:
    torch.manual_seed(0)
    ours = lstmkit.LSTM(2, 3, num_layers=2, bidirectional=True, proj_size=2, dtype=torch.float64)
    ref = ours.to_torch()
    x = torch.randn(3, 1, 2, dtype=torch.float64, requires_grad=True)

    def check(m):
        params = tuple(m.parameters())
        return lambda: gradgradcheck(lambda xx, *ps: tuple(torch.utils._pytree.tree_leaves(m(xx))), (x, *params),
                                     fast_mode=True)
    return interleaved({"lstmkit": check(ours), "torch.nn": check(ref)}, repeats=5)


def penalty_case() -> dict:
    torch.manual_seed(0)
    ours = lstmkit.LSTM(64, 128, num_layers=2)
    ref = ours.to_torch()
    x = torch.randn(50, 16, 64)

    def step(m):
        def run():
            xx = x.clone().requires_grad_()
            out, _ = m(xx)
            (g,) = torch.autograd.grad(out.pow(2).sum(), xx, create_graph=True)
            (out.pow(2).mean() + g.pow(2).sum()).backward()
        return run
    return interleaved({"lstmkit": step(ours), "torch.nn": step(ref)}, repeats=5)


def per_sample_case() -> dict:
    torch.manual_seed(0)
    layer = lstmkit.LSTM(64, 128)
    params = {k: v.detach() for k, v in layer.named_parameters()}
    xs = torch.randn(16, 50, 64)

    def loss(p, x_b):
        return functional_call(layer, p, (x_b,))[0].pow(2).sum()
    return interleaved({"lstmkit vmap": lambda: vmap(grad(loss), in_dims=(None, 0))(params, xs),
                        "lstmkit loop": lambda: [grad(loss)(params, x_b) for x_b in xs]}, repeats=5)


def main() -> None:
    results = {"gradgradcheck (3, 1, 2) 2x bidir LSTM proj": gradgrad_case(),
               "gradient penalty step (50, 16, 64) -> 128 x2": penalty_case(),
               "per-sample gradients 16 x (50, 64) -> 128": per_sample_case()}
    for name, times in results.items():
        row = " | ".join(f"{k} {v * 1000:8.1f} ms" for k, v in times.items())
        print(f"{name:48s} | {row}")
    path = write_result("higher_order", {"seconds_median_of_5": results})
    print(json.dumps({"wrote": str(path)}))


if __name__ == "__main__":
    main()
