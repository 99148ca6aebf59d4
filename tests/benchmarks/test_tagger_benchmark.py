"""The tagger benchmark scripts are wired correctly (they are timed by hand, not here): tagger_ewt.py's step
budget trains with the cosine decay over the steps and writes its curve (and nothing when interrupted);
tagger_ensemble.py scores the mean of the runs' distributions; tagger_peer_torchnn.py trains its torch.nn
tagger and writes its curve."""

from __future__ import annotations

import dataclasses
import json

import pytest

from helpers import load_benchmark

ROWS = [("The", "DET", "DT"), ("dog", "NOUN", "NN"), ("barks", "VERB", "VBZ"), (".", "PUNCT", ".")]


def _toy_ewt(folder):
    text = "".join(f"# sent_id = s-{k}\n" + "".join(f"{i}\t{w}\t{w.lower()}\t{u}\t{x}\t_\t0\tdep\t_\t_\n"
                                                     for i, (w, u, x) in enumerate(ROWS, 1)) + "\n"
                   for k in range(8))
    for part in ("train", "dev"):
        (folder / f"en_ewt-ud-{part}.conllu").write_text(text)
    return folder


def test_step_budget_runs_and_writes_the_curve(tmp_path, monkeypatch):
    bench = load_benchmark("tagger_ewt")
    _toy_ewt(tmp_path)
    written = {}
    monkeypatch.setattr(bench, "write_result", lambda name, data: written.update({name: data}) or tmp_path / name)
    bench.main(["--steps", "6", "--data", str(tmp_path), "--runs", str(tmp_path / "runs"), "--name", "t",
                "--set", "eval_every=3", "--set", "hidden=8", "--set", "char_hidden=4", "--set", "word_dim=4"])
    out = written["tagger_ewt_6steps_t"]
    assert out["steps"] == 6 and [p["step"] for p in out["curve"]] == [3, 6]
    assert out["config"]["decay_by"] == "steps" and out["config"]["max_steps"] == 6
    assert json.loads((tmp_path / "runs" / "tagger_ewt_6steps_t" / "config.json").read_text())["hidden"] == 8


def test_an_interrupted_run_writes_no_result(tmp_path, monkeypatch):
    bench = load_benchmark("tagger_ewt")
    _toy_ewt(tmp_path)
    real_train, written = bench.train, {}
    # what a SIGTERM between steps makes of the run: the loop stops early and says so
    monkeypatch.setattr(bench, "train", lambda cfg, run: dataclasses.replace(real_train(cfg, run),
                                                                             stopped_by="interrupted"))
    monkeypatch.setattr(bench, "write_result", lambda name, data: written.update({name: data}) or tmp_path / name)
    with pytest.raises(SystemExit, match=r"interrupted at step 3: no result written .*tagger_ewt_3steps_t"):
        bench.main(["--steps", "3", "--data", str(tmp_path), "--runs", str(tmp_path / "runs"), "--name", "t",
                    "--set", "hidden=8", "--set", "char_hidden=4", "--set", "word_dim=4"])
    assert written == {}
    assert (tmp_path / "runs" / "tagger_ewt_3steps_t" / "checkpoints").is_dir()   # the run itself is kept


def test_ensemble_script_scores_each_run_and_the_mean_of_their_distributions(tmp_path, monkeypatch):
    import torch
    from lstmkit.tasks.tagger import load_taggers, read_conllu, tag_probabilities

    data = _toy_ewt(tmp_path)
    ewt = load_benchmark("tagger_ewt")
    monkeypatch.setattr(ewt, "write_result", lambda name, out: tmp_path / name)
    runs = []
    for seed in (0, 1):
        ewt.main(["--steps", "4", "--data", str(data), "--runs", str(tmp_path / "runs"), "--name", f"s{seed}",
                  "--seed", str(seed), "--set", "eval_every=2", "--set", "hidden=8", "--set", "char_hidden=4",
                  "--set", "word_dim=4"])
        runs.append(tmp_path / "runs" / f"tagger_ewt_4steps_s{seed}")
    ens = load_benchmark("tagger_ensemble")
    written = {}
    monkeypatch.setattr(ens, "write_result", lambda name, out: written.update({name: out}) or tmp_path / name)
    ens.main([*map(str, runs), "--data", str(data / "en_ewt-ud-dev.conllu"), "--name", "t", "--checkpoint", "last"])
    out = written["tagger_ensemble_t_last"]
    assert [m["steps"] for m in out["members"]] == [4, 4] and out["words"] == 32
    assert [e["members"] for e in out["ensembles"]] == [2]
    sents = [s.words for s in read_conllu(data / "en_ewt-ud-dev.conllu", ("upos",))]
    loaded = load_taggers(runs, "last")
    mean = torch.cat(tag_probabilities([(m, v) for m, v, _ in loaded], None, sents))
    gold = torch.tensor([loaded[0][1].tag_index[u] for _ in range(8) for _, u, _ in ROWS])
    assert out["ensembles"][0]["dev_accuracy"] == round(float((mean.argmax(1) == gold).double().mean()), 6)
    acc = out["ensembles"][0]["dev_accuracy"]
    assert out["ensembles"][0]["all_subsets"] == {"count": 1, "min": acc, "median": acc, "max": acc,
                                                  "reaching_0.96": int(acc >= 0.96)}


def test_ensemble_subsets_are_all_combinations_or_a_distinct_sample_of_them():
    subsets = load_benchmark("tagger_ensemble").subsets
    assert subsets(4, 2, 100) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    drawn = subsets(10, 5, 20)                                           # C(10, 5) = 252 > 20
    assert len(drawn) == len(set(drawn)) == 20 and all(len(c) == 5 and list(c) == sorted(c) for c in drawn)
    assert drawn == subsets(10, 5, 20)                                   # fixed seed: the same draw


def test_peer_script_trains_the_torch_nn_tagger_and_writes_its_curve(tmp_path, monkeypatch):
    peer = load_benchmark("tagger_peer_torchnn")
    written = {}
    monkeypatch.setattr(peer, "write_result", lambda name, out: written.update({name: out}) or tmp_path / name)
    peer.main(["--minutes", "0.01", "--eval-every", "2", "--batch-size", "4", "--data", str(_toy_ewt(tmp_path))])
    out = written["tagger_peer_torchnn_0.01m"]
    assert out["steps"] >= 1 and out["curve"][-1]["final"] and out["curve"][-1]["step"] == out["steps"]
    assert 0 <= out["best_dev_accuracy"] <= 1 and out["recipe"]["hidden"] == 200
    model = peer.PeerTagger(n_words=10, n_chars=5, n_tags=3)
    assert type(model.rnn) is type(model.char_rnn) is peer.nn.LSTM                  # plain torch.nn, not lstmkit
