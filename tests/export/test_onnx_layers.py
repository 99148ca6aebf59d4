"""lstmkit.export.onnx: every layer configuration run by onnxruntime equals lstmkit's eval forward (float32,
1e-5), at another batch and length than the export example, with and without h0/c0 and lengths; the cells;
torch.nn modules; the errors; the atomic write; and the Graph builder on its own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

onnx = pytest.importorskip("onnx", reason="the ONNX export needs onnx (pip install lstmkit[onnx])")
ort = pytest.importorskip("onnxruntime", reason="the export tests run the models in onnxruntime "
                                                "(pip install lstmkit[onnx])")

import lstmkit  # noqa: E402
import lstmkit.export  # noqa: E402
from lstmkit.export.graph import Graph, emit_cell, emit_recurrent  # noqa: E402

TOL = 1e-5
I, H = 3, 4
EXAMPLE_T, EXAMPLE_B = 5, 2                # the export's example input
RUN_T, RUN_B = 7, 3                        # what the model then runs: other T and B (dynamic axes)
RUN_LENGTHS = torch.tensor([7, 2, 5])      # full, short and in between

# (family, constructor kwargs, whether ONNX's own operator runs it (else a Scan))
LAYERS = [
    ("LSTM", {}, True),
    ("LSTM", dict(num_layers=2, bidirectional=True), True),
    ("LSTM", dict(batch_first=True, bias=False), True),
    ("LSTM", dict(num_layers=2, batch_first=True, bidirectional=True, bias=False), True),
    ("LSTM", dict(peephole=True, bidirectional=True), True),
    ("LSTM", dict(peephole=True, num_layers=2, batch_first=True), True),
    ("LSTM", dict(forget_bias=1.0, truncated_gradient=True, init_range=0.3), True),      # no forward effect
    ("LSTM", dict(layer_norm=True, bidirectional=True), False),
    ("LSTM", dict(layer_norm=True, bias=False, num_layers=2), False),
    ("LSTM", dict(cifg=True, bidirectional=True), False),
    ("LSTM", dict(cifg=True, peephole=True, batch_first=True), False),
    ("LSTM", dict(proj_size=2, num_layers=2, bidirectional=True), False),
    ("LSTM", dict(zoneout_h=0.3, zoneout_c=0.2, bidirectional=True), False),
    ("LSTM", dict(zoneout_c=0.5, num_layers=2), False),
    ("LSTM", dict(layer_norm=True, cifg=True, peephole=True, proj_size=2, zoneout_h=0.1, zoneout_c=0.4,
                  num_layers=2, bidirectional=True, batch_first=True), False),
    ("LSTM", dict(cells_per_block=2, forget_gate=False, input_squash="1997", output_squash="1997",
                  peephole=True, bidirectional=True), False),
    ("LSTM", dict(cells_per_block=2, peephole=True, num_layers=2), False),
    ("LSTM", dict(forget_gate=False, output_squash="identity", batch_first=True), False),
    ("LSTM", dict(input_squash="1997", layer_norm=True, proj_size=3), False),
    ("GRU", {}, True),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True), True),
    ("GRU", dict(bias=False, bidirectional=True), True),
    ("GRU", dict(reset_before=True, bidirectional=True, num_layers=2), False),
    ("GRU", dict(reset_before=True, bias=False, batch_first=True), False),
    ("GRU", dict(zoneout=0.3, bidirectional=True), False),
    ("RNN", {}, True),
    ("RNN", dict(nonlinearity="relu", num_layers=2, bidirectional=True), True),
    ("RNN", dict(bias=False, batch_first=True, bidirectional=True), True),
    ("RNN", dict(nonlinearity="relu", zoneout=0.25, bidirectional=True, num_layers=2), False),
]
MODES = [(False, False), (True, False), (False, True), (True, True)]       # (hx given, lengths given)


def _layer(family: str, kwargs: dict):
    torch.manual_seed(1)
    layer = getattr(lstmkit, family)(I, H, **kwargs).eval()
    if kwargs.get("layer_norm"):                       # gains and biases away from their 1 / 0 initialisation
        with torch.no_grad():
            for name, p in layer.named_parameters():
                if "_ln_" in name:
                    p.add_(0.3 * torch.randn_like(p))
    return layer


def _session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _example(layer, T: int, B: int) -> torch.Tensor:
    return torch.randn(B, T, layer.input_size) if layer.batch_first else torch.randn(T, B, layer.input_size)


def _random_hx(layer, B: int):
    states = tuple(0.5 * torch.randn(n, B, size) for _, n, size in layer._state_shapes())
    return states if len(states) == 2 else states[0]


def _run_both(layer, path, with_hx: bool, with_lengths: bool):
    """(onnxruntime's outputs, lstmkit's (output, h_n[, c_n])) on a RUN_T x RUN_B input."""
    x = _example(layer, RUN_T, RUN_B)
    feeds = {"input": x.numpy()}
    hx = _random_hx(layer, RUN_B) if with_hx else None
    if with_hx:
        for name, s in zip(("h0", "c0"), hx if isinstance(hx, tuple) else (hx,)):
            feeds[name] = s.numpy()
    lengths = RUN_LENGTHS if with_lengths else None
    if with_lengths:
        feeds["lengths"] = lengths.numpy()
    with torch.no_grad():
        out, states = layer(x, hx, lengths=lengths)
    want = (out, *(states if isinstance(states, tuple) else (states,)))
    return _session(path).run(None, feeds), want


def _assert_close(got, want) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == tuple(w.shape)
        diff = float(np.abs(g - w.numpy()).max())
        assert diff <= TOL, f"max |onnxruntime - lstmkit| = {diff:.3g}"


def _ops(path) -> set:
    return {n.op_type for n in onnx.load(str(path)).graph.node}


@pytest.mark.parametrize("with_hx,with_lengths", MODES, ids=["plain", "hx", "lengths", "hx+lengths"])
@pytest.mark.parametrize("family,kwargs,native", LAYERS,
                         ids=[f"{f}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for f, kw, _ in LAYERS])
def test_layer_matches_lstmkit(tmp_path, family, kwargs, native, with_hx, with_lengths):
    layer = _layer(family, kwargs)
    example = _example(layer, EXAMPLE_T, EXAMPLE_B)
    path = lstmkit.export.onnx(layer, example, tmp_path / "m.onnx", hx=True if with_hx else None,
                               lengths=True if with_lengths else None)
    ops = _ops(path)
    if native:
        assert family in ops and "Scan" not in ops
    else:
        assert "Scan" in ops and not ops & {"LSTM", "GRU", "RNN"}
    inputs = [i.name for i in onnx.load(str(path)).graph.input]
    assert inputs == ["input"] + (["h0", "c0"][:1 + (family == "LSTM")] if with_hx else []) + \
        (["lengths"] if with_lengths else [])
    got, want = _run_both(layer, path, with_hx, with_lengths)
    _assert_close(got, want)


def test_example_tensors_are_checked_and_accepted(tmp_path):
    layer = _layer("LSTM", dict(num_layers=2, proj_size=2))
    hx = layer.init_state(EXAMPLE_B)
    path = lstmkit.export.onnx(layer, _example(layer, EXAMPLE_T, EXAMPLE_B), tmp_path / "m.onnx", hx=hx,
                               lengths=torch.tensor([5, 3]))
    got, want = _run_both(layer, path, True, True)
    _assert_close(got, want)


def test_training_mode_exports_eval_semantics(tmp_path):
    layer = _layer("LSTM", dict(num_layers=2, dropout=0.5, input_dropout=0.3, recurrent_dropout=0.2,
                                zoneout_h=0.2, bidirectional=True)).train()
    path = lstmkit.export.onnx(layer, _example(layer, EXAMPLE_T, EXAMPLE_B), tmp_path / "m.onnx")
    assert layer.training                                      # the export does not switch the module's mode
    layer.eval()
    got, want = _run_both(layer, path, False, False)
    _assert_close(got, want)


def test_float64_module_exports_in_float32(tmp_path):
    layer = _layer("GRU", dict(reset_before=True)).double()
    path = lstmkit.export.onnx(layer, _example(layer, EXAMPLE_T, EXAMPLE_B).double(), tmp_path / "m.onnx")
    x = torch.randn(RUN_T, RUN_B, I, dtype=torch.float64)
    got = _session(path).run(None, {"input": x.float().numpy()})
    with torch.no_grad():
        want = layer(x)
    _assert_close(got, [t.float() for t in want])


# ------------------------------------------------------------------------------------------------ cells
CELLS = [
    ("LSTMCell", {}),
    ("LSTMCell", dict(peephole=True, layer_norm=True, proj_size=2)),
    ("LSTMCell", dict(cifg=True, bias=False)),
    ("LSTMCell", dict(cells_per_block=2, forget_gate=False, input_squash="1997", output_squash="identity",
                      peephole=True)),
    ("GRUCell", {}),
    ("GRUCell", dict(reset_before=True)),
    ("RNNCell", dict(nonlinearity="relu")),
    ("RNNCell", dict(bias=False)),
]


@pytest.mark.parametrize("with_hx", [False, True], ids=["zeros", "hx"])
@pytest.mark.parametrize("family,kwargs", CELLS, ids=[f"{f}-{kw}" for f, kw in CELLS])
def test_cell_step_matches_lstmkit(tmp_path, family, kwargs, with_hx):
    torch.manual_seed(2)
    cell = getattr(lstmkit, family)(I, H, **kwargs)
    path = lstmkit.export.onnx(cell, torch.randn(EXAMPLE_B, I), tmp_path / "c.onnx", hx=True if with_hx else None)
    x = torch.randn(RUN_B, I)
    feeds = {"input": x.numpy()}
    state = None
    if with_hx:
        state = tuple(torch.randn(RUN_B, n) for n in cell.spec.state_sizes())
        feeds.update({name: s.numpy() for name, s in zip(("h0", "c0"), state)})
    with torch.no_grad():
        h, new = cell.step(x, state)
    _assert_close(_session(path).run(None, feeds), (h, *new))


# ------------------------------------------------------------------------------------------------ torch.nn
@pytest.mark.parametrize("module", [
    lambda: nn.LSTM(I, H, num_layers=2, bidirectional=True),
    lambda: nn.LSTM(I, H, proj_size=2, batch_first=True),
    lambda: nn.GRU(I, H, batch_first=True),
    lambda: nn.RNN(I, H, nonlinearity="relu", bias=False),
], ids=["lstm-bi", "lstm-proj", "gru", "rnn-relu"])
def test_torch_nn_modules_export(tmp_path, module):
    torch.manual_seed(3)
    m = module().eval()
    example = torch.randn(EXAMPLE_B, EXAMPLE_T, I) if m.batch_first else torch.randn(EXAMPLE_T, EXAMPLE_B, I)
    path = lstmkit.export.onnx(m, example, tmp_path / "t.onnx")
    x = torch.randn(RUN_B, RUN_T, I) if m.batch_first else torch.randn(RUN_T, RUN_B, I)
    with torch.no_grad():
        out, states = m(x)
    _assert_close(_session(path).run(None, {"input": x.numpy()}),
                  (out, *(states if isinstance(states, tuple) else (states,))))


def test_torch_nn_cell_exports(tmp_path):
    torch.manual_seed(4)
    cell = nn.GRUCell(I, H)
    path = lstmkit.export.onnx(cell, torch.randn(EXAMPLE_B, I), tmp_path / "c.onnx", hx=True)
    x, h = torch.randn(RUN_B, I), torch.randn(RUN_B, H)
    with torch.no_grad():
        want = cell(x, h)
    _assert_close(_session(path).run(None, {"input": x.numpy(), "h0": h.numpy()}), (want, want))


# ------------------------------------------------------------------------------------------------ errors
def test_errors_name_expected_and_got(tmp_path):
    x = torch.randn(EXAMPLE_T, EXAMPLE_B, I)
    out = tmp_path / "m.onnx"
    with pytest.raises(TypeError, match="exports an lstmkit LSTM, GRU or RNN.*got torch.nn.modules.linear.Linear"):
        lstmkit.export.onnx(nn.Linear(3, 4), x, out)
    with pytest.raises(ValueError, match=r"example_input.size\(-1\) must be 3 \(input_size\), got 5"):
        lstmkit.export.onnx(lstmkit.LSTM(I, H), torch.randn(5, 2, 5), out)
    with pytest.raises(ValueError, match=r"must be 3-D .*got shape \(5, 3\)"):
        lstmkit.export.onnx(lstmkit.GRU(I, H), torch.randn(5, 3), out)
    with pytest.raises(ValueError, match="opset >= 17.*got opset=16"):
        lstmkit.export.onnx(lstmkit.LSTM(I, H), x, out, opset=16)
    with pytest.raises(ValueError, match="lengths is for sequences"):
        lstmkit.export.onnx(lstmkit.LSTMCell(I, H), torch.randn(2, I), out, lengths=True)
    with pytest.raises(ValueError, match=r"hx's c0 must have shape \(2, 'B', 4\), got \(1, 2, 4\)"):
        lstmkit.export.onnx(lstmkit.LSTM(I, H, num_layers=2), x, out,
                            hx=(torch.zeros(2, 2, H), torch.zeros(1, 2, H)))
    with pytest.raises(TypeError, match="hx must be None, True or a tuple"):
        lstmkit.export.onnx(lstmkit.LSTM(I, H), x, out, hx=torch.zeros(1, 2, H))
    with pytest.raises(ValueError, match=r"lengths must have shape \(2,\)"):
        lstmkit.export.onnx(lstmkit.LSTM(I, H), x, out, lengths=torch.tensor([5, 4, 3]))
    packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor([5, 3]))
    with pytest.raises(TypeError, match="PackedSequence: pass the padded tensor"):
        lstmkit.export.onnx(lstmkit.LSTM(I, H), packed, out)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_write_is_atomic_and_replaces(tmp_path):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"old")
    layer = _layer("RNN", {})
    assert lstmkit.export.onnx(layer, _example(layer, 4, 2), out) == out
    assert onnx.load(str(out)).graph.output[0].name == "output"
    with pytest.raises(TypeError):
        lstmkit.export.onnx(object(), torch.randn(4, 2, I), out)
    assert onnx.load(str(out)).graph.output[0].name == "output"           # untouched by the failed call
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]              # no temporary file left


# ------------------------------------------------------------------------------------------------ Graph
def test_graph_builder_basics():
    g = Graph("basics")
    x = g.input("x", np.float32, ["batch", 2])
    a = g.const(np.ones(2, np.float32), "w")
    b = g.const(torch.full((2,), 2.0), "w")                               # a torch tensor; a second "w"
    assert a != b
    y = g.op("Mul", [g.op("Add", [x, a]), b], hint="y")
    g.output("y", np.float32, ["batch", 2], value=y)
    g.output("x_again", onnx.TensorProto.FLOAT, ["batch", 2], value=x)    # a graph input as output
    first, second = g.op("Split", [y, g.ints([1, 1])], axis=1, outputs=2)
    g.output(first, np.float32, ["batch", 1])
    with pytest.raises(ValueError, match="already used"):
        g.input("x", np.float32, [1])
    model = g.model()
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": np.array([[1.0, -1.0]], np.float32)})
    np.testing.assert_array_equal(got[0], [[4.0, 0.0]])
    np.testing.assert_array_equal(got[1], [[1.0, -1.0]])
    np.testing.assert_array_equal(got[2], [[4.0]])


def test_emit_recurrent_twice_in_one_graph(tmp_path):
    """An encoder GRU (native op) and a variant LSTM (Scan) on its output, plus a cell step, in one graph:
    the building blocks compose without name clashes."""
    gru = _layer("GRU", dict(bidirectional=True))
    lstm = lstmkit.LSTM(2 * H, H, layer_norm=True, zoneout_c=0.3, bidirectional=True).eval()
    cell = lstmkit.LSTMCell(2 * H, H, cifg=True)
    g = Graph("stack")
    x = g.input("x", np.float32, ["time", "batch", I])
    n = g.input("n", np.int64, ["batch"])
    y1, h1, _ = emit_recurrent(g, gru, x, lengths=n)
    y2, h2, c2 = emit_recurrent(g, lstm, y1, lengths=n)
    last = g.op("Gather", [y2, g.scalar(0, np.int64)], axis=0)                 # (B, 2H)
    h3, c3 = emit_cell(g, cell, last)
    for name, v, shape in (("y", y2, ["time", "batch", 2 * H]), ("h", h2, [2, "batch", H]),
                           ("c", c2, [2, "batch", H]), ("h3", h3, ["batch", H]), ("c3", c3, ["batch", H])):
        g.output(name, np.float32, shape, value=v)
    sess = ort.InferenceSession(g.model().SerializeToString(), providers=["CPUExecutionProvider"])
    xs = torch.randn(RUN_T, RUN_B, I)
    got = sess.run(None, {"x": xs.numpy(), "n": RUN_LENGTHS.numpy()})
    with torch.no_grad():
        a, _ = gru(xs, lengths=RUN_LENGTHS)
        b, (h, c) = lstm(a, lengths=RUN_LENGTHS)
        h_t, c_t = cell(b[0])
    _assert_close(got, (b, h, c, h_t, c_t))


@pytest.mark.parametrize("opset", [17, 18, 21, 23])
def test_opsets(tmp_path, opset):
    """The opsets onnxruntime runs: the Scan body (LayerNormalization, ReduceSum, Split) and ONNX's GRU."""
    for family, kwargs in (("LSTM", dict(layer_norm=True, cells_per_block=2, peephole=True, bidirectional=True)),
                           ("GRU", dict(bidirectional=True))):
        layer = _layer(family, kwargs)
        path = lstmkit.export.onnx(layer, _example(layer, EXAMPLE_T, EXAMPLE_B), tmp_path / f"{family}.onnx",
                                   opset=opset, lengths=True)
        assert onnx.load(str(path)).opset_import[0].version == opset
        got, want = _run_both(layer, path, False, True)
        _assert_close(got, want)
