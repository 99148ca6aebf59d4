"""Training time with a CPU-bound neighbour process against the same training alone (issue 23's target: within
1.5x of the quiet figure with the neighbour at nice 19, no spin-wait collapse).

Per size: the median of ``--repeats`` forward+backward calls quiet, then with a neighbour process
(``while True: pass`` under ``nice -n NICE``) started beside it, then quiet again; the ratio is busy over the
quicker quiet figure. float32, 2 intra-op threads (``--threads``).

    python benchmarks/busy_neighbour.py                # nice 19, the four default sizes
    python benchmarks/busy_neighbour.py --nice 0       # a neighbour at equal priority

Writes benchmarks/results/busy_neighbour_nice<NICE>.json.
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit.bench.timing import interleaved  # noqa: E402

#: (cell, (B, T, I, H)): the bench grid's middle sizes, where the batch halves and the units split run
SIZES = [("LSTM", (32, 100, 64, 128)), ("LSTM", (64, 100, 256, 256)), ("LSTM", (64, 50, 512, 512)),
         ("GRU", (64, 100, 256, 256))]


def _median_ms(fn, repeats: int) -> float:
    fn()
    fn()                                                             # warm-up (and compilation)
    return interleaved({"call": fn}, repeats, warmup=0)["call"] * 1e3


def point(cell: str, size, repeats: int, nice: int) -> dict:
    B, T, I, H = size
    torch.manual_seed(0)
    layer = getattr(lstmkit, cell)(I, H)
    x = torch.randn(T, B, I, requires_grad=True)

    def train_step():
        y, _ = layer(x)
        y.sum().backward()

    quiet = _median_ms(train_step, repeats)
    hog = subprocess.Popen(["nice", "-n", str(nice), sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)                                              # let it start spinning
        busy = _median_ms(train_step, repeats)
    finally:
        hog.kill()
        hog.wait()
    quiet_again = _median_ms(train_step, repeats)
    return {"cell": cell, "size": list(size), "quiet_ms": [quiet, quiet_again], "busy_ms": busy,
            "ratio": busy / min(quiet, quiet_again)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nice", type=int, default=19, help="the neighbour's niceness (default 19)")
    p.add_argument("--repeats", type=int, default=9, help="timed calls per median (default 9)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for cell, size in SIZES:
        row = point(cell, size, args.repeats, args.nice)
        rows.append(row)
        print(f"{cell:5s} {size}: quiet {row['quiet_ms'][0]:.1f} / {row['quiet_ms'][1]:.1f} ms, busy "
              f"{row['busy_ms']:.1f} ms (x{row['ratio']:.2f})", flush=True)
    print(f"wrote {write_result(f'busy_neighbour_nice{args.nice}', {'nice': args.nice, 'rows': rows})}")


if __name__ == "__main__":
    main()
