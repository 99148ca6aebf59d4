"""The forecaster's preparation and calibration: season inferred from dates, Box-Cox choice, the seasonal
component, conformal factors, the one-pass rolling baselines and the fast long-season ones."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.cli import main
from lstmkit.tasks.forecast import ForecastConfig, Forecaster, Prep, apply_factors, conformal_factors, infer_season
from lstmkit.tasks.forecast.baselines import arima_forecasts, ets_forecasts
from lstmkit.tasks.forecast.prep import calendar_of, choose_lambda, extend_phases, phases


def _days(n, start="2001-01-01"):
    return [f"{d:%Y-%m-%d}" for d in pd.date_range(start, periods=n, freq="D")]


def test_season_is_inferred_from_the_dates():
    t = np.arange(1100)
    rng = np.random.default_rng(0)
    yearly = 10 + 5 * np.sin(2 * np.pi * t / 365.25) + rng.normal(0, 0.5, len(t))
    weekly = 10 + 2 * (t % 7 >= 5) + np.cumsum(rng.normal(0, 0.3, len(t)))
    assert infer_season(yearly, _days(1100)) == (365, "daily")
    assert infer_season(weekly, _days(1100)) == (7, "daily")
    months = [f"{1949 + m // 12}-{m % 12 + 1:02d}" for m in range(60)]
    assert infer_season(np.ones(60), months) == (12, "monthly")
    quarters = [f"{2000 + q // 4}-{3 * (q % 4) + 1:02d}-01" for q in range(40)]
    assert infer_season(np.ones(40), quarters) == (4, "quarterly")
    assert calendar_of([str(y) for y in range(1700, 1800)]) == ("", ())       # plain numbers: no calendar
    assert infer_season(np.ones(100), [str(y) for y in range(1700, 1800)]) == (1, "")


def test_phases_follow_the_calendar_across_files():
    months = [f"1950-{m:02d}" for m in range(3, 13)]
    assert phases(months, 12, "monthly").tolist() == list(range(2, 12))
    day = phases(_days(3, "2001-07-02"), 365, "daily")
    assert 180 < day[0] < 183 and np.allclose(np.diff(day), 365 / 365.2425)
    np.testing.assert_allclose(extend_phases(np.array([10.0, 11.0]), 2, 12), [10, 11, 0, 1])
    assert phases(["1990", "1991"], 11, "").tolist() == [1990 % 11, 1991 % 11]   # numeric: time / step


def test_transform_choice_and_the_seasonal_component():
    t = np.arange(144.0)
    mult = 100 * np.exp(0.01 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12))
    assert choose_lambda(mult, 12) == 0.0
    assert choose_lambda(mult - mult.min(), 12) in (0.5, 1.0)                  # a zero: no log
    assert choose_lambda(np.sin(t) * 5, 12) == 1.0                              # negative values: none
    p = Prep.fit(mult, t % 12, 12, 12)
    d = p.forward(mult, t % 12)
    assert p.season_coef and p.strength > 0.9
    assert np.std(np.diff(d)) < 0.1 * np.std(np.diff(np.log(mult)))            # the season is gone
    noise = np.random.default_rng(0).normal(size=144)
    assert not Prep.fit(noise, t % 12, 12, 12).season_coef                      # no season: none removed
    with pytest.raises(ValueError, match=r"--transform log needs a positive series, got a minimum of -"):
        Prep.fit(noise, t % 12, 12, 12, transform="log")
    assert Prep.from_json(json.loads(json.dumps(p.to_json()))) == p


def test_conformal_factors_make_intervals_cover_their_nominal_share():
    rng = np.random.default_rng(1)
    y = rng.standard_t(4, size=(3000, 6)) * np.arange(1, 7)                     # spread grows with the step
    raw = np.stack([-0.3 * np.arange(1, 7), np.zeros(6), 0.3 * np.arange(1, 7)], -1)  # far too narrow
    pred = np.broadcast_to(raw, (3000, 6, 3))
    f = conformal_factors(pred[:1500], y[:1500], [0.1, 0.5, 0.9], 1)
    cal = apply_factors(pred[1500:], f, 1)
    inside = (y[1500:] >= cal[..., 0]) & (y[1500:] <= cal[..., 2])
    assert f[1] == 1.0 and f[0] > 3 and f[2] > 3
    assert 0.77 < inside.mean() < 0.83
    below = (y[1500:] < cal[..., 0]).mean()
    assert 0.07 < below < 0.13
    with pytest.raises(ValueError, match=r"must agree on N, H: got \(3, 6, 3\) and \(2, 6\)"):
        conformal_factors(pred[:3], y[:2], [0.1, 0.5, 0.9], 1)


def test_ensemble_members_take_one_batch_each():
    cfg = ForecastConfig(window=8, horizon=3, hidden=4, ensemble=3, backend="reference")
    model = Forecaster(2, cfg)
    assert model.members(torch.randn(3, 5, 8, 2)).shape == (3, 5, 3, 3)
    with pytest.raises(ValueError, match=r"x.size\(0\) must be 3 \(ensemble members\) for a 4-d input, got 2"):
        model.members(torch.randn(2, 5, 8, 2))


def test_rolling_baselines_equal_refitting_from_each_origin():
    import statsmodels.api as sm

    t = np.arange(80.0)
    y = 5 + 0.1 * t + np.sin(2 * np.pi * t / 4) + np.random.default_rng(0).normal(0, 0.1, 80)
    origins = np.arange(60, 69)
    fast = arima_forecasts(y, 60, origins, 3, 4)["pred"]
    res = sm.tsa.SARIMAX(y[:60], order=(1, 1, 1), seasonal_order=(0, 1, 1, 4)).fit(disp=False)
    slow = np.stack([res.apply(y[:o]).forecast(3) for o in origins])
    np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=1e-8)


def test_long_season_baselines_stay_fast():
    t = np.arange(1200)
    y = 10 + 4 * np.cos(2 * np.pi * t / 365.25) + np.random.default_rng(0).normal(0, 1, len(t))
    origins = np.arange(1000, 1189)
    for fn in (arima_forecasts, ets_forecasts):
        t0 = time.perf_counter()
        out = fn(y, 1000, origins, 12, 365)
        assert time.perf_counter() - t0 < 20, out["model"]
        assert "Fourier" in out["model"] and np.abs(out["pred"] - y[origins[:, None] + np.arange(12)]).mean() < 1.2


def test_defaults_infer_season_transform_and_calibrate(tmp_path, capsys):
    t = np.arange(120)
    y = 100 * np.exp(0.01 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12))
    rows = [f"{1950 + m // 12}-{m % 12 + 1:02d},{v:.4f}" for m, v in zip(t, y)]
    (tmp_path / "s.csv").write_text("month,y\n" + "\n".join(rows) + "\n")
    run = tmp_path / "run"
    assert main(["train", "forecast", "--csv", str(tmp_path / "s.csv"), "--target", "y", "--time", "month",
                 "--horizon", "3", "--hidden", "4", "--ensemble", "2", "--max-steps", "3", "--eval-every", "3",
                 "--backend", "reference", "--no-baselines", "--out", str(run)]) == 0
    report = json.loads((run / "holdout.json").read_text())
    cfg = json.loads((run / "config.json").read_text())
    assert report["period"] == 12 and report["window"] == 24 and cfg["window"] == 24
    assert report["preparation"].startswith("transform log; Fourier seasonal component, period 12")
    cal = json.loads((run / "calibration.json").read_text())
    assert len(cal["factors"]) == 3 and "coverage_uncalibrated" in report["lstm"]
    capsys.readouterr()
    assert main(["forecast", str(run), "--csv", str(tmp_path / "s.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(",")[1] for ln in lines[1:]] == ["1960-01", "1960-02", "1960-03"]


def test_an_interval_gets_one_factor_so_a_tilted_validation_does_not_tilt_it():
    y = np.random.default_rng(2).normal(1.0, 1.0, size=(2000, 1))              # validation runs above the model
    pred = np.broadcast_to(np.array([-1.28, 0.0, 1.28]), (2000, 1, 3))
    f = conformal_factors(pred, y, [0.1, 0.5, 0.9], 1)
    assert f[0] == f[2] and 1.3 < f[0] < 1.8
    lone = conformal_factors(pred[..., 1:], y, [0.5, 0.9], 0)                   # no mirror: its own side
    assert lone[0] == 1.0 and lone[1] > 1.3


def test_a_time_budget_lifts_the_step_limit_and_early_stopping_ends_the_run():
    from lstmkit.tasks.forecast import ForecastTask
    timed = ForecastTask(ForecastConfig(dataset="sunspots", max_time=60)).config
    assert (timed.max_steps, timed.decay_steps, timed.patience) == (100_000, 1500, 8)
    capped = ForecastTask(ForecastConfig(dataset="sunspots", max_time=60, max_steps=300)).config
    assert (capped.max_steps, capped.decay_steps) == (300, 0)
    assert ForecastTask(ForecastConfig(dataset="sunspots")).config.max_steps == 1500


@pytest.mark.parametrize("refit", [True, False])
def test_the_refit_is_what_the_hold_out_and_forecasts_use(tmp_path, refit):
    from lstmkit.tasks.forecast import train
    from lstmkit.tasks.forecast.jobs import load_model
    cfg = ForecastConfig(dataset="sunspots", window=22, horizon=5, hidden=8, ensemble=2, max_steps=6, eval_every=3,
                         log_every=3, baselines=False, backend="reference", refit=refit)
    train(cfg, tmp_path / "run", stream=open("/dev/null", "w"))
    report = json.loads((tmp_path / "run" / "holdout.json").read_text())
    cal = json.loads((tmp_path / "run" / "calibration.json").read_text())
    assert report["checkpoint"] == ("refit" if refit else "best") and ("refit" in report) == refit
    assert load_model(tmp_path / "run")[3] == report["checkpoint"] and report["checkpoint"] in cal["applies_to"]
    if refit:                                    # as many passes as the best step had, over more windows
        assert report["refit"]["steps"] > report["refit"]["from_best_step"]
        assert "factors" in load_model(tmp_path / "run")[2]
