"""Inference time of lstmkit's layers exported with ``lstmkit.export.onnx`` and run by onnxruntime (CPU),
against the same layers run eagerly by lstmkit (``torch.no_grad``, float32), interleaved in one process
(``lstmkit bench``'s timing: rounds in turn, medians), at the ``lstmkit bench`` grid (B, T, I, H).

Cells: LSTM, GRU, RNN-tanh (ONNX's own operators) and the layer-norm LSTM (a Scan over the cell step). Both
sides use the same thread count (``--threads``, default 2); the onnxruntime session is the one ``lstmkit
bench`` uses for its onnxruntime contender (all graph optimisations, no spinning threads). Before timing,
each point checks that onnxruntime's output equals lstmkit's (1e-4) on the first 50 steps. Results:
benchmarks/results/onnx-export.json.

Example::

    $ python benchmarks/onnx_export.py --quick
    LSTM             (1, 1000, 64, 64): lstmkit     1.82 ms | onnxruntime     1.25 ms (x1.45)
    ...
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from lstmkit.bench.cases import CELLS, SIZES  # noqa: E402
from lstmkit.bench.onnx_peer import check, missing, session  # noqa: E402
from lstmkit.bench.timing import interleaved  # noqa: E402

#: the cells timed: torch.nn's three (ONNX operators) and one variant (a Scan body)
BENCH_CELLS = ("LSTM", "GRU", "RNN-tanh", "LSTM+layer_norm")
#: steps of the input on which onnxruntime must equal lstmkit (within onnx_peer.TOLERANCE) before timing
CHECK_STEPS = 50
#: --quick: the first two grid sizes, fewer rounds
QUICK_SIZES, QUICK_REPEATS = 2, 5


def point(cell: str, size, repeats: int) -> dict:
    """Median seconds per call of lstmkit eager and of onnxruntime on the exported layer, and their check."""
    import lstmkit.export

    cls, opts, _ = CELLS[cell]
    B, T, I, H = size
    torch.manual_seed(0)
    layer = cls(I, H, **opts).eval()
    x = torch.randn(T, B, I)
    with tempfile.TemporaryDirectory() as d:
        path = lstmkit.export.onnx(layer, x, pathlib.Path(d) / "layer.onnx")
        sess = session(path.read_bytes())
    feed_name = sess.get_inputs()[0].name
    feed = {feed_name: x.numpy()}
    out_name = sess.get_outputs()[0].name

    def ours():
        with torch.no_grad():
            return layer(x)[0]

    def ort():
        return sess.run([out_name], feed)[0]

    # correctness on the first CHECK_STEPS steps: over a long sequence float32 round-off grows in a chaotic
    # recurrence (the layer-norm LSTM at T=1000: lstmkit's own fast and float64 reference kernels differ by
    # ~4e-3 there), so the full-length difference is recorded, not checked
    head = {feed_name: x[:CHECK_STEPS].numpy()}
    with torch.no_grad():
        diff = check(torch.from_numpy(sess.run([out_name], head)[0]), layer(x[:CHECK_STEPS])[0], f"{cell} {size}")
    full = float((torch.from_numpy(ort()) - ours()).abs().max())
    t = interleaved({"lstmkit": ours, "onnxruntime": ort}, repeats, warmup=2)
    return {"cell": cell, "B": B, "T": T, "I": I, "H": H, "lstmkit_ms": round(t["lstmkit"] * 1e3, 3),
            "onnxruntime_ms": round(t["onnxruntime"] * 1e3, 3),
            "speedup_onnxruntime": round(t["lstmkit"] / t["onnxruntime"], 3), "max_abs_diff_first_steps": diff,
            "max_abs_diff_full_length": full}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help=f"the first {QUICK_SIZES} grid sizes, {QUICK_REPEATS} rounds")
    p.add_argument("--cells", nargs="+", choices=BENCH_CELLS, default=list(BENCH_CELLS))
    p.add_argument("--sizes", nargs="+", type=int, choices=range(len(SIZES)), help="grid sizes by index")
    p.add_argument("--repeats", type=int, help="timed rounds per point (medians; default 9, --quick 5)")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads of both (default 2)")
    p.add_argument("--name", default="onnx-export", help="result file name (benchmarks/results/NAME.json)")
    args = p.parse_args(argv)
    why = missing()
    if why:
        raise SystemExit(why)
    torch.set_num_threads(args.threads)
    sizes = args.sizes if args.sizes is not None else list(range(QUICK_SIZES if args.quick else len(SIZES)))
    repeats = args.repeats or (QUICK_REPEATS if args.quick else 9)
    if repeats < 5:
        raise SystemExit(f"--repeats must be >= 5 (medians of at least 5 rounds), got {repeats}")
    rows = []
    for i in sizes:
        for cell in args.cells:
            r = point(cell, SIZES[i], repeats)
            rows.append(r)
            print(f"{cell:16s} {SIZES[i]}: lstmkit {r['lstmkit_ms']:8.2f} ms | onnxruntime {r['onnxruntime_ms']:8.2f} "
                  f"ms (x{r['speedup_onnxruntime']:.2f})", flush=True)
    import onnxruntime

    path = write_result(args.name, {"benchmark": "onnx_export", "onnxruntime": onnxruntime.__version__,
                                    "quick": args.quick, "threads": args.threads,
                                    "repeats": repeats, "mode": "inference, float32, lstmkit under torch.no_grad",
                                    "points": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
