"""The tagger: CoNLL-U reading and its errors (file and line), the demo learns, the run folder, lstmkit tag,
lstmkit eval (report, confusion PNG, unseen labels refused), resume, the inspect adapter, EWT reading."""

from __future__ import annotations

import contextlib
import io
import json
import sys

import pytest
import torch

from helpers import needs_shared
from lstmkit.cli import main
from lstmkit.inspect import recording
from lstmkit.tasks.tagger import (ConlluError, TaggerConfig, TaggerTask, inspect_adapter, load_tagger,
                                  parse_conllu, read_conllu, tag_sentences, train)
from lstmkit.tasks.tagger.data import BucketSampler, make_batch
from lstmkit.train import load_checkpoint

SMALL = dict(lr=0.01, warmup_steps=0, hidden=32, char_hidden=16, word_dim=16, char_dim=8, eval_every=40,
             log_every=20)


def row(i, form, upos, xpos="_"):
    return f"{i}\t{form}\t{form.lower()}\t{upos}\t{xpos}\t_\t0\tdep\t_\t_"


def write(path, sentences):
    """sentences: lists of (form, upos); written as CoNLL-U with a sent_id each."""
    blocks = []
    for k, s in enumerate(sentences):
        blocks.append("\n".join([f"# sent_id = s-{k}"] + [row(i, w, t) for i, (w, t) in enumerate(s, 1)]))
    path.write_text("\n\n".join(blocks) + "\n\n")
    return path


TOY = [[("The", "DET"), ("dog", "NOUN"), ("ate", "VERB"), ("the", "DET"), ("apple", "NOUN"), (".", "PUNCT")],
       [("A", "DET"), ("cat", "NOUN"), ("saw", "VERB"), ("a", "DET"), ("dog", "NOUN"), (".", "PUNCT")],
       [("Dogs", "NOUN"), ("bark", "VERB"), (".", "PUNCT")]]


def quiet(argv):
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("toy")
    tr = write(d / "train.conllu", TOY * 4)
    dev = write(d / "dev.conllu", TOY)
    train(TaggerConfig(train=str(tr), dev=str(dev), max_steps=80, **SMALL), d / "run", stream=io.StringIO())
    return d


# ------------------------------------------------------------------------------------------ CoNLL-U
def test_conllu_skips_multiword_tokens_and_empty_nodes_and_keeps_metadata():
    text = "# sent_id = email-1\n# text = Don't go\n" + "\n".join([
        "1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_", row(1, "Do", "AUX"), row(2, "n't", "PART"), row(3, "go", "VERB"),
        "3.1\tgone\tgo\tVERB\t_\t_\t_\t_\t_\t_"]) + "\n\n"
    (s,) = parse_conllu(text, columns=("upos", "xpos"))
    assert s.words == ["Do", "n't", "go"] and s.column("upos") == ["AUX", "PART", "VERB"]
    assert s.meta["sent_id"] == "email-1" and s.lines == [4, 5, 6]


@pytest.mark.parametrize("bad, line, what", [
    ("1\tDogs\tdog\tNOUN\n", 3, "expected 10 tab-separated columns, got 4"),
    ("x\tDogs\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n", 3, "not valid CoNLL-U"),
])
def test_malformed_conllu_names_file_and_line(tmp_path, bad, line, what):
    p = tmp_path / "bad.conllu"
    p.write_text(row(1, "Fine", "ADJ") + "\n\n" + bad)
    with pytest.raises(ConlluError) as e:
        read_conllu(p)
    assert str(e.value).startswith(f"{p}:{line}:") and what in str(e.value)


def test_empty_and_missing_files_are_refused(tmp_path):
    (tmp_path / "empty.conllu").write_text("\n\n")
    with pytest.raises(ConlluError, match="expected at least one sentence"):
        read_conllu(tmp_path / "empty.conllu")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_conllu(tmp_path / "nope.conllu")


# ------------------------------------------------------------------------------------------ training
def test_the_demo_learns_the_two_sentences_and_tags_a_new_one(tmp_path):
    result = train(TaggerConfig(max_steps=60, eval_every=30, **{k: v for k, v in SMALL.items()
                                                               if k not in ("eval_every",)}),
                   tmp_path / "run", stream=io.StringIO())
    assert result.best == 0.0                                        # val_error on the demo sentences
    model, vocab, cfg = load_tagger(tmp_path / "run")
    assert cfg.max_steps == 60 and vocab.tags == ["DET", "NN", "V"]
    assert tag_sentences(model, vocab, [["Everybody", "ate", "the", "apple"]]) == [["NN", "V", "DET", "NN"]]


def test_run_folder_metrics_and_the_word_dropout_and_lengths_paths(toy_run):
    run = toy_run / "run"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["task"] == "tagger" and cfg["train"].endswith("train.conllu") and cfg["max_steps"] == 80
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert recs[-1]["val_acc"] > 0.9 and recs[0]["train_loss"] > recs[-1]["train_loss"]
    assert {"words_per_s", "val_loss", "val_error"} <= set(recs[-1])
    assert (run / "checkpoints" / "best.json").is_file() and (run / "loss.png").is_file()


def test_padding_does_not_change_a_sentence_s_tags(toy_run):
    model, vocab, _ = load_tagger(toy_run / "run")
    short, long_ = ["Dogs", "bark", "."], ["The", "cat", "saw", "a", "dog", "and", "more", "words", "."]
    alone = model(make_batch([short], vocab))[:, 0]                  # (3, K)
    padded = model(make_batch([long_, short], vocab))[:3, 1]
    torch.testing.assert_close(alone, padded, rtol=1e-5, atol=1e-5)


def test_bucket_sampler_resumes_exactly_and_covers_each_epoch():
    a = BucketSampler(list(range(1, 11)), batch_size=3, seed=4)
    first = [a.next() for _ in range(4)]
    assert sorted(i for b in first for i in b) == list(range(10))   # one epoch: every sentence once
    b = BucketSampler(list(range(1, 11)), batch_size=3, seed=99)
    b.load_state_dict(json.loads(json.dumps(a.state_dict(), default=lambda t: t.tolist())) | {"g": a.g.get_state()})
    assert [a.next() for _ in range(5)] == [b.next() for _ in range(5)]


def test_a_run_stopped_by_its_time_budget_resumes_to_the_same_weights(tmp_path):
    cfg = dict(max_steps=24, **{**SMALL, "eval_every": 8})
    train(TaggerConfig(**cfg), tmp_path / "full", stream=io.StringIO())
    cut = train(TaggerConfig(max_time=0.15, **cfg), tmp_path / "cut", stream=io.StringIO())
    assert 1 <= cut.step <= 24
    code, _, err = quiet(["train", "tagger", "--resume", str(tmp_path / "cut"), "--max-time", "0"])
    assert code == 0, err
    full, resumed = (load_checkpoint(tmp_path / r / "checkpoints", "last")["state"]["model"] for r in ("full", "cut"))
    for name in full:
        assert torch.equal(full[name], resumed[name]), name
    code, _, err = quiet(["train", "tagger", "--resume", str(tmp_path / "cut"), "--max-steps", "30"])
    assert code == 0, err                                            # max_steps is a control setting: longer
    assert load_checkpoint(tmp_path / "cut" / "checkpoints", "last")["state"]["step"] == 30
    code, _, err = quiet(["train", "tagger", "--resume", str(tmp_path / "cut"), "--lr", "0.5"])
    assert code == 2 and "different config" in err and "lr:" in err


def test_bad_training_input_leaves_no_run_folder(tmp_path):
    bad = tmp_path / "bad.conllu"
    bad.write_text(row(1, "Ok", "ADJ") + "\n" + "2\tbroken\n")
    code, _, err = quiet(["train", "tagger", "--train", str(bad), "--out", str(tmp_path / "run")])
    assert code == 2 and f"{bad}:2:" in err and not (tmp_path / "run").exists()
    empty = tmp_path / "empty.conllu"
    empty.write_text("")
    code, _, err = quiet(["train", "tagger", "--train", str(empty), "--out", str(tmp_path / "run")])
    assert code == 2 and "at least one sentence" in err and not (tmp_path / "run").exists()
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()) as err:
        main(["train", "tagger", "--hiden", "3"])
    assert "unrecognized arguments: --hiden" in err.getvalue()


def test_untagged_training_word_is_refused_with_its_line(tmp_path):
    p = write(tmp_path / "t.conllu", [[("Dogs", "NOUN"), ("bark", "_")]])
    with pytest.raises(ValueError, match=r"t.conllu:3: word 'bark' has no tag"):
        TaggerTask(TaggerConfig(train=str(p), dev=str(p)))


# ------------------------------------------------------------------------------------------ commands
def test_tag_command_reads_stdin_and_refuses_empty_input(toy_run, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("The dog ate a cat .\n\nDogs bark .\n"))
    code, out, err = quiet(["tag", str(toy_run / "run")])
    assert code == 0, err
    lines = out.splitlines()
    assert lines == ["The/DET dog/NOUN ate/VERB a/DET cat/NOUN ./PUNCT", "Dogs/NOUN bark/VERB ./PUNCT"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("Dogs bark .\n"))
    code, out, _ = quiet(["tag", str(toy_run / "run"), "--conllu"])
    assert out.splitlines()[1].split("\t")[:4] == ["2", "bark", "_", "VERB"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n  \n"))
    code, out, err = quiet(["tag", str(toy_run / "run")])
    assert code == 2 and "no sentence" in err and out == ""


def test_eval_prints_report_writes_confusion_png_and_json(toy_run, tmp_path):
    code, out, err = quiet(["eval", str(toy_run / "run"), "--data", str(toy_run / "dev.conllu"),
                            "--out", str(tmp_path / "ev"), "--json"])
    assert code == 0, err
    report, metrics = out.split("{", 1)
    metrics = json.loads("{" + metrics)
    assert "NOUN" in report and "accuracy" in report
    assert metrics["count"] == 15 and metrics["accuracy"] > 0.9 and set(metrics["labels"]) == {"DET", "NOUN",
                                                                                               "PUNCT", "VERB"}
    assert (tmp_path / "ev" / "confusion-dev.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_refuses_a_label_unseen_in_training_and_writes_nothing(toy_run, tmp_path):
    p = write(tmp_path / "new.conllu", [[("Wow", "INTJ"), ("dogs", "NOUN")]])
    code, out, err = quiet(["eval", str(toy_run / "run"), "--data", str(p), "--out", str(tmp_path / "ev")])
    assert code == 2 and f"{p}:2: word 'Wow' has tag 'INTJ', which training never saw" in err
    assert not (tmp_path / "ev").exists()


def test_inspect_adapter_follows_the_protocol(toy_run):
    a = inspect_adapter(toy_run / "run", "Zebras bark loudly .")
    assert a["tokens"] == ["Zebras", "bark", "loudly", "."] and a["layers"] == ["rnn"]
    names = dict(a["model"].named_modules())
    assert all(n in names for n in a["layers"]) and not a["model"].training
    with recording(a["model"]) as rec:
        a["run"]()
    assert rec.last("rnn")[(0, 0)]["h"].shape == (4, 1, 32)
    with pytest.raises(ValueError, match="at least one word"):
        inspect_adapter(toy_run / "run", "   ")


# ------------------------------------------------------------------------------------------ real data
def test_reads_ud_english_ewt_dev():
    path = needs_shared("ud_english_ewt/en_ewt-ud-dev.conllu")
    sentences = read_conllu(path, ("upos",))
    assert len(sentences) == 2001 and sum(len(s) for s in sentences) > 25000
    assert sentences[0].meta["sent_id"].split("-")[0] in {"answers", "email", "newsgroup", "reviews", "weblog"}


# ------------------------------------------------------------------------------------ multi-task heads
XPOS = {"DET": "DT", "NOUN": "NN", "VERB": "VBD", "PUNCT": "."}


def test_aux_columns_train_extra_heads_that_learn_and_tagging_ignores_them(tmp_path):
    blocks = []
    for k, s in enumerate(TOY * 4):
        rows = [f"{i}\t{w}\t{w.lower()}\t{t}\t{XPOS[t]}\t{'Number=Sing' if t == 'NOUN' else '_'}\t0\tdep\t_\t_"
                for i, (w, t) in enumerate(s, 1)]
        blocks.append("\n".join([f"# sent_id = s-{k}"] + rows))
    data = tmp_path / "train.conllu"
    data.write_text("\n\n".join(blocks) + "\n\n")
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items()]
    code, _, err = quiet(["train", "tagger", "--train", str(data), "--dev", str(data), "--max-steps", "80",
                          "--aux-columns", "xpos", "feats", "--out", str(tmp_path / "run"), *flags])
    assert code == 0, err
    meta = load_checkpoint(tmp_path / "run" / "checkpoints", "best")["state"]["meta"]
    assert meta["aux_tags"] == [["xpos", [".", "DT", "NN", "VBD"]], ["feats", ["Number=Sing", "_"]]]
    model, vocab, cfg = load_tagger(tmp_path / "run")
    assert cfg.aux_columns == ["xpos", "feats"] and len(model.aux_heads) == 2
    task = TaggerTask(cfg)
    batch = make_batch(task.train_words[:3], vocab, aux_tags=task.train_aux[:3])
    with torch.no_grad():
        main_logits, (xpos, feats) = model.aux_logits(batch)
    gold = batch.aux_tags
    mask = gold[:, :, 0] != -100
    assert (xpos.argmax(2)[mask] == gold[:, :, 0][mask]).all()    # the extra heads learned their columns
    assert (feats.argmax(2)[mask] == gold[:, :, 1][mask]).all()
    torch.testing.assert_close(main_logits, model(batch))         # the main head is the same pass
    assert tag_sentences(model, vocab, [["A", "dog", "ate", "."]]) == [["DET", "NOUN", "VERB", "PUNCT"]]


@pytest.mark.parametrize("aux, what", [(["upos"], "other than --column 'upos'"), (["bogus"], "got 'bogus'"),
                                       (["xpos", "xpos"], "must not repeat")])
def test_bad_aux_columns_are_refused(aux, what):
    with pytest.raises(ValueError, match=what):
        TaggerConfig(train="t.conllu", aux_columns=aux).validate()
    with pytest.raises(ValueError, match="needs --train"):
        TaggerConfig(aux_columns=["xpos"]).validate()


def test_an_aux_column_without_values_is_refused_and_unlabelled_batches_add_no_loss(tmp_path):
    data = write(tmp_path / "t.conllu", TOY)                       # xpos is '_' everywhere
    with pytest.raises(ValueError, match="--aux-columns xpos: the column holds no tags"):
        TaggerTask(TaggerConfig(train=str(data), dev=str(data), aux_columns=["xpos"]))
    task = TaggerTask(TaggerConfig(train=str(data), dev=str(data), aux_columns=["deprel"], **SMALL))
    task.train_aux = [torch.full_like(t, -100) for t in task.train_aux]   # no aux label in any batch
    model = task.build_model()
    loss, _ = task.train_step(model, 0)
    assert torch.isfinite(loss)


def test_label_smoothing_gives_torch_s_smoothed_loss_on_every_head_and_is_validated(tmp_path):
    blocks = ["\n".join([f"# sent_id = s-{k}"] + [f"{i}\t{w}\t{w.lower()}\t{t}\t{XPOS[t]}\t_\t0\tdep\t_\t_"
                                                   for i, (w, t) in enumerate(s, 1)]) for k, s in enumerate(TOY)]
    data = tmp_path / "t.conllu"
    data.write_text("\n\n".join(blocks) + "\n\n")
    cfg = TaggerConfig(train=str(data), dev=str(data), label_smoothing=0.2, word_dropout=0.0, dropout=0.0,
                       aux_columns=["xpos"], **SMALL)
    task = TaggerTask(cfg)
    torch.manual_seed(0)
    model = task.build_model()
    before = task.sampler.state_dict()
    loss, _ = task.train_step(model, 0)
    task.sampler.load_state_dict(before)                          # the same batch again, by hand
    idx = task.sampler.next()
    batch = make_batch([task.train_words[i] for i in idx], task.vocab, [task.train_tags[i] for i in idx],
                       aux_tags=[task.train_aux[i] for i in idx])
    logits, (xpos,) = model.aux_logits(batch)
    gold, gold_x = batch.tags.flatten(), batch.aux_tags[:, :, 0].flatten()
    expected = (torch.nn.functional.cross_entropy(logits.flatten(0, 1), gold, ignore_index=-100, label_smoothing=0.2)
                + torch.nn.functional.cross_entropy(xpos.flatten(0, 1), gold_x, ignore_index=-100,
                                                    label_smoothing=0.2))
    torch.testing.assert_close(loss, expected)
    plain = torch.nn.functional.cross_entropy(logits.flatten(0, 1), gold, ignore_index=-100)
    assert not torch.allclose(loss, plain + torch.nn.functional.cross_entropy(xpos.flatten(0, 1), gold_x,
                                                                              ignore_index=-100))
    with pytest.raises(ValueError, match="label_smoothing is a probability"):
        TaggerConfig(train="t.conllu", label_smoothing=1.0).validate()


# ------------------------------------------------------------------------------------------ ensembles
@pytest.fixture(scope="module")
def toy_runs(toy_run):
    """A second run of the toy data (another seed, another word vocabulary) and one with another tag set."""
    second = toy_run / "run-seed1"
    train(TaggerConfig(train=str(toy_run / "train.conllu"), dev=str(toy_run / "dev.conllu"), max_steps=80, seed=1,
                       min_count=5, **SMALL), second, stream=io.StringIO())
    other = write(toy_run / "other.conllu", [[(w, "X" if t == "DET" else t) for w, t in s] for s in TOY * 4])
    odd = toy_run / "run-other-tags"
    train(TaggerConfig(train=str(other), max_steps=2, **SMALL), odd, stream=io.StringIO())
    return toy_run / "run", second, odd


def test_ensemble_probabilities_are_the_members_mean_and_tag_accordingly(toy_runs, toy_run):
    from lstmkit.tasks.tagger import load_taggers, tag_probabilities
    loaded = load_taggers(toy_runs[:2])
    members = [(m, v) for m, v, _ in loaded]
    assert members[0][1].words != members[1][1].words                     # min_count 2 vs 5: vocabularies differ
    sents = [["The", "dog", "ate", "a", "cat", "."], ["Zebras", "bark", "."]]
    singles = [tag_probabilities(m, v, sents) for m, v in members]
    mean = tag_probabilities(members, None, sents)
    for k, s in enumerate(sents):
        assert mean[k].shape == (len(s), 4)
        torch.testing.assert_close(mean[k], (singles[0][k] + singles[1][k]) / 2)
        torch.testing.assert_close(mean[k].sum(1), torch.ones(len(s)))
    tags = members[0][1].tags
    assert tag_sentences(members, None, sents) == [[tags[i] for i in p.argmax(1).tolist()] for p in mean]
    assert tag_sentences(members[:1], None, sents) == tag_sentences(*members[0], sents)
    with pytest.raises(ValueError, match="non-empty list"):
        tag_sentences(members, members[0][1], sents)
    with pytest.raises(ValueError, match="needs its vocabulary"):
        tag_sentences(members[0][0], None, sents)


def test_tag_and_eval_take_several_runs_as_an_ensemble(toy_runs, toy_run, tmp_path, monkeypatch):
    first, second, odd = (str(r) for r in toy_runs)
    monkeypatch.setattr(sys, "stdin", io.StringIO("The dog ate a cat .\n"))
    code, out, err = quiet(["tag", first, second])
    assert code == 0 and out == "The/DET dog/NOUN ate/VERB a/DET cat/NOUN ./PUNCT\n", err
    code, out, err = quiet(["eval", first, second, "--data", str(toy_run / "dev.conllu"), "--out",
                            str(tmp_path / "ev"), "--json"])
    assert code == 0, err
    metrics = json.loads("{" + out.split("{", 1)[1])
    assert metrics["count"] == 15 and metrics["accuracy"] > 0.9
    # members predicting another tag set are refused, naming the run and both tag sets; nothing is written
    code, out, err = quiet(["eval", first, odd, "--data", str(toy_run / "dev.conllu"), "--out", str(tmp_path / "e2")])
    assert code == 2 and odd in err and "DET NOUN PUNCT VERB" in err and "NOUN PUNCT VERB X" in err
    assert not (tmp_path / "e2").exists()
    monkeypatch.setattr(sys, "stdin", io.StringIO("Dogs bark .\n"))
    code, out, err = quiet(["tag", first, odd])
    assert code == 2 and "same tag set" in err and out == ""
