"""Shared by the charlm benchmarks: the Tiny Shakespeare path, the machine's description, JSON results."""

from __future__ import annotations

import datetime
import os
import pathlib
import platform
import statistics
import time

import torch

from lstmkit import kernels

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict:
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"), "python": platform.python_version(),
            "torch": torch.__version__, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "processor": platform.processor() or platform.machine(), "lstmkit_kernels": kernels.available(),
            "load_average_1m": os.getloadavg()[0]}


def median(xs):
    return statistics.median(xs)


def write_result(name: str, data: dict) -> pathlib.Path:
    """benchmarks/results/<name>.json, written atomically."""
    from lstmkit.train.atomic import write_json

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    write_json(path, {"machine": machine(), **data})
    return path


def finished(result, run: pathlib.Path):
    """The training ``result``, or SystemExit when a signal interrupted it: a benchmark stopped by Ctrl-C or
    SIGTERM writes no result (its numbers would read as a finished run); the run folder keeps its checkpoint."""
    if result.stopped_by == "interrupted":
        raise SystemExit(f"interrupted at step {result.step}: no result written "
                         f"({run} keeps the run, resumable with `lstmkit train ... --resume`)")
    return result


def need_shakespeare(path: pathlib.Path) -> pathlib.Path:
    if not path.is_file():
        raise SystemExit(f"Tiny Shakespeare not found at {path}; pass --text PATH (the benchmarks read it by "
                         f"path, they never copy it)")
    return path


def add_recipe_args(parser) -> None:
    """``--set KEY=VALUE`` (repeatable): change a field of the benchmark's recipe config; ``--name``: a
    suffix for the run folder and result file of such a variant."""
    parser.add_argument("--name", default="", help="suffix of the run folder(s) and the result file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting of the recipe (a config field; VALUE read as JSON, else as "
                             "text), e.g. --set dropout=0.3; repeatable")


def apply_overrides(cfg, items: list[str]):
    """Apply ``--set`` items to the dataclass config ``cfg``, validate it and return it."""
    import json

    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not hasattr(cfg, key):
            raise SystemExit(f"--set expects KEY=VALUE with KEY a field of {type(cfg).__name__}, got {item!r}")
        try:
            setattr(cfg, key, json.loads(value))
        except json.JSONDecodeError:
            setattr(cfg, key, value)
    cfg.validate()
    return cfg


def timed_training(task, model, clip: float, autocast: bool = False):
    """``run(n) -> (seconds, units)`` for n full training steps of ``task`` on ``model`` (forward, loss,
    backward, gradient clipping at ``clip``, AdamW from the task's config); ``units`` sums what the task's
    train_step counts (characters, words). ``autocast``: the forward under torch.autocast bfloat16."""
    from torch import nn

    from lstmkit.train import make_optimizer

    opt = make_optimizer(model, task.config)

    def run(n: int) -> tuple[float, int]:
        t0, units = time.perf_counter(), 0
        for i in range(n):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss, k = task.train_step(model, i)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            units += k
        return time.perf_counter() - t0, units
    return run
