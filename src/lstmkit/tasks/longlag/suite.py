"""Every experiment for LSTM, GRU and Elman RNN over several seeds, as one table beside the paper's.

``lstmkit longlag suite --quick`` runs small settings with short budgets (a few minutes on 2 cores);
the full suite uses the paper's settings and budgets and is a benchmark, not a test: its table goes to
``benchmarks/results/``.

Example::

    >>> from lstmkit.tasks.longlag.suite import Entry, table
    >>> row = {"entry": Entry("adding", {"T": 100}), "paper": "74,000", "others": "never solved before",
    ...        "cells": {"lstm": [{"solved": True, "sequences": 17000, "seconds": 40.0}]}}
    >>> print(table([row], ["lstm"]).splitlines()[2])
    | 4 adding T=100 | 74,000 | 1/1, 17,000 (40 s) | never solved before |
"""

from __future__ import annotations

import json
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .registry import make_task, others, paper
from .training import LongLagConfig, train
from ...train.atomic import write_text

__all__ = ["Entry", "QUICK", "FULL", "run_suite", "table"]


@dataclass(frozen=True)
class Entry:
    """One row: a task, its parameters, and overrides of the training settings for every cell."""

    task: str
    params: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def describe(self) -> str:
        return make_task(self.task, **self.params).describe()


#: small settings with budgets in sequences (so the table does not depend on the machine's load; a
#: 60 s cap per run guards the total): the whole table in under 10 minutes on 2 idle cores (2 jobs)
QUICK = [
    Entry("reber", {}, {"max_sequences": 20_000, "max_seconds": 60}),
    Entry("2a", {"p": 50}, {"max_sequences": 16_000, "max_seconds": 60}),
    Entry("2b", {"p": 50}, {"max_sequences": 20_000, "max_seconds": 60}),
    Entry("2c", {"T": 50, "p": 50}, {"max_sequences": 24_000, "max_seconds": 60}),
    Entry("3a", {"T": 50}, {"max_sequences": 8_000, "max_seconds": 60}),
    Entry("adding", {"T": 50}, {"max_sequences": 24_000, "max_seconds": 60, "batch": 16}),
    Entry("multiplication", {"T": 20}, {"max_sequences": 12_000, "max_seconds": 60, "batch": 16}),
    Entry("6a", {}, {"max_sequences": 24_000, "max_seconds": 60}),
    Entry("adding-modern", {"T": 50}, {"max_sequences": 30_000, "max_seconds": 60}),
    Entry("copy", {"T": 20}, {"max_sequences": 10_000, "max_seconds": 60}),
]

#: the paper's settings (the benchmark)
FULL = [
    Entry("reber", {}, {"max_seconds": 120}),
    Entry("reber-continual", {}, {"max_seconds": 1200}),
    Entry("2a", {"p": 100}, {"max_seconds": 120}),
    Entry("2b", {"p": 100}, {"max_seconds": 120}),
    Entry("2c", {"T": 100, "p": 100}, {"max_seconds": 180}),
    Entry("2c", {"T": 1000, "p": 1000}, {"max_seconds": 1800}),
    Entry("3a", {"T": 100, "N": 3}, {"max_seconds": 120}),
    Entry("adding", {"T": 100}, {"batch": 16, "max_seconds": 180}),
    Entry("adding", {"T": 500}, {"batch": 16, "max_seconds": 1200}),
    Entry("adding", {"T": 1000}, {"batch": 16, "max_seconds": 2400}),
    Entry("multiplication", {"T": 100}, {"batch": 16, "max_seconds": 600}),
    Entry("6a", {}, {"max_seconds": 180}),
    Entry("6b", {}, {"max_seconds": 600}),
    Entry("adding-modern", {"T": 200}, {"max_seconds": 180}),
    Entry("copy", {"T": 100}, {"max_seconds": 300}),
]


def _run_one(job: tuple[Entry, str, int, dict]) -> dict:
    entry, cell, seed, extra = job
    import torch
    torch.set_num_threads(1)
    cfg = LongLagConfig(task=entry.task, cell=cell, seed=seed, log_every=1e9,
                        **{**entry.params, **entry.settings, **extra})
    return train(cfg, log=lambda s: None)


def run_suite(entries: list[Entry], cells=("lstm", "gru", "rnn"), seeds: int = 3, jobs: int = 2,
              extra: Optional[dict] = None, log: Callable[[str], None] = print) -> list[dict]:
    """Run every (entry, cell, seed); return one row per entry with the runs of each cell."""
    extra = extra or {}
    jobs_list = [(e, c, s, extra) for e in entries for c in cells for s in range(seeds)]
    t0 = time.perf_counter()
    results: list[dict] = []
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    pool = ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else None
    try:
        outcomes = pool.map(_run_one, jobs_list) if pool else map(_run_one, jobs_list)
        for job, res in zip(jobs_list, outcomes):
            e, c, s, _ = job
            results.append(res)
            log(f"  {e.describe():32s} {c.upper():4s} seed {s}: {'solved' if res['solved'] else 'not solved'} "
                f"after {res['sequences']:,} sequences, {res['seconds']:.0f}s  [{time.perf_counter() - t0:.0f}s]")
    finally:
        if pool:
            pool.shutdown()
    rows, k = [], 0
    for e in entries:
        row = {"entry": e, "paper": paper(e.task, **e.params)[1], "others": others(e.task), "cells": {}}
        for c in cells:
            row["cells"][c] = results[k:k + seeds]
            k += seeds
        rows.append(row)
    return rows


def _cell_text(runs: list[dict]) -> str:
    solved = [r for r in runs if r["solved"]]
    head = f"{len(solved)}/{len(runs)}"
    if not solved:
        return f"{head} (budget {max(r['sequences'] for r in runs):,})"
    seqs = int(statistics.median(r["sequences"] for r in solved))
    secs = statistics.median(r["seconds"] for r in solved)
    learned = [r["learned_at"] for r in solved if r.get("learned_at") is not None]
    extra = f"; right from {int(statistics.median(learned)):,}" if learned else ""
    return f"{head}, {seqs:,} ({secs:.0f} s{extra})"


def _topology_text(runs: list[dict]) -> str:
    """ " [2x2, 61 w]" for a 1997 cell's runs: its memory blocks and weights; "" for the other cells."""
    cfg = runs[0].get("config", {}) if runs else {}
    if cfg.get("cell") != "lstm1997":
        return ""
    return f" [{cfg['blocks']}x{cfg['cells_per_block']}, {runs[0]['weights']} w]"


def table(rows: list[dict], cells=("lstm", "gru", "rnn")) -> str:
    """The markdown table: task | paper LSTM | each cell (solved/seeds, median sequences, median wall
    time of the solved runs, and for "n successive correct" criteria the median sequence from which
    every one was right) | the paper on other networks."""
    names = {"lstm": "LSTM", "gru": "GRU", "rnn": "Elman RNN", "lstm1997": "LSTM 1997"}
    head = "| task | paper LSTM (sequences) | " + " | ".join(f"ours {names[c]}" for c in cells) + " | paper: others |"
    lines = [head, "|" + "---|" * (len(cells) + 3)]
    for r in rows:
        cols = [_cell_text(r["cells"][c]) + _topology_text(r["cells"][c]) for c in cells]
        lines.append(f"| {r['entry'].describe()} | {r['paper']} | " + " | ".join(cols) + f" | {r['others']} |")
    return "\n".join(lines)


def write(rows: list[dict], out: Path, name: str, header: str) -> tuple[Path, Path]:
    """Write ``name``.md (header + table) and ``name``.json (every run) under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / f"{name}.md", out / f"{name}.json"
    write_text(md, header + "\n\n" + table(rows, list(rows[0]["cells"])) + "\n")
    data = [{"entry": asdict(r["entry"]), "describe": r["entry"].describe(), "paper": r["paper"],
             "others": r["others"], "cells": r["cells"]} for r in rows]
    write_text(js, json.dumps({"header": header, "cpu_count": os.cpu_count(), "rows": data}, indent=1))
    return md, js
