"""A plain inference call that repeats the last one (kept: ``lstmkit.layers.repeat``, ``lstmkit.cells.repeat``)
against the same call through the general path, interleaved in one process (``lstmkit bench``'s timing:
rounds in turn, medians), with torch.nn's module beside them.

The general path is forced by dropping the layer's (or cell's) kept call before each call; it then keeps a
new one, which costs a few microseconds more than the general path did before repeats were kept.

Example::

    $ python benchmarks/repeat.py --repeats 41
    layer LSTM (1, 1000, 64, 64): repeat 1.44 ms | general 1.59 | torch.nn 2.3
    cell  LSTMCell B=1 H=64: repeat 0.045 ms | general 0.077 | torch.nn 0.047

Writes benchmarks/results/repeat.json (or ``--name``).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import torch

import lstmkit
from lstmkit.bench.timing import interleaved
from lstmkit.cells import base as cell_base
from lstmkit.layers import base as layer_base

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

LAYER_POINTS = (("LSTM", (1, 1000, 64, 64)), ("LSTM", (32, 100, 64, 128)), ("GRU", (32, 100, 64, 128)),
                ("LSTM", (1, 1, 64, 64)), ("GRU", (1, 1, 64, 64)))
CELL_POINTS = (("LSTMCell", 1, 64), ("GRUCell", 1, 64), ("RNNCell", 1, 64), ("LSTMCell", 8, 512))


def layer_point(cell: str, size, repeats: int) -> dict[str, float]:
    """Median seconds of one no-grad call of a one-layer ``cell`` at (B, T, I, H), batch-first, no state."""
    B, T, I, H = size
    torch.manual_seed(0)
    ref = getattr(torch.nn, cell)(I, H, batch_first=True).eval()
    ours = getattr(lstmkit, cell).from_torch(ref).eval()
    x = torch.randn(B, T, I)

    def general():
        layer_base._REPEATS.pop(ours, None)
        ours(x)
    with torch.no_grad():
        return interleaved({"repeat": lambda: ours(x), "general": general, "torch.nn": lambda: ref(x)},
                           repeats, warmup=2)


def cell_point(cell: str, B: int, H: int, repeats: int) -> dict[str, float]:
    """Median seconds of one no-grad step of ``cell`` (I = H) on B rows with a given state."""
    torch.manual_seed(0)
    ref = getattr(torch.nn, cell)(H, H)
    ours = getattr(lstmkit, cell)(H, H)
    ours.load_state_dict(ref.state_dict())
    x, h = torch.randn(B, H), torch.randn(B, H)
    state = (h, torch.randn(B, H)) if cell == "LSTMCell" else h

    def general():
        cell_base._REPEATS.pop(ours, None)
        ours(x, state)
    with torch.no_grad():
        return interleaved({"repeat": lambda: ours(x, state), "general": general,
                            "torch.nn": lambda: ref(x, state)}, repeats, warmup=2)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=41)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--name", default="repeat")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out: dict = {"threads": args.threads, "layers": [], "cells": []}
    for cell, size in LAYER_POINTS:
        t = layer_point(cell, size, args.repeats)
        out["layers"].append({"cell": cell, "size": list(size), "ms": {k: v * 1e3 for k, v in t.items()}})
        print(f"layer {cell} {size}: " + " | ".join(f"{k} {v * 1e3:.3f} ms" for k, v in t.items()), flush=True)
    for cell, B, H in CELL_POINTS:
        t = cell_point(cell, B, H, args.repeats)
        out["cells"].append({"cell": cell, "B": B, "H": H, "ms": {k: v * 1e3 for k, v in t.items()}})
        print(f"cell  {cell} B={B} H={H}: " + " | ".join(f"{k} {v * 1e3:.3f} ms" for k, v in t.items()), flush=True)
    print("wrote", write_result(args.name, out))


if __name__ == "__main__":
    main()
