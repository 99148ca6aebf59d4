"""The shared training engine: one loop, one run-folder format, one checkpoint format, one progress
display for every job. A job supplies a :class:`TrainTask` (data, model, loss, metrics) and a config
dataclass extending :class:`TrainConfig`; :class:`Trainer` does the rest. See :mod:`lstmkit.train.task`.
"""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .cli_args import add_config_args, config_from_args, read_config_file
from .config import (TrainConfig, backend_opt, config_diff, config_from_dict, config_to_dict, max_steps_opt, opt,
                     parse_duration)
from .loop import Trainer, TrainResult
from .optim import make_optimizer
from .rundir import RunDir, RunError, default_run_dir
from .task import TrainTask

__all__ = ["TrainConfig", "TrainTask", "Trainer", "TrainResult", "RunDir", "RunError", "CheckpointError",
           "opt", "max_steps_opt", "backend_opt", "config_from_dict", "config_to_dict", "config_diff", "parse_duration",
           "add_config_args", "config_from_args", "read_config_file", "save_checkpoint", "load_checkpoint",
           "make_optimizer", "default_run_dir"]
