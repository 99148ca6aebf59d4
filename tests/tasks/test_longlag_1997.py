"""``--cell lstm1997``: the 1997 LSTM with each task's memory blocks (topology.py) in the long-lag suite."""

from __future__ import annotations

import pytest
import torch

from lstmkit.cli import main
from lstmkit.tasks.longlag.suite import Entry, run_suite, table
from lstmkit.tasks.longlag.topology import TOPOLOGIES, topology, weights
from lstmkit.tasks.longlag.training import LongLagConfig, build, resolve, train


def test_every_task_has_a_topology_and_the_table10_ones_match_the_issue():
    from lstmkit.tasks.longlag.registry import TASKS
    assert set(TOPOLOGIES) == set(TASKS)
    shapes = {k: (t.blocks, t.cells_per_block) for k, t in TOPOLOGIES.items() if t.source == "Table 10"}
    assert shapes == {"reber": (4, 1), "reber-continual": (4, 1), "adding": (2, 2), "multiplication": (2, 2),
                      "6a": (2, 2), "6b": (3, 2)}


def test_the_adding_network_is_2_blocks_of_2_cells():
    cfg, task, net = build(LongLagConfig(task="adding", T=20, cell="lstm1997"))
    layer = net.rnn
    assert (cfg.blocks, cfg.cells_per_block, cfg.hidden, cfg.init) == (2, 2, 4, "1997")
    assert layer.cells_per_block == 2 and not layer.forget_gate and layer.truncated_gradient
    assert layer.input_squash == layer.output_squash == "1997"
    assert layer.weight_ih_l0.shape == (4 + 2 * 2, 2)                   # rows i (2) | g (4) | o (2)
    torch.testing.assert_close(layer.bias_ih_l0.detach()[:2], torch.tensor([-3.0, -6.0]))     # input gates
    torch.testing.assert_close(layer.bias_ih_l0.detach()[-2:], torch.tensor([-1.0, -2.0]))    # output gates
    assert weights(net) == 61 and TOPOLOGIES["adding"].paper_weights == 93
    assert layer.weight_hh_l0.abs().max() <= 0.1


def test_topology_overrides_and_errors():
    t = topology("6b", blocks=4)
    assert (t.blocks, t.cells_per_block, t.source) == (4, 2, "ours")
    with pytest.raises(ValueError, match="blocks must be an int >= 1, got 0"):
        topology("6a", blocks=0)
    with pytest.raises(ValueError, match="expected --blocks and --cells-per-block instead"):
        resolve(LongLagConfig(task="adding", cell="lstm1997", hidden=8))
    with pytest.raises(ValueError, match="expected them with --cell lstm1997, got --cell lstm"):
        resolve(LongLagConfig(task="adding", cell="lstm", blocks=2))


def test_a_short_run_reports_topology_and_weights():
    lines = []
    res = train(LongLagConfig(task="multiplication", T=10, cell="lstm1997", max_sequences=64, batch=16), log=lines.append)
    assert res["weights"] == 61 and res["config"]["blocks"] == 2
    assert "LSTM1997 2x2 blocks (61 weights), 1997 init" in lines[0]
    rows = run_suite([Entry("multiplication", {"T": 10}, {"max_sequences": 32, "batch": 16})], ("lstm", "lstm1997"),
                     seeds=1, jobs=1, log=lambda s: None)
    text = table(rows, ["lstm", "lstm1997"])
    assert "ours LSTM 1997" in text and "[2x2, 61 w]" in text


def test_the_command_takes_the_1997_cell(capsys):
    code = main(["longlag", "6a", "--cell", "lstm1997", "--cells-per-block", "1", "--max-sequences", "32",
                 "--batch", "16"])
    out = capsys.readouterr().out
    assert code == 0 and "LSTM1997 2x1 blocks" in out
    code = main(["longlag", "6a", "--cell", "lstm1997", "--hidden", "8", "--max-sequences", "32"])
    assert code != 0 and "--hidden 8: the 1997 cell's size is its memory blocks" in capsys.readouterr().err
