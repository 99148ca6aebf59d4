"""The refit: once validation has chosen how long to train (the ``best`` checkpoint's step), a fresh
ensemble is trained on the windows of training *and* validation for as many epochs, and forecasts the
hold-out. The hold-out then follows the refitted model's data as the validation part followed the first
model's, so the validation errors of the first model (the calibration, :mod:`.calibrate`) are the right
measure of the errors the refitted model will make -- the classical way (a model refitted on everything
before the forecast origin, as the ARIMA and ETS baselines are)."""

from __future__ import annotations

import math
import time

import torch
from torch import nn

from ...train.optim import make_optimizer
from ...train.rng import seed_everything
from ...train.schedule import lr_at
from .model import Forecaster, pinball_loss

__all__ = ["refit_steps", "refit_model"]


def refit_steps(best_step: int, train_windows: int, refit_windows: int) -> int:
    """Steps of the refit: the first fit's best step, scaled by how many more windows there are (the same
    number of passes over the data).

    Example::

        >>> from lstmkit.tasks.forecast.refit import refit_steps
        >>> refit_steps(200, train_windows=100, refit_windows=120)
        240
    """
    return max(1, int(round(best_step * refit_windows / max(train_windows, 1))))


def refit_model(task, steps: int, max_seconds: float = 0.0) -> tuple[Forecaster, dict]:
    """A fresh :class:`Forecaster` ensemble trained ``steps`` steps on ``task.refit_windows()`` (the windows
    of every origin before the hold-out: training and validation parts; of every series for a global task), with the run's optimiser, learning-rate schedule and
    seed; stops early after ``max_seconds`` (0: no limit). Returns ``(model in eval mode, summary)``.

    Example::

        >>> from lstmkit.tasks.forecast import ForecastConfig, ForecastTask
        >>> from lstmkit.tasks.forecast.refit import refit_model
        >>> task = ForecastTask(ForecastConfig(dataset="sunspots", window=22, horizon=5, hidden=8, ensemble=2))
        >>> model, info = refit_model(task, steps=3)
        >>> info["steps"], info["windows"]
        (3, 237)
    """
    c = task.config
    w = task.refit_windows()                                                          # x (N, W, F), y (N, H)
    seed_everything(c.seed)
    device = torch.device(c.device)
    model = task.build_model().to(device)
    opt = make_optimizer(model, c)
    gen = torch.Generator().manual_seed(c.seed + 1)
    q = torch.tensor(c.quantiles, device=device)
    start, done = time.perf_counter(), 0
    model.train()
    for step in range(steps):
        if max_seconds and time.perf_counter() - start > max_seconds:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, c)
        idx = torch.randint(len(w.y), (c.ensemble, c.batch_size), generator=gen)
        x, y = w.x[idx].to(device), w.y[idx].to(device)                                # (K, B, W, F), (K, B, H)
        pred = model.members(x, y if c.decoder == "autoregressive" else None)          # (K, B, H, Q)
        loss = pinball_loss(pred, y, q) * c.ensemble
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"the refit's loss became {loss.item()} at step {step + 1}; expected a "
                                     f"finite value (try --no-refit or a lower --lr)")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if c.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), c.grad_clip)
        opt.step()
        done += 1
    return model.eval(), {"steps": done, "planned_steps": steps, "windows": len(w.y),
                          "seconds": round(time.perf_counter() - start, 2)}
