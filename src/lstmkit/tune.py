"""``lstmkit tune``: show the routing thresholds the CPU kernels use on this machine, or measure them again.

The crossovers that depend on the processor (fused against stepped loops, oneDNN against MKL GEMMs) are
measured once per CPU model, torch version and thread count, at first use, and kept in a small JSON file
(:mod:`lstmkit.kernels.dispatch`). This command shows them, measures them again (``--measure``), or forgets
this machine's entry (``--forget``: the next use measures anew).

Example::

    $ lstmkit tune                 # the thresholds in force, and where they come from
    $ lstmkit tune --measure       # measure this machine again (a few seconds) and keep the result
    $ LSTMKIT_TUNING=defaults lstmkit tune    # the built-in defaults, as every test run uses
"""

from __future__ import annotations

import argparse

__all__ = ["register", "main"]


def _run(a) -> None:
    from .kernels import dispatch
    path = dispatch.cache_path()
    if a.forget:
        data = dispatch.read_cache()
        removed = data.pop(dispatch.machine_key(), None) is not None
        if removed:
            dispatch.write_cache(data)
        print(f"{'forgot' if removed else 'no entry for'} {dispatch.machine_key()} in {path}")
        return
    t = dispatch.autotune(save=True) if a.measure else dispatch.tuning()
    print(f"machine: {dispatch.machine_key()}")
    print(f"cache:   {path}")
    print(t)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--measure", action="store_true", help="measure this machine's crossovers again and keep them")
    g.add_argument("--forget", action="store_true", help="remove this machine's entry from the cache file")


def register(commands, train_commands) -> None:
    p = commands.add_parser("tune", help="show (or measure again) the CPU kernels' routing thresholds",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(p)
    p.set_defaults(func=_run)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m lstmkit.tune", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(p)
    _run(p.parse_args(argv))
