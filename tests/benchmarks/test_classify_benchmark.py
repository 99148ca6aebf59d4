"""The SST-2 benchmark script is wired correctly (it is timed by hand, not here): on a toy copy of the data
it trains the recipe (with --set overrides), writes its curve with the members' accuracies, and scores a
--test file with the kept checkpoint."""

from __future__ import annotations

from helpers import load_benchmark


def test_recipe_runs_writes_the_curve_and_scores_a_test_file(tmp_path, monkeypatch):
    bench = load_benchmark("classify_sst2")
    rows = ["label\tsentence"] + [f"1\ta {w} film" for w in ("fine", "great", "moving")] * 4 + \
           [f"0\ta {w} film" for w in ("dull", "bad", "tired")] * 4
    for part in ("train", "dev", "test"):
        (tmp_path / f"{part}.tsv").write_text("\n".join(rows) + "\n")
    written = {}
    monkeypatch.setattr(bench, "write_result", lambda name, data: written.update({name: data}) or tmp_path / name)
    bench.main(["--minutes", "5", "--data", str(tmp_path), "--test", str(tmp_path / "test.tsv"), "--no-baselines",
                "--runs", str(tmp_path / "runs"), "--name", "t", "--set", "max_steps=6", "--set", "eval_every=3",
                "--set", "members=2", "--set", "hidden=8", "--set", "embed=4"])
    out = written["classify_sst2_5m_t"]["lstmkit_classifier"]
    assert out["steps"] == 6 and [p["step"] for p in out["curve"]] == [3, 6]
    assert all(0 <= p["member_accuracy"] <= 1 for p in out["curve"])
    assert out["test"]["sentences"] == 24 and len(out["test"]["member_accuracy"]) == 2
    assert out["config"]["members"] == 2 and out["config"]["text_column"] == "sentence"
