"""The two CPU routes side by side: the fused whole-sequence loop (``backend="cpu-fused"``) and the stepped
driver (``"cpu-stepped"``), each against torch.nn, interleaved in one process (``lstmkit bench``'s timing:
rounds in turn, medians).

The threshold between the routes (``Tuning.fused_max_macs`` in :mod:`lstmkit.kernels.dispatch`) is
measured on each machine by ``lstmkit tune``; this script shows the whole picture. Example::

    $ python benchmarks/cpu_routes.py --cells GRU RNN-tanh --sizes 1 2
    GRU      inference (32, 100, 64, 128): torch.nn  9.13 ms | fused x0.99 | stepped x1.38
    ...

Sizes are the ``lstmkit bench`` grid's (B, T, I, H), by index.
"""

from __future__ import annotations

import argparse

import torch

from lstmkit.bench.cases import CELLS, SIZES, in_mode
from lstmkit.bench.timing import interleaved

STANDARD = ("LSTM", "GRU", "RNN-tanh")


def compare(cell: str, size, mode: str, repeats: int = 15) -> dict[str, float]:
    """Median seconds per call of torch.nn and of each route, for one standard cell, size and mode."""
    ours_cls, opts, torch_cls = CELLS[cell]
    B, T, I, H = size
    x = torch.randn(T, B, I, requires_grad=mode == "training")
    ref = torch_cls(I, H)
    runs = {"torch.nn": ref}
    for route in ("fused", "stepped"):
        m = ours_cls(I, H, **opts, backend=f"cpu-{route}")
        m.load_state_dict(ref.state_dict())
        runs[route] = m
    return interleaved({k: in_mode(lambda x_, m=m: m(x_)[0], x, mode) for k, m in runs.items()}, repeats, warmup=2)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", nargs="+", choices=STANDARD, default=list(STANDARD))
    p.add_argument("--sizes", nargs="+", type=int, choices=range(len(SIZES)), default=list(range(len(SIZES))))
    p.add_argument("--modes", nargs="+", choices=("inference", "training"), default=["inference", "training"])
    p.add_argument("--repeats", type=int, default=15, help="timed rounds (medians)")
    args = p.parse_args(argv)
    for cell in args.cells:
        for i in args.sizes:
            for mode in args.modes:
                t = compare(cell, SIZES[i], mode, args.repeats)
                print(f"{cell:8s} {mode:9s} {SIZES[i]}: torch.nn {t['torch.nn'] * 1e3:8.2f} ms | "
                      f"fused x{t['torch.nn'] / t['fused']:.2f} | stepped x{t['torch.nn'] / t['stepped']:.2f}",
                      flush=True)


if __name__ == "__main__":
    main()
