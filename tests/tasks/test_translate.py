"""lstmkit train translate: the corpus (held-out pairs never trained on, numbers written when drawn), the
task on the engine (exact resume), the commands (translate, eval), bad input, attention pictures."""

import json

import pytest
import torch

pytest.importorskip("num2words", reason="translate data needs num2words: pip install 'lstmkit[seq2seq]'")
pytest.importorskip("babel", reason="dates need babel: pip install 'lstmkit[seq2seq]'")
pytest.importorskip("sacrebleu", reason="BLEU/chrF need sacrebleu: pip install 'lstmkit[seq2seq]'")

from lstmkit.cli import main  # noqa: E402
from lstmkit.tasks.translate import TranslateConfig, TranslateTask, build_corpus, load_translator  # noqa: E402
from lstmkit.tasks.translate.data import number_pairs, split_numbers  # noqa: E402

TINY = ["--hidden", "8", "--decoder-hidden", "16", "--embed", "8", "--batch-size", "4", "--val-size", "6",
        "--backend", "reference"]


def test_numbers_corpus_holds_out_val_and_test_and_writes_training_numbers_when_drawn():
    cfg = TranslateConfig(max_number=3000, val_size=50, test_size=60, target_lang="de")
    corpus = build_corpus(cfg)
    parts = split_numbers(3000, 50, 60, seed=0)
    assert not set(parts["train"]) & (set(parts["val"]) | set(parts["test"]))
    assert corpus.size("train") == len(parts["train"]) and corpus.size("test") == 60
    assert corpus.pairs["test"].targets == number_pairs(parts["test"], "de").targets
    n = int(parts["train"][7])
    src, tgt = corpus.ids["train"][7]                            # written when drawn
    want = number_pairs([n], "de")
    assert corpus.target_text(tgt[:-1]) == want.targets[0]
    assert corpus.source_vocab.decode(src) == corpus.source_vocab.decode(corpus.encode_pair(want.sources[0], "")[0])
    for split in ("val", "test"):                                # the vocabularies cover held-out numbers
        assert all(3 not in s and 3 not in t for s, t in (corpus.ids[split][i] for i in range(corpus.size(split))))


def test_dates_corpus_targets_are_iso_and_sources_written_in_the_locales():
    cfg = TranslateConfig(data="dates", locales="fr_FR,de_DE", val_size=20, test_size=20,
                          date_from="2000-01-01", date_to="2001-12-31")
    corpus = build_corpus(cfg)
    import datetime
    for src, tgt in zip(corpus.pairs["val"].sources, corpus.pairs["val"].targets):
        d = datetime.date.fromisoformat(tgt)
        assert str(d.year) in src
    assert corpus.modes == ("chars", "chars")
    with pytest.raises(ValueError, match="ISO dates"):
        build_corpus(TranslateConfig(data="dates", date_from="01/02/2000"))


def test_pairs_file_with_dev_and_test_files_and_token_filter(tmp_path):
    (tmp_path / "train.tsv").write_text("".join(f"go {i} .\tva {i} !\tCC-BY\n" for i in range(40)), encoding="utf-8")
    (tmp_path / "dev.tsv").write_text("go 3 .\tva 3 !\n", encoding="utf-8")
    (tmp_path / "test.tsv").write_text("go 5 .\tva 5 !\n", encoding="utf-8")
    cfg = TranslateConfig(data=str(tmp_path / "train.tsv"), dev=str(tmp_path / "dev.tsv"),
                          test=str(tmp_path / "test.tsv"))
    corpus = build_corpus(cfg)
    assert corpus.modes == ("words", "words")
    assert corpus.size("train") == 40 and corpus.pairs["val"].sources == ["go 3 ."]
    assert corpus.target_text(corpus.ids["val"][0][1]) == "va 3!"      # words detokenised
    (tmp_path / "bad.tsv").write_text("go .\tva !\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv, line 2"):
        build_corpus(TranslateConfig(data=str(tmp_path / "bad.tsv")))


def test_resume_continues_step_for_step(tmp_path):
    common = ["--max-number", "400", "--test-size", "0", "--eval-every", "2", *TINY]
    assert main(["train", "translate", "--out", str(tmp_path / "a"), "--max-steps", "4", *common]) == 0
    assert main(["train", "translate", "--out", str(tmp_path / "b"), "--max-steps", "2", *common]) == 0
    assert main(["train", "translate", "--resume", str(tmp_path / "b"), "--max-steps", "4"]) == 0

    def losses(run):
        return [r["train_loss"] for r in map(json.loads, (tmp_path / run / "metrics.jsonl").read_text().splitlines())
                if "train_loss" in r]
    assert losses("a")[-1] == pytest.approx(losses("b")[-1], rel=1e-6)
    a, b = load_translator(tmp_path / "a", "last"), load_translator(tmp_path / "b", "last")
    for (k, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(p, q), k


def test_train_translate_eval_and_attention_pictures(tmp_path, capsys, monkeypatch):
    import io
    run = tmp_path / "run"
    assert main(["train", "translate", "--out", str(run), "--max-steps", "3", "--max-number", "500",
                 "--test-size", "8", "--beam", "2", *TINY]) == 0
    report = json.loads((run / "test.json").read_text())
    assert report["pairs"] == 8 and set(report["beam_search"]) == {"exact", "bleu", "chrf"}
    assert report["by_source_length"] and sorted((run / "attention").iterdir())
    assert main(["eval", str(run), "--data", str(run / "test-pairs.tsv"), "--beam", "3", "--json"]) == 0
    assert '"beam_search"' in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("ninety-seven\n\nfour hundred and twelve\n"))
    assert main(["translate", str(run), "--beam", "2", "--attention", str(tmp_path / "pics")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert len(list((tmp_path / "pics").glob("*.png"))) == 2
    translator = load_translator(run)
    out = translator.translate(["ninety-seven", "twelve"], beam=3, attention=True)
    for t in out:
        assert t["weights"].shape == (len(t["target_tokens"]) + 1, len(t["source_tokens"]))


def test_plain_encoder_decoder_without_attention(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "translate", "--out", str(run), "--max-steps", "2", "--max-number", "300",
                 "--test-size", "6", "--attention", "none", "--beam", "2", *TINY]) == 0
    assert json.loads((run / "test.json").read_text())["pairs"] == 6
    assert not (run / "attention").exists()
    out = load_translator(run).translate(["twelve"], beam=2, attention=True)
    assert out[0]["weights"] is None


def test_bad_input_is_one_clear_line_and_leaves_no_run(tmp_path, capsys, monkeypatch):
    import io
    (tmp_path / "bad.tsv").write_text("one\tun\ntwo un\n", encoding="utf-8")
    assert main(["train", "translate", "--data", str(tmp_path / "bad.tsv"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "bad.tsv, line 2" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
    assert main(["train", "translate", "--target-lang", "xx", "--out", str(tmp_path / "r2")]) == 2
    assert "num2words" in capsys.readouterr().err and not (tmp_path / "r2").exists()
    assert main(["train", "translate", "--dev", "x.tsv", "--out", str(tmp_path / "r3")]) == 2
    assert "--dev/--test are pairs files" in capsys.readouterr().err
    run = tmp_path / "run"
    assert main(["train", "translate", "--out", str(run), "--max-steps", "1", "--max-number", "300",
                 "--test-size", "0", *TINY]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("\n\n"))
    assert main(["translate", str(run)]) == 2
    assert "no text" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("twelve\n"))
    assert main(["translate", str(run), "--max-len", "0"]) == 2
    assert "--max-len must be >= 1" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("twelve\n"))
    assert main(["translate", str(run), "--max-len", "2", "--beam", "1"]) == 0
    assert len(capsys.readouterr().out.strip()) <= 2


def test_inspect_shows_the_decoder_writing_its_translation(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "translate", "--out", str(run), "--max-steps", "1", "--max-number", "300",
                 "--test-size", "0", *TINY]) == 0
    capsys.readouterr()
    assert main(["inspect", str(run), "--text", "ninety-seven", "--out", str(tmp_path / "page.html")]) == 0
    out = capsys.readouterr().out
    assert "decoder.rnn layer 0 forward" in out and (tmp_path / "page.html").is_file()
