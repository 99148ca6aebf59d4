"""What every training job's commands share: the ``lstmkit train <task>`` parser (--out, --resume,
--config, one flag per config field) and opening a run's checkpoint for use."""

from __future__ import annotations

import argparse
import pathlib
from typing import Callable

from ..train import RunDir, RunError, add_config_args, config_from_args, load_checkpoint, read_config_file

__all__ = ["add_train_command", "open_checkpoint", "absolute_paths"]


def absolute_paths(cfg, names: tuple[str, ...]):
    """The config's file fields made absolute, so a run resumes from any working directory."""
    for name in names:
        if getattr(cfg, name):
            setattr(cfg, name, str(pathlib.Path(getattr(cfg, name)).expanduser().resolve()))
    return cfg


def add_train_command(train_commands, cfg_cls: type, train: Callable, resume: Callable, help: str,
                      description: str, epilog: str) -> argparse.ArgumentParser:
    """Add ``lstmkit train <cfg_cls.task>``: ``train(cfg, out)`` makes a new run, ``resume(path, cfg)``
    continues one; both return a :class:`~lstmkit.train.TrainResult`.

    Example::

        >>> import argparse
        >>> from lstmkit.tasks.runs import add_train_command
        >>> from lstmkit.tasks.tagger import TaggerConfig, train, resume
        >>> sub = argparse.ArgumentParser().add_subparsers()
        >>> p = add_train_command(sub, TaggerConfig, train, resume, "tagger", "Train a tagger.", "")
        >>> p.parse_args(["--hidden", "8", "--out", "runs/x"]).hidden
        8
    """
    task = cfg_cls.task

    def run(args: argparse.Namespace) -> None:
        if args.resume:
            if args.out or args.config:
                raise ValueError("--resume continues a run in its own folder with its own config; expected no "
                                 "--out or --config with it")
            found = RunDir.open(args.resume)
            result = resume(found.path, config_from_args(cfg_cls, args, found.config(cfg_cls).__dict__.copy()))
        else:
            base = read_config_file(args.config, task) if args.config else None
            result = train(config_from_args(cfg_cls, args, base), args.out)
        if result.stopped_by == "done":
            print(f"{result.run} already reached --max-steps {result.step}; nothing to do")

    p = train_commands.add_parser(task, help=help, description=description, epilog=epilog,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", metavar="RUN_DIR", help=f"run folder to create (default: runs/{task}-<timestamp>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue this run exactly from its last checkpoint")
    p.add_argument("--config", metavar="FILE.json", help="settings from a JSON file (a run's config.json "
                                                         "works); flags override it")
    add_config_args(p, cfg_cls, "settings")
    p.set_defaults(func=run)
    return p


def open_checkpoint(run_path: str | pathlib.Path, cfg_cls: type, checkpoint: str = "auto") -> tuple:
    """``(config, checkpoint state, checkpoint name)`` of a run made by ``cfg_cls``'s task; ``checkpoint``
    is ``best``, ``last`` or ``auto`` (best if there is one)."""
    run = RunDir.open(run_path)
    if run.task != cfg_cls.task:
        raise RunError(f"{run.path} is a {run.task!r} run; expected a {cfg_cls.task!r} run")
    cfg = run.config(cfg_cls)
    if checkpoint == "auto":
        checkpoint = "best" if (run.checkpoints / "best.json").exists() else "last"
    if checkpoint not in ("best", "last"):
        raise ValueError(f"checkpoint must be best, last or auto, got {checkpoint!r}")
    return cfg, load_checkpoint(run.checkpoints, checkpoint)["state"], checkpoint
