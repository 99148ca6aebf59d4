"""Learning-rate schedules: warm-up, cosine, step and constant, as functions of the step."""

from __future__ import annotations

import math

import pytest

from lstmkit.train import TrainConfig
from lstmkit.train.schedule import lr_at


def test_warmup_then_cosine_to_min_lr():
    cfg = TrainConfig(lr=2.0, warmup_steps=4, max_steps=104, min_lr=0.1)
    assert [lr_at(s, cfg) for s in range(4)] == [0.5, 1.0, 1.5, 2.0]
    assert lr_at(4, cfg) == pytest.approx(2.0)
    assert lr_at(54, cfg) == pytest.approx(2.0 * (0.1 + 0.9 * 0.5))            # half way
    assert lr_at(104, cfg) == pytest.approx(0.2) and lr_at(500, cfg) == pytest.approx(0.2)
    lrs = [lr_at(s, cfg) for s in range(4, 105)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))                           # monotone decay


def test_decay_steps_sets_the_cosine_horizon():
    cfg = TrainConfig(lr=1.0, warmup_steps=0, max_steps=1000, decay_steps=100, min_lr=0.0)
    assert lr_at(50, cfg) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_at(100, cfg) == pytest.approx(0.0)


def test_step_and_constant():
    cfg = TrainConfig(lr=1.0, warmup_steps=10, schedule="step", step_every=100, gamma=0.5)
    assert [lr_at(s, cfg) for s in (10, 109, 110, 310)] == [1.0, 1.0, 0.5, 0.125]
    cfg = TrainConfig(lr=1.0, warmup_steps=0, schedule="constant")
    assert {lr_at(s, cfg) for s in (0, 10, 10**6)} == {1.0}


def test_cosine_can_follow_the_wall_clock_budget():
    cfg = TrainConfig(lr=1.0, warmup_steps=0, min_lr=0.0, max_time=100.0, decay_by="time", max_steps=10**9)
    assert lr_at(5, cfg, elapsed=0.0) == pytest.approx(1.0)
    assert lr_at(5, cfg, elapsed=50.0) == pytest.approx(0.5)
    assert lr_at(5, cfg, elapsed=150.0) == pytest.approx(0.0)
    cfg.decay_time = 200.0
    assert lr_at(5, cfg, elapsed=100.0) == pytest.approx(0.5)                   # spans decay_time, not max_time
    with pytest.raises(ValueError, match=r"decay_by='time' needs --schedule cosine and a --max-time \(or"):
        TrainConfig(decay_by="time").validate()
