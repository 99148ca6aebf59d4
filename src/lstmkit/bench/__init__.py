"""``lstmkit bench``: lstmkit's kernels against torch.nn, onnxruntime (inference, when installed: pip install
lstmkit[bench]) and the pure-PyTorch loop, interleaved in one process, medians and ratios, a table on stdout
and JSON under benchmarks/results/.

Example::

    $ lstmkit bench --quick          # under 2 minutes
    $ lstmkit bench --quick --no-extras --peers torch.nn,onnxruntime   # those two baselines only
    $ python -m lstmkit.bench        # the full grid (tens of minutes on 2 cores)
    $ lstmkit bench --device cuda --dtype bfloat16   # on a GPU: torch.nn (cuDNN), lstmkit auto and triton,
                                                     # the eager loop for the variants; memory beside time
"""

from __future__ import annotations

import argparse

from .run import BenchConfig, run

__all__ = ["BenchConfig", "run", "register", "main"]


def _add_arguments(p: argparse.ArgumentParser) -> None:
    from .cases import CELLS, PEERS
    p.add_argument("--quick", action="store_true", help="a subset that finishes in under 2 minutes")
    from .gpu import GPU_CELLS
    p.add_argument("--cells", nargs="+", choices=list(dict.fromkeys([*CELLS, *GPU_CELLS])), default=None,
                   metavar="CELL", help=f"cells to time (default on CPU: all of {', '.join(CELLS)}; with --device "
                                        f"cuda: {', '.join(GPU_CELLS)})")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds per grid point (default 5)")
    p.add_argument("--no-extras", action="store_true",
                   help="skip variable length, streaming, memory and cold/warm start")
    p.add_argument("--peers", default=None, metavar="NAME[,NAME...]",
                   help=f"comma-separated baselines to time, among: {', '.join(PEERS)} (default: every one "
                        f"installed; each runs where it applies)")
    p.add_argument("--out", default="", help="JSON path (default benchmarks/results/bench-<time>.json)")
    p.add_argument("--device", default="cpu",
                   help="cpu (default), or cuda / cuda:N: the GPU grid (the CPU sizes plus (16, 1024, 768, 768) and "
                        "(128, 256, 512, 512); torch.nn, lstmkit auto and triton, the eager loop for the variants; "
                        "peak training memory beside each time)")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"),
                   help="on CUDA: the dtype of weights and inputs (default float32; the CPU grid runs float32)")


def _config(a) -> BenchConfig:
    from .cases import CELLS, parse_peers
    from .run import check_device_dtype
    check_device_dtype(a.device, a.dtype)        # one line, before anything is built
    if a.repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {a.repeats}")
    cells = list(CELLS) if a.cells is None else a.cells
    if a.device == "cpu" and set(cells) - set(CELLS):
        raise ValueError(f"--cells {', '.join(sorted(set(cells) - set(CELLS)))}: timed only with --device cuda; "
                         f"the CPU grid's cells are {', '.join(CELLS)}")
    peers = None if a.peers is None else parse_peers(a.peers)
    if a.out:                                    # before minutes of timing, not after
        from ..train.atomic import check_output
        check_output(a.out)
    return BenchConfig(quick=a.quick, cells=cells, repeats=a.repeats, extras=not a.no_extras, out=a.out,
                       peers=peers, device=a.device, dtype=a.dtype)


def register(commands, train_commands) -> None:
    p = commands.add_parser("bench", help="time lstmkit's kernels against torch.nn and onnxruntime (table + JSON)",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(p)
    p.set_defaults(func=lambda a: run(_config(a)))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m lstmkit.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(p)
    run(_config(p.parse_args(argv)))
