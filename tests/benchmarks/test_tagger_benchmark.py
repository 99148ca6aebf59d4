"""benchmarks/tagger_ewt.py is wired correctly (it is timed by hand, not here): a step budget trains with
the cosine decay over the steps and writes its curve."""

from __future__ import annotations

import importlib.util
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROWS = [("The", "DET", "DT"), ("dog", "NOUN", "NN"), ("barks", "VERB", "VBZ"), (".", "PUNCT", ".")]


def test_step_budget_runs_and_writes_the_curve(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("tagger_ewt", ROOT / "benchmarks" / "tagger_ewt.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    text = "".join(f"# sent_id = s-{k}\n" + "".join(f"{i}\t{w}\t{w.lower()}\t{u}\t{x}\t_\t0\tdep\t_\t_\n"
                                                     for i, (w, u, x) in enumerate(ROWS, 1)) + "\n"
                   for k in range(8))
    for part in ("train", "dev"):
        (tmp_path / f"en_ewt-ud-{part}.conllu").write_text(text)
    written = {}
    monkeypatch.setattr(bench, "write_result", lambda name, data: written.update({name: data}) or tmp_path / name)
    bench.main(["--steps", "6", "--data", str(tmp_path), "--runs", str(tmp_path / "runs"), "--name", "t",
                "--set", "eval_every=3", "--set", "hidden=8", "--set", "char_hidden=4", "--set", "word_dim=4"])
    out = written["tagger_ewt_6steps_t"]
    assert out["steps"] == 6 and [p["step"] for p in out["curve"]] == [3, 6]
    assert out["config"]["decay_by"] == "steps" and out["config"]["max_steps"] == 6
    assert json.loads((tmp_path / "runs" / "tagger_ewt_6steps_t" / "config.json").read_text())["hidden"] == 8
