"""``lstmkit longlag``: the long-time-lag experiments from the command line.

    lstmkit longlag adding --T 100 --cell lstm --seeds 3 --json adding.json
    lstmkit longlag adding --T 100 --cell lstm1997      # the 1997 LSTM: 2 memory blocks of 2 cells
    lstmkit longlag suite --quick
    lstmkit longlag gradflow --task adding --T 200

Every task command maps its flags onto :class:`~lstmkit.tasks.longlag.training.LongLagConfig` and
writes, with ``--json``, the same report it prints.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from dataclasses import asdict
from pathlib import Path

import torch

from .gradflow import GradFlowConfig, run_gradflow
from .model import CELLS
from .registry import TASKS
from .suite import FULL, QUICK, run_suite, table, write
from .training import LongLagConfig, train
from ...train.atomic import check_output, write_text

__all__ = ["register", "run_task"]

_HELP = {"reber": "embedded Reber grammar (exp. 1)",
         "reber-continual": "continual embedded Reber (Gers 2000; T = symbols per test stream)",
         "2a": "noise-free long lag (p)", "2b": "long lag, random middle (p)", "2c": "very long lag (T = q, p)",
         "3a": "two-sequence problem (T, N)", "adding": "adding problem (exp. 4; T)",
         "multiplication": "multiplication problem (exp. 5; T)", "6a": "temporal order, 2 symbols",
         "6b": "temporal order, 3 symbols", "adding-modern": "adding with values in [0,1] (Bai et al.; T)",
         "copy": "copy memory (Bai et al.; T)"}


def run_task(cfg: LongLagConfig, seeds: int = 1, json_path: str | None = None, log=print) -> dict:
    """Run ``seeds`` seeds (cfg.seed, cfg.seed+1, ...) and summarise; write JSON when asked."""
    if seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
    runs = [train(LongLagConfig(**{**asdict(cfg), "seed": cfg.seed + k}), log=log) for k in range(seeds)]
    solved = [r for r in runs if r["solved"]]
    summary = {"task": runs[0]["describe"], "cell": cfg.cell, "solved": f"{len(solved)}/{seeds}",
               "median_sequences": int(statistics.median(r["sequences"] for r in solved)) if solved else None,
               "median_seconds": statistics.median(r["seconds"] for r in solved) if solved else None,
               "paper_lstm": runs[0]["paper"]["lstm"], "runs": runs}
    if seeds > 1:
        med = f"median {summary['median_sequences']:,} sequences, {summary['median_seconds']:.1f}s" if solved else ""
        log(f"{summary['task']} {cfg.cell.upper()}: solved {summary['solved']} seeds {med} "
            f"(paper, LSTM: {summary['paper_lstm']})")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        write_text(json_path, json.dumps(summary, indent=1))
        log(f"wrote {json_path}")
    return summary


def _positive(kind):
    def parse(s):
        v = kind(s)
        if not (v > 0 and math.isfinite(v)):
            raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {s}")
        return v
    return parse


def _at_least_one(flag: str, value) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{flag} must be >= 1, got {value}")


def _task_parser(sub, name: str) -> None:
    d = LongLagConfig()
    p = sub.add_parser(name, help=_HELP[name], description=f"Train on task {name}: {_HELP[name]}.",
                       epilog=f"example: lstmkit longlag {name} --cell lstm --seeds 2")
    p.add_argument("--cell", choices=sorted(CELLS), default=d.cell,
                   help="lstm1997: the 1997 LSTM (memory blocks, no forget gate, its squashing, truncated gradient "
                        "and initialisation) with the task's memory blocks from the paper's Table 10")
    p.add_argument("--blocks", type=int, help="memory blocks of the 1997 cell (default: the task's topology)")
    p.add_argument("--cells-per-block", type=int, help="cells per memory block of the 1997 cell (default: the "
                                                       "task's topology)")
    p.add_argument("--T", type=int, help="length / lag parameter (task default when omitted)")
    p.add_argument("--p", type=int, help="number of distractor symbols (2a, 2b, 2c)")
    p.add_argument("--N", type=int, help="informative leading elements (3a)")
    p.add_argument("--hidden", type=int, help="units (task default when omitted)")
    p.add_argument("--layers", type=int, default=d.layers)
    p.add_argument("--peephole", action="store_true", help="LSTM peephole connections")
    p.add_argument("--forget-bias", type=float, default=None,
                   help=f"LSTM forget-gate bias with --init default (default {d.forget_bias})")
    p.add_argument("--init", choices=["chrono", "default"], default=d.init)
    p.add_argument("--batch", type=int, help="sequences per step (task default when omitted)")
    p.add_argument("--lr", type=_positive(float), help="Adam learning rate (task default when omitted)")
    p.add_argument("--clip", type=float, default=d.clip)
    p.add_argument("--max-sequences", type=int, help="budget in training sequences")
    p.add_argument("--max-seconds", type=_positive(float), help="budget in wall seconds")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--seeds", type=int, default=1, help="run seeds seed..seed+N-1")
    p.add_argument("--log-every", type=_positive(float), default=d.log_every, help="seconds between lines")
    p.add_argument("--backend", default=d.backend)
    p.add_argument("--json", help="write the report to this path")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (small recurrent nets run best on 1)")

    def go(a):
        _at_least_one("--threads", a.threads)
        if a.forget_bias is not None and a.cell != "lstm":
            raise ValueError(f"--forget-bias is an LSTM option (the forget gate's bias), got --cell {a.cell}")
        if a.forget_bias is not None and a.init == "chrono":
            raise ValueError("--forget-bias has no effect with --init chrono (which sets the gate biases from "
                             "the task's time scale); expected --init default with it")
        if a.forget_bias is None:
            a.forget_bias = d.forget_bias
        if a.json:                                         # before the training, not after it
            check_output(a.json, flag="--json", makes_folder=True)
        torch.set_num_threads(a.threads)
        keys = {k: getattr(a, k) for k in ("cell", "T", "p", "N", "hidden", "layers", "peephole", "forget_bias",
                                           "init", "batch", "lr", "clip", "max_sequences", "max_seconds",
                                           "seed", "log_every", "backend", "blocks", "cells_per_block")}
        run_task(LongLagConfig.from_dict({"task": name, **keys}), seeds=a.seeds, json_path=a.json)
    p.set_defaults(func=go)


def _suite(a) -> None:
    entries = QUICK if a.quick else FULL
    for flag in ("tasks", "params", "cells"):
        if getattr(a, flag) is not None and not getattr(a, flag).strip(" ,"):
            raise ValueError(f"--{flag} {getattr(a, flag)!r} names none; expected a comma-separated list")
    if a.tasks:
        wanted = set(a.tasks.split(","))
        unknown = sorted(wanted - {e.task for e in entries})
        if unknown:
            raise ValueError(f"--tasks: {unknown} not in this suite's tasks {sorted({e.task for e in entries})}")
        entries = [e for e in entries if e.task in wanted]
    if a.params:
        try:
            want = {k: int(v) for k, v in (kv.split("=") for kv in a.params.split(","))}
        except ValueError:
            raise ValueError(f"--params must look like T=100,p=50, got {a.params!r}") from None
        entries = [e for e in entries if all(e.params.get(k) == v for k, v in want.items())]
        if not entries:
            raise ValueError(f"--params {a.params}: no entry of the suite has these parameters")
    cells = tuple(a.cells.split(","))
    bad = sorted(set(cells) - set(CELLS))
    if bad:
        raise ValueError(f"--cells must be among {sorted(CELLS)}, got {bad}")
    _at_least_one("--seeds", a.seeds)
    _at_least_one("--jobs", a.jobs)
    seeds = a.seeds if a.seeds else (2 if a.quick else 3)
    name = a.name or ("longlag-quick" if a.quick else "longlag-full")
    if not name.strip() or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"--name {name!r} must be a file name stem, without a folder; expected e.g. my-suite "
                         f"(the folder is --out)")
    if Path(a.out).exists() and not Path(a.out).is_dir():
        raise ValueError(f"--out {a.out} is a file; expected a folder for the tables")
    print(f"long-lag suite ({'quick' if a.quick else 'full'}): {len(entries)} tasks x {len(cells)} cells x "
          f"{seeds} seeds, {a.jobs} jobs")
    rows = run_suite(entries, cells, seeds, a.jobs, extra={"max_seconds": a.max_seconds} if a.max_seconds else None)
    header = (f"# Long-lag suite ({'quick' if a.quick else 'full'}), {seeds} seeds\n\nCells: solved seeds/seeds, "
              f"median training sequences to the paper's criterion and median wall time of the solved runs "
              f"(Adam, mini-batches, chrono init); 'budget' = sequences seen by the unsolved runs.")
    md, js = write(rows, Path(a.out), name, header)
    print("\n" + table(rows, cells) + f"\n\nwrote {md} and {js}")


def _gradflow(a) -> None:
    torch.set_num_threads(1)
    cells = tuple(a.cells.split(","))
    bad = sorted(set(cells) - set(CELLS))
    if bad:
        raise ValueError(f"--cells must be among {sorted(CELLS)}, got {bad}")
    out = a.out or f"runs/gradflow-{a.task}-T{a.T}"
    run_gradflow(GradFlowConfig(task=a.task, T=a.T, cells=cells, hidden=a.hidden, init=a.init, batch=a.batch,
                                train_seconds=a.train_seconds, train_sequences=a.train_sequences, seed=a.seed,
                                out=out))


def register(commands, train_commands) -> None:
    """Add ``lstmkit longlag`` (one subcommand per task, plus ``suite`` and ``gradflow``)."""
    p = commands.add_parser("longlag", help="the long-time-lag experiments of the LSTM paper",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="longlag_command", metavar="<task|suite|gradflow>", required=True)
    for name in TASKS:
        _task_parser(sub, name)
    s = sub.add_parser("suite", help="every task for LSTM, GRU and Elman RNN (and the 1997 LSTM): a table beside "
                                     "the paper's",
                       epilog="example: lstmkit longlag suite --quick --cells lstm,lstm1997")
    s.add_argument("--quick", action="store_true", help="small settings and budgets (under 10 minutes)")
    s.add_argument("--seeds", type=int, help="seeds per task and cell (quick: 2, full: 3)")
    s.add_argument("--cells", default="lstm,gru,rnn",
                   help=f"comma-separated, among {','.join(sorted(CELLS))} (default: lstm,gru,rnn)")
    s.add_argument("--tasks", help="comma-separated subset of the suite's tasks")
    s.add_argument("--jobs", type=int, default=2, help="runs in parallel (one CPU thread each)")
    s.add_argument("--max-seconds", type=_positive(float), help="cap every run's wall time (overrides the table)")
    s.add_argument("--params", help="keep only entries with these task parameters, e.g. T=100")
    s.add_argument("--out", default="benchmarks/results", help="folder for the markdown and JSON tables")
    s.add_argument("--name", help="file name stem (default longlag-quick / longlag-full)")
    s.set_defaults(func=_suite)
    gf = GradFlowConfig()
    g = sub.add_parser("gradflow", help="||dL/dh_t|| over t for RNN, LSTM, GRU, before/after training (PNG)",
                       epilog="example: lstmkit longlag gradflow --task adding --T 200")
    g.add_argument("--task", default=gf.task,
                   choices=[t for t in TASKS if t not in ("reber", "reber-continual", "2a", "copy")])
    g.add_argument("--T", type=int, default=gf.T, help=f"length / lag of the task (default {gf.T})")
    g.add_argument("--cells", default=",".join(gf.cells), help="comma-separated cells to compare, among "
                   f"{','.join(sorted(CELLS))} (default "
                   f"{','.join(gf.cells)})")
    g.add_argument("--hidden", type=int, default=gf.hidden, help=f"units (default {gf.hidden})")
    g.add_argument("--init", choices=["chrono", "default"], default=gf.init,
                   help=f"gate-bias initialisation: chrono (from T) or torch.nn's default (default {gf.init})")
    g.add_argument("--batch", type=int, default=gf.batch,
                   help=f"sequences the gradient norms are averaged over (default {gf.batch})")
    g.add_argument("--train-seconds", type=_positive(float), default=gf.train_seconds,
                   help=f"training budget per cell in seconds (default {gf.train_seconds})")
    g.add_argument("--train-sequences", type=int, default=gf.train_sequences,
                   help=f"training budget per cell in sequences (default {gf.train_sequences})")
    g.add_argument("--seed", type=int, default=gf.seed, help=f"seed of init and data (default {gf.seed})")
    g.add_argument("--out", help="output folder (default runs/gradflow-TASK-TT)")
    g.set_defaults(func=_gradflow)
