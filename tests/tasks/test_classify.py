"""The sequence classifier: every input form and its errors (missing column, non-numeric or missing values,
empty input, unseen labels), every pooling, class weights, learning the generated waves, lstmkit eval."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch

from helpers import needs_shared
from lstmkit.cli import main
from lstmkit.tasks.classify import (ClassifyConfig, ClassifyTask, SequenceClassifier, generated_waves,
                                    read_examples, train)

SMALL = dict(hidden=16, embed=8, eval_every=20, log_every=10, batch_size=16)


def quiet(argv):
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_reads_csv_jsonl_numeric_csv_and_npy(tmp_path):
    cfg = ClassifyConfig()
    (tmp_path / "a.csv").write_text('text,label\n"hello, world",pos\nbad day,neg\n')
    ex = read_examples(str(tmp_path / "a.csv"), cfg)
    assert ex.kind == "text" and ex.items == ["hello, world", "bad day"] and ex.labels == ["pos", "neg"]
    (tmp_path / "a.jsonl").write_text('{"text": "hi", "label": 1}\n\n{"text": "yo", "label": 0}\n')
    ex = read_examples(str(tmp_path / "a.jsonl"), cfg)
    assert ex.labels == ["1", "0"] and ex.rows[1].endswith("a.jsonl:3")
    (tmp_path / "n.csv").write_text("label,t1,t2,t3\nup,1,2,3\ndown,3,2,\n")
    ex = read_examples(str(tmp_path / "n.csv"), cfg)
    assert ex.kind == "numeric" and [x.shape for x in ex.items] == [(3, 1), (2, 1)]
    np.save(tmp_path / "x.npy", np.random.rand(4, 5, 2).astype(np.float32))
    np.save(tmp_path / "y.npy", np.array(["a", "b", "a", "b"]))
    ex = read_examples(str(tmp_path / "x.npy"), cfg, str(tmp_path / "y.npy"))
    assert ex.kind == "numeric" and ex.items[0].shape == (5, 2) and ex.labels[1] == "b"


@pytest.mark.parametrize("content, message", [
    ("words,label\nhi,a\n", "expected a text column 'text'"),
    ("text,tag\nhi,a\n", "expected a label column 'label'"),
    ("text,label\n", "expected at least one row"),
    ("text,label\nhi,a\n,b\n", "t.csv:3: the text is missing"),
    ("text,label\nhi,a\nho,\n", "t.csv:3: the label is missing"),
])
def test_bad_tables_are_refused_with_the_line(tmp_path, content, message):
    suffix = ".jsonl" if "words" in content else ".csv"
    p = tmp_path / f"t{suffix}"
    p.write_text(content if suffix == ".csv" else '{"words": "hi", "label": "a"}\n')
    with pytest.raises(ValueError, match=message):
        read_examples(str(p), ClassifyConfig())


def test_non_numeric_and_missing_values_error_by_default_or_drop(tmp_path):
    p = tmp_path / "n.csv"
    p.write_text("label,t1,t2,t3\nup,1,2,3\ndown,3,x,1\nflat,1,,1\n")
    with pytest.raises(ValueError, match=r"n.csv:3: step 2 is 'x'; expected a finite number"):
        read_examples(str(p), ClassifyConfig())
    ex = read_examples(str(p), ClassifyConfig(missing="drop"))
    assert ex.labels == ["up"]
    np.save(tmp_path / "x.npy", np.array([[1.0, np.nan]]))
    np.save(tmp_path / "y.npy", np.array([0]))
    with pytest.raises(ValueError, match="sequence 0 holds NaN"):
        read_examples(str(tmp_path / "x.npy"), ClassifyConfig(), str(tmp_path / "y.npy"))


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_every_pooling_ignores_padding(pooling):
    torch.manual_seed(0)
    model = SequenceClassifier(3, ClassifyConfig(hidden=8, embed=4, pooling=pooling), vocab_size=10).eval()
    a = torch.randint(2, 10, (4, 1))
    padded = torch.cat([torch.cat([a, torch.zeros(3, 1, dtype=torch.long)]), torch.randint(2, 10, (7, 1))], 1)
    torch.testing.assert_close(model(a, torch.tensor([4]))[0], model(padded, torch.tensor([4, 7]))[0],
                               rtol=1e-5, atol=1e-5)


def test_learns_the_generated_waves_with_class_weights(tmp_path):
    result = train(ClassifyConfig(max_steps=120, lr=0.01, class_weights=True, pooling="mean", **SMALL),
                   tmp_path / "run", stream=io.StringIO())
    recs = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert 1 - result.best > 0.6 and recs[-1]["val_macro_f1"] > 0.5       # chance: 0.25


def test_text_training_eval_and_unseen_label(tmp_path):
    rows = ["text,label"] + [f"{w} is great,pos" for w in ("food", "room", "staff", "view")] * 5 + \
           [f"{w} was awful,neg" for w in ("food", "room", "staff", "view")] * 5
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "dev.csv").write_text("text,label\nbed is great,pos\nbed was awful,neg\n")
    code, _, err = quiet(["train", "classify", "--data", str(tmp_path / "train.csv"),
                          "--dev", str(tmp_path / "dev.csv"), "--tokens", "word", "--out", str(tmp_path / "run"),
                          "--max-steps", "60", "--lr", "0.01",
                          "--hidden", "16", "--embed", "8", "--eval-every", "30"])
    assert code == 0, err
    code, out, err = quiet(["eval", str(tmp_path / "run"), "--data", str(tmp_path / "dev.csv"), "--json",
                            "--out", str(tmp_path / "ev")])
    assert code == 0, err
    metrics = json.loads(out[out.index("{"):])
    assert metrics["accuracy"] == 1.0 and (tmp_path / "ev" / "confusion-dev.png").is_file()
    (tmp_path / "new.csv").write_text("text,label\nbed is great,pos\nbed is ok,meh\n")
    code, _, err = quiet(["eval", str(tmp_path / "run"), "--data", str(tmp_path / "new.csv"),
                          "--out", str(tmp_path / "ev2")])
    assert code == 2 and "new.csv:3: label 'meh' was never seen in training" in err and not (tmp_path / "ev2").exists()
    code, _, err = quiet(["train", "classify", "--data", str(tmp_path / "train.csv"),       # a two-member run
                          "--dev", str(tmp_path / "dev.csv"), "--tokens", "word", "--out", str(tmp_path / "pair"),
                          "--max-steps", "60", "--lr", "0.01", "--members", "2", "--word-dropout", "0.1",
                          "--hidden", "16", "--embed", "8", "--eval-every", "30"])
    assert code == 0, err
    last = json.loads((tmp_path / "pair" / "metrics.jsonl").read_text().splitlines()[-1])
    assert 0 <= last["val_member_acc"] <= 1
    code, out, err = quiet(["eval", str(tmp_path / "run"), str(tmp_path / "pair"), "--data", str(tmp_path / "dev.csv"),
                            "--json", "--out", str(tmp_path / "ev3")])                  # runs averaged: 3 members
    assert code == 0, err
    metrics = json.loads(out[out.index("{"):])
    assert metrics["members"] == 3 and len(metrics["member_accuracy"]) == 3 and "ensemble of 3 members" in out
    (tmp_path / "other.csv").write_text("\n".join(r.replace(",pos", ",good") for r in rows) + "\n")
    code, _, err = quiet(["train", "classify", "--data", str(tmp_path / "other.csv"), "--dev-fraction", "0.2",
                          "--tokens", "word", "--out", str(tmp_path / "other"), "--max-steps", "2",
                          "--hidden", "4", "--embed", "4"])
    assert code == 0, err
    code, _, err = quiet(["eval", str(tmp_path / "run"), str(tmp_path / "other"), "--data",
                          str(tmp_path / "dev.csv"), "--out", str(tmp_path / "ev4")])
    assert code == 2 and "expected the classes ['neg', 'pos']" in err and not (tmp_path / "ev4").exists()


def test_an_ensemble_averages_its_members_probabilities():
    from lstmkit.tasks.classify import ClassifierEnsemble
    torch.manual_seed(0)
    model = ClassifierEnsemble(3, ClassifyConfig(hidden=8, embed=4, members=3), vocab_size=12).eval()
    x, lengths = torch.randint(1, 12, (6, 4)), torch.tensor([6, 2, 5, 1])
    mean = torch.stack([m(x, lengths).softmax(1) for m in model.members]).mean(0)
    torch.testing.assert_close(model(x, lengths).exp(), mean)
    assert not torch.equal(model.members[0].head.weight, model.members[1].head.weight)   # own initialisations


def test_word_dropout_replaces_tokens_by_unk_in_training_only():
    torch.manual_seed(0)
    model = SequenceClassifier(2, ClassifyConfig(hidden=8, embed=4, word_dropout=0.5, dropout=0.0), vocab_size=50)
    seen = []
    model.rnn.register_forward_pre_hook(lambda mod, args, kw: seen.append(args[0].detach().clone()), with_kwargs=True)
    x = torch.randint(2, 50, (40, 8))
    model(x, torch.full((8,), 40))
    unk = model.input(torch.ones((), dtype=torch.long))
    dropped = (seen[0] == unk).all(2).float().mean().item()
    assert 0.35 < dropped < 0.65
    model.eval()(x, torch.full((8,), 40))
    assert not (seen[1] == unk).all(2).any()


def test_bad_input_leaves_no_run_folder(tmp_path):
    (tmp_path / "e.csv").write_text("")
    code, _, err = quiet(["train", "classify", "--data", str(tmp_path / "e.csv"), "--out", str(tmp_path / "run")])
    assert code == 2 and "expected" in err and not (tmp_path / "run").exists()


def test_resume_refuses_a_changed_dataset(tmp_path):
    cfg = ClassifyConfig(max_steps=10, **SMALL)
    train(cfg, tmp_path / "run", stream=io.StringIO())
    task = ClassifyTask(cfg, data=(generated_waves(50, 3), generated_waves(10, 4)))
    from lstmkit.train import load_checkpoint
    state = load_checkpoint(tmp_path / "run" / "checkpoints", "last")["state"]["task_state"]
    with pytest.raises(ValueError, match="training data changed"):
        task.load_state_dict(state)


def test_ewt_genre_dataset_from_conllu():
    path = needs_shared("ud_english_ewt/en_ewt-ud-dev.conllu")
    ex = read_examples(str(path), ClassifyConfig())
    assert len(ex) == 2001 and set(ex.labels) == {"answers", "email", "newsgroup", "reviews", "weblog"}
    assert ex.kind == "text" and all(isinstance(t, str) and t for t in ex.items)


def test_spelled_words_keep_an_unseen_words_spelling(tmp_path):
    from lstmkit.tasks.classify import Encoder, Examples, load_classifier
    enc = Encoder.build(Examples("text", ["good film", "bad film"], ["1", "0"]), "word", 1, 0, spell=3)
    x = enc.encode_item("goodness film")
    assert x.shape == (2, 4) and x[0, 0] == 1 and x[0, 1:].tolist() == [enc.char_index[c] for c in "goo"]
    assert x[1, 0] == enc.index["film"] and x[1, 1:].tolist() == [enc.char_index[c] for c in "fil"]   # cut to 3
    torch.manual_seed(0)
    cfg = ClassifyConfig(hidden=8, embed=4, tokens="word", char_hidden=5, char_dim=4)
    model = SequenceClassifier(2, cfg, vocab_size=len(enc.tokens) + 2, n_chars=len(enc.chars) + 2).eval()
    a, b = enc.encode_item("goodness"), enc.encode_item("badness")                      # both <unk> words
    assert a[0, 0] == b[0, 0] == 1 and not torch.equal(model.embed(a.unsqueeze(1)), model.embed(b.unsqueeze(1)))
    rows = ["text,label"] + ["a good film,pos", "a bad film,neg"] * 8
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    train(ClassifyConfig(data=str(tmp_path / "t.csv"), dev=str(tmp_path / "t.csv"), tokens="word", char_hidden=4,
                         char_dim=4, max_steps=4, **SMALL), tmp_path / "run", stream=io.StringIO())
    model, enc, _ = load_classifier(tmp_path / "run")
    assert enc.spell and model.spelling is not None
    with pytest.raises(ValueError, match="expected --char-hidden 0 or --tokens word"):
        ClassifyConfig(char_hidden=4).validate()
