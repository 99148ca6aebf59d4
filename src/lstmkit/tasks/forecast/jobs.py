"""What the forecast commands do, callable from Python: train (then score the hold-out against the
baselines), load a run, forecast new data, evaluate a run on a CSV file."""

from __future__ import annotations

import json
import pathlib
import sys
import time
from typing import IO, Optional

import numpy as np

from ...train import CheckpointError, RunDir, TrainResult
from ...train.atomic import write_json
from ..runs import absolute_paths, fit_run, open_checkpoint
from .baselines import arima_forecasts, coverage, ets_forecasts, mase_scale, scores, seasonal_naive
from .calibrate import apply_factors, conformal_factors
from .config import ForecastConfig
from .model import Forecaster
from .plot import plot_forecasts
from .prep import Prep, phases
from .series import Series
from .task import ForecastTask, predict_units
from .windows import Scaler, encode, make_windows

__all__ = ["train", "resume", "load_model", "holdout_report", "score_series", "score_windows", "calibration",
           "encoded_for_run"]


def train(cfg: ForecastConfig, out: Optional[str | pathlib.Path] = None, stream: Optional[IO] = None) -> TrainResult:
    """Train a new run into ``out`` (default ``runs/forecast-<timestamp>``), then score the test part with the
    best checkpoint against the baselines: ``RUN_DIR/holdout.json`` and ``RUN_DIR/forecast.png``. The series
    is read and checked before the folder is made, so bad input leaves nothing behind.

    Example::

        >>> import tempfile
        >>> from lstmkit.tasks.forecast import ForecastConfig, train
        >>> cfg = ForecastConfig(dataset="sunspots", window=22, horizon=5, hidden=8, max_steps=4, eval_every=2,
        ...                      baselines=False)
        >>> train(cfg, tempfile.mkdtemp() + "/run", stream=open("/dev/null", "w")).step
        4
    """
    task = ForecastTask(absolute_paths(cfg, ("csv",)))
    return fit_run(task, out, stream=stream, then=_final_report)[0]


def resume(run_path: str | pathlib.Path, cfg: ForecastConfig, stream: Optional[IO] = None) -> TrainResult:
    """Continue run ``run_path`` exactly from its ``last`` checkpoint (a relative --csv naming the run's file
    is the same file)."""
    task = ForecastTask(absolute_paths(cfg, ("csv",)))
    return fit_run(task, resume=run_path, stream=stream, then=_final_report)[0]


def load_model(run_path: str | pathlib.Path, checkpoint: str = "auto") -> tuple[Forecaster, ForecastConfig, dict, str]:
    """``(model in eval mode, config, checkpoint metadata, checkpoint name)`` of a forecast run; the
    metadata carries the run's calibration factors (``factors``, from ``calibration.json``) when it has
    them."""
    cfg, state, checkpoint = open_checkpoint(run_path, ForecastConfig, checkpoint)
    try:
        meta = state["meta"]
        if "prep" not in meta:
            raise KeyError("prep (the run was made by an older lstmkit; train it again)")
        model = Forecaster(meta["features"], cfg)
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {checkpoint} of {run_path} does not match the run's "
                              f"config.json: {str(e).splitlines()[0]}") from None
    cal = pathlib.Path(run_path) / "calibration.json"
    if cfg.calibrate and cal.is_file():
        data = json.loads(cal.read_text())
        if data.get("checkpoint") == checkpoint:
            meta = {**meta, "factors": data["factors"]}
    return model.eval(), cfg, meta, checkpoint


def encoded_for_run(cfg: ForecastConfig, meta: dict, series: Series):
    """New data as a run's model reads it: its preparation, its covariate scaling, phases from the times."""
    prep = Prep.from_json(meta["prep"])
    phase = phases(series.times, prep.period, prep.calendar)
    return prep, encode(series.values, phase, prep, Scaler.from_json(meta["covariates"]), cfg.horizon)


def score_windows(model: Forecaster, cfg: ForecastConfig, prep: Prep, w, scale: float, factors=None) -> dict:
    """The model's forecasts of windows ``w`` and its scores (median: MAE/RMSE/MASE; the interval's
    coverage, calibrated with ``factors`` when given, and before calibration)."""
    units = predict_units(model, w)                                                  # (N, H, Q)
    raw = w.to_raw(units, prep)
    pred = w.to_raw(apply_factors(units, factors, cfg.median_index), prep) if factors else raw
    res = scores(pred[..., cfg.median_index], w.truth, scale)
    res["interval"] = f"{cfg.quantiles[0]:g}-{cfg.quantiles[-1]:g}"
    res["coverage"] = coverage(pred[..., 0], pred[..., -1], w.truth)
    if factors:
        res["coverage_uncalibrated"] = coverage(raw[..., 0], raw[..., -1], w.truth)
    return {"scores": res, "pred": pred, "truth": w.truth}


def score_series(model: Forecaster, cfg: ForecastConfig, meta: dict, series: Series, origins, scale: float) -> dict:
    """:func:`score_windows` from ``origins`` of a series new to the run."""
    prep, enc = encoded_for_run(cfg, meta, series)
    w = make_windows(enc, origins, cfg.window, cfg.horizon, prep, meta["level"])
    return score_windows(model, cfg, prep, w, scale, meta.get("factors"))


def calibration(task: ForecastTask, model: Forecaster) -> list[float]:
    """Conformal factors of the quantiles (:func:`~.calibrate.conformal_factors`) on the validation part."""
    w = task.val
    ok = ~np.isnan(w.truth)
    return conformal_factors(predict_units(model, w), w.y.double().numpy(), task.config.quantiles,
                             task.config.median_index, ok)


def holdout_report(task: ForecastTask, model: Forecaster, baselines: bool = True, factors=None) -> tuple[dict, np.ndarray]:
    """Scores on the test part (every origin whose horizon fits) of the model, seasonal-naive and, with
    ``baselines``, ARIMA and ETS fitted on everything before the test part; and the model's forecasts."""
    cfg, split, y = task.config, task.split, task.series.target
    origins = np.arange(split.val_end, split.n - cfg.horizon + 1)
    m = cfg.period
    scale = mase_scale(y[: split.val_end], m)
    mine = score_windows(model, cfg, task.prep, task.windows_at(origins), scale, factors)
    truth = mine["truth"]
    report = {"series": task.series.source, "rows": split.n, "test_rows": split.n - split.val_end,
              "origins": len(origins), "horizon": cfg.horizon, "window": cfg.window, "period": m,
              "decoder": cfg.decoder, "ensemble": cfg.ensemble, "preparation": task.prep.describe(),
              "level_input": task.level, "mase_scale": scale, "lstm": mine["scores"],
              "seasonal_naive": scores(seasonal_naive(y, origins, cfg.horizon, m), truth, scale)}
    if baselines:
        for name, fn in (("arima", lambda: arima_forecasts(y, split.val_end, origins, cfg.horizon, m,
                                                           "" if cfg.csv else cfg.dataset)),
                         ("ets", lambda: ets_forecasts(y, split.val_end, origins, cfg.horizon, m))):
            t0 = time.perf_counter()
            out = fn()
            report[name] = {**scores(out["pred"], truth, scale), "model": out["model"],
                            "seconds": round(time.perf_counter() - t0, 2)}
    return report, mine["pred"]


def _final_report(task: ForecastTask, run: RunDir, cfg: ForecastConfig, stream: Optional[IO]) -> None:
    model, _, _, which = load_model(run.path)
    factors = None
    if cfg.calibrate:
        factors = calibration(task, model)
        write_json(run.path / "calibration.json", {"checkpoint": which, "quantiles": cfg.quantiles,
                                                   "factors": factors, "validation_origins": len(task.val.origins)})
    report, pred = holdout_report(task, model, cfg.baselines, factors)
    report["checkpoint"] = which
    if factors:
        report["calibration_factors"] = factors
    origins = np.arange(task.split.val_end, task.split.n - cfg.horizon + 1)
    plot_forecasts(run.path / "forecast.png", task.series.target, origins, pred,
                   f"{task.series.source}: {cfg.decoder} forecasts of {cfg.horizon} steps on the hold-out",
                   cfg.quantiles)
    write_json(run.path / "holdout.json", report)
    print(format_report(report), file=stream or sys.stdout)
    print(f"wrote {run.path / 'holdout.json'} and {run.path / 'forecast.png'}", file=stream or sys.stdout)


def format_report(report: dict) -> str:
    """The scores as a small table."""
    lines = [f"hold-out: {report['origins']} origins x {report['horizon']} steps (period {report['period']})",
             f"  {'model':<16}{'MAE':>10}{'RMSE':>10}{'MASE':>8}"]
    for name in ("lstm", "seasonal_naive", "arima", "ets"):
        if name in report:
            r = report[name]
            mase = "n/a" if r["mase"] is None else f"{r['mase']:.3f}"
            lines.append(f"  {name:<16}{r['mae']:>10.4g}{r['rmse']:>10.4g}{mase:>8}")
    lstm = report["lstm"]
    before = (f" ({lstm['coverage_uncalibrated']:.1%} before calibration on the validation part)"
              if "coverage_uncalibrated" in lstm else "")
    lines.append(f"  {lstm['interval']} interval covers {lstm['coverage']:.1%} of the true values{before}")
    if "preparation" in report:
        lines.append(f"  model: {report['ensemble']} LSTMs, window {report['window']}; {report['preparation']}")
    for name in ("arima", "ets"):
        if name in report:
            lines.append(f"  {name}: {report[name]['model']} ({report[name]['seconds']:.1f}s)")
    if lstm["mase"] is None:
        lines.append("  MASE n/a: the seasonal-naive forecast of the history before the hold-out was exact "
                     "(a constant series), so MASE's scale is 0")
    return "\n".join(lines)


def series_for_run(cfg: ForecastConfig, meta: dict, csv_path: str, target: str = "", time_col: Optional[str] = None,
                   missing: Optional[str] = None, non_numeric: Optional[str] = None) -> Series:
    """New data for a run: the run's columns (or ``target``) from ``csv_path``, with the run's policies."""
    from .series import read_csv_series

    names = meta["names"]
    return read_csv_series(csv_path, target or names[0], cfg.time if time_col is None else time_col, names[1:],
                           missing or cfg.missing, non_numeric or cfg.non_numeric)
