"""A tiny job on the shared engine for the trainer tests (imported as `toy_task`): fit y = sum(x) with a small
network with dropout (so the global RNG matters) and a data generator (so the task state matters)."""

from __future__ import annotations

import os
import signal
import time

from dataclasses import dataclass

import torch
from torch import nn

from lstmkit.train import TrainConfig, TrainTask, opt


@dataclass
class ToyConfig(TrainConfig):
    task = "toy"
    interrupt_at: int = opt(0, "send SIGINT to this process after this step (0: never)")
    nan_at: int = opt(0, "return a NaN loss at this step (0: never)")
    step_sleep: float = opt(0.0, "seconds each step sleeps (a slow job for the time budget tests)")


class ToyTask(TrainTask):
    unit = "samples"

    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        self.g = torch.Generator().manual_seed(config.seed + 1)
        self.seen = 0

    def build_model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.2), nn.Tanh(), nn.Linear(16, 1))

    def train_step(self, model, step):
        if self.config.interrupt_at and step + 1 == self.config.interrupt_at:
            os.kill(os.getpid(), signal.SIGINT)
        time.sleep(self.config.step_sleep)
        x = torch.randn(8, 4, generator=self.g)
        loss = (model(x).squeeze(1) - x.sum(1)).pow(2).mean()
        if self.config.nan_at and step + 1 == self.config.nan_at:
            loss = loss * float("nan")
        self.seen += 8
        return loss, 8

    def evaluate(self, model):
        x = torch.randn(128, 4, generator=torch.Generator().manual_seed(99))
        return {"val_loss": (model(x).squeeze(1) - x.sum(1)).pow(2).mean().item()}

    def sample(self, model, step):
        return f"step {step}\n"

    def metadata(self):
        return {"inputs": 4}

    def state_dict(self):
        return {"g": self.g.get_state(), "seen": self.seen}

    def load_state_dict(self, state):
        self.g.set_state(state["g"])
        self.seen = state["seen"]


TIMING = ("elapsed", "samples_per_s", "chars_per_s")


def deterministic(records):
    """Metrics records without the wall-clock fields."""
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]
