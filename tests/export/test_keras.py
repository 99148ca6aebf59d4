"""lstmkit.export.keras: Keras weights in, Keras weights out, checked against a NumPy implementation of
Keras's equations (tests/export/keras_reference.py), and Keras files written with h5py in Keras's layouts."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import lstmkit
from export.keras_reference import run_stack
from lstmkit.export import keras as kx

B, T, I, H = 2, 5, 3, 4

# kind: (lstmkit class, Keras class, gate blocks, reference kwargs, extra layer options expected)
KINDS = {
    "lstm": (lstmkit.LSTM, "LSTM", 4, {}, {}),
    "gru": (lstmkit.GRU, "GRU", 3, {"reset_after": True}, {"reset_before": False}),
    "gru_reset_before": (lstmkit.GRU, "GRU", 3, {"reset_after": False}, {"reset_before": True}),
    "rnn_tanh": (lstmkit.RNN, "SimpleRNN", 1, {"activation": "tanh"}, {"nonlinearity": "tanh"}),
    "rnn_relu": (lstmkit.RNN, "SimpleRNN", 1, {"activation": "relu"}, {"nonlinearity": "relu"}),
}


def ref_kind(kind: str) -> str:
    return kind.split("_")[0]


def keras_weights(kind, input_size, bias=True, seed=0, dtype=np.float64):
    """One Keras layer-direction's get_weights(): random kernel (I, nH), recurrent_kernel (H, nH), bias."""
    _, _, n, kw, _ = KINDS[kind]
    rng = np.random.default_rng(seed)
    out = [rng.normal(scale=0.5, size=(input_size, n * H)), rng.normal(scale=0.5, size=(H, n * H))]
    if bias:
        shape = (2, n * H) if kw.get("reset_after") else (n * H,)
        out.append(rng.normal(scale=0.5, size=shape))
    return [a.astype(dtype) for a in out]


def keras_stack(kind, num_layers, bidirectional, bias=True, dtype=np.float64):
    D = 2 if bidirectional else 1
    layers = []
    for k in range(num_layers):
        arrays = []
        for d in range(D):
            arrays += keras_weights(kind, I if k == 0 else D * H, bias, seed=10 * k + d, dtype=dtype)
        layers.append(arrays)
    return layers


def ref_kwargs(kind):
    kw = dict(KINDS[kind][3])
    return kw


def config_of(kind):
    """The Keras layer config a layer of ``kind`` carries."""
    kw = KINDS[kind][3]
    if ref_kind(kind) == "rnn":
        return {"activation": kw["activation"]}
    cfg = {"activation": "tanh", "recurrent_activation": "sigmoid", "go_backwards": False}
    if "reset_after" in kw:
        cfg["reset_after"] = kw["reset_after"]
    return cfg


def assert_matches_keras(layer, kind, layers, bidirectional, x, atol):
    """lstmkit's outputs and final states equal the NumPy Keras stack's."""
    y_ref, finals = run_stack(ref_kind(kind), x.astype(np.float64),
                              [[a.astype(np.float64) for a in w] for w in layers], bidirectional, **ref_kwargs(kind))
    dtype = layer.weight_ih_l0.dtype
    with torch.no_grad():
        y, state = layer(torch.from_numpy(x).to(dtype))
    np.testing.assert_allclose(y.double().numpy(), y_ref, atol=atol, rtol=0)
    states = state if isinstance(state, tuple) else (state,)
    for j, s in enumerate(states):
        want = np.stack([f[j] for f in finals])                      # (L*D, B, H)
        np.testing.assert_allclose(s.double().numpy(), want, atol=atol, rtol=0)


# ------------------------------------------------------------------------------------ arrays
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, False), (1, True), (2, True)])
def test_outputs_equal_keras_equations_float64(kind, num_layers, bidirectional):
    cls, _, _, _, extra = KINDS[kind]
    layers = keras_stack(kind, num_layers, bidirectional)
    cfg = config_of(kind)
    if bidirectional:                                                 # a Bidirectional's get_config()
        cfg = {"merge_mode": "concat", "layer": {"class_name": KINDS[kind][1], "config": cfg}}
    layer = cls.from_keras(layers, config=[cfg] * num_layers, batch_first=True)
    assert layer.weight_ih_l0.dtype == torch.float64
    assert (layer.num_layers, layer.bidirectional, layer.hidden_size, layer.input_size) == \
        (num_layers, bidirectional, H, I)
    for k, v in extra.items():
        assert getattr(layer, k) == v
    x = np.random.default_rng(1).normal(size=(B, T, I))
    assert_matches_keras(layer, kind, layers, bidirectional, x, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_reset_before", "rnn_tanh"])
def test_outputs_equal_keras_equations_float32(kind):
    cls = KINDS[kind][0]
    layers = keras_stack(kind, 2, True, dtype=np.float32)
    layer = cls.from_keras(layers, batch_first=True)
    assert layer.weight_ih_l0.dtype == torch.float32
    x = np.random.default_rng(2).normal(size=(B, T, I)).astype(np.float32)
    assert_matches_keras(layer, kind, layers, True, x, atol=2e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_reset_before", "rnn_relu"])
def test_no_bias(kind):
    cls = KINDS[kind][0]
    layers = keras_stack(kind, 1, False, bias=False)
    cfg = {**config_of(kind), "use_bias": False}
    layer = cls.from_keras(layers[0], config=cfg, batch_first=True)
    assert layer.bias is False
    x = np.random.default_rng(3).normal(size=(B, T, I))
    assert_matches_keras(layer, kind, layers, False, x, atol=1e-12)


def test_positional_arrays_torch_tensors_and_dtype_option():
    k, rk, b = keras_weights("lstm", I)
    a = lstmkit.LSTM.from_keras(k, rk, b)
    t = lstmkit.LSTM.from_keras(*(torch.from_numpy(w) for w in (k, rk, b)), dtype=torch.float32)
    assert a.weight_ih_l0.dtype == torch.float64 and t.weight_ih_l0.dtype == torch.float32
    np.testing.assert_array_equal(a.weight_ih_l0.detach().numpy(), k.T)
    np.testing.assert_array_equal(a.bias_hh_l0.detach().numpy(), np.zeros(4 * H))


def test_gru_reset_after_is_torch_nn_gru():
    layers = keras_stack("gru", 1, True)
    layer = lstmkit.GRU.from_keras(layers, batch_first=True)
    ref = layer.to_torch()
    assert isinstance(ref, torch.nn.GRU)
    x = np.random.default_rng(4).normal(size=(B, T, I))
    assert_matches_keras(ref, "gru", layers, True, x, atol=1e-12)


# ------------------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_round_trip_keras_lstmkit_keras_is_exact(kind, bidirectional):
    cls = KINDS[kind][0]
    layers = keras_stack(kind, 2, bidirectional)
    back = cls.from_keras(layers).to_keras()
    assert len(back) == len(layers)
    for got, want in zip(back, layers):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("make", [
    lambda: lstmkit.LSTM(I, H, num_layers=2, bidirectional=True, dtype=torch.float64),
    lambda: lstmkit.GRU(I, H, num_layers=2, dtype=torch.float64),
    lambda: lstmkit.GRU(I, H, bidirectional=True, reset_before=True, dtype=torch.float64),
    lambda: lstmkit.RNN(I, H, nonlinearity="relu", num_layers=2, dtype=torch.float64),
    lambda: lstmkit.LSTM(I, H, bias=False, input_dropout=0.2, dtype=torch.float64),
    lambda: lstmkit.LSTM(I, H, forget_bias=1.0, recurrent_dropout=0.1, dtype=torch.float64),
], ids=["lstm", "gru", "gru_reset_before", "rnn_relu", "lstm_nobias", "lstm_init_options"])
def test_round_trip_lstmkit_keras_lstmkit(make):
    layer = make().eval()
    cls = type(layer)
    cfg = [{"activation": "relu"}] * layer.num_layers if getattr(layer, "nonlinearity", "tanh") == "relu" else None
    again = cls.from_keras(layer.to_keras(), config=cfg).eval()
    x = torch.randn(T, B, I, dtype=torch.float64)
    with torch.no_grad():
        y0, s0 = layer(x)
        y1, s1 = again(x)
    torch.testing.assert_close(y1, y0, atol=1e-12, rtol=0)
    for name, p in layer.named_parameters():                         # weights move exactly; bias_hh folds in
        if not name.startswith("bias_hh") or (cls is lstmkit.GRU and not layer.reset_before):
            q = dict(again.named_parameters())[name]
            if name.startswith("bias_ih") and not (cls is lstmkit.GRU and not layer.reset_before):
                torch.testing.assert_close(q, p + dict(layer.named_parameters())[name.replace("_ih", "_hh")],
                                           atol=0, rtol=0)
            else:
                torch.testing.assert_close(q, p, atol=0, rtol=0)


# ------------------------------------------------------------------------------------ refusals
def test_bad_shapes_name_expected_and_got():
    k, rk, b = keras_weights("lstm", I)
    with pytest.raises(ValueError, match=r"kernel must be \(input_size, 16\).*got \(3, 15\)"):
        lstmkit.LSTM.from_keras(k[:, :15], rk, b)
    with pytest.raises(ValueError, match=r"bias must be \(16,\).*got \(12,\)"):
        lstmkit.LSTM.from_keras(k, rk, b[:12])
    with pytest.raises(ValueError, match=r"recurrent_kernel must be \(H, 4H\).*got \(4, 12\).*GRU"):
        lstmkit.LSTM.from_keras(*keras_weights("gru", I))
    with pytest.raises(ValueError, match="2 or 3 arrays"):
        lstmkit.LSTM.from_keras([k])
    with pytest.raises(ValueError, match=r"input_size must be 8 .*got 3"):          # layer 1 sees D*H = 8
        lstmkit.LSTM.from_keras([keras_weights("lstm", I) * 2, keras_weights("lstm", I) * 2])
    with pytest.raises(ValueError, match="bidirectional in every layer or in none"):
        lstmkit.LSTM.from_keras([keras_weights("lstm", I), keras_weights("lstm", H) * 2])


@pytest.mark.parametrize("cfg,match", [
    ({"recurrent_activation": "hard_sigmoid"}, r"recurrent_activation must be 'sigmoid', got 'hard_sigmoid'"),
    ({"activation": "relu"}, r"activation must be 'tanh'.*got 'relu'"),
    ({"activation": {"module": "keras.activations", "class_name": "function", "config": "softsign"}},
     r"got 'softsign'"),
    ({"go_backwards": True}, r"go_backwards=True outside a Bidirectional"),
    ({"use_bias": False}, r"use_bias=False but 3 weights"),
])
def test_config_refusals(cfg, match):
    with pytest.raises(ValueError, match=match):
        lstmkit.LSTM.from_keras(keras_weights("lstm", I), config=cfg)


def test_more_refusals():
    with pytest.raises(ValueError, match=r"activation must be 'tanh' or 'relu'.*'sigmoid'"):
        lstmkit.RNN.from_keras(keras_weights("rnn_tanh", I), config={"activation": "sigmoid"})
    with pytest.raises(ValueError, match=r"reset_after=False but the bias is \(2, 12\)"):
        lstmkit.GRU.from_keras(keras_weights("gru", I), config={"reset_after": False})
    with pytest.raises(ValueError, match=r"merge_mode='sum'"):
        lstmkit.LSTM.from_keras(keras_weights("lstm", I) * 2, config={"merge_mode": "sum", "layer": {}})
    with pytest.raises(ValueError, match=r"takes \['hidden_size'\] from the weights"):
        lstmkit.LSTM.from_keras(keras_weights("lstm", I), hidden_size=8)
    with pytest.raises(ValueError, match=r"need reset_before=True, got reset_before=False"):
        lstmkit.GRU.from_keras(keras_weights("gru_reset_before", I), reset_before=False)


@pytest.mark.parametrize("layer,what", [
    (lambda: lstmkit.LSTM(I, H, peephole=True), "peephole"),
    (lambda: lstmkit.LSTM(I, H, layer_norm=True), "layer_norm"),
    (lambda: lstmkit.LSTM(I, H, cifg=True), "cifg"),
    (lambda: lstmkit.LSTM(I, 8, proj_size=4), "proj_size"),
    (lambda: lstmkit.LSTM(I, H, zoneout_c=0.1), "zoneout_c"),
    (lambda: lstmkit.GRU(I, H, zoneout=0.1), "zoneout"),
])
def test_to_keras_refuses_what_keras_cannot_express(layer, what):
    with pytest.raises(ValueError, match=rf"{what}.*no Keras equivalent"):
        layer().to_keras()


# ------------------------------------------------------------------------------------ files
@pytest.fixture
def files():
    pytest.importorskip("h5py", reason="Keras weight files are read and written with h5py (the keras extra)")
    from export import keras_files
    return keras_files


def _entries(files, kinds=("lstm",), bidirectional=False, dense=True):
    out = [files.Entry("InputLayer", "input", [])]
    for j, kind in enumerate(kinds):
        arrays = keras_stack(kind, 1, bidirectional, dtype=np.float32)[0] if j == 0 else \
            [a for d in range(2 if bidirectional else 1)
             for a in keras_weights(kind, (2 if bidirectional else 1) * H, seed=50 + d, dtype=np.float32)]
        cls = KINDS[kind][1]
        name = f"my_{kind}_{j}"
        if bidirectional:
            out.append(files.Entry("Bidirectional", name, arrays, config_of(kind), inner=cls))
        else:
            out.append(files.Entry(cls, name, arrays, config_of(kind)))
    if dense:
        rng = np.random.default_rng(7)
        out.append(files.Entry("Dense", "head", [rng.normal(size=(H, 2)).astype(np.float32), np.zeros(2, np.float32)]))
    return out


WRITERS = ["weights_h5", "keras_zip", "legacy_h5", "legacy_weights_h5"]


def _write(files, how, path, entries):
    if how == "weights_h5":
        files.write_weights_h5(path, entries)
    elif how == "keras_zip":
        files.write_keras_zip(path, entries)
    else:
        files.write_legacy_h5(path, [e for e in entries if e.cls != "InputLayer"], whole_model=how == "legacy_h5")


def _file_names(how, kind, j, cls_snake, k):
    """How layer j is named in each format: the user name, and in a bare .weights.h5 the stored path name."""
    return f"{cls_snake}" + (f"_{k}" if k else "") if how == "weights_h5" else f"my_{kind}_{j}"


# a weights-only file carries no activation: a relu SimpleRNN is read from the formats with a config only
@pytest.mark.parametrize("how,kind,bidirectional", [
    (how, kind, bidirectional) for how in WRITERS
    for kind, bidirectional in [("lstm", False), ("lstm", True), ("gru", True), ("gru_reset_before", False),
                                ("rnn_relu", False)]
    if not (kind == "rnn_relu" and how in ("weights_h5", "legacy_weights_h5"))])
def test_read_files(files, tmp_path, how, kind, bidirectional):
    entries = _entries(files, (kind,), bidirectional)
    path = tmp_path / ("model.keras" if how == "keras_zip" else "model.weights.h5" if how == "weights_h5"
                       else "model.h5")
    _write(files, how, path, entries)
    cls = KINDS[kind][0]
    layer = cls.from_keras(path, batch_first=True)                     # the only layer of its family
    assert layer.weight_ih_l0.dtype == torch.float32
    x = np.random.default_rng(5).normal(size=(B, T, I)).astype(np.float32)
    assert_matches_keras(layer, kind, [entries[1].arrays], bidirectional, x, atol=2e-5)
    if how != "weights_h5":                                            # by the user's name too
        named = cls.from_keras(str(path), layer=f"my_{kind}_0", batch_first=True)
        torch.testing.assert_close(named.state_dict(), layer.state_dict(), atol=0, rtol=0)


@pytest.mark.parametrize("how", WRITERS)
def test_stacked_file_layers_and_ambiguity(files, tmp_path, how):
    entries = _entries(files, ("lstm", "lstm"), bidirectional=True)
    path = tmp_path / ("m.keras" if how == "keras_zip" else "m.h5")
    _write(files, how, path, entries)
    names = ["bidirectional", "bidirectional_1"] if how == "weights_h5" else ["my_lstm_0", "my_lstm_1"]
    with pytest.raises(ValueError, match=rf"holds 2 LSTM layers .*'{names[0]}.*'{names[1]}.*layer="):
        lstmkit.LSTM.from_keras(path)
    with pytest.raises(ValueError, match=rf"no recurrent layer named 'nope'.*found: .*{names[0]}"):
        lstmkit.LSTM.from_keras(path, layer="nope")
    with pytest.raises(ValueError, match=r"holds no GRU layer; recurrent layers found: .*Bidirectional\(LSTM\) 3->4"):
        lstmkit.GRU.from_keras(path)
    layer = lstmkit.LSTM.from_keras(path, layer=names, batch_first=True)
    assert layer.num_layers == 2 and layer.bidirectional
    x = np.random.default_rng(6).normal(size=(B, T, I)).astype(np.float32)
    assert_matches_keras(layer, "lstm", [entries[1].arrays, entries[2].arrays], True, x, atol=2e-5)


def test_keras_zip_config_is_checked(files, tmp_path):
    entries = _entries(files, ("lstm",))
    entries[1].config["recurrent_activation"] = "hard_sigmoid"
    files.write_keras_zip(tmp_path / "old.keras", entries)
    with pytest.raises(ValueError, match=r"layer 'my_lstm_0'.*'sigmoid', got 'hard_sigmoid'"):
        lstmkit.LSTM.from_keras(tmp_path / "old.keras")
    entries = _entries(files, ("lstm",))
    entries[1].config["go_backwards"] = True
    files.write_legacy_h5(tmp_path / "back.h5", entries[1:])
    with pytest.raises(ValueError, match="go_backwards=True outside a Bidirectional"):
        lstmkit.LSTM.from_keras(tmp_path / "back.h5")
    entries = _entries(files, ("gru",))
    files.write_keras_zip(tmp_path / "gru.keras", entries)
    with pytest.raises(ValueError, match=r"holds no LSTM layer.*'my_gru_0'.*GRU 3->4"):
        lstmkit.LSTM.from_keras(tmp_path / "gru.keras")
    with pytest.raises(ValueError, match=r"recurrent_kernel must be \(H, 4H\).*GRU"):
        lstmkit.LSTM.from_keras(tmp_path / "gru.keras", layer="my_gru_0")


def test_not_a_keras_file(files, tmp_path):
    (tmp_path / "x.h5").write_text("hello")
    with pytest.raises(ValueError, match="neither an HDF5 file"):
        lstmkit.LSTM.from_keras(tmp_path / "x.h5")
    with pytest.raises(FileNotFoundError):
        lstmkit.LSTM.from_keras(tmp_path / "missing.keras")


@pytest.mark.parametrize("make", [
    lambda: lstmkit.LSTM(I, H, num_layers=2, bidirectional=True),
    lambda: lstmkit.GRU(I, H, num_layers=2),
    lambda: lstmkit.RNN(I, H),
], ids=["lstm", "gru", "rnn"])
def test_save_keras_weights_layout_and_read_back(files, tmp_path, make):
    import h5py
    layer = make().eval()
    path = tmp_path / "out.weights.h5"
    kx.save_keras_weights(layer, path)
    assert sorted(os.listdir(tmp_path)) == ["out.weights.h5"]                 # no temporary file left
    cls = {lstmkit.LSTM: "LSTM", lstmkit.GRU: "GRU", lstmkit.RNN: "SimpleRNN"}[type(layer)]
    base = "bidirectional" if layer.bidirectional else files.SNAKE[cls]
    with h5py.File(path, "r") as h5:
        assert "vars" in h5
        g = h5[f"layers/{base}"]
        cell = g["forward_layer/cell/vars"] if layer.bidirectional else g["cell/vars"]
        np.testing.assert_array_equal(cell["0"][()], layer.to_keras()[0][0])
        if layer.num_layers == 2:
            assert f"layers/{base}_1" in h5
    names = [base] + ([f"{base}_1"] if layer.num_layers == 2 else [])
    again = type(layer).from_keras(path, layer=names).eval()
    x = torch.randn(T, B, I)
    with torch.no_grad():
        torch.testing.assert_close(again(x)[0], layer(x)[0], atol=1e-6, rtol=0)
