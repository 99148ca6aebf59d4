"""lstmkit sample: streams characters, carries the state step by step (the same distribution as re-reading
the whole prefix), is reproducible with --seed, and says clearly what is wrong with bad input."""

from __future__ import annotations

import io
import json
import sys

import pytest
import torch

from lstmkit.cli import main
from lstmkit.generate import next_distribution, sample_ids
from lstmkit.tasks.charlm import load_model, sample_text
from charlm_helpers import TINY, write_text


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sample")
    text = write_text(tmp / "t.txt", 4000)
    assert main(["train", "charlm", "--text", str(text), "--out", str(tmp / "run"), "--max-steps", "10",
                 "--eval-every", "5", *TINY]) == 0
    return tmp / "run"


def test_seed_makes_samples_reproducible(run, capsys):
    outs = []
    for seed in (1, 1, 2):
        assert main(["sample", str(run), "--seed", str(seed), "--length", "80", "--prime", "The "]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] != outs[2]
    assert outs[0].startswith("The ") and len(outs[0]) == len("The ") + 80 + 1


def test_step_by_step_state_gives_the_same_distribution_as_rereading_the_prefix(run):
    model, vocab, which = load_model(run)
    assert which == "best"
    seen = []
    step = model.step

    def spy(ids, state):
        logits, state = step(ids, state)
        seen.append(logits[0])
        return logits, state

    model.step = spy
    prime = vocab.encode("def ")
    ids = list(sample_ids(model, prime, 30, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        full, _ = model(torch.cat([prime, torch.tensor(ids)]).unsqueeze(1))       # (T, 1, V)
    torch.testing.assert_close(torch.stack(seen), full[len(prime):, 0], rtol=1e-5, atol=1e-5)


def test_characters_stream_out_one_at_a_time(run, monkeypatch):
    class Recorder(io.StringIO):
        flushes = 0

        def flush(self):
            Recorder.flushes += 1

    rec = Recorder()
    monkeypatch.setattr(sys, "stdout", rec)
    assert main(["sample", str(run), "--length", "25", "--seed", "0"]) == 0
    assert Recorder.flushes >= 25 and len(rec.getvalue()) == 1 + 25 + 1


def test_temperature_zero_and_top_k():
    logits = torch.tensor([0.1, 2.0, 1.0, -1.0])
    assert next_distribution(logits, temperature=0).tolist() == [0, 1, 0, 0]
    p = next_distribution(logits, top_k=2)
    assert (p[[0, 3]] == 0).all() and p.sum().item() == pytest.approx(1.0)
    assert next_distribution(logits, banned=[1], temperature=0).tolist() == [0, 0, 1, 0]
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match=f"temperature must be a finite number >= 0, got {bad}"):
            next_distribution(torch.zeros(1, 3), bad)
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0, got -1"):
        next_distribution(logits, temperature=-1)


def test_prime_with_unknown_characters(run, capsys):
    assert main(["sample", str(run), "--prime", "Zürich ☃", "--length", "5"]) == 2
    out, err = capsys.readouterr()
    assert "--prime has 3 character(s) the model never saw: 'Z' (U+005A), 'ü' (U+00FC), '☃' (U+2603)" in err
    assert "--unknown replace / skip" in err and out == ""                      # nothing written
    model, vocab, _ = load_model(run)
    assert len("".join(sample_text(model, vocab, "a☃", 5, seed=0, unknown="replace"))) == 5
    assert len("".join(sample_text(model, vocab, "a☃", 5, seed=0, unknown="skip"))) == 5
    with pytest.raises(ValueError, match="no character of the vocabulary left"):
        sample_text(model, vocab, "☃", 5, unknown="skip")


def test_not_a_run_and_damaged_checkpoints(run, tmp_path, capsys):
    assert main(["sample", str(tmp_path)]) == 2
    assert "is not an lstmkit run: expected" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "config.json").write_text("{not json")
    assert main(["sample", str(tmp_path)]) == 2
    assert "config.json is corrupt: expected JSON" in capsys.readouterr().err

    import shutil
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    best = json.loads((broken / "checkpoints" / "best.json").read_text())
    tfile = broken / "checkpoints" / best["tensors_file"]
    tfile.write_bytes(tfile.read_bytes()[:-10])
    snapshot = {p: p.read_bytes() for p in broken.rglob("*") if p.is_file()}
    assert main(["sample", str(broken)]) == 2
    assert "is truncated or corrupt: expected" in capsys.readouterr().err
    assert main(["sample", str(broken), "--checkpoint", "last", "--length", "3"]) == 0   # last is intact
    capsys.readouterr()
    assert {p: p.read_bytes() for p in broken.rglob("*") if p.is_file()} == snapshot


def test_eval_scores_a_text_in_bits_per_character(run, tmp_path, capsys):
    text = write_text(tmp_path / "other.txt", 1500)
    (tmp_path / "odd.txt").write_text(text.read_text()[:600] + "Ω☃" * 3)
    assert main(["eval", str(run), "--data", str(text), "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{"):])
    assert report["chars"] == 1500 and report["unknown_chars"] == 0
    assert report["bpc"] == pytest.approx(report["loss"] / 0.6931471805599453, rel=1e-5) and report["bpc"] > 0
    assert main(["eval", str(run), "--data", str(tmp_path / "odd.txt"), "--json"]) == 0
    assert '"unknown_chars": 6' in capsys.readouterr().out
    assert main(["eval", str(run), "--data", str(text), "--beam", "4"]) == 2
    assert "--beam is the beam width of ctc, translate, caption runs" in capsys.readouterr().err
