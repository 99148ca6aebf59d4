"""The music job end to end through the command line: a tiny run on the synthetic chorales, its folder,
an exact resume, ``lstmkit sample --midi`` (dispatched by the run's task), ``lstmkit eval`` on a .mat file,
and the one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("scipy", reason="the music job reads .mat files with scipy: pip install 'lstmkit[music]'")
pretty_midi = pytest.importorskip("pretty_midi", reason="music runs write MIDI with pretty_midi: "
                                                        "pip install 'lstmkit[music]'")
import scipy.io  # noqa: E402

from lstmkit.cli import main  # noqa: E402
from lstmkit.tasks.music.midi import read_midi_roll  # noqa: E402
from lstmkit.tasks.music.rolls import synthetic_chorales  # noqa: E402
from lstmkit.train import load_checkpoint  # noqa: E402

TINY = ["--hidden", "12", "--layers", "1", "--warmup-steps", "0", "--decay-steps", "16", "--batch-size", "8",
        "--eval-every", "5", "--log-every", "5", "--final-sample", "12"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("music") / "run"
    assert main(["train", "music", "--out", str(out), "--max-steps", "10", *TINY]) == 0
    return out


def test_a_run_folder_holds_everything(run, capsys):
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "metrics.jsonl", "loss.png", "checkpoints", "results.json", "pianoroll.png",
            "samples"} <= names
    assert json.loads((run / "config.json").read_text())["task"] == "music"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "val_nll" in r]
    assert [r["step"] for r in evals] == [5, 10] and all("test_nll" in r for r in evals)
    results = json.loads((run / "results.json").read_text())
    best = min(evals, key=lambda r: r["val_nll"])
    assert results["val_nll"] == pytest.approx(best["val_nll"], abs=1e-4)
    assert results["test_nll"] == pytest.approx(best["test_nll"], abs=1e-4)
    assert results["test_nll"] < 88 * np.log(2)                           # learnt something in 10 steps
    roll = read_midi_roll(run / "samples" / "final.mid", fs=4)
    assert roll.shape[1] == 88 and roll.sum() > 0
    assert (run / "pianoroll.png").read_bytes()[:4] == b"\x89PNG"


def test_resume_continues_exactly(run, tmp_path):
    straight = tmp_path / "straight"
    assert main(["train", "music", "--out", str(straight), "--max-steps", "16", *TINY]) == 0
    assert main(["train", "music", "--resume", str(run), "--max-steps", "16"]) == 0
    a = load_checkpoint(straight / "checkpoints", "last")["state"]["model"]
    b = load_checkpoint(run / "checkpoints", "last")["state"]["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sample_writes_midi_and_a_piano_roll(run, tmp_path, capsys):
    out = tmp_path / "new.mid"
    assert main(["sample", str(run), "--midi", str(out), "--length", "24", "--seed", "3"]) == 0
    assert "wrote" in capsys.readouterr().out
    first = out.read_bytes()
    assert (tmp_path / "new.png").read_bytes()[:4] == b"\x89PNG"
    roll = read_midi_roll(out, fs=4)                                      # 0.25 s frames: 16 primed + 24 new
    assert roll.shape[0] <= 40 and roll.sum() > 0
    assert main(["sample", str(run), "--midi", str(out), "--length", "24", "--seed", "3"]) == 0
    assert out.read_bytes() == first                                      # --seed reproduces
    assert main(["sample", str(run), "--midi", str(tmp_path / "cold.mid"), "--prime-frames", "0", "--length", "8",
                 "--temperature", "0.5"]) == 0
    assert main(["sample", str(run), "--length", "8"]) == 0               # default: RUN_DIR/samples/sample.mid
    assert (run / "samples" / "sample.mid").exists()


def test_sample_refuses_the_other_jobs_flags(run, tmp_path, capsys):
    assert main(["sample", str(run), "--prime", "ROMEO:"]) == 2
    assert "--prime is for charlm runs" in capsys.readouterr().err
    assert main(["sample", str(run), "--midi", str(tmp_path / "no" / "such" / "x.mid")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["sample", str(run), "--temperature", "-1", "--midi", str(tmp_path / "t.mid")]) == 2
    assert "temperature must be a finite number >= 0" in capsys.readouterr().err
    assert not (tmp_path / "t.mid").exists()


def test_eval_on_a_mat_file_and_its_errors(run, tmp_path, capsys):
    rolls = synthetic_chorales()
    cells = {}
    for key, split in (("traindata", rolls.train[:5]), ("validdata", rolls.valid[:3]), ("testdata", rolls.test)):
        c = np.empty((1, len(split)), dtype=object)
        for i, r in enumerate(split):
            c[0, i] = r.numpy()
        cells[key] = c
    path = tmp_path / "chorales.mat"
    scipy.io.savemat(str(path), cells)
    assert main(["eval", str(run), "--data", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{"):])
    results = json.loads((run / "results.json").read_text())
    assert report["test_nll"] == pytest.approx(results["test_nll"], abs=1e-4)
    wide = {k: v for k, v in cells.items()}
    c = np.empty((1, 1), dtype=object)
    c[0, 0] = np.zeros((10, 128), np.uint8)
    wide["testdata"] = c
    scipy.io.savemat(str(tmp_path / "wide.mat"), wide)
    assert main(["eval", str(run), "--data", str(tmp_path / "wide.mat")]) == 2
    assert "testdata[0] is 10 x 128; expected 88 keys per frame" in capsys.readouterr().err


def test_bad_input_leaves_no_run_folder(tmp_path, capsys):
    path = tmp_path / "other.mat"
    scipy.io.savemat(str(path), {"data": np.zeros((3, 3))})
    out = tmp_path / "run"
    assert main(["train", "music", "--data", str(path), "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert "holds data; expected traindata, validdata and testdata" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"\x00" * 40)
    assert main(["train", "music", "--data", str(bad), "--out", str(out), *TINY]) == 2
    assert "bad.mid is not a readable MIDI file" in capsys.readouterr().err
    assert main(["train", "music", "--out", str(out), "--cifg", "--cell", "gru"]) == 2
    assert "cifg=True applies to --cell lstm" in capsys.readouterr().err
    assert not out.exists()


def test_sample_still_refuses_runs_it_cannot_generate_from(tmp_path, capsys):
    run = tmp_path / "tagger"
    assert main(["train", "tagger", "--out", str(run), "--max-steps", "2", "--hidden", "8", "--char-hidden", "4"]) == 0
    capsys.readouterr()
    assert main(["sample", str(run)]) == 2
    assert "is a 'tagger' run; lstmkit sample generates from charlm, music runs" in capsys.readouterr().err


def test_eval_on_a_midi_folder(run, tmp_path, capsys):
    from lstmkit.tasks.music.midi import write_midi
    rolls = synthetic_chorales()
    for k in range(2):
        write_midi(rolls.test[k], tmp_path / f"piece{k}.mid", frame_seconds=0.25)   # 120 bpm, 2 frames a beat
    assert main(["eval", str(run), "--data", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{"):])
    assert report["sequences"] == 2 and report["frames"] == sum(len(rolls.test[k]) - 1 for k in range(2))
    assert 0 < report["nll"] < 88 * np.log(2)
