"""The training loop every job shares: AdamW with warm-up and decay, gradient clipping, evaluation at
intervals, early stopping, step and wall-clock budgets, checkpoints, exact resume, clean Ctrl-C."""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import IO, Optional

import torch
from torch import nn

from ..errors import DivergedError
from .checkpoint import checkpoint_exists, checkpoint_step, load_checkpoint, save_checkpoint
from .config import config_diff, config_to_dict
from .distributed import Shard
from .ema import WeightAverage
from .metrics import MetricsLog, plot_losses
from .optim import make_optimizer
from .progress import TensorBoard, make_progress
from .rng import rng_state, seed_everything, set_rng_state
from .rundir import RunDir, RunError
from .schedule import lr_at
from .task import TrainTask

__all__ = ["Trainer", "TrainResult"]


@dataclass
class TrainResult:
    """How a :meth:`Trainer.fit` call ended.

    Example::

        >>> from lstmkit.train import TrainResult
        >>> TrainResult("runs/x", step=100, stopped_by="max_time", best=1.5, best_step=100, elapsed=60.0).stopped_by
        'max_time'
    """

    run: str                  #: the run folder
    step: int                 #: optimisation steps done (over all resumes)
    stopped_by: str           #: max_steps, max_time, early_stopping, interrupted, or done (already finished)
    best: float               #: best value of the task's monitored metric (inf if never evaluated)
    best_step: Optional[int]  #: step of the best evaluation
    elapsed: float            #: wall-clock seconds of training over all resumes
    signal: Optional[str] = None  #: SIGINT or SIGTERM when stopped_by is "interrupted"


class _StopFlag:
    """SIGINT / SIGTERM set a flag the loop checks after each step; a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.signal: Optional[str] = None
        self._old: dict = {}

    def __enter__(self) -> "_StopFlag":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class Trainer:
    """Train ``task``'s model into run folder ``run`` (made by :meth:`RunDir.create`), or continue it
    exactly from its ``last`` checkpoint with ``resume=True``.

    Progress goes to ``stream`` (default stdout): a tqdm bar on a terminal, plain lines otherwise. See
    :class:`~lstmkit.train.TrainTask` for a job written from scratch.

    Example (train the character model's task for a few steps, stop, then resume to the end)::

        >>> import io, tempfile
        >>> from lstmkit.train import RunDir, Trainer
        >>> from lstmkit.tasks.charlm import CharLMConfig, CharLMTask
        >>> cfg = CharLMConfig(max_steps=6, hidden=16, embed=8, layers=1, batch_size=4, seq_len=16,
        ...                    eval_every=3, eval_chars=300, sample_chars=0)
        >>> run = RunDir.create(tempfile.mkdtemp() + "/run", cfg)
        >>> Trainer(CharLMTask(cfg), run, stream=io.StringIO()).fit().step
        6
        >>> Trainer(CharLMTask(cfg), RunDir.open(run.path), resume=True).fit().stopped_by
        'done'
    """

    def __init__(self, task: TrainTask, run: RunDir, resume: bool = False, stream: Optional[IO] = None) -> None:
        self.task, self.run, self.resume, self.stream = task, run, resume, stream
        self.cfg = task.config
        #: this process's rank under torchrun (see :mod:`lstmkit.train.distributed`); rank 0 alone writes
        self.shard = task.shard = Shard.current()
        if self.cfg.tensorboard:
            TensorBoard.check()
        self.metrics = MetricsLog(run.metrics_path)
        self.device = torch.device(self.cfg.device)
        if self.shard.distributed and self.device.type == "cuda":    # under torchrun: this rank's GPU
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.ddp: Optional[nn.Module] = None

    # ---------------------------------------------------------------------------------------- state
    def _fresh(self) -> None:
        seed_everything(self.cfg.seed)
        self.model = self.task.build_model().to(self.device)
        if self.shard.distributed:
            if self.device.type == "cuda":    # batch statistics over the global batch (SyncBatchNorm is CUDA-only)
                self.model = nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
            self.ddp = _distributed_step(self.model, self.task, self.device)
            if not self.shard.main:       # the same initial weights and data, its own dropout masks
                seed_everything(self.cfg.seed + 1_000_003 * self.shard.rank)
        self.opt = make_optimizer(self.model, self.cfg)
        self.ema = WeightAverage(self.model, self.cfg.ema) if self.cfg.ema else None
        self.step, self.elapsed = 0, 0.0
        self.best, self.best_step, self.bad_evals = math.inf, None, 0
        self.win_loss, self.win_count, self.win_items = 0.0, 0, 0

    def _engine_state(self) -> dict:
        return {"elapsed": self.elapsed, "best": self.best, "best_step": self.best_step,
                "bad_evals": self.bad_evals, "win_loss": self.win_loss, "win_count": self.win_count,
                "win_items": self.win_items}

    def _load_last(self) -> None:
        """Restore model, optimiser, RNGs, data position and loop counters from ``last``; refuse a run
        whose config differs (except control settings, which the new config updates). Under torchrun rank 0
        reads the checkpoint and sends it to the others; each rank restores its own data position and RNGs."""
        old_cfg = None

        def read() -> dict:
            nonlocal old_cfg
            old_cfg = self.run.config(type(self.cfg))
            diffs = config_diff(old_cfg, self.cfg)
            if diffs:
                raise RunError(f"--resume {self.run.path}: the run was made with a different config; expected "
                               f"the same settings, got these differences: " + "; ".join(diffs))
            return load_checkpoint(self.run.checkpoints, "last")["state"]

        ck = self.shard.on_main(read)
        world = ck.get("world", 1)
        if world != self.shard.world:
            raise RunError(f"--resume {self.run.path}: the run was trained by {world} process(es) and each keeps its "
                           f"own data position; expected {world} process(es) again, got {self.shard.world}")
        mine = ck["ranks"][self.shard.rank] if world > 1 else {"task_state": ck["task_state"], "rng": ck["rng"]}
        self._fresh()
        self.task.load_state_dict(mine["task_state"])         # first: says so plainly if the data changed
        try:
            self.model.load_state_dict(ck["model"])
            self.opt.load_state_dict(ck["optimizer"])
        except (RuntimeError, ValueError, KeyError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise RunError(f"--resume {self.run.path}: its last checkpoint does not fit the model that the run's "
                           f"config.json and data build ({first}); expected the config and data the run was "
                           f"made with (was config.json edited?)") from None
        if self.ema is not None:
            self.ema.load_state_dict(ck["ema"])
        e = ck["engine"]
        self.step = ck["step"]
        self.elapsed, self.best, self.best_step = e["elapsed"], e["best"], e["best_step"]
        self.bad_evals, self.win_loss, self.win_count, self.win_items = (e["bad_evals"], e["win_loss"],
                                                                         e["win_count"], e["win_items"])
        set_rng_state(mine["rng"])
        if self.shard.main:
            self.metrics.truncate_after(self.step)
            if config_diff(old_cfg, self.cfg, include_control=True):
                self.run.write_config(self.cfg)

    def _checkpoint_state(self) -> dict:
        return {"task": type(self.cfg).task, "config": config_to_dict(self.cfg), "meta": self.task.metadata(),
                "step": self.step, "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                "rng": rng_state(), "task_state": self.task.state_dict(), "engine": self._engine_state(),
                **({"ema": self.ema.state_dict()} if self.ema is not None else {})}

    def save_last(self) -> None:
        """Save ``last``; refused (:class:`DivergedError`) when a weight is no longer finite, so ``last``
        always holds the last finite state."""
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            raise self._diverged(f"a weight became non-finite by step {self.step}")
        if not self.shard.distributed:
            save_checkpoint(self.run.checkpoints, "last", self._checkpoint_state(), self.step)
            return
        ranks = self.shard.gather({"task_state": self.task.state_dict(), "rng": rng_state()})
        # every rank's data position and RNGs (rank 0's also at the top); the others wait for the file, and
        # a failure to write it (a full disk) stops every rank
        self.shard.on_main(lambda: save_checkpoint(self.run.checkpoints, "last", {
            **self._checkpoint_state(), "world": self.shard.world, "ranks": ranks}, self.step))

    def _diverged(self, what: str) -> DivergedError:
        saved = checkpoint_step(self.run.checkpoints, "last") if self.shard.main else None
        where = f"its last checkpoint (step {saved}) is the last finite state" if saved is not None else \
            "it saved no checkpoint before"
        return DivergedError(f"{what}: the run diverged; {where}. Expected a finite value: try a lower --lr "
                             f"or a --grad-clip (resume with --resume {self.run.path} --lr ...)")

    def _save_best(self, metrics: dict) -> None:
        if not self.shard.main:
            return
        state = {"task": type(self.cfg).task, "config": config_to_dict(self.cfg), "meta": self.task.metadata(),
                 "step": self.step, "model": self.model.state_dict(), "metrics": metrics}
        save_checkpoint(self.run.checkpoints, "best", state, self.step)

    def _start_from_last(self) -> bool:
        """Whether to continue from ``last`` (rank 0 decides; a resumed run that never saved starts afresh)."""
        if self.resume and checkpoint_exists(self.run.checkpoints, "last"):
            return True
        if self.resume and not self.run.never_saved():
            raise RunError(f"--resume {self.run.path}: expected a checkpoint {self.run.checkpoints}/last.json, "
                           f"which does not exist")
        if self.resume:
            self.metrics.truncate_after(0)
            self.run.write_config(self.cfg)
        return False

    # ---------------------------------------------------------------------------------------- loop
    def fit(self) -> TrainResult:
        """Run until max_steps, max_time, early stopping or Ctrl-C; save; return how it ended."""
        if self.shard.on_main(self._start_from_last):
            self._load_last()
        else:                                  # new, or a run that failed before saving: from step 0
            self._fresh()
        cfg = self.cfg
        if self.step >= cfg.max_steps:
            return self._result("done")
        stream = self.stream if self.shard.main else open(os.devnull, "w")   # noqa: SIM115 - closed below
        progress = make_progress(cfg.max_steps, self.step, self.task.unit, stream, cfg.max_time, self.elapsed)
        tb = TensorBoard(self.run.tensorboard) if cfg.tensorboard and self.shard.main else None
        try:
            with _StopFlag() as stop:
                stopped_by = self._loop(progress, tb, stop)
        finally:
            progress.close()
            if tb is not None:
                tb.close()
            if stream is not self.stream:
                stream.close()
        self._plot()
        result = self._result(stopped_by)
        result.signal = stop.signal if stopped_by == "interrupted" else None
        return result

    def _loop(self, progress, tb, stop: _StopFlag) -> str:
        cfg, task = self.cfg, self.task
        start_wall, start_elapsed = time.perf_counter(), self.elapsed
        win_start = time.perf_counter()
        saved_at = first_step = self.step
        stopped_by = "max_steps"
        while self.step < cfg.max_steps:
            self.elapsed = start_elapsed + time.perf_counter() - start_wall
            interrupted, time_up = stop.signal is not None, bool(cfg.max_time and self.elapsed >= cfg.max_time)
            if self.shard.distributed:            # every rank stops at the same step: any rank's signal, rank 0's clock
                interrupted, time_up = (v > 0 for v in self.shard.all_sum([interrupted, time_up and self.shard.main]))
                if interrupted and stop.signal is None:
                    stop.signal = "SIGTERM"
            if interrupted:
                stopped_by = "interrupted"
                break
            if time_up:
                stopped_by = "max_time"
                break
            lr = lr_at(self.step, cfg, self.elapsed)
            for group in self.opt.param_groups:
                group["lr"] = lr
            self.model.train()
            loss, n_items, value = self._train_step()
            if not math.isfinite(value):                     # before the step: the weights stay finite
                raise self._diverged(f"the training loss became {value} at step {self.step + 1}")
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.opt.step()
            if self.ema is not None:
                self.ema.update(self.model)
            self.step += 1
            self.win_loss, self.win_count, self.win_items = self.win_loss + value, self.win_count + 1, \
                self.win_items + n_items
            progress.step(self.step, start_elapsed + time.perf_counter() - start_wall)
            evaluate = self.step % cfg.eval_every == 0 or self.step == cfg.max_steps
            if self.step % cfg.log_every == 0 or evaluate:
                rec = self._window_record(lr, time.perf_counter() - win_start)
                if evaluate:
                    rec.update(self._evaluate(progress))
                self.elapsed = start_elapsed + time.perf_counter() - start_wall
                rec["elapsed"] = round(self.elapsed, 3)
                if self.shard.main:
                    self.metrics.append(rec)
                if tb is not None:
                    tb.record(rec)
                progress.record({**rec, "eta": self._eta(start_wall, first_step)})
                win_start = time.perf_counter()
                if evaluate:
                    self._plot()
            if self._checkpoint_due(evaluate):
                self.save_last()
                saved_at = self.step
            if cfg.patience and self.bad_evals >= cfg.patience:
                stopped_by = "early_stopping"
                break
        self.elapsed = start_elapsed + time.perf_counter() - start_wall
        if stopped_by == "max_time" and self.step > first_step and self.step % cfg.eval_every:
            self._final_evaluation(progress, tb)
        if saved_at != self.step:
            self.save_last()
        progress.message(self._stop_message(stopped_by, stop.signal))
        return stopped_by

    def _train_step(self) -> tuple[torch.Tensor, int, float]:
        """The task's step: ``(loss to differentiate, items, loss value)``. Under torchrun each rank's loss is
        weighted by its share of the global batch's loss denominator (DDP averages the gradients), and the
        items and the value are the global batch's."""
        if self.ddp is None:
            loss, n_items, _ = _unpack(self.task.train_step(self.model, self.step))
            return loss, n_items, loss.item()
        loss, n_items, weight = _unpack(self.ddp(self.step))
        total, weights, n_items = self.shard.all_sum([loss.item() * weight, weight, n_items])
        value = total / weights if weights > 0 else loss.item()
        return loss * (weight * self.shard.world / weights if weights > 0 else 1.0), int(n_items), value

    def _window_record(self, lr: float, seconds: float) -> dict:
        rec = {"step": self.step}
        if self.win_count:
            rec.update(self.task.train_metrics(self.win_loss / self.win_count))
        rec["lr"] = lr
        rec[f"{self.task.unit}_per_s"] = round(self.win_items / seconds, 1) if seconds > 0 else None
        self.win_loss, self.win_count, self.win_items = 0.0, 0, 0
        return rec

    def _final_evaluation(self, progress, tb) -> None:
        """Evaluate the model a time budget stopped between evaluations. The record is marked ``final``;
        it may update ``best`` but leaves the loop's counters alone, so a resumed run (with more
        --max-time) continues exactly as if it had not stopped."""
        rec = {"step": self.step, **self._evaluate(progress, scheduled=False), "final": True,
               "elapsed": round(self.elapsed, 3)}
        if self.shard.main:
            self.metrics.append(rec)
        if tb is not None:
            tb.record(rec)
        progress.record(rec)

    def _evaluate(self, progress, scheduled: bool = True) -> dict:
        """Evaluate (and sample, and save ``best``) with the averaged weights when --ema is on."""
        with self.ema.applied(self.model) if self.ema is not None else nullcontext():
            metrics = self._evaluate_model(scheduled)
        return metrics

    def _evaluate_model(self, scheduled: bool) -> dict:
        """Evaluate and sample; under torchrun on rank 0, its metrics sent to every rank."""
        def evaluate() -> dict:
            metrics = self.task.evaluate(self.model)
            if self.task.monitor not in metrics:
                raise KeyError(f"{type(self.task).__name__}.evaluate() must return {self.task.monitor!r} "
                               f"(the monitored metric), got {sorted(metrics)}")
            return metrics

        def sample(metrics: dict) -> Optional[str]:            # not from overflowing outputs
            return self.task.sample(self.model, self.step) if math.isfinite(metrics[self.task.monitor]) else None

        self.model.eval()
        with torch.no_grad():
            if self.task.sharded_evaluation:                   # every rank scores its part, the sums reduced
                metrics = evaluate()
            else:
                metrics = self.shard.on_main(evaluate)
            text = self.shard.on_main(lambda: sample(metrics))
        self.model.train()
        if not math.isfinite(metrics[self.task.monitor]):
            raise self._diverged(f"the held-out {self.task.monitor} became {metrics[self.task.monitor]} "
                                 f"at step {self.step}")
        if text is not None and self.shard.main:
            from .atomic import write_text
            self.run.samples.mkdir(exist_ok=True)
            write_text(self.run.samples / f"step-{self.step}.txt", text)
        value = metrics[self.task.monitor]
        if value < self.best:
            self.best, self.best_step = value, self.step
            self._save_best(metrics)
        if scheduled:
            self.bad_evals = 0 if self.best_step == self.step else self.bad_evals + 1
        return metrics

    def _checkpoint_due(self, evaluated: bool) -> bool:
        every = self.cfg.checkpoint_every
        return (self.step % every == 0) if every else evaluated

    def _eta(self, start_wall: float, start_step: int) -> Optional[float]:
        done = self.step - start_step
        spent = time.perf_counter() - start_wall
        if done <= 0:
            return None
        eta = spent / done * (self.cfg.max_steps - self.step)
        if self.cfg.max_time:
            eta = min(eta, max(0.0, self.cfg.max_time - self.elapsed))
        return eta

    def _stop_message(self, stopped_by: str, sig: Optional[str]) -> str:
        why = {"max_steps": f"reached --max-steps {self.cfg.max_steps}",
               "max_time": f"spent --max-time {self.cfg.max_time:g}s",
               "early_stopping": f"no improvement of {self.task.monitor} in {self.cfg.patience} evaluations",
               "interrupted": f"interrupted ({sig})"}[stopped_by]
        msg = f"stopped at step {self.step}: {why}; saved {self.run.checkpoints / 'last.json'}"
        if self.best_step is not None:
            msg += f"\nbest {self.task.monitor} {self.best:.4f} at step {self.best_step}"
        if stopped_by == "interrupted":
            msg += f"\ncontinue with: --resume {self.run.path}"
        elif stopped_by == "max_time":
            msg += f"\ncontinue with: --resume {self.run.path} --max-time <a larger budget>"
        return msg

    def _plot(self) -> None:
        if not self.shard.main:
            return
        records = self.metrics.read()
        if records:
            plot_losses(records, self.run.plot_path, title=str(self.run.path.name), ylabel=self.task.loss_label)

    def _result(self, stopped_by: str) -> TrainResult:
        return TrainResult(run=str(self.run.path), step=self.step, stopped_by=stopped_by, best=self.best,
                           best_step=self.best_step, elapsed=self.elapsed)


def _unpack(out: tuple) -> tuple[torch.Tensor, int, float]:
    """A task step's ``(loss, items)`` or ``(loss, items, weight)``: ``weight`` is what the loss is a mean over
    (the items by default), which weighs the ranks' losses under torchrun."""
    if len(out) == 2:
        return out[0], out[1], float(out[1])
    return out[0], out[1], float(out[2])


class _TaskStep(nn.Module):
    """The task's training step as a module's forward, so DistributedDataParallel (which synchronises the
    gradients of what its forward computed) wraps a step that calls any of the model's methods."""

    def __init__(self, model: nn.Module, task: TrainTask) -> None:
        super().__init__()
        self.model = model
        self.task = task

    def forward(self, step: int):
        return self.task.train_step(self.model, step)


def _distributed_step(model: nn.Module, task: TrainTask, device: torch.device) -> nn.Module:
    """``model``'s training step under DistributedDataParallel (gradients averaged over the ranks; rank 0's
    initial weights broadcast). A task whose steps may leave parameters unused (an auxiliary head without
    labels in the batch) says so with ``unused_parameters``; DDP then looks for them after each forward."""
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" \
        else None
    return DistributedDataParallel(_TaskStep(model, task), device_ids=ids,
                                   find_unused_parameters=task.unused_parameters)
