"""The ``lstmkit`` command: parses arguments, then calls a task. Each task module registers its own
subcommands; ``lstmkit train <task>`` groups the training pipelines."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from . import bench
from .tasks import charlm, classify, ctc, demo, evaluate, forecast, inspect_run, longlag, tagger

#: modules with ``register(commands, train_commands)``, in the order --help lists them
TASKS = [charlm, tagger, classify, ctc, forecast, evaluate, inspect_run, demo, longlag, bench]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lstmkit",
        description="LSTM, GRU and Elman RNN from the equations up: train, sample, inspect.",
        epilog="Run 'lstmkit <command> --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"lstmkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    train = commands.add_parser("train", help="train a model for one of the jobs",
                                description="Train a model for one of the jobs.")
    train_commands = train.add_subparsers(dest="task", metavar="<task>", required=True)
    for task in TASKS:
        task.register(commands, train_commands)
    if not train_commands.choices:
        commands._name_parser_map.pop("train")
        commands._choices_actions = [a for a in commands._choices_actions if a.dest != "train"]
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (ValueError, TypeError, OSError, ImportError) as e:
        print(f"lstmkit {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
