"""The global forecaster: several --target columns or a --series-id panel, one model; its error paths,
a tiny training with per-series scores, and lstmkit forecast for any of its series."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lstmkit.cli import main
from lstmkit.tasks.forecast import ForecastConfig
from lstmkit.tasks.forecast.panel import GlobalForecastTask, load_panel

TINY = ["--window", "12", "--horizon", "3", "--hidden", "8", "--backend", "reference", "--eval-every", "2",
        "--log-every", "2", "--ensemble", "2", "--max-steps", "4", "--no-baselines"]


def wide_csv(path, n=90):
    rows = ["t,a,b"] + [f"{t},{10 + math.sin(t / 2):.4f},{100 + 5 * math.cos(t / 3) + t:.4f}" for t in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def panel_csv(path, lengths=(90, 80), dates=("monthly", "monthly")):
    rows = ["store,month,sales"]
    for k, (n, freq) in enumerate(zip(lengths, dates)):
        for t in range(n):
            when = f"{2000 + t // 12}-{t % 12 + 1:02d}" if freq == "monthly" else f"2000-01-{t % 28 + 1:02d}"
            rows.append(f"s{k},{when},{(k + 1) * 20 + math.sin(t / 2) + 0.1 * t:.4f}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_error_paths_name_what_was_expected(tmp_path, capsys):
    wide = wide_csv(tmp_path / "w.csv")
    with pytest.raises(ValueError, match=r"has no column 'zz'; its columns are 't', 'a', 'b'"):
        GlobalForecastTask(ForecastConfig(csv=str(wide), target=["a", "zz"], time="t"))
    with pytest.raises(ValueError, match=r"--series-id 'store' takes one --target column .* got 2: a, b"):
        ForecastConfig(csv=str(wide), target=["a", "b"], series_id="store").validate()
    with pytest.raises(ValueError, match=r"--target 'a' must be named once"):
        ForecastConfig(csv=str(wide), target=["a", "a"]).validate()
    with pytest.raises(ValueError, match=r"expected no --covariates with several --target"):
        ForecastConfig(csv=str(wide), target=["a"], covariates=["b"], series_id="t").validate()
    short = panel_csv(tmp_path / "short.csv", lengths=(90, 20))
    with pytest.raises(ValueError, match=r"series 's1': the series has 20 rows, too short"):
        GlobalForecastTask(ForecastConfig(csv=str(short), target=["sales"], series_id="store", time="month",
                                          window=12, horizon=3))
    mixed = panel_csv(tmp_path / "mixed.csv", dates=("monthly", "daily"))
    with pytest.raises(ValueError, match=r"series 's1' has daily time stamps, expected monthly ones like series 's0'"):
        GlobalForecastTask(ForecastConfig(csv=str(mixed), target=["sales"], series_id="store", time="month"))
    assert main(["train", "forecast", "--csv", str(short), "--target", "sales", "--series-id", "store",
                 "--out", str(tmp_path / "run"), *TINY]) == 2
    assert "series 's1'" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_each_series_is_prepared_on_its_own():
    wide = ForecastConfig(csv="", target=["a", "b"], window=12, horizon=3)
    from lstmkit.tasks.forecast.series import Series
    t = np.arange(90.0)
    ss = [Series((10 + np.sin(t / 2))[:, None], [str(i) for i in range(90)], ["a"], "a"),
          Series((1000 + 50 * np.cos(t / 3) + 10 * t)[:, None], [str(i) for i in range(90)], ["b"], "b")]
    wide.csv = "x.csv"
    task = GlobalForecastTask(wide, ss)
    a, b = task.parts["a"].prep, task.parts["b"].prep
    assert b.scale > 20 * a.scale                                  # each scaled in its own units
    assert float(task.train_y.abs().mean()) < 5                    # so the windows the model sees are alike
    assert len(task.train_x) == task.parts["a"].n_train_windows + task.parts["b"].n_train_windows


def test_tiny_global_training_scores_and_forecasts_every_series(tmp_path, capsys):
    p = panel_csv(tmp_path / "p.csv")
    run = tmp_path / "run"
    assert main(["train", "forecast", "--csv", str(p), "--target", "sales", "--series-id", "store", "--time",
                 "month", "--out", str(run), *TINY]) == 0
    report = json.loads((run / "holdout.json").read_text())
    assert report["global"] and list(report["series"]) == ["s0", "s1"] and report["checkpoint"] == "refit"
    for r in report["series"].values():
        assert r["lstm"]["mase"] > 0 and 0 <= r["lstm"]["coverage"] <= 1 and r["seasonal_naive"]["mase"] > 0
    assert report["summary"]["series"] == 2 and (run / "forecast-2.png").is_file()
    capsys.readouterr()
    assert main(["forecast", str(run), "--csv", str(p)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "series,step,time,q0.1,q0.5,q0.9" and len(lines) == 1 + 2 * 3
    assert [ln.split(",")[:3] for ln in lines[1:3]] == [["s0", "1", "2007-07"], ["s0", "2", "2007-08"]]
    assert main(["forecast", str(run), "--csv", str(p), "--series", "s1"]) == 0
    assert [ln.split(",")[0] for ln in capsys.readouterr().out.splitlines()[1:]] == ["s1"] * 3
    assert main(["forecast", str(run), "--csv", str(p), "--series", "s9"]) == 2
    assert "--series 's9': the run knows the series 's0', 's1'" in capsys.readouterr().err
    assert main(["eval", str(run), "--data", str(p)]) == 2
    assert "global run over 2 series" in capsys.readouterr().err


def test_several_target_columns_load_as_series(tmp_path):
    cfg = ForecastConfig(csv=str(wide_csv(tmp_path / "w.csv")), target=["a", "b"], time="t")
    assert [s.names for s in load_panel(cfg)] == [["a"], ["b"]] and cfg.is_global


def test_the_level_channel_is_blank_for_a_series_that_does_not_return_to_its_mean():
    from lstmkit.tasks.forecast.series import Series
    t, rng = np.arange(300.0), np.random.default_rng(0)
    ss = [Series((10 + rng.normal(size=300))[:, None], [str(i) for i in range(300)], ["a"], "a"),
          Series((1000 + 50 * np.cos(t / 3) + 10 * t)[:, None], [str(i) for i in range(300)], ["b"], "b")]
    task = GlobalForecastTask(ForecastConfig(csv="x.csv", target=["a", "b"], window=12, horizon=3), ss)
    a, b = task.parts["a"], task.parts["b"]
    assert task.level and not a.blank_level and b.blank_level and task.features == 2
    assert float(b.train.x[..., 1].abs().max()) == 0 and float(a.train.x[..., 1].abs().max()) > 0
