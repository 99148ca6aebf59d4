"""The ``lstmkit`` command: parses arguments, then calls a task. Each task module registers its own
subcommands; ``lstmkit train <task>`` groups the training pipelines."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import ExpectedFailure, Interrupted

#: modules with ``register(commands, train_commands)``, in the order --help lists them
TASKS = ["tasks.charlm", "tasks.tagger", "tasks.classify", "tasks.ctc", "tasks.forecast", "tasks.translate",
         "tasks.caption", "tasks.music", "tasks.evaluate", "export.cli",
         "tasks.inspect_run", "tasks.demo", "tasks.longlag", "bench", "tune"]


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error said in one line (and where to read more) like every other error;
    subcommands' parsers are made of this class too."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def one_line(error: BaseException) -> str:
    """An error's message on one line (a multi-line message is joined with '; ')."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(lines) or type(error).__name__


def _expected_runtime_error(error: BaseException) -> str | None:
    """The one-line message for a RuntimeError/MemoryError that is the input's or machine's doing (out of
    memory; pathlib's resolve() meeting a link that leads to itself), or None for a bug."""
    text = str(error)
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError" or \
            "can't allocate memory" in text or "out of memory" in text:
        return (f"out of memory ({one_line(error)[:200]}); expected settings that fit this machine: try a "
                f"smaller model, batch or input")
    if text.startswith("Symlink loop from"):
        return f"{one_line(error)}: a symbolic link that leads back to itself; expected a path to a file"
    return None


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (importing every task, and with them torch)."""
    import importlib

    parser = Parser(
        prog="lstmkit",
        description="LSTM, GRU and Elman RNN from the equations up: train, sample, inspect.",
        epilog="Run 'lstmkit <command> --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"lstmkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    train = commands.add_parser(
        "train", help="train a model for one of the jobs", description="Train a model for one of the jobs.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Several processes or machines (torch.distributed; the global batch stays --batch-size):\n"
               "  torchrun --standalone --nproc_per_node=2 -m lstmkit train charlm --out runs/lm\n"
               "Rank 0 writes the run folder; --resume restores every rank exactly (docs/distributed.md).")
    train_commands = train.add_subparsers(dest="task", metavar="<task>", required=True)
    for name in TASKS:
        importlib.import_module(f".{name}", __package__).register(commands, train_commands)
    if not train_commands.choices:
        commands._name_parser_map.pop("train")
        commands._choices_actions = [a for a in commands._choices_actions if a.dest != "train"]
    return parser


def _parse_uninterrupted(argv):
    """Build the parser (importing torch and every task) and parse. Ctrl-C while modules are half imported
    can surface as any error from any library, so during this phase it ends the process at once: one line,
    exit 130."""
    import os
    import signal
    import threading

    def interrupted(signum, frame):
        sys.stderr.write("lstmkit: interrupted\n")
        sys.stderr.flush()
        os._exit(130)

    if threading.current_thread() is not threading.main_thread():
        return build_parser().parse_args(argv)
    old = signal.signal(signal.SIGINT, interrupted)
    try:
        parser = build_parser()
    finally:
        signal.signal(signal.SIGINT, old)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the command; expected failures (bad input, a file that cannot be read or written, a diverged
    run, a run folder in use) print one line and return 2; Ctrl-C returns 130 (at any point, imports
    included); anything else is a bug and shows its traceback."""
    import os

    for name in ("stdout", "stderr"):                  # started with a closed stream (`>&-`): discard it
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))
    command = "lstmkit"
    try:
        args = _parse_uninterrupted(argv)
        sub = {"train": "task", "longlag": "longlag_command"}.get(args.command)
        command = f"lstmkit {args.command}" + (f" {getattr(args, sub)}" if sub else "")
        args.func(args)
    except BrokenPipeError:                               # `lstmkit sample ... | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, TypeError, OSError, ImportError, ExpectedFailure) as e:
        print(f"{command}: error: {one_line(e)}", file=sys.stderr)
        return 2
    except (RuntimeError, MemoryError) as e:             # out of memory, a symlink loop: expected; else a bug
        message = _expected_runtime_error(e)
        if message is None:
            raise
        print(f"{command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except Interrupted as e:                              # stopped cleanly by a signal, its work saved
        print(f"{command}: {e}", file=sys.stderr)
        return e.exit_status
    return 0


if __name__ == "__main__":
    sys.exit(main())
