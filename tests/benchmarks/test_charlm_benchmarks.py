"""The char-LM benchmark scripts are wired correctly (they are timed by hand, not here): the recipe and the
baseline are valid configs of the same model size, the torch.nn.LSTM baseline trains through the engine,
and Tiny Shakespeare reads as the 65 symbols the benchmark reports."""

from __future__ import annotations


import pytest
import torch
from torch import nn

from helpers import load_benchmark, needs_shared



def test_recipe_and_baseline_are_valid_and_the_same_size():
    bench = load_benchmark("charlm_shakespeare")
    ours, base = bench.recipe("x.txt", 15), bench.baseline("x.txt", 15)
    ours.validate()
    base.validate()
    assert (ours.layers, ours.hidden, base.layers, base.hidden) == (2, 512, 2, 512)
    assert ours.decay_by == "time" and ours.decay_time == 900 and base.schedule == "constant"


def test_baseline_task_trains_torch_lstm_on_tiny_shakespeare():
    path = needs_shared("tinyshakespeare/input.txt")
    bench = load_benchmark("charlm_shakespeare")
    cfg = bench.baseline(str(path), 1)
    cfg.hidden, cfg.batch_size, cfg.seq_len = 32, 4, 16
    task = bench.TorchLSTMTask(cfg)
    assert len(task.vocab) == 66                                    # 65 symbols + <unk>
    model = task.build_model()
    assert isinstance(model.rnn, nn.LSTM)
    loss, n = task.train_step(model, 0)
    loss.backward()
    assert n == 64 and torch.isfinite(loss)
    assert len(task.generate(model.eval(), 10, seed=0)) == 11       # sampling falls back to forward()


def test_set_overrides_change_the_recipe_and_refuse_bad_keys_and_values():
    bench = load_benchmark("charlm_shakespeare")
    common = load_benchmark("_common")
    cfg = common.apply_overrides(bench.recipe("x.txt", 30), ["zoneout_c=0.5", "dropout=0.25", "backend=reference"])
    assert (cfg.zoneout_c, cfg.dropout, cfg.backend) == (0.5, 0.25, "reference")
    with pytest.raises(SystemExit, match="KEY a field of CharLMConfig, got 'hiden=3'"):
        common.apply_overrides(bench.recipe("x.txt", 30), ["hiden=3"])
    with pytest.raises(ValueError, match="dropout"):
        common.apply_overrides(bench.recipe("x.txt", 30), ["dropout=1.5"])
