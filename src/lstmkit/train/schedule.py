"""Learning-rate schedules: linear warm-up, then cosine decay, step decay or constant.

A pure function of the step number, so a resumed run needs no scheduler state.
"""

from __future__ import annotations

import math

from .config import TrainConfig

__all__ = ["lr_at"]


def lr_at(step: int, cfg: TrainConfig, elapsed: float = 0.0) -> float:
    """Learning rate for the update that follows ``step`` completed updates (``step`` = 0, 1, ...), after
    ``elapsed`` seconds of training.

    * warm-up: ``lr * (step + 1) / warmup_steps`` for the first ``warmup_steps`` updates;
    * cosine: from ``lr`` down to ``lr * min_lr`` at ``decay_steps`` (default ``max_steps``), then flat;
      with ``decay_by="time"`` the progress is ``elapsed / decay_time`` (default ``max_time``) instead;
    * step: ``lr * gamma ** k`` after the k-th block of ``step_every`` updates past warm-up;
    * constant: ``lr``.

    Example::

        >>> from lstmkit.train import TrainConfig
        >>> from lstmkit.train.schedule import lr_at
        >>> cfg = TrainConfig(lr=1.0, warmup_steps=10, max_steps=110, min_lr=0.0)
        >>> [round(lr_at(s, cfg), 3) for s in (0, 9, 10, 60, 110)]
        [0.1, 1.0, 1.0, 0.5, 0.0]
    """
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    after = step - cfg.warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule == "step":
        return cfg.lr * cfg.gamma ** (after // cfg.step_every)
    if cfg.decay_by == "time":
        progress = min(1.0, elapsed / (cfg.decay_time or cfg.max_time))
    else:
        horizon = (cfg.decay_steps or cfg.max_steps) - cfg.warmup_steps
        progress = min(1.0, after / horizon) if horizon > 0 else 1.0
    return cfg.lr * (cfg.min_lr + (1.0 - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress)))
