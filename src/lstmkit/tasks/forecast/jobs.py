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
from ...train.checkpoint import checkpoint_step, load_checkpoint, save_checkpoint
from ...train.atomic import write_json
from ...train.config import config_to_dict
from ..runs import absolute_paths, fit_run, open_checkpoint
from .baselines import arima_forecasts, coverage, ets_forecasts, mase_scale, scores, seasonal_naive
from .calibrate import apply_factors, conformal_factors
from .config import ForecastConfig
from .model import Forecaster
from .plot import plot_forecasts
from .prep import Prep, phases
from .refit import refit_model, refit_steps
from .series import Series
from .task import ForecastTask, predict_units
from .windows import Scaler, encode, make_windows

__all__ = ["train", "resume", "make_task", "global_summary", "load_model", "holdout_report", "score_series", "score_windows", "calibration",
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
    task = make_task(absolute_paths(cfg, ("csv",)))
    return fit_run(task, out, stream=stream, then=_final_report)[0]


def make_task(cfg: ForecastConfig):
    """The task a config describes: one series (:class:`ForecastTask`) or several (:class:`GlobalForecastTask`)."""
    from .panel import GlobalForecastTask

    cfg.validate()
    return GlobalForecastTask(cfg) if cfg.is_global else ForecastTask(cfg)


def resume(run_path: str | pathlib.Path, cfg: ForecastConfig, stream: Optional[IO] = None) -> TrainResult:
    """Continue run ``run_path`` exactly from its ``last`` checkpoint (a relative --csv naming the run's file
    is the same file)."""
    task = make_task(absolute_paths(cfg, ("csv",)))
    return fit_run(task, resume=run_path, stream=stream, then=_final_report)[0]


def load_model(run_path: str | pathlib.Path, checkpoint: str = "auto") -> tuple[Forecaster, ForecastConfig, dict, str]:
    """``(model in eval mode, config, checkpoint metadata, checkpoint name)`` of a forecast run; ``auto`` is
    the refitted model (``refit``) when the run has one, else ``best`` (else ``last``); ``fit`` skips the refit. The metadata carries
    the run's calibration factors (``factors``, from ``calibration.json``) when they belong to that
    checkpoint."""
    if checkpoint in ("auto", "refit") and (pathlib.Path(run_path) / "checkpoints" / "refit.json").exists():
        run = RunDir.open(run_path)
        cfg, state, checkpoint = run.config(ForecastConfig), load_checkpoint(run.checkpoints, "refit")["state"], "refit"
    else:
        cfg, state, checkpoint = open_checkpoint(run_path, ForecastConfig,
                                                 "auto" if checkpoint in ("refit", "fit") else checkpoint)
    try:
        meta = state["meta"]
        if "prep" not in meta and "parts" not in meta:
            raise KeyError("prep (the run was made by an older lstmkit; train it again)")
        model = Forecaster(meta["features"], cfg, 1 + int(meta["level"]))
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {checkpoint} of {run_path} does not match the run's "
                              f"config.json: {str(e).splitlines()[0]}") from None
    cal = pathlib.Path(run_path) / "calibration.json"
    if cfg.calibrate and cal.is_file():
        data = json.loads(cal.read_text())
        if checkpoint in data.get("applies_to", [data.get("checkpoint")]):
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
    w = make_windows(enc, origins, cfg.window, cfg.horizon, prep, meta["level"], meta.get("blank_level", False))
    return score_windows(model, cfg, prep, w, scale, meta.get("factors"))


def calibration(task, model: Forecaster) -> list[float]:
    """Conformal factors of the quantiles (:func:`~.calibrate.conformal_factors`) on the validation part (of
    every series, pooled, for a global task)."""
    vals = [p.val for p in task.parts.values()] if hasattr(task, "parts") else [task.val]
    pred = np.concatenate([predict_units(model, w) for w in vals])                 # (N, H, Q)
    y = np.concatenate([w.y.double().numpy() for w in vals])                       # (N, H)
    ok = np.concatenate([~np.isnan(w.truth) for w in vals])
    return conformal_factors(pred, y, task.config.quantiles, task.config.median_index, ok)


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


def _refit(task, run: RunDir, cfg: ForecastConfig, first: Forecaster, which: str) -> tuple[Forecaster, dict]:
    """The refitted ensemble (:mod:`.refit`), saved as checkpoint ``refit``; ``first`` when there is nothing
    to refit from (no ``best`` checkpoint)."""
    best = checkpoint_step(run.checkpoints, "best") if which == "best" else None
    if not best:
        return first, {}
    steps = refit_steps(best, task.n_train_windows, len(task.refit_windows().y))
    model, info = refit_model(task, steps, cfg.max_time)
    state = {"task": cfg.task, "config": config_to_dict(cfg), "meta": task.metadata(), "step": info["steps"],
             "model": model.state_dict(), "metrics": {"refit_of_step": best, **info}}
    save_checkpoint(run.checkpoints, "refit", state, info["steps"])
    return model, {"from_best_step": best, **info}


def _series_report(task: ForecastTask, model: Forecaster, first: Forecaster, cfg: ForecastConfig, factors,
                   refit: dict, png: pathlib.Path) -> dict:
    report, pred = holdout_report(task, model, cfg.baselines, factors)
    if refit:
        report["refit"] = refit
        report["lstm_without_refit"] = holdout_report(task, first, False, factors)[0]["lstm"]
    if factors:
        report["calibration_factors"] = factors
    origins = np.arange(task.split.val_end, task.split.n - cfg.horizon + 1)
    plot_forecasts(png, task.series.target, origins, pred,
                   f"{task.series.source}: {cfg.decoder} forecasts of {cfg.horizon} steps on the hold-out", cfg.quantiles)
    return report


def _final_report(task, run: RunDir, cfg: ForecastConfig, stream: Optional[IO] = None) -> None:
    first, _, _, which = load_model(run.path, "fit")
    factors = calibration(task, first) if cfg.calibrate else None
    model, refit = (_refit(task, run, cfg, first, which) if cfg.refit else (first, {}))
    used = "refit" if refit else which
    if factors:
        write_json(run.path / "calibration.json", {"checkpoint": which, "applies_to": sorted({which, used}),
                                                   "quantiles": cfg.quantiles, "factors": factors,
                                                   "validation_origins": len(task.val.origins) if hasattr(task, "val")
                                                   else sum(len(p.val.origins) for p in task.parts.values())})
    out = stream or sys.stdout
    if hasattr(task, "parts"):
        reports = {}
        for i, (name, part) in enumerate(task.parts.items()):
            reports[name] = {**_series_report(part, model, first, cfg, factors, refit,
                                              run.path / f"forecast-{i + 1}.png"), "checkpoint": used, "plot": f"forecast-{i + 1}.png"}
            print(f"series {name!r}:\n" + format_report(reports[name]), file=out)
        report = {"global": True, "checkpoint": used, "series": reports, "summary": global_summary(reports)}
        write_json(run.path / "holdout.json", report)
        print(format_summary(report["summary"]), file=out)
        print(f"wrote {run.path / 'holdout.json'} and forecast-1..{len(reports)}.png", file=out)
        return
    report = {**_series_report(task, model, first, cfg, factors, refit, run.path / "forecast.png"), "checkpoint": used}
    write_json(run.path / "holdout.json", report)
    print(format_report(report), file=out)
    print(f"wrote {run.path / 'holdout.json'} and {run.path / 'forecast.png'}", file=out)


def global_summary(reports: dict) -> dict:
    """Across the series of a global run: mean MASE of each model, the series where the LSTM is at or below
    the better of ARIMA and ETS, and the interval's coverage of all hold-out values (each series' share,
    weighted by its origins)."""
    out: dict = {"series": len(reports)}
    for name in ("lstm", "seasonal_naive", "arima", "ets"):
        vals = [r[name]["mase"] for r in reports.values() if name in r and r[name]["mase"] is not None]
        if vals:
            out[f"{name}_mean_mase"] = float(np.mean(vals))
    if all("arima" in r and "ets" in r for r in reports.values()):
        out["lstm_at_or_below_best_baseline"] = [n for n, r in reports.items() if r["lstm"]["mase"] is not None
                                                 and r["lstm"]["mase"] <= min(r["arima"]["mase"], r["ets"]["mase"])]
    w = np.array([r["origins"] for r in reports.values()], dtype=float)
    out["coverage"] = float(np.average([r["lstm"]["coverage"] for r in reports.values()], weights=w))
    return out


def format_summary(summary: dict) -> str:
    means = ", ".join(f"{k[:-10]} {v:.3f}" for k, v in summary.items() if k.endswith("_mean_mase"))
    line = f"{summary['series']} series: mean MASE {means}; interval coverage {summary['coverage']:.1%}"
    if "lstm_at_or_below_best_baseline" in summary:
        line += f"; LSTM at or below the better of ARIMA/ETS on {len(summary['lstm_at_or_below_best_baseline'])}"
    return line


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
    if "refit" in report:
        r, first = report["refit"], report["lstm_without_refit"]
        mase = "" if first["mase"] is None else f"MASE {first['mase']:.3f}, "
        lines.append(f"  refitted on training + validation ({r['steps']} steps, as step {r['from_best_step']} of the "
                     f"first fit); without the refit: {mase}coverage {first['coverage']:.1%}")
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
