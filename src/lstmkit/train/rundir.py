"""A run is a plain folder:

.. code-block:: text

    RUN_DIR/
      config.json          {"task": ..., every resolved setting}
      metrics.jsonl        one JSON object per logged step
      loss.png             train and validation curves
      samples/step-N.txt   what the model produced at each evaluation (tasks that generate)
      checkpoints/         last.json + last-<step>.safetensors, best.json + best-<step>.safetensors
      tensorboard/         scalars, with --tensorboard
      .lock                held (flock) by the process training the run

A run folder is enough to resume, sample or inspect.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
from contextlib import contextmanager
from typing import Iterator

try:
    import fcntl
except ImportError:                                                 # pragma: no cover - Windows
    fcntl = None

from ..errors import RunInUseError
from . import atomic
from .config import check_device, config_from_dict, config_to_dict

__all__ = ["RunDir", "RunError", "default_run_dir"]


class RunError(ValueError):
    """A folder is not a run, or a run cannot be created there.

    Example::

        >>> import tempfile
        >>> from lstmkit.train import RunDir, RunError
        >>> try:
        ...     RunDir.open(tempfile.mkdtemp())
        ... except RunError as e:
        ...     print("not an lstmkit run" in str(e))
        True
    """


def default_run_dir(task: str) -> pathlib.Path:
    """``runs/<task>-<YYYYmmdd-HHMMSS>`` under the working directory."""
    return pathlib.Path("runs") / f"{task}-{datetime.datetime.now():%Y%m%d-%H%M%S}"


class RunDir:
    """Paths and config of one run folder.

    Example::

        >>> import pathlib, tempfile
        >>> from lstmkit.train import RunDir, TrainConfig
        >>> run = RunDir.create(pathlib.Path(tempfile.mkdtemp()) / "run", TrainConfig(max_steps=10))
        >>> RunDir.open(run.path).config(TrainConfig).max_steps
        10
    """

    def __init__(self, path: str | pathlib.Path) -> None:
        self.path = pathlib.Path(path)

    # paths
    @property
    def config_path(self) -> pathlib.Path:
        return self.path / "config.json"

    @property
    def metrics_path(self) -> pathlib.Path:
        return self.path / "metrics.jsonl"

    @property
    def plot_path(self) -> pathlib.Path:
        return self.path / "loss.png"

    @property
    def checkpoints(self) -> pathlib.Path:
        return self.path / "checkpoints"

    @property
    def samples(self) -> pathlib.Path:
        return self.path / "samples"

    @property
    def tensorboard(self) -> pathlib.Path:
        return self.path / "tensorboard"

    # creation and opening
    @classmethod
    def create(cls, path: str | pathlib.Path, cfg) -> "RunDir":
        """Make a new run folder and write ``config.json``. An existing non-empty folder is refused, except
        a run that failed before its first checkpoint (nothing to lose): it is started afresh."""
        run = cls(path)
        if run.path.exists() and not run.path.is_dir():
            raise RunError(f"--out {run.path} is a file; expected a new or empty folder for the run")
        if run.path.is_dir() and any(run.path.iterdir()) and not run.never_saved():
            what = "a run" if run.config_path.exists() else "a non-empty folder"
            raise RunError(f"--out {run.path} is {what}; expected a new or empty folder "
                           f"(continue a run with --resume {run.path})")
        for d in (run.path, run.checkpoints, run.samples):
            d.mkdir(parents=True, exist_ok=True)
        run.metrics_path.unlink(missing_ok=True)                   # a failed start's lines, if any
        run.write_config(cfg)
        return run

    #: what a run folder holds besides the user's own files
    RUN_FILES = {"config.json", "metrics.jsonl", "loss.png", "checkpoints", "samples", "tensorboard", ".lock"}

    def is_run(self) -> bool:
        """Whether the folder holds a run (its ``config.json`` and ``checkpoints/``)."""
        return self.config_path.is_file() and self.checkpoints.is_dir()

    @classmethod
    def owns(cls, path: str | pathlib.Path) -> bool:
        """Whether ``path`` is one of a run folder's own files: its config, metrics, lock or a checkpoint
        (outputs the user names are refused there)."""
        path = pathlib.Path(path)
        if path.parent.name == "checkpoints" and cls(path.parent.parent).is_run():
            return True
        return path.name in ("config.json", "metrics.jsonl", ".lock") and cls(path.parent).is_run()

    def never_saved(self) -> bool:
        """Whether this folder is a run that failed before its first checkpoint: only a run's files, no
        checkpoint in checkpoints/ (so it may be started afresh, by ``--out`` or ``--resume``)."""
        entries = list(self.path.iterdir())
        if not {p.name for p in entries} <= self.RUN_FILES:
            return False
        if not self.config_path.is_file():                  # failed while being made: only empty run folders
            return all(p.is_dir() and not any(p.iterdir()) for p in entries if p.name != ".lock")
        return not (self.checkpoints.is_dir() and any(self.checkpoints.glob("*.json")))

    @contextmanager
    def locked(self) -> Iterator["RunDir"]:
        """Hold the run folder's lock (``RUN_DIR/.lock``, an advisory ``flock``) for the block: a second
        process training, resuming or writing into the same run gets :class:`RunInUseError` naming the
        holder's pid. The lock goes with the process (kill -9 included); the file may stay."""
        if fcntl is None:                                           # pragma: no cover - no flock (Windows)
            yield self
            return
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
                raise RunInUseError(f"{self.path} is in use by another lstmkit process (pid {holder}); "
                                    f"expected a run no other process is writing: wait for it to finish or "
                                    f"stop it") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield self
        finally:
            os.close(fd)                                           # releases the lock

    def write_config(self, cfg) -> None:
        atomic.write_json(self.config_path, {"task": type(cfg).task, **config_to_dict(cfg)})

    @classmethod
    def open(cls, path: str | pathlib.Path) -> "RunDir":
        """An existing run; :class:`RunError` says why a folder is not one."""
        run = cls(path)
        if not run.path.exists():
            raise RunError(f"run folder {run.path} does not exist")
        if not run.path.is_dir():
            raise RunError(f"{run.path} is a file; expected a run folder (with config.json and checkpoints/)")
        if not run.config_path.is_file():
            raise RunError(f"{run.path} is not an lstmkit run: expected {run.config_path}, which does not exist")
        run.task                                                      # parses config.json
        return run

    def _raw_config(self) -> dict:
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise RunError(f"{self.config_path} is corrupt: expected JSON, got a parse error ({e})") from None
        if not isinstance(data, dict) or not isinstance(data.get("task"), str):
            raise RunError(f"{self.config_path} is not an lstmkit run config: expected an object with a "
                           f"'task' name, got {str(data)[:80]!r}")
        return data

    @property
    def task(self) -> str:
        """The task that made the run (``config.json``'s ``"task"``)."""
        return self._raw_config()["task"]

    def config(self, cls):
        """The run's config as ``cls`` (which must be the config class of the run's task). A run made on a
        device this machine lacks (trained on ``cuda``, opened where there is none) reads as a ``cpu`` run:
        its checkpoints hold CPU tensors, and ``device`` is a control setting (``--resume --device``)."""
        data = self._raw_config()
        task = data.pop("task")
        if task != cls.task:
            raise RunError(f"{self.path} is a {task!r} run; expected a {cls.task!r} run")
        if isinstance(data.get("device"), str):
            try:
                check_device(data["device"])
            except ValueError:
                data["device"] = "cpu"
        return config_from_dict(cls, data)
