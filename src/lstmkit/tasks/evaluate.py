"""``lstmkit eval RUN_DIR --data FILE``: evaluate any run on new data.

The run's ``config.json`` names the task that made it; the task registers an evaluator here with
:func:`register_evaluator`. An evaluator takes the run folder, the data file and the parsed arguments,
prints its report and returns a dict of metrics (``--json`` prints that dict instead).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any, Callable

from ..train import RunDir

Evaluator = Callable[[RunDir, str, argparse.Namespace], dict[str, Any]]

#: task name -> evaluator; filled by the task packages when they are imported
EVALUATORS: dict[str, Evaluator] = {}


def register_evaluator(task: str, fn: Evaluator) -> Evaluator:
    """Declare ``fn`` as the evaluator of runs whose ``config.json`` says ``"task": task``."""
    EVALUATORS[task] = fn
    return fn


def evaluator_for(run: RunDir) -> Evaluator:
    task = run.task
    if task not in EVALUATORS:
        try:                                   # a task package registers its evaluator on import
            importlib.import_module(f"lstmkit.tasks.{task}")
        except ImportError:
            pass
    if task not in EVALUATORS:
        known = ", ".join(sorted(EVALUATORS)) or "none"
        raise ValueError(f"{run.path} is a {task!r} run; lstmkit eval knows how to evaluate {known} runs")
    return EVALUATORS[task]


def _eval(args: argparse.Namespace) -> None:
    run = RunDir.open(args.run)
    metrics = evaluator_for(run)(run, args.data, args)
    if args.json:
        json.dump(metrics, sys.stdout, indent=2, default=float)
        sys.stdout.write("\n")


def register(commands, train_commands) -> None:
    """Add ``lstmkit eval`` to the command line."""
    p = commands.add_parser(
        "eval", help="evaluate a trained run on new data",
        description="Evaluate a trained run (any task) on new data; what --data holds depends on the task "
                    "(CoNLL-U for tagger runs, CSV/JSONL/.npy for classify, CSV for forecast ...).",
        epilog="example: lstmkit eval runs/tagger-20260101-120000 --data dev.conllu",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN_DIR", help="a run folder made by lstmkit train <task>")
    p.add_argument("--data", metavar="FILE", required=True, help="the data to evaluate on")
    p.add_argument("--checkpoint", choices=("auto", "best", "last"), default="auto",
                   help="which checkpoint (default: auto = best if there is one, else last)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="where to write figures (confusion matrix, forecast plot; default: RUN_DIR/eval)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON after the report")
    p.set_defaults(func=_eval)
