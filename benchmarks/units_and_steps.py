"""Two CPU routes against what they replaced, interleaved in one process (``lstmkit bench``'s timing: rounds
in turn, medians):

* **one-step calls** (generation, streaming): a layer called on one step, B rows, without gradient. The
  lean route runs each layer-direction's single step on the weights as they are (``dispatch.one_step``);
  before, it prepared a program whose weight check read every weight again. Contenders: lstmkit's layer,
  lstmkit's cell (``layer.cell``-style step), torch.nn's layer.
* **training split by units**: an LSTM layer run whole on two threads, forward and backward, with its time
  loops split by units (``dispatch.units_train``) against the same call with the split off
  (``units_min_hidden`` out of reach), and torch.nn.

Example::

    $ python benchmarks/units_and_steps.py --repeats 15
    one step   LSTM H=1024 B=1: lstmkit 1.36 ms | lstmkit cell 1.92 | torch.nn 21.7
    train      LSTM (16, 100, 1024, 1024): units split 564 ms | split off 605 | torch.nn 604

Writes benchmarks/results/units-and-steps.json (or ``--name``).
"""

from __future__ import annotations

import argparse

import torch

import lstmkit
from lstmkit.bench.timing import interleaved
from lstmkit.kernels import dispatch

from _common import write_result

STEP_SIZES = ((1, 64), (1, 256), (1, 1024), (8, 512))          # (B, H), I = H
TRAIN_SIZES = ((16, 100, 1024, 1024), (4, 200, 256, 512), (1, 1000, 64, 256), (2, 300, 512, 512))


def one_step(cell: str, B: int, H: int, repeats: int) -> dict[str, float]:
    """Median seconds of one inference call of one step."""
    ref = getattr(torch.nn, cell)(H, H).eval()
    ours = getattr(lstmkit, cell).from_torch(ref).eval()
    ref_cell = getattr(torch.nn, cell + "Cell")(H, H).eval()
    our_cell = getattr(lstmkit, cell + "Cell")(H, H).eval()
    x = torch.randn(1, B, H)
    state = (torch.zeros(B, H), torch.zeros(B, H)) if cell == "LSTM" else torch.zeros(B, H)

    def run(fn):
        def call():
            with torch.no_grad():
                fn()
        return call
    return interleaved({"lstmkit": run(lambda: ours(x)), "lstmkit cell": run(lambda: our_cell(x[0], state)),
                        "torch.nn": run(lambda: ref(x)), "torch.nn cell": run(lambda: ref_cell(x[0], state))},
                       repeats, warmup=2)


def training(size, repeats: int) -> dict[str, float]:
    """Median seconds of forward + backward of an LSTM layer: units split on, off, and torch.nn."""
    B, T, I, H = size
    ref = torch.nn.LSTM(I, H)
    ours = lstmkit.LSTM.from_torch(ref)
    x = torch.randn(T, B, I, requires_grad=True)
    on = dispatch.tuning()
    off = on.replace(units_min_hidden=1 << 40, source="units split off")

    def ours_with(t):
        def call():
            dispatch.set_tuning(t)
            try:
                ours(x)[0].sum().backward()
            finally:
                dispatch.set_tuning(on)
        return call
    return interleaved({"units split": ours_with(on), "split off": ours_with(off),
                        "torch.nn": lambda: ref(x)[0].sum().backward()}, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--name", default="units-and-steps")
    ap.add_argument("--only", choices=("one_step", "training"), help="run one part")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out: dict = {"threads": args.threads, "one_step": [], "training": []}
    for cell in ("LSTM", "GRU", "RNN") if args.only != "training" else ():
        for B, H in STEP_SIZES:
            t = one_step(cell, B, H, args.repeats)
            out["one_step"].append({"cell": cell, "B": B, "H": H, "ms": {k: v * 1e3 for k, v in t.items()}})
            print(f"one step   {cell} H={H} B={B}: " + " | ".join(f"{k} {v * 1e3:.3f} ms" for k, v in t.items()),
                  flush=True)
    for size in TRAIN_SIZES if args.only != "one_step" else ():
        t = training(size, max(3, args.repeats // 3))
        out["training"].append({"size": list(size), "ms": {k: v * 1e3 for k, v in t.items()}})
        print(f"train      LSTM {size}: " + " | ".join(f"{k} {v * 1e3:.1f} ms" for k, v in t.items()), flush=True)
    print("wrote", write_result(args.name, out))


if __name__ == "__main__":
    main()
