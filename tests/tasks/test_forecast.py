"""The forecaster: CSV input and its policies, splits and normalisation, windows, losses, baselines,
training and the commands, bad input leaving nothing behind."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
import torch

from lstmkit.cli import main
from lstmkit.tasks.forecast import (ForecastConfig, Forecaster, ForecastTask, Prep, Scaler, Series, arima_forecasts,
                                    encode, ets_forecasts, make_windows, mase_scale, pinball_loss, read_csv_series,
                                    scores, seasonal_naive, split_series)
from lstmkit.tasks.forecast.series import need_statsmodels


def write_csv(path, n=120, covariate=True):
    rows = ["t,y,x"] if covariate else ["t,y"]
    for t in range(n):
        y = 10 + math.sin(2 * math.pi * t / 12) + 0.05 * t
        rows.append(f"{t},{y:.5f},{math.cos(t / 5):.4f}" if covariate else f"{t},{y:.5f}")
    path.write_text("\n".join(rows) + "\n")
    return path


TINY = ["--window", "12", "--horizon", "3", "--hidden", "8", "--backend", "reference", "--eval-every", "5",
        "--log-every", "5", "--ensemble", "2"]


# ------------------------------------------------------------------------------------------- input
def test_csv_missing_column_lists_the_columns(tmp_path):
    p = write_csv(tmp_path / "s.csv", 5)
    with pytest.raises(ValueError, match=r"has no column 'sales'; its columns are 't', 'y', 'x'"):
        read_csv_series(p, "sales")


def test_non_numeric_and_missing_cells_error_by_default_with_the_line(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("t,y\n0,1.0\n1,oops\n2,\n3,4.0\n")
    with pytest.raises(ValueError, match=r"s.csv, line 3: column 'y' holds 'oops', expected a number"):
        read_csv_series(p, "y")
    with pytest.raises(ValueError, match=r"line 3: column 'y' is empty or NA, expected a value \(2 missing in all"):
        read_csv_series(p, "y", non_numeric="missing")
    s = read_csv_series(p, "y", "t", non_numeric="missing", missing="interpolate")
    assert s.target.tolist() == [1.0, 2.0, 3.0, 4.0] and s.times == ["0", "1", "2", "3"]
    assert read_csv_series(p, "y", non_numeric="missing", missing="ffill").target.tolist() == [1, 1, 1, 4]
    assert read_csv_series(p, "y", non_numeric="missing", missing="drop").target.tolist() == [1, 4]


def test_empty_inputs(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="is empty; expected a header row"):
        read_csv_series(tmp_path / "empty.csv", "y")
    (tmp_path / "header.csv").write_text("t,y\n")
    with pytest.raises(ValueError, match="has a header but no data rows"):
        read_csv_series(tmp_path / "header.csv", "y")


def test_too_short_series_is_refused_before_any_run_folder(tmp_path, capsys):
    p = write_csv(tmp_path / "s.csv", 20)
    out = tmp_path / "run"
    assert main(["train", "forecast", "--csv", str(p), "--target", "y", "--out", str(out), *TINY]) == 2
    assert "too short" in capsys.readouterr().err and not out.exists()
    with pytest.raises(ValueError, match=r"window \+ horizon = 30"):
        split_series(30, 24, 6, 0.1, 0.15)


def test_missing_column_and_bad_cells_leave_no_run_folder(tmp_path, capsys):
    p = write_csv(tmp_path / "s.csv", 100)
    assert main(["train", "forecast", "--csv", str(p), "--target", "z", "--out", str(tmp_path / "a")]) == 2
    assert "no column 'z'" in capsys.readouterr().err
    text = p.read_text().splitlines()
    text[50] = "49,NA,0.1"
    (tmp_path / "gap.csv").write_text("\n".join(text) + "\n")
    assert main(["train", "forecast", "--csv", str(tmp_path / "gap.csv"), "--target", "y",
                 "--out", str(tmp_path / "b")]) == 2
    assert "line 51: column 'y' is empty or NA" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# ------------------------------------------------------------------------------------------- pieces
def test_preparation_is_fitted_before_the_hold_out_only():
    values = np.concatenate([np.ones(80), np.full(16, 500.0), np.full(24, 1000.0)])[:, None]
    values[:80:2] = 3.0
    cfg = ForecastConfig(csv="given", target="y", window=8, horizon=2, val_fraction=0.15, test_fraction=0.2)
    task = ForecastTask(cfg, Series(values, [str(i) for i in range(120)], ["y"], "test"))
    assert task.split.train_end == 78 and task.split.val_end == 96
    assert task.prep.lam == 1.0 and task.prep.level == pytest.approx(values[:96, 0].mean())
    assert task.prep.spread == pytest.approx(values[:96, 0].std())


def test_windows_round_trip_to_raw_units():
    rng = np.random.default_rng(0)
    values = np.exp(np.cumsum(rng.normal(size=(50, 2)) * 0.1, axis=0))
    phase = np.arange(50.0) % 4
    for transform in ("none", "log"):
        prep = Prep.fit(values[:30, 0], phase[:30], period=4, horizon=4, transform=transform, deseasonalise="on")
        enc = encode(values, phase, prep, Scaler.fit(values[:30, 1:]), horizon=4)
        w = make_windows(enc, [10, 20, 48], window=6, horizon=4, prep=prep, level=True)
        raw = w.to_raw(w.y.double().numpy(), prep)
        ok = ~np.isnan(w.truth)
        np.testing.assert_allclose(raw[ok], w.truth[ok], rtol=1e-5, atol=1e-4)
        assert np.isnan(w.truth[2, 2:]).all()                         # past the end of the series
        assert w.x.shape == (3, 6, 5)                                 # change, level, cos, sin, covariate
        np.testing.assert_allclose(w.x[0, :, 4].numpy(), (values[4:10, 1] - values[:30, 1].mean())
                                   / values[:30, 1].std(), rtol=1e-5)


def test_pinball_loss_is_minimised_by_the_quantile():
    y = torch.randn(2000, generator=torch.Generator().manual_seed(0))
    qs = torch.tensor([0.1, 0.5, 0.9])
    pred = torch.zeros(3, requires_grad=True)
    opt = torch.optim.Adam([pred], lr=0.05)
    for _ in range(400):
        loss = pinball_loss(pred.expand(2000, 1, 3), y[:, None], qs)
        opt.zero_grad()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(pred.detach().numpy(), torch.quantile(y, qs).numpy(), atol=0.05)


def test_autoregressive_decoder_first_step_agrees_between_teacher_forcing_and_free_running():
    torch.manual_seed(0)
    cfg = ForecastConfig(window=10, horizon=4, hidden=8, decoder="autoregressive", backend="reference", ensemble=1)
    model = Forecaster(3, cfg).eval()
    x, y = torch.randn(5, 10, 3), torch.randn(5, 4)
    free, forced = model(x), model(x, y)
    assert free.shape == forced.shape == (5, 4, 3)
    torch.testing.assert_close(free[:, 0], forced[:, 0])
    forced_on_own = model(x, free[:, :, cfg.median_index])            # feeding its own medians back
    torch.testing.assert_close(free, forced_on_own, rtol=1e-5, atol=1e-6)


def test_seasonal_naive_mase_and_scores():
    y = np.arange(30.0) % 6
    pred = seasonal_naive(y, [12, 13], horizon=8, period=6)
    np.testing.assert_array_equal(pred, np.stack([y[12:20], y[13:21]]))   # a perfect season repeats exactly
    assert mase_scale(np.array([0.0, 1.0, 3.0]), 1) == 1.5
    assert scores(np.zeros((1, 2)), np.array([[3.0, np.nan]]), 1.5) == {"mae": 3.0, "rmse": 3.0, "mase": 2.0}


def test_statsmodels_baselines_forecast_every_origin():
    t = np.arange(60.0)
    y = 5 + 0.1 * t + np.sin(2 * np.pi * t / 4)
    origins = np.arange(50, 56)
    for out in (arima_forecasts(y, 50, origins, 3, 4), ets_forecasts(y, 50, origins, 3, 4)):
        truth = np.stack([y[o:o + 3] for o in origins])
        assert out["pred"].shape == (6, 3)
        assert np.abs(out["pred"] - truth).mean() < 0.2, out["model"]


def test_missing_statsmodels_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsmodels", None)
    monkeypatch.setitem(sys.modules, "statsmodels.api", None)
    with pytest.raises(ImportError, match=r"pip install 'lstmkit\[forecast\]'"):
        need_statsmodels("the ARIMA baseline")


# ------------------------------------------------------------------------------------------- end to end
def test_model_beats_seasonal_naive_on_a_seasonal_trend(tmp_path):
    p = write_csv(tmp_path / "s.csv", 160, covariate=False)
    cfg = ForecastConfig(csv=str(p), target="y", window=12, horizon=3, hidden=16, max_steps=150, eval_every=50,
                         log_every=50, lr=1e-2, warmup_steps=10, backend="reference", season=12, baselines=False,
                         ensemble=2)
    from lstmkit.tasks.forecast import train
    train(cfg, tmp_path / "run", stream=open("/dev/null", "w"))
    report = json.loads((tmp_path / "run" / "holdout.json").read_text())
    assert report["seasonal_naive"]["mase"] == pytest.approx(1.0)    # the trend: 12 x 0.05 per season
    assert report["lstm"]["mase"] < 0.3, report
    assert (tmp_path / "run" / "forecast.png").stat().st_size > 1000


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_train_forecast_and_eval_commands(tmp_path, capsys, decoder):
    p = write_csv(tmp_path / "s.csv", 100)
    run = tmp_path / "run"
    assert main(["train", "forecast", "--csv", str(p), "--target", "y", "--time", "t", "--covariates", "x",
                 "--decoder", decoder, "--max-steps", "5", "--season", "12", "--no-baselines", "--out", str(run),
                 *TINY]) == 0
    report = json.loads((run / "holdout.json").read_text())
    assert report["lstm"]["interval"] == "0.1-0.9" and 0 <= report["lstm"]["coverage"] <= 1
    capsys.readouterr()
    assert main(["forecast", str(run), "--csv", str(p)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "step,time,q0.1,q0.5,q0.9" and [ln.split(",")[1] for ln in lines[1:]] == ["100", "101", "102"]
    assert main(["forecast", str(run), "--csv", str(p), "--out", str(tmp_path / "f.csv"),
                 "--plot", str(tmp_path / "f.png")]) == 0
    assert (tmp_path / "f.csv").read_text().splitlines()[0] == lines[0] and (tmp_path / "f.png").is_file()
    assert main(["eval", str(run), "--data", str(p), "--out", str(tmp_path / "ev"), "--json"]) == 0
    assert (tmp_path / "ev" / "forecast.png").is_file()
    assert main(["forecast", str(run), "--csv", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "g.csv")]) == 2
    assert not (tmp_path / "g.csv").exists()
