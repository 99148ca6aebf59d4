"""Whole job models in ONNX (lstmkit.export.models and ``lstmkit export``): each job's tiny run exported by the
command and by the functions, run in onnxruntime at a batch and length other than the check's, equal to the
PyTorch model; the JSON beside the .onnx complete (the vocabulary round-trips, greedy generation from it alone
matches lstmkit's); and the one-line errors."""

from __future__ import annotations

import contextlib
import io
import json
import math
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnx", reason="the ONNX export needs onnx (pip install lstmkit[onnx])")
ort = pytest.importorskip("onnxruntime", reason="running the exported models needs onnxruntime "
                                                 "(pip install lstmkit[onnx])")

from charlm_helpers import TINY, write_text  # noqa: E402
from lstmkit.cli import main  # noqa: E402
from lstmkit.export import cli as export_cli  # noqa: E402
from lstmkit.export.models import classify_export, export_run, forecast_export  # noqa: E402

TOL = 1e-5


@pytest.fixture(autouse=True)
def _one_thread(one_thread_per_xdist_worker):
    yield


def quiet(argv):
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def export_by_cli(run, tmp_path, name="model"):
    """``lstmkit export RUN --onnx`` -> (session, JSON); the command's check passed and printed its diff."""
    path = tmp_path / f"{name}.onnx"
    code, out, err = quiet(["export", str(run), "--onnx", str(path)])
    assert code == 0, err
    assert " diff" in out and float(out.split("from PyTorch")[-1]) < 1e-4
    meta = json.loads((tmp_path / f"{name}.json").read_text())
    opts = ort.SessionOptions()
    opts.log_severity_level = 3            # not the note that optional inputs' defaults are not constants
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]), meta


def run_session(sess, feed):
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feed)))


def assert_same(exp, feed, got, names, valid=None):
    """onnxruntime's outputs ``got`` equal the PyTorch model's on ``feed`` (at ``valid`` positions)."""
    want = exp.reference(feed)
    for name in names:
        a, b = np.asarray(got[name], dtype=np.float64), np.asarray(want[name], dtype=np.float64)
        assert a.shape == b.shape, name
        if valid is not None:
            a, b = a[valid], b[valid]
        np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL, err_msg=name)


def check_declared(sess, meta):
    """The JSON's inputs and outputs are the graph's, by name."""
    required = [i["name"] for i in meta["inputs"] if not i.get("optional")]
    optional = [i["name"] for i in meta["inputs"] if i.get("optional")]
    assert required == [i.name for i in sess.get_inputs()]                      # optional inputs: initializers
    assert optional == [i.name for i in sess.get_overridable_initializers()]    # the caller may override
    assert [o["name"] for o in meta["outputs"]] == [o.name for o in sess.get_outputs()]
    assert meta["how_to_run"]


# ------------------------------------------------------------------------------------------ charlm
@pytest.mark.parametrize("opts", [["--cell", "lstm", "--layers", "2"], ["--cell", "gru"], ["--layer-norm"]],
                         ids=["lstm-2-layers", "gru", "layer-norm-lstm"])
def test_charlm_exports_generates_greedily_like_lstmkit(tmp_path, opts):
    from lstmkit.tasks.charlm import load_model, sample_text

    text = write_text(tmp_path / "t.txt", 4000)
    run = tmp_path / "run"
    code, _, err = quiet(["train", "charlm", "--text", str(text), "--out", str(run), *TINY, "--max-steps", "6",
                          "--eval-every", "6", *opts])
    assert code == 0, err
    sess, meta = export_by_cli(run, tmp_path)
    check_declared(sess, meta)
    model, vocab, _ = load_model(run)
    assert meta["vocab"] == vocab.chars and meta["unknown_id"] == 0              # the vocabulary round-trips
    exp = export_run(run)
    feed = exp.example(batch=4, length=5, seed=3)                                # the check used (3, 11)
    assert_same(exp, feed, run_session(sess, feed), ["logits", "probabilities", "h_n"] +
                (["c_n"] if "c0" in feed else []))

    # the states and the temperature are optional: zeros and 1.0 when left out
    zeros = {i["name"]: np.zeros([4 if d == "batch" else d for d in i["shape"]], np.float32)
             for i in meta["inputs"] if i["name"] in ("h0", "c0")}
    full = run_session(sess, {"ids": feed["ids"], "temperature": np.array(1.0, np.float32), **zeros})
    for name, value in run_session(sess, {"ids": feed["ids"]}).items():
        np.testing.assert_array_equal(value, full[name])

    # the JSON's loop: feed the prompt, then one id at a time with the returned states; greedy, id 0 banned
    prompt, n = "def ", 30
    index = {c: i for i, c in enumerate(meta["vocab"])}
    states = {}
    ids = np.array([[index.get(c, 0) for c in prompt]], np.int64)
    generated = []
    for _ in range(n):
        out = run_session(sess, {"ids": ids, **states})
        logits = out["logits"][0, -1].astype(np.float64)
        logits[0] = -np.inf
        nxt = int(logits.argmax())
        generated.append(meta["vocab"][nxt])
        ids = np.array([[nxt]], np.int64)
        states = {"h0": out["h_n"], **({"c0": out["c_n"]} if "c_n" in out else {})}
    assert "".join(generated) == "".join(sample_text(model, vocab, prompt, n, temperature=0))


@pytest.mark.parametrize("opts", [dict(peephole=True), dict(cifg=True, layers=2), dict(proj_size=4),
                                  dict(zoneout_h=0.1, zoneout_c=0.2), dict(cell="gru", reset_before=True),
                                  dict(cell="gru", zoneout=0.1), dict(cell="rnn", nonlinearity="relu", layers=2),
                                  dict(recurrent_dropout=0.3, input_dropout=0.2, dropout=0.1, layers=2)],
                         ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_charlm_every_cell_option(opts):
    from lstmkit.export.models import charlm_export
    from lstmkit.tasks.charlm import CharLM, CharLMConfig, Vocab

    torch.manual_seed(0)
    vocab = Vocab.from_text("hello world")
    model = CharLM(len(vocab), CharLMConfig(hidden=8, embed=4, **{"layers": 1, **opts})).eval()
    exp = charlm_export(model, vocab)
    assert exp.max_abs_diff(exp.example(batch=3, length=6, seed=1)) < TOL


# ------------------------------------------------------------------------------------------ tagger
def test_tagger_exports_with_character_features(tmp_path):
    from lstmkit.tasks.tagger import TaggerConfig, load_tagger, tag_sentences, train

    run = tmp_path / "run"
    train(TaggerConfig(max_steps=8, eval_every=8, lr=0.01, warmup_steps=0, hidden=12, char_hidden=6, word_dim=8,
                       char_dim=4, layers=2), run, stream=io.StringIO())
    sess, meta = export_by_cli(run, tmp_path)
    check_declared(sess, meta)
    model, vocab, _ = load_tagger(run)
    assert (meta["words"], meta["chars"], meta["tags"]) == (vocab.words, vocab.chars, vocab.tags)
    exp = export_run(run)
    feed = exp.example(batch=5, length=4, seed=1)
    valid = np.arange(4)[None, :] < feed["lengths"][:, None]
    assert_same(exp, feed, run_session(sess, feed), ["scores", "probabilities"], valid)

    # a sentence encoded from the JSON alone is tagged as lstmkit tags it
    words = ["The", "dog", "read", "that", "zebra"]
    w = [meta["words"].index(x.lower()) if x.lower() in meta["words"] else meta["unknown_word_id"] for x in words]
    L = max(map(len, words))
    chars = [[meta["chars"].index(c) if c in meta["chars"] else meta["unknown_char_id"] for c in x] + [0] * (L - len(x))
             for x in words]
    out = run_session(sess, {"words": np.array([w]), "lengths": np.array([len(words)]), "chars": np.array([chars]),
                             "char_lengths": np.array([[len(x) for x in words]])})
    assert [meta["tags"][t] for t in out["tags"][0]] == tag_sentences(model, vocab, [words])[0]


# ---------------------------------------------------------------------------------------- classify
def test_classify_numeric_run_exports(tmp_path):
    from lstmkit.tasks.classify import ClassifyConfig, train

    run = tmp_path / "run"
    train(ClassifyConfig(max_steps=4, eval_every=4, hidden=8, embed=4, members=2, pooling="attention"), run,
          stream=io.StringIO())
    sess, meta = export_by_cli(run, tmp_path)
    check_declared(sess, meta)
    assert meta["classes"] == ["sawtooth", "sine", "square", "triangle"] and meta["kind"] == "numeric"
    exp = export_run(run)
    feed = exp.example(batch=3, length=23, seed=2)
    got = run_session(sess, feed)
    assert_same(exp, feed, got, ["probabilities", "logits"])
    assert np.allclose(got["probabilities"].sum(1), 1, atol=1e-6)


def test_classify_spelled_words_run_exports_and_encodes_from_the_json(tmp_path):
    from lstmkit.tasks.classify import ClassifyConfig, load_classifier, train

    rows = ["text,label"] + [f"{w} movie {w2},{lab}" for w, w2, lab in
                             [("great", "loved", "pos"), ("awful", "hated", "neg"), ("fine", "good", "pos"),
                              ("bad", "boring", "neg")] * 6]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    run = tmp_path / "run"
    train(ClassifyConfig(data=str(tmp_path / "r.csv"), tokens="word", char_hidden=4, char_dim=4, hidden=8, embed=4,
                         pooling="mean", max_steps=4, eval_every=4, batch_size=4), run, stream=io.StringIO())
    sess, meta = export_by_cli(run, tmp_path)
    check_declared(sess, meta)
    exp = export_run(run)
    feed = exp.example(batch=2, length=6, seed=5)
    assert_same(exp, feed, run_session(sess, feed), ["probabilities", "logits"])
    model, enc, _ = load_classifier(run)
    assert meta["tokens"] == enc.tokens and meta["chars"] == enc.chars and meta["spell"] == enc.spell
    text = "great zorgs"                                           # encoded from the JSON alone
    toks = text.split()
    ids = np.zeros((1, len(toks), 1 + meta["spell"]), np.int64)
    for k, t in enumerate(toks):
        ids[0, k, 0] = meta["tokens"].index(t) + 2 if t in meta["tokens"] else meta["unknown_id"]
        for j, c in enumerate(t[: meta["spell"]]):
            ids[0, k, 1 + j] = meta["chars"].index(c) + 2 if c in meta["chars"] else 1
    assert np.array_equal(ids[0], enc.encode_item(text).numpy())
    got = run_session(sess, {"ids": ids, "lengths": np.array([len(toks)])})["probabilities"]
    want = model(enc.encode_item(text).unsqueeze(1), torch.tensor([len(toks)])).softmax(-1).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("kind", ["chars", "spelled", "numeric"])
def test_classifier_every_pooling_and_input_kind(kind, pooling):
    from lstmkit.tasks.classify import ClassifyConfig
    from lstmkit.tasks.classify.data import Examples
    from lstmkit.tasks.classify.model import build_classifier
    from lstmkit.tasks.classify.task import Encoder

    torch.manual_seed(0)
    ex = Examples("text", ["ab cd", "ba b"], ["x", "y"])
    enc = {"chars": Encoder.build(ex, "char", 1, 0), "spelled": Encoder.build(ex, "word", 1, 0, spell=5),
           "numeric": Encoder("numeric", [], ["a", "b", "c"], "char", 0, features=2)}[kind]
    extra = dict(char_hidden=3, char_dim=4) if kind == "spelled" else {}
    cfg = ClassifyConfig(hidden=6, embed=4, pooling=pooling, cell="gru" if pooling == "max" else "lstm",
                         layers=2, members=2 if pooling == "mean" else 1, **extra)
    model = build_classifier(len(enc.classes), cfg, vocab_size=len(enc.tokens) + 2 if enc.kind == "text" else 0,
                             features=enc.features, n_chars=len(enc.chars) + 2 if enc.spell else 0).eval()
    exp = classify_export(model, enc)
    assert exp.max_abs_diff(exp.example(batch=4, length=9, seed=1)) < TOL


# ---------------------------------------------------------------------------------------- forecast
def write_series(path, n=100):
    rows = ["t,y,x"]
    for t in range(n):
        y = 10 + math.sin(2 * math.pi * t / 12) + 0.05 * t
        rows.append(f"{t},{y:.5f},{math.cos(t / 5):.4f}")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("opts", [["--decoder", "direct", "--transform", "log"],
                                  ["--decoder", "autoregressive", "--transform", "sqrt", "--level-input", "on",
                                   "--ensemble", "3"]], ids=["direct-log", "autoregressive-sqrt-level"])
def test_forecast_run_exports_in_the_data_units(tmp_path, opts):
    from lstmkit.tasks.forecast.cli import forecast_table

    csv = write_series(tmp_path / "s.csv")
    run = tmp_path / "run"
    code, _, err = quiet(["train", "forecast", "--csv", str(csv), "--target", "y", "--time", "t", "--covariates", "x",
                          "--max-steps", "4", "--season", "12", "--no-baselines", "--out", str(run), "--window", "12",
                          "--horizon", "3", "--hidden", "8", "--eval-every", "4", "--ensemble", "2", *opts])
    assert code == 0, err
    sess, meta = export_by_cli(run, tmp_path)
    check_declared(sess, meta)
    assert meta["window"] == 12 and meta["horizon"] == 3 and meta["quantiles"] == [0.1, 0.5, 0.9]
    exp = export_run(run)
    feed = exp.example(batch=5, seed=4)
    assert_same(exp, feed, run_session(sess, feed), ["forecast"])

    # the next values after the file's end from its last rows: what `lstmkit forecast` prints
    data = np.loadtxt(csv, delimiter=",", skiprows=1)
    W, H, m = meta["window"], meta["horizon"], meta["period"]
    t = np.arange(len(data) - W, len(data) + H)
    got = run_session(sess, {"values": data[None, -W:, 1], "phase": np.mod(t, m)[None].astype(np.float64),
                             "covariates": data[None, -W:, 2:]})["forecast"][0]
    table, _ = forecast_table(run, csv)
    want = np.array([[float(v) for v in line.split(",")[2:]] for line in table.splitlines()[1:]])
    np.testing.assert_allclose(got, want, rtol=1e-5)                # the table prints 6 significant digits


def test_global_forecast_run_exports_with_a_series_input(tmp_path):
    from lstmkit.tasks.forecast.cli import forecast_table
    from lstmkit.tasks.forecast.jobs import load_model

    rows = ["store,month,sales"]
    for k, n in enumerate((60, 50)):
        for t in range(n):
            rows.append(f"s{k},{2000 + t // 12}-{t % 12 + 1:02d},{(k + 1) * 20 + math.sin(t / 2) + 0.1 * t:.4f}")
    csv = tmp_path / "panel.csv"
    csv.write_text("\n".join(rows) + "\n")
    run = tmp_path / "run"
    code, _, err = quiet(["train", "forecast", "--csv", str(csv), "--target", "sales", "--series-id", "store", "--time",
                          "month", "--out", str(run), "--max-steps", "4", "--window", "12", "--horizon", "3",
                          "--hidden", "8", "--eval-every", "4", "--ensemble", "2", "--no-baselines"])
    assert code == 0, err
    sess, meta = export_by_cli(run, tmp_path)
    check_declared(sess, meta)
    assert meta["series"] == ["s0", "s1"] and [n["series"] for n in meta["normalisation"]] == ["s0", "s1"]
    table, _ = forecast_table(run, csv)                          # lstmkit forecast: a block per series
    W, H = meta["window"], meta["horizon"]
    for k, n in enumerate((60, 50)):
        values = np.array([float(r.split(",")[2]) for r in rows[1:] if r.startswith(f"s{k},")])
        feed = {"values": values[None, -W:], "phase": np.mod(np.arange(n - W, n + H), 12)[None].astype(np.float64),
                "series": np.array([k])}
        want = [[float(v) for v in line.split(",")[3:]] for line in table.splitlines()[1:] if line.startswith(f"s{k},")]
        np.testing.assert_allclose(run_session(sess, feed)["forecast"][0], want, rtol=1e-5)

    # series with different Box-Cox exponents: each row goes through its own
    model, cfg, ck, _ = load_model(run)
    for name, lam in (("s0", 1.0), ("s1", 0.5)):
        ck["parts"][name]["prep"]["lam"] = lam
    exp = forecast_export(model, cfg, ck)
    assert exp.max_abs_diff(exp.example(batch=6, seed=1)) < TOL


# ------------------------------------------------------------------------------------- music, ctc
def test_music_run_exports_and_generates_greedily_like_lstmkit(tmp_path):
    from lstmkit.tasks.music.jobs import load_model
    from lstmkit.tasks.music.model import sample_roll

    run = tmp_path / "run"
    code, _, err = quiet(["train", "music", "--out", str(run), "--max-steps", "4", "--hidden", "12", "--layers", "2",
                          "--warmup-steps", "0", "--batch-size", "8", "--eval-every", "4", "--final-sample", "0"])
    assert code == 0, err
    sess, meta = export_by_cli(run, tmp_path)
    check_declared(sess, meta)
    exp = export_run(run)
    feed = exp.example(batch=3, length=6, seed=2)
    assert_same(exp, feed, run_session(sess, feed), ["logits", "probabilities", "h_n", "c_n"])
    model, _, _, _ = load_model(run)
    K = meta["keys"]
    prime = (np.random.default_rng(0).random((5, K)) < 0.1).astype(np.float32)
    out = run_session(sess, {"frames": prime[None]})                # no states: zeros
    frames = []
    for _ in range(8):                                             # temperature 0: the keys with logit > 0
        frame = (out["logits"][0, -1] > 0).astype(np.float32)
        frames.append(frame)
        out = run_session(sess, {"frames": frame[None, None], "h0": out["h_n"], "c0": out["c_n"]})
    want = sample_roll(model, 8, torch.from_numpy(prime), temperature=0).numpy()
    assert np.array_equal(np.stack(frames), want)


def test_ctc_run_exports(tmp_path):
    pytest.importorskip("sklearn", reason="the ctc job's digit lines need scikit-learn (pip install lstmkit[ctc])")
    from lstmkit.tasks.ctc import CTCConfig, CTCTask
    from lstmkit.tasks.runs import fit_run

    cfg = CTCConfig(max_steps=2, hidden=6, layers=1, batch_size=2, val_lines=2, eval_every=2)
    _, run = fit_run(CTCTask(cfg), tmp_path / "run", stream=io.StringIO())
    sess, meta = export_by_cli(run.path, tmp_path)
    check_declared(sess, meta)
    assert meta["labels"] == [str(d) for d in range(10)] and meta["blank"] == 0
    exp = export_run(run.path)
    feed = exp.example(batch=4, length=17, seed=1)
    valid = np.arange(17)[None, :] < feed["lengths"][:, None]
    assert_same(exp, feed, run_session(sess, feed), ["log_probs"], valid)


# ------------------------------------------------------------------------------------------ errors
def test_errors_are_one_line_and_write_nothing(tmp_path, monkeypatch):
    out = tmp_path / "m.onnx"
    code, _, err = quiet(["export", str(tmp_path), "--onnx", str(out)])
    assert code == 2 and "is not an lstmkit run" in err and err.count("\n") == 1
    (tmp_path / "tr").mkdir()
    (tmp_path / "tr" / "config.json").write_text(json.dumps({"task": "translate"}))
    code, _, err = quiet(["export", str(tmp_path / "tr"), "--onnx", str(out)])
    assert code == 2 and "supports charlm, tagger, classify, forecast, music, ctc runs" in err
    code, _, err = quiet(["export", str(tmp_path / "tr"), "--onnx", str(tmp_path / "m.txt")])
    assert code == 2 and "ending in .onnx" in err
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    code, _, err = quiet(["export", str(tmp_path / "tr"), "--onnx", str(out)])
    assert code == 2 and "pip install lstmkit[onnx]" in err
    assert not out.exists() and not (tmp_path / "m.json").exists()


def test_a_failed_check_or_a_low_opset_writes_nothing(tmp_path, monkeypatch):
    from lstmkit.tasks.classify import ClassifyConfig, train

    run = tmp_path / "run"
    train(ClassifyConfig(max_steps=2, eval_every=2, hidden=4, embed=4), run, stream=io.StringIO())
    out = tmp_path / "m.onnx"
    for opset in ("13", "999"):
        code, _, err = quiet(["export", str(run), "--onnx", str(out), "--opset", opset])
        assert code == 2 and "--opset must be in [17, " in err
    monkeypatch.setattr(export_cli, "TOLERANCE", -1.0)
    code, _, err = quiet(["export", str(run), "--onnx", str(out)])
    assert code == 2 and "nothing written" in err
    assert not out.exists() and not (tmp_path / "m.json").exists()
    code, _, err = quiet(["export", str(run), "--onnx", str(tmp_path)])
    assert code == 2
