"""What every training job's commands share on top of the engine: the ``lstmkit train <task>`` parser
(``--out / --resume / --config`` and one flag per config field) and its handling, creating or resuming a run
around a task, and opening a run's checkpoint for use."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from contextlib import nullcontext
from typing import IO, Callable, Optional

from ..train import (RunDir, RunError, Trainer, TrainResult, TrainTask, add_config_args, config_from_args,
                     config_from_dict, default_run_dir, load_checkpoint, read_config_file)

__all__ = ["add_train_command", "add_run_args", "run_train_command", "fit_run", "open_checkpoint",
           "absolute_paths"]


def absolute_paths(cfg, names: tuple[str, ...]):
    """The config's file fields made absolute, so a run resumes from any working directory."""
    for name in names:
        if getattr(cfg, name):
            setattr(cfg, name, str(pathlib.Path(getattr(cfg, name)).expanduser().resolve()))
    return cfg


def add_run_args(parser: argparse.ArgumentParser, cfg_cls: type) -> None:
    """``--out``, ``--resume``, ``--config`` and one flag per field of ``cfg_cls``."""
    parser.add_argument("--out", metavar="RUN_DIR",
                        help=f"run folder to create (default: runs/{cfg_cls.task}-<timestamp>)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue this run exactly from its last checkpoint")
    parser.add_argument("--config", metavar="FILE.json", help="settings from a JSON file (a run's config.json "
                                                              "works); flags override it")
    add_config_args(parser, cfg_cls, "settings")


def run_train_command(args: argparse.Namespace, cfg_cls: type, train: Callable, resume: Callable) -> TrainResult:
    """The body of ``lstmkit train <task>``: a new run (``train(cfg, out)``) or ``--resume`` one
    (``resume(path, cfg)``, the run's config overridden by the flags given). Under torchrun only rank 0
    reports: the other ranks' standard output is discarded (their errors still reach standard error)."""
    if os.environ.get("RANK", "0") != "0":
        sys.stdout = open(os.devnull, "w")    # noqa: SIM115 - for the rest of this process
    if args.resume:
        if args.out or args.config:
            raise ValueError("--resume continues a run in its own folder with its own config; expected no "
                             "--out or --config with it")
        run = RunDir.open(args.resume)
        result = resume(run.path, config_from_args(cfg_cls, args, run.config(cfg_cls).__dict__.copy()))
    else:
        base = read_config_file(args.config, cfg_cls.task) if args.config else None
        if base is not None:                  # the file must hold valid settings itself, even those overridden
            try:
                config_from_dict(cfg_cls, base)
            except (ValueError, TypeError) as e:
                raise type(e)(f"--config {args.config}: {e}") from None
        result = train(config_from_args(cfg_cls, args, base), args.out)
    if result.stopped_by == "done":
        print(f"{result.run} already reached --max-steps {result.step}; nothing to do")
    if result.stopped_by == "interrupted":
        from ..errors import Interrupted
        raise Interrupted(result.signal or "SIGINT", f"interrupted ({result.signal or 'SIGINT'}) at step "
                                                     f"{result.step}, saved; continue with --resume {result.run}")
    return result


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
    p = train_commands.add_parser(cfg_cls.task, help=help, description=description, epilog=epilog,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_args(p, cfg_cls)
    p.set_defaults(func=lambda args: run_train_command(args, cfg_cls, train, resume))
    return p


def fit_run(task: TrainTask, out: Optional[str | pathlib.Path] = None, resume: Optional[str | pathlib.Path] = None,
            stream: Optional[IO] = None, then=None) -> tuple[TrainResult, RunDir]:
    """Train ``task`` into a new run folder ``out`` (default ``runs/<task>-<timestamp>``), or continue the run
    at ``resume``; then call ``then(task, run, task.config, stream)`` if given (a task's closing report).
    Build the task (which reads and checks the data) before calling, so bad input leaves no folder behind.

    Example::

        >>> import tempfile
        >>> from lstmkit.tasks.ctc import CTCConfig, CTCTask
        >>> from lstmkit.tasks.runs import fit_run
        >>> cfg = CTCConfig(max_steps=2, hidden=4, layers=1, batch_size=2, val_lines=2, backend="reference")
        >>> result, run = fit_run(CTCTask(cfg), tempfile.mkdtemp() + "/run", stream=open("/dev/null", "w"))
        >>> result.step, run.task
        (2, 'ctc')
    """
    from ..train.distributed import init_from_env

    shard = init_from_env(task.config.device)       # under torchrun: join the group; else one process
    if shard.distributed and isinstance(getattr(task.config, "batch_size", None), int):
        shard.check_batch(task.config.batch_size)    # before any folder is made
    # under torchrun rank 0 makes (or opens), locks and writes the folder; the others learn where it is
    run = shard.on_main(lambda: _open_or_create(task, out, resume))
    with run.locked() if shard.main else nullcontext(run):
        result = Trainer(task, run, resume=resume is not None, stream=stream).fit()
        if then is not None and shard.main:
            then(task, run, task.config, stream)
    shard.barrier()
    return result, run


def _open_or_create(task: TrainTask, out, resume) -> RunDir:
    if resume is not None:
        return RunDir.open(resume)
    task.build_model()                         # fails here, before any folder, on settings the model refuses
    return RunDir.create(out or default_run_dir(task.config.task), task.config)


def open_checkpoint(run_path: str | pathlib.Path, cfg_cls: type, checkpoint: str = "auto") -> tuple:
    """``(run config, checkpoint state, checkpoint name)`` of a run made by ``cfg_cls``'s task; ``checkpoint``
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
