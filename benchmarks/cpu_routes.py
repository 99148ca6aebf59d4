"""The two CPU routes side by side: the fused whole-sequence loop (``backend="cpu-fused"``) and the stepped
driver (``"cpu-stepped"``), each against torch.nn, interleaved in one process, medians of 7 rounds.

This is how the size threshold between the routes (``lstmkit.kernels.cpu.fused.FUSED_MAX_MACS``) was
chosen. Example::

    $ python benchmarks/cpu_routes.py --cells gru rnn --sizes 1 2
    gru  inference (32, 100, 64, 128): torch.nn  9.13 ms | fused x0.99 | stepped x1.38
    ...

Sizes are the ``lstmkit bench`` grid's (B, T, I, H), by index.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lstmkit.layers import GRU, LSTM, RNN

SIZES = [(1, 1000, 64, 64), (32, 100, 64, 128), (64, 100, 256, 256), (64, 50, 512, 512), (16, 100, 1024, 1024)]
OURS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
THEIRS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}


def _per_call(fn, reps: int) -> float:
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def compare(cell: str, size, mode: str, rounds: int = 7) -> dict[str, float]:
    """Median seconds per call of torch.nn and of each route, for one cell, size and mode."""
    B, T, I, H = size
    x = torch.randn(T, B, I, requires_grad=mode == "training")
    ref = THEIRS[cell](I, H)
    models = {"torch.nn": ref}
    for route in ("fused", "stepped"):
        m = OURS[cell](I, H, backend=f"cpu-{route}")
        m.load_state_dict(ref.state_dict())
        models[route] = m

    def run(m):
        if mode == "inference":
            with torch.no_grad():
                m(x)
        else:
            y, _ = m(x)
            y.sum().backward()

    for m in models.values():
        run(m)
        run(m)
    reps = max(2, int(0.3 / _per_call(lambda: run(ref), 1)))
    times = {k: [] for k in models}
    for _ in range(rounds):
        for k, m in models.items():
            times[k].append(_per_call(lambda: run(m), reps))
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", nargs="+", choices=sorted(OURS), default=sorted(OURS))
    p.add_argument("--sizes", nargs="+", type=int, choices=range(len(SIZES)), default=list(range(len(SIZES))))
    p.add_argument("--modes", nargs="+", choices=("inference", "training"), default=["inference", "training"])
    args = p.parse_args(argv)
    for cell in args.cells:
        for i in args.sizes:
            for mode in args.modes:
                t = compare(cell, SIZES[i], mode)
                print(f"{cell:4s} {mode:9s} {SIZES[i]}: torch.nn {t['torch.nn'] * 1e3:8.2f} ms | "
                      f"fused x{t['torch.nn'] / t['fused']:.2f} | stepped x{t['torch.nn'] / t['stepped']:.2f}",
                      flush=True)


if __name__ == "__main__":
    main()
