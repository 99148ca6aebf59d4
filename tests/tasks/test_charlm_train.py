"""charlm training: a short run learns, the state is carried across batches, BPTT(k1, k2) runs, every cell
and variant plugs in, and the run folder and the command line behave."""

from __future__ import annotations

import io
import json
import math

import pytest
import torch

from lstmkit.cli import main
from lstmkit.tasks.charlm import CharLMConfig, CharLMTask, train
from charlm_helpers import TINY, write_text


def test_a_short_run_lowers_the_loss_well_below_uniform(tmp_path):
    cfg = CharLMConfig(max_steps=80, hidden=48, embed=16, layers=1, batch_size=16, seq_len=24, lr=0.01,
                       warmup_steps=10, eval_every=40, log_every=10, eval_chars=4000, sample_chars=50,
                       final_sample=0)
    result = train(cfg, tmp_path / "run", stream=io.StringIO())
    recs = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    vals = [r["val_loss"] for r in recs if "val_loss" in r]
    V = len(CharLMTask(cfg).vocab)
    assert recs[0]["train_loss"] > 3.8 and recs[-1]["train_loss"] < 3.2
    assert vals[-1] < math.log(V) - 1.2 and result.best == min(vals)
    assert recs[-1]["val_bpc"] == pytest.approx(recs[-1]["val_loss"] / math.log(2), rel=1e-5)
    assert {"train_loss", "train_bpc", "lr", "chars_per_s"} <= set(recs[0])
    sample = (tmp_path / "run" / "samples" / "step-80.txt").read_text()
    assert len(sample) == 51 and "\ufffd" not in sample


def test_state_is_carried_detached_and_dropped_at_a_new_epoch():
    cfg = CharLMConfig(hidden=16, embed=8, layers=2, batch_size=3, seq_len=8)
    task = CharLMTask(cfg, text="hello world, " * 20)
    model = task.build_model()
    loss, n = task.train_step(model, 0)
    h, c = task.carried
    assert n == 24 and h.shape == (2, 3, 16) and not h.requires_grad and not c.requires_grad
    loss.backward()
    first = task.carried
    task.train_step(model, 1)
    assert task.carried[0].data_ptr() != first[0].data_ptr()
    while not task.streams.next()[2]:                               # run the streams to the epoch's end
        pass
    task.streams.pos = None
    task.train_step(model, 2)                                        # new epoch: starts from zeros again
    assert task.streams.epoch >= 1


def test_bptt_longer_than_seq_len_backpropagates_through_the_whole_window():
    cfg = CharLMConfig(hidden=16, embed=8, layers=1, batch_size=2, seq_len=4, bptt=12)
    task = CharLMTask(cfg, text="abcdefghijklmnopqrstuvwxyz" * 8)
    model = task.build_model()
    x, y, _ = task.streams.next()
    task.streams.load_state_dict({**task.streams.state_dict(), "pos": None})
    emb = []

    def keep(module, inputs, output):
        output.retain_grad()
        emb.append(output)

    model.embed.register_forward_hook(keep)
    loss, n = task.train_step(model, 0)
    loss.backward()
    grads = torch.cat([e.grad for e in emb]).abs().sum(dim=(1, 2))   # (12,): d loss / d input at each step
    assert n == 8 and x.shape == (12, 2) and y.shape == (4, 2)
    assert (grads > 0).all()                                         # every one of the k2 = 12 steps gets gradient


@pytest.mark.parametrize("flags", [["--cell", "gru", "--reset-before", "--zoneout", "0.1"],
                                   ["--cell", "rnn", "--nonlinearity", "relu"],
                                   ["--layers", "2", "--peephole", "--layer-norm", "--cifg", "--proj-size", "8",
                                    "--forget-bias", "1", "--dropout", "0.1", "--recurrent-dropout", "0.1",
                                    "--zoneout-c", "0.1", "--bptt", "24"]])
def test_cli_trains_every_cell_and_variant(tmp_path, capsys, flags):
    text = write_text(tmp_path / "t.txt", 3000)
    out = tmp_path / "run"
    assert main(["train", "charlm", "--text", str(text), "--out", str(out), "--max-steps", "6",
                 "--eval-every", "3", *TINY, *flags]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["task"] == "charlm" and cfg["text"] == [str(text)] and cfg["max_steps"] == 6
    assert "stopped at step 6" in capsys.readouterr().out


def test_cli_rejects_options_of_another_cell_and_unknown_config_keys(tmp_path, capsys):
    assert main(["train", "charlm", "--cell", "gru", "--peephole", "--out", str(tmp_path / "a")]) == 2
    assert "peephole=True applies to --cell lstm, got --cell gru" in capsys.readouterr().err
    (tmp_path / "c.json").write_text(json.dumps({"hiden": 10}))
    assert main(["train", "charlm", "--config", str(tmp_path / "c.json"), "--out", str(tmp_path / "b")]) == 2
    assert "unknown config key 'hiden' for charlm" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_resume_with_different_settings_is_refused_with_the_differences(tmp_path, capsys):
    text = write_text(tmp_path / "t.txt", 3000)
    out = tmp_path / "run"
    assert main(["train", "charlm", "--text", str(text), "--out", str(out), "--max-steps", "4", "--eval-every",
                 "2", *TINY]) == 0
    capsys.readouterr()
    before = (out / "checkpoints" / "last.json").read_bytes()
    assert main(["train", "charlm", "--resume", str(out), "--hidden", "64", "--lr", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "the run was made with a different config" in err
    assert "lr: 0.01 in the run, 0.5 now" in err and "hidden: 32 in the run, 64 now" in err
    assert (out / "checkpoints" / "last.json").read_bytes() == before
    assert main(["train", "charlm", "--resume", str(out), "--max-time", "1h"]) == 0      # a control setting
    assert "already reached --max-steps 4" in capsys.readouterr().out
    assert main(["train", "charlm", "--resume", str(tmp_path)]) == 2
    assert "is not an lstmkit run: expected" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["dropout", "input_dropout", "recurrent_dropout", "zoneout_h", "zoneout_c"])
def test_probabilities_out_of_range_are_refused_before_anything_is_built(name):
    with pytest.raises(ValueError, match=rf"{name} is a probability and must be in \[0, 1\), got 1.5"):
        CharLMConfig(**{name: 1.5}).validate()
