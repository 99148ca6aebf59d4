"""Training solves a short task; the suite, the gradient-flow study and the CLI run end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from lstmkit.tasks.longlag.gradflow import GradFlowConfig, run_gradflow, state_gradients
from lstmkit.tasks.longlag.suite import Entry, run_suite, table
from lstmkit.tasks.longlag.training import LongLagConfig, build, resolve, train


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_lstm_solves_adding_at_T20():
    res = train(LongLagConfig(task="adding", T=20, batch=16, max_sequences=150_000, seed=0), log=lambda s: None)
    assert res["solved"], res["criterion"]
    assert res["test"]["wrong"] <= 5 and res["test"]["mse"] < 1e-3   # 2560 fresh test sequences


def test_continual_reber_trains_on_a_stream_carrying_the_state():
    res = train(LongLagConfig(task="reber-continual", T=300, max_sequences=40, hidden=8, batch=2),
                log=lambda s: None)
    assert 40 <= res["sequences"] < 80 and res["steps"] >= 2          # strings completed, chunk by chunk
    assert res["test"]["of"] == 10 and res["test"]["symbols_per_stream"] == 300


def test_config_resolution_and_errors():
    cfg = resolve(LongLagConfig(task="6a"))
    assert cfg.hidden and cfg.batch and cfg.lr and cfg.max_sequences
    with pytest.raises(ValueError, match="cell must be one of"):
        resolve(LongLagConfig(cell="transformer"))
    with pytest.raises(ValueError, match="peephole is an LSTM option"):
        resolve(LongLagConfig(cell="gru", peephole=True))
    with pytest.raises(ValueError, match=r"unknown LongLagConfig keys \['steps'\]"):
        LongLagConfig.from_dict({"steps": 3})


def test_chrono_init_sets_gate_biases_for_the_lag():
    _, task, net = build(LongLagConfig(task="adding", T=100, cell="lstm", hidden=16))
    H, b = 16, net.rnn.bias_ih_l0.detach()
    f = b[H:2 * H]
    assert (f >= 0).all() and (f <= torch.log(torch.tensor(task.horizon - 1.0))).all()
    assert torch.equal(b[:H], -f) and (net.rnn.bias_hh_l0.detach()[:2 * H] == 0).all()


def test_gradient_vanishes_for_the_rnn_and_not_for_the_lstm():
    grads = {}
    for cell in ("rnn", "lstm"):
        _, task, net = build(LongLagConfig(task="adding", T=60, cell=cell, hidden=16))
        grads[cell] = state_gradients(task, net, batch=8, seed=0)["h"]
    ratio = {c: g[0] / g[-1] for c, g in grads.items()}
    assert ratio["rnn"] < 1e-8 and ratio["lstm"] > 1e3 * ratio["rnn"]


def test_gradflow_writes_the_plot_and_the_curves(tmp_path):
    cfg = GradFlowConfig(T=20, cells=("rnn", "lstm"), hidden=8, batch=4, train_sequences=64, out=str(tmp_path))
    curves = run_gradflow(cfg, log=lambda s: None)
    assert (tmp_path / "gradflow.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "gradflow.json").read_text())
    assert set(saved) == {"rnn", "lstm"} and len(saved["lstm"]["trained"]["c"]) == len(curves["lstm"]["init"]["h"])


def test_suite_rows_and_table():
    rows = run_suite([Entry("adding", {"T": 10}, {"max_sequences": 64, "hidden": 4})], cells=("lstm", "rnn"),
                     seeds=2, jobs=1, log=lambda s: None)
    assert len(rows[0]["cells"]["lstm"]) == 2
    lines = table(rows, ("lstm", "rnn")).splitlines()
    assert lines[0].startswith("| task | paper LSTM (sequences) | ours LSTM | ours Elman RNN |")
    assert lines[2].startswith("| 4 adding T=10 | - | ")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "lstmkit", *args], capture_output=True, text=True)


def test_cli_task_run_writes_json(tmp_path):
    path = tmp_path / "r.json"
    out = _cli("longlag", "2c", "--T", "10", "--p", "5", "--max-sequences", "64", "--seeds", "2",
               "--json", str(path))
    assert out.returncode == 0, out.stderr
    assert "2c very long lag q=10 p=5" in out.stdout and "not solved after 64 sequences" in out.stdout
    rep = json.loads(path.read_text())
    assert rep["solved"] == "0/2" and len(rep["runs"]) == 2 and rep["runs"][1]["seed"] == 1


def test_cli_rejects_bad_input_clearly():
    out = _cli("longlag", "6a", "--T", "10")
    assert out.returncode == 2 and "task 6a takes no T (it takes no parameters), got T=10" in out.stderr
    out = _cli("longlag", "adding", "--cell", "gru", "--peephole")
    assert out.returncode == 2 and "--peephole is an LSTM option, got cell 'gru'" in out.stderr
    out = _cli("longlag", "suite", "--quick", "--tasks", "parity")
    assert out.returncode == 2 and "--tasks: ['parity'] not in this suite's tasks" in out.stderr
    out = _cli("longlag", "nosuchtask")
    assert out.returncode == 2 and "invalid choice" in out.stderr
