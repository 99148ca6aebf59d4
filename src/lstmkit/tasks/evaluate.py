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
#: tasks whose evaluator scores an ensemble (``args.ensemble``: the runs after the first)
ENSEMBLES: set[str] = set()
#: tasks whose evaluation decodes with a beam search (``--beam``)
BEAM_TASKS = ("ctc", "translate", "caption")


def register_evaluator(task: str, fn: Evaluator, ensemble: bool = False) -> Evaluator:
    """Declare ``fn`` as the evaluator of runs whose ``config.json`` says ``"task": task``; ``ensemble``:
    it also evaluates several runs together, reading the runs after the first from ``args.ensemble``."""
    EVALUATORS[task] = fn
    if ensemble:
        ENSEMBLES.add(task)
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
    run, *more = [RunDir.open(path) for path in args.run]
    evaluator = evaluator_for(run)
    for other in more:
        if other.task != run.task:
            raise ValueError(f"{other.path} is a {other.task!r} run; expected {run.task!r} runs like {run.path} "
                             f"(an ensemble's runs are of one task)")
    if more and run.task not in ENSEMBLES:
        known = ", ".join(sorted(ENSEMBLES)) or "none"
        raise ValueError(f"lstmkit eval got {len(args.run)} {run.task!r} runs; ensembles of {known} runs can be "
                         f"evaluated, {run.task} runs one at a time: expected one RUN_DIR")
    if args.beam is not None and (run.task not in BEAM_TASKS or args.beam < 1):
        raise ValueError(f"--beam is the beam width of {', '.join(BEAM_TASKS)} runs and must be >= 1; got --beam "
                         f"{args.beam} for a "
                         f"{run.task!r} run")
    args.ensemble = more
    metrics = evaluator(run, args.data, args)
    if args.json:
        json.dump(metrics, sys.stdout, indent=2, default=float)
        sys.stdout.write("\n")


def register(commands, train_commands) -> None:
    """Add ``lstmkit eval`` to the command line."""
    p = commands.add_parser(
        "eval", help="evaluate a trained run on new data",
        description="Evaluate a trained run (any task) on new data; what --data holds depends on the task "
                    "(a text file for charlm runs, CoNLL-U for tagger, CSV/JSONL/.npy for classify, .npz lines "
                    "for ctc, CSV for forecast, tab-separated pairs for translate, canvases .npz or a captions "
                    "file beside its images for caption).",
        epilog="examples:\n  lstmkit eval runs/tagger-20260101-120000 --data dev.conllu\n"
               "  lstmkit eval runs/charlm-20260101-120000 --data held_out.txt   # bits per character\n"
               "  lstmkit eval runs/ewt-seed0 runs/ewt-seed1 runs/ewt-seed2 --data dev.conllu   "
               "# an ensemble (tagger or classify runs)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN_DIR", nargs="+",
                   help="a run folder made by lstmkit train <task>; several tagger or classify runs are "
                        "evaluated as an ensemble (their tag or class distributions averaged)")
    p.add_argument("--data", metavar="FILE", required=True, help="the data to evaluate on")
    p.add_argument("--checkpoint", choices=("auto", "best", "last"), default="auto",
                   help="which checkpoint (default: auto = best if there is one, else last)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="where to write figures (confusion matrix, forecast plot; default: RUN_DIR/eval)")
    p.add_argument("--beam", type=int, default=None, metavar="N",
                   help="ctc runs: width of the prefix beam search (default 8); translate and caption runs: beam "
                        "width (default: the run's --beam)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON after the report")
    p.set_defaults(func=_eval)
