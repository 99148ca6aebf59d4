"""``lstmkit bench``: lstmkit's kernels against torch.nn, onnxruntime (inference, when installed: pip install
lstmkit[bench]) and the pure-PyTorch loop, interleaved in one process, medians and ratios, a table on stdout
and JSON under benchmarks/results/.

Example::

    $ lstmkit bench --quick          # under 2 minutes
    $ lstmkit bench --quick --no-extras --peers torch.nn,onnxruntime   # those two baselines only
    $ python -m lstmkit.bench        # the full grid (tens of minutes on 2 cores)
"""

from __future__ import annotations

import argparse

from .run import BenchConfig, run

__all__ = ["BenchConfig", "run", "register", "main"]


def _add_arguments(p: argparse.ArgumentParser) -> None:
    from .cases import CELLS, PEERS
    p.add_argument("--quick", action="store_true", help="a subset that finishes in under 2 minutes")
    p.add_argument("--cells", nargs="+", choices=list(CELLS), default=list(CELLS), metavar="CELL",
                   help=f"cells to time (default: all of {', '.join(CELLS)})")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds per grid point (default 5)")
    p.add_argument("--no-extras", action="store_true",
                   help="skip variable length, streaming, memory and cold/warm start")
    p.add_argument("--peers", default=None, metavar="NAME[,NAME...]",
                   help=f"comma-separated baselines to time, among: {', '.join(PEERS)} (default: every one "
                        f"installed; each runs where it applies)")
    p.add_argument("--out", default="", help="JSON path (default benchmarks/results/bench-<time>.json)")


def _config(a) -> BenchConfig:
    from .cases import parse_peers
    if a.repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {a.repeats}")
    peers = None if a.peers is None else parse_peers(a.peers)
    if a.out:                                    # before minutes of timing, not after
        from ..train.atomic import check_output
        check_output(a.out)
    return BenchConfig(quick=a.quick, cells=a.cells, repeats=a.repeats, extras=not a.no_extras, out=a.out,
                       peers=peers)


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
