"""Typed run configuration: the engine's settings, which every task's config dataclass extends.

Each field is declared with :func:`opt`, which records its help text (shown by ``--help`` and in the
docs) and whether it is a *control* setting, which a resumed run may change: the budgets (``max_time``;
``max_steps``, to train a run longer), where it runs (``device``) and what it also writes
(``tensorboard``). Every other setting must stay as the run was made.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

__all__ = ["opt", "max_steps_opt", "backend_opt", "TrainConfig", "config_from_dict", "config_to_dict", "config_diff", "parse_duration",
           "check_device"]


def opt(default: Any, help: str, *, control: bool = False, choices: tuple | None = None,
        flag: str | None = None, parse: Any = None) -> Any:
    """A config field with its ``--help`` text; ``control=True`` marks it changeable on ``--resume``;
    ``flag`` overrides the command-line name, ``parse`` the function that reads the flag's text."""
    meta = {"help": help, "control": control, "choices": choices, "flag": flag, "parse": parse}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def max_steps_opt(default: int, what: str = "optimisation steps to run") -> Any:
    """The ``max_steps`` field (each task sets its own default): a control setting, so a resumed run
    may be trained longer."""
    return opt(default, f"{what} (changeable on --resume, to train longer; with --decay-steps 0 the cosine "
                        f"decay then stretches to the new end)", control=True)


def backend_opt() -> Any:
    """The ``backend`` field every task's config has: which kernel runs the recurrent layers."""
    return opt("auto", "kernel: auto (fastest available), reference (the readable oracle), cpu-bf16 (CPU, "
                       "bfloat16 GEMM operands: mixed precision, faster where the CPU has AVX512-BF16) or "
                       "another registered name")


def parse_duration(value: str | float | int) -> float:
    """Seconds from ``90``, ``"90s"``, ``"3m"``, ``"1h30m"`` or ``"1.5h"``; 0 means no limit.

    Example::

        >>> from lstmkit.train.config import parse_duration
        >>> parse_duration("1h30m"), parse_duration("3m"), parse_duration(90)
        (5400.0, 180.0, 90.0)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms]?)", text)
        if not text or not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([hms]?)", "", text).strip():
            raise ValueError(f"a duration must look like 90, 90s, 3m or 1h30m, got {value!r}")
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1, "": 1}[u] for n, u in parts)
    if seconds < 0:
        raise ValueError(f"a duration must be >= 0, got {value!r}")
    return seconds


@dataclass
class TrainConfig:
    """Settings of the shared training engine (:class:`lstmkit.train.Trainer`); task configs extend it.

    Example::

        >>> from lstmkit.train import TrainConfig
        >>> cfg = TrainConfig(max_steps=100, lr=1e-3)
        >>> cfg.schedule, cfg.warmup_steps
        ('cosine', 100)
    """

    task: ClassVar[str] = "train"
    #: whether max_steps=0 means "the job's default for its data" (resolved by the job, not here)
    auto_max_steps: ClassVar[bool] = False

    seed: int = opt(0, "seed of every random number generator (init, data order, dropout)")
    max_steps: int = max_steps_opt(5000)
    max_time: float = opt(0.0, "wall-clock budget in seconds or 90s/3m/1h (0: none); the run saves and "
                               "stops when it is spent", control=True, parse=parse_duration)
    lr: float = opt(2e-3, "peak learning rate of AdamW")
    min_lr: float = opt(0.1, "final learning rate as a fraction of --lr (cosine schedule)")
    warmup_steps: int = opt(100, "steps of linear learning-rate warm-up from 0")
    schedule: str = opt("cosine", "decay after warm-up: cosine to min-lr at --decay-steps, step (times "
                                  "--gamma every --step-every steps) or constant",
                        choices=("cosine", "step", "constant"))
    decay_steps: int = opt(0, "length of the cosine decay (0: --max-steps)")
    decay_by: str = opt("steps", "what the cosine decay follows: steps (to --decay-steps), or time (the "
                                 "fraction of --max-time spent: anneals to a wall-clock budget, but the rate "
                                 "then follows the clock, so runs are not bit-reproducible)",
                        choices=("steps", "time"))
    decay_time: float = opt(0.0, "with --decay-by time: the budget the cosine decay spans, in seconds or "
                                 "90s/3m/1h (0: --max-time)", parse=parse_duration)
    step_every: int = opt(1000, "step schedule: steps between learning-rate drops")
    gamma: float = opt(0.5, "step schedule: factor of each drop")
    weight_decay: float = opt(0.1, "AdamW weight decay, on matrices only (not biases, gains)")
    beta1: float = opt(0.9, "AdamW beta1")
    beta2: float = opt(0.99, "AdamW beta2")
    grad_clip: float = opt(1.0, "clip the global gradient norm to this (0: off)")
    ema: float = opt(0.0, "keep an exponential moving average of the weights with this decay per step "
                          "(e.g. 0.999; 0: off) and evaluate, sample and save 'best' with the averaged "
                          "weights")
    eval_every: int = opt(500, "steps between evaluations on the held-out split (and samples, checkpoints)")
    log_every: int = opt(50, "steps between metrics lines (train loss is averaged over them)")
    checkpoint_every: int = opt(0, "steps between 'last' checkpoints (0: at each evaluation)")
    patience: int = opt(0, "early stopping: evaluations without improvement before stopping (0: off)")
    device: str = opt("cpu", "torch device: cpu, cuda, cuda:1 ... (a resumed run may move to another)",
                      control=True)
    tensorboard: bool = opt(False, "also write scalars for TensorBoard into the run folder "
                                   "(needs: pip install 'lstmkit[tensorboard]')", control=True)

    def changed(self, name: str) -> bool:
        """Whether field ``name`` is away from its default (set by a flag, a config file or code)."""
        f = next(f for f in fields(self) if f.name == name)
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        return getattr(self, name) != default

    def refuse_together(self, given: str, ignored: str, why: str) -> None:
        """Raise ValueError when ``given`` is set and ``ignored`` was changed too (it would be ignored)."""
        if getattr(self, given) and self.changed(ignored):
            raise ValueError(f"--{ignored.replace('_', '-')} {getattr(self, ignored)!r} has no effect with "
                             f"--{given.replace('_', '-')} ({why}); expected one of the two")

    def check_probabilities(self, *names: str) -> None:
        """Raise ValueError naming the first of ``names`` (dropout rates and the like) outside [0, 1)."""
        for name in names:
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} is a probability and must be in [0, 1), got {getattr(self, name)}")

    def validate(self) -> None:
        """Raise ValueError naming the first setting out of range (subclasses extend it)."""
        for f in fields(self):                                   # every number of every task: finite
            value = getattr(self, f.name)
            for k, v in enumerate(value if isinstance(value, list) else [value]):
                if isinstance(v, float) and not math.isfinite(v):
                    where = f"{f.name}[{k}]" if isinstance(value, list) else f.name
                    raise ValueError(f"{where} must be a finite number, got {v}")
        if self.max_steps < (0 if self.auto_max_steps else 1):
            raise ValueError(f"max_steps must be >= {0 if self.auto_max_steps else 1}, got {self.max_steps}")
        for name in ("eval_every", "log_every", "step_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "decay_steps", "checkpoint_every", "patience", "max_time", "decay_time",
                     "weight_decay", "grad_clip", "min_lr"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1) (0: off), got {self.ema}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.min_lr > 1:
            raise ValueError(f"min_lr is the final rate as a fraction of --lr and must be in [0, 1], got "
                             f"{self.min_lr} (a rate above --lr)")
        check_device(self.device)
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.decay_by == "time" and not ((self.decay_time or self.max_time) > 0 and self.schedule == "cosine"):
            raise ValueError(f"decay_by='time' needs --schedule cosine and a --max-time (or --decay-time) "
                             f"budget, got schedule={self.schedule!r}, max_time={self.max_time}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise ValueError(f"{f.name} must be one of {list(choices)}, got {getattr(self, f.name)!r}")


def check_device(name: str) -> None:
    """Raise ValueError unless ``name`` is a torch device this machine has (cpu, cuda, cuda:1, mps ...)."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"device must be a torch device such as cpu, cuda or cuda:1, got {name!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build of torch" if torch.version.cuda is None else "no CUDA device visible"
            raise ValueError(f"device {name!r} asked for CUDA, which is not available here ({build}); "
                             f"use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} asked for Apple's MPS, which is not available here; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {name!r}: lstmkit runs on cpu, cuda or mps, got {device.type!r}")


def _check_type(name: str, value: Any, annotation: Any) -> Any:
    """Return ``value`` as the field's type (int -> float allowed), or raise TypeError."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        annotation = next(a for a in options if a is not type(None))
        origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{name} must be a list, got {type(value).__name__} ({value!r})")
        return [_check_type(f"{name}[{i}]", v, item) for i, v in enumerate(value)]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool) and (type(value) is not annotation):
        raise TypeError(f"{name} must be {annotation.__name__}, got {type(value).__name__} ({value!r})")
    return value


def config_from_dict(cls: type, data: dict) -> Any:
    """Build and validate config ``cls`` from a dict; unknown keys and wrong types are refused.

    Example::

        >>> from lstmkit.train import TrainConfig, config_from_dict
        >>> config_from_dict(TrainConfig, {"lr": 1e-3}).lr
        0.001
        >>> config_from_dict(TrainConfig, {"learning_rate": 1e-3})
        Traceback (most recent call last):
        ...
        ValueError: unknown config key 'learning_rate' for train; valid keys: seed, max_steps, ...
    """
    names = [f.name for f in fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ValueError(f"unknown config key{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(repr(k) for k in unknown)} for {cls.task}; valid keys: {', '.join(names)}")
    hints = typing.get_type_hints(cls)
    cfg = cls(**{k: _check_type(k, v, hints[k]) for k, v in data.items()})
    cfg.validate()
    return cfg


def config_to_dict(cfg: Any) -> dict:
    """The config as a plain dict (what ``config.json`` holds, after ``"task"``)."""
    return dataclasses.asdict(cfg)


def config_diff(old: Any, new: Any, include_control: bool = False) -> list[str]:
    """Human-readable differences ``"lr: 0.002 in the run, 0.001 now"`` between two configs of one class."""
    out = []
    for f in fields(old):
        if f.metadata.get("control") and not include_control:
            continue
        a, b = getattr(old, f.name), getattr(new, f.name)
        if a != b:
            out.append(f"{f.name}: {a!r} in the run, {b!r} now")
    return out
