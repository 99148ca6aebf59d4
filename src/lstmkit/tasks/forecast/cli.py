"""``lstmkit train forecast``, ``lstmkit forecast RUN_DIR --csv FILE`` and the ``lstmkit eval`` evaluator."""

from __future__ import annotations

import argparse
import dataclasses
import io
import pathlib
import warnings

import numpy as np

from ...train import RunDir
from ...train.atomic import write_text
from ..evaluate import register_evaluator
from ..runs import add_run_args, run_train_command
from .baselines import mase_scale, scores, seasonal_naive
from .config import ForecastConfig
from .jobs import encoded_for_run, load_model, resume, score_series, series_for_run, train
from .plot import plot_forecasts
from .task import predict
from .windows import make_windows

TRAIN_HELP = """\
Forecast a series several steps ahead: an ensemble of small LSTMs reads a window of the past and outputs
quantiles of the next --horizon values, all at once (direct) or one after the other (autoregressive).
Fitted on the rows before the hold-out: the season (inferred from --time dates unless --season), a log or
square-root transform when the spread grows with the level, and a Fourier seasonal component; the model
forecasts the rest, relative to the window's last value. Validation picks the number of steps (with
--max-time, early stopping ends the run), then a fresh ensemble is refitted on training + validation for
as many passes; its quantiles are calibrated on the first fit's validation errors (split conformal), so
an 80% interval holds about 80% of new values. Several --target columns, or a panel CSV with
--series-id, train one global model on the windows of every series (each prepared on its own). The last
part of each series is a chronological hold-out, scored when training ends against seasonal-naive, ARIMA
and ETS (statsmodels; Fourier-term versions for a season over 24) with MAE, RMSE, MASE and the interval's
coverage: RUN_DIR/holdout.json, and RUN_DIR/forecast.png (history, forecasts, intervals).
With no --csv it trains on statsmodels' CO2 (monthly) or sunspots (yearly) series. Needs statsmodels for
the built-in series and the ARIMA/ETS baselines: pip install 'lstmkit[forecast]'.
"""

TRAIN_EPILOG = """\
examples:
  lstmkit train forecast --dataset co2 --max-time 3m --out runs/co2
  lstmkit train forecast --csv airline.csv --target passengers --time month --max-time 1m
  lstmkit train forecast --csv sales.csv --target sales --time month --covariates price --season 12
  lstmkit train forecast --csv regions.csv --target north south east --time month --max-time 2m
  lstmkit train forecast --csv panel.csv --series-id store --target sales --time day --out runs/stores
  lstmkit forecast runs/co2 --csv new.csv --out next.csv --plot next.png
  lstmkit forecast runs/stores --csv panel.csv --series s01 s07
  lstmkit eval runs/co2 --data new.csv
"""


def _train(args: argparse.Namespace) -> None:
    run_train_command(args, ForecastConfig, train, resume)


def forecast_table(run_path, csv_path, target="", missing=None, non_numeric=None, series=None) -> tuple[str, dict]:
    """The next ``horizon`` values after the end of ``csv_path`` as CSV text (step, time when numeric, one
    column per quantile; for a global run a first column ``series``, one block per series, or only those
    named in ``series``), and what the plot needs."""
    model, cfg, meta, _ = load_model(run_path)
    if meta.get("global"):
        return _global_table(model, cfg, meta, csv_path, missing, non_numeric, series)
    if series:
        raise ValueError(f"--series names series of a global run; {run_path} forecasts one series "
                         f"({meta['names'][0]!r}): expected no --series")
    one = series_for_run(cfg, meta, csv_path, target, None, missing, non_numeric)
    pred = _next(model, cfg, meta, one, csv_path)                                  # (H, Q)
    out = io.StringIO()
    out.write(",".join(["step", "time"] + [f"q{q:g}" for q in cfg.quantiles]) + "\n")
    out.write(_rows(pred, _future_times(one.times, cfg.horizon)))
    return out.getvalue(), {"series": one, "pred": pred, "cfg": cfg}


def _next(model, cfg, meta, series, csv_path) -> np.ndarray:
    """The calibrated quantile forecasts ``(H, Q)`` of the steps after the end of ``series``."""
    if len(series) < cfg.window:
        raise ValueError(f"{csv_path} has {len(series)} usable rows of {series.names[0]!r}; the model reads a window "
                         f"of {cfg.window}")
    prep, enc = encoded_for_run(cfg, meta, series)
    w = make_windows(enc, [len(series)], cfg.window, cfg.horizon, prep, meta["level"], meta.get("blank_level", False))
    return predict(model, w, prep, meta.get("factors"), cfg.median_index)[0]


def _rows(pred: np.ndarray, times: list[str], prefix: str = "") -> str:
    return "".join(",".join(([prefix] if prefix else []) + [str(h + 1), times[h]] + [f"{v:.6g}" for v in pred[h]])
                   + "\n" for h in range(len(pred)))


def _global_table(model, cfg, meta, csv_path, missing, non_numeric, wanted) -> tuple[str, dict]:
    from .panel import load_panel

    known = list(meta["parts"])
    unknown = [n for n in (wanted or []) if n not in known]
    if unknown:
        raise ValueError(f"--series {', '.join(map(repr, unknown))}: the run knows the series "
                         f"{', '.join(map(repr, known))}")
    new = dataclasses.replace(cfg, csv=str(csv_path), missing=missing or cfg.missing,
                              non_numeric=non_numeric or cfg.non_numeric)
    found = {s.names[0]: s for s in load_panel(new)}
    names = wanted or [n for n in known if n in found]
    missing_series = [n for n in names if n not in found]
    if missing_series or not names:
        raise ValueError(f"{csv_path} holds no rows of series {', '.join(map(repr, missing_series or known))}; "
                         f"expected the run's series ({', '.join(map(repr, known))})")
    out = io.StringIO()
    out.write(",".join(["series", "step", "time"] + [f"q{q:g}" for q in cfg.quantiles]) + "\n")
    for name in names:
        part = {**meta["parts"][name], "factors": meta.get("factors")}
        pred = _next(model, cfg, part, found[name], csv_path)
        out.write(_rows(pred, _future_times(found[name].times, cfg.horizon), name))
    first = found[names[0]]
    return out.getvalue(), {"series": first, "pred": _next(model, cfg, {**meta["parts"][names[0]],
                                                                          "factors": meta.get("factors")}, first, csv_path),
                            "cfg": cfg}


def _future_times(times: list[str], horizon: int) -> list[str]:
    """Numeric evenly spaced time stamps continue, and so do dates of a regular frequency (in the file's
    format: 1960-12 -> 1961-01); anything else is left empty."""
    try:
        t = [float(x) for x in times[-2:]]
    except ValueError:
        return _future_dates(times, horizon)
    if len(t) < 2:
        return [""] * horizon
    step = t[1] - t[0]
    fmt = (lambda v: str(int(round(v)))) if all(x == int(x) for x in t) and step == int(step) else (lambda v: f"{v:g}")
    return [fmt(t[1] + step * (h + 1)) for h in range(horizon)]


def _future_dates(times: list[str], horizon: int) -> list[str]:
    try:
        import pandas as pd

        t = pd.DatetimeIndex(pd.to_datetime(pd.Series(times[-8:]), errors="raise"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                  # pandas 3 announces a change of the return type
            freq = pd.infer_freq(t) if len(t) >= 3 else None
    except (ImportError, ValueError, TypeError):
        return [""] * horizon
    if freq is None:
        return [""] * horizon
    future = pd.date_range(t[-1], periods=horizon + 1, freq=freq)[1:]
    last = times[-1]
    fmt = "%Y-%m" if len(last) == 7 else "%Y-%m-%d" if len(last) == 10 else None
    return [d.strftime(fmt) if fmt else str(d) for d in future]


def _forecast(args: argparse.Namespace) -> None:
    from ...train.atomic import check_output
    for flag, path in (("--out", args.out), ("--plot", args.plot)):
        if path:
            check_output(path, inputs=(args.csv,), flag=flag)
    if args.out and args.plot and pathlib.Path(args.out).resolve() == pathlib.Path(args.plot).resolve():
        raise ValueError(f"--out and --plot are the same file {args.out}; expected two paths")
    text, parts = forecast_table(args.run, args.csv, args.target, args.missing, args.non_numeric, args.series)
    if args.plot:
        s, cfg = parts["series"], parts["cfg"]
        plot_forecasts(args.plot, s.target, [len(s)], parts["pred"][None], f"{s.source}: next {cfg.horizon} steps",
                       cfg.quantiles)
    if args.out:
        write_text(args.out, text)
        print(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))
    else:
        print(text, end="")


def evaluate_run(run: RunDir, data: str, args: argparse.Namespace) -> dict:
    """The ``lstmkit eval`` evaluator of forecast runs: ``--data`` is a CSV file with the run's columns; the
    model forecasts from every origin whose window and horizon fit, and is scored against seasonal-naive."""
    model, cfg, meta, which = load_model(run.path, getattr(args, "checkpoint", "auto"))
    if meta.get("global"):
        raise ValueError(f"{run.path} is a global run over {len(meta['parts'])} series; lstmkit eval scores one-series "
                         f"runs: expected a run of one --target (its hold-out scores are in holdout.json)")
    series = series_for_run(cfg, meta, data)
    m = cfg.period
    if len(series) < max(cfg.window, m + 1) + cfg.horizon:
        raise ValueError(f"{data} has {len(series)} usable rows, too short: expected at least window + horizon = "
                         f"{max(cfg.window, m + 1) + cfg.horizon}")
    origins = np.arange(max(cfg.window, m), len(series) - cfg.horizon + 1)
    y = series.target
    scale = mase_scale(y, m)
    mine = score_series(model, cfg, meta, series, origins, scale)
    report = {"rows": len(series), "origins": len(origins), "horizon": cfg.horizon, "period": m,
              "lstm": mine["scores"], "seasonal_naive": scores(seasonal_naive(y, origins, cfg.horizon, m),
                                                               mine["truth"], scale)}
    out_dir = pathlib.Path(getattr(args, "out", None) or run.path / "eval")
    plot_forecasts(out_dir / "forecast.png", y, origins, mine["pred"], f"{data}: {cfg.horizon}-step forecasts",
                   cfg.quantiles)
    from .jobs import format_report
    print(f"{run.path} ({which} checkpoint) on {data}")
    print(format_report(report))
    print(f"wrote {out_dir / 'forecast.png'}")
    return report


register_evaluator(ForecastConfig.task, evaluate_run)


def register(commands, train_commands) -> None:
    """Add ``lstmkit train forecast`` and ``lstmkit forecast`` to the command line.

    Example (a CSV series: train a tiny model, then forecast what comes after the file)::

        >>> import contextlib, io, math, pathlib, tempfile
        >>> from lstmkit.cli import main
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> rows = [f"{t},{math.sin(t / 3):.4f}" for t in range(120)]
        >>> _ = (d / "s.csv").write_text("t,y\\n" + "\\n".join(rows) + "\\n")
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     codes = [main(["train", "forecast", "--csv", str(d / "s.csv"), "--target", "y", "--time", "t",
        ...                    "--window", "12", "--horizon", "3", "--hidden", "8", "--max-steps", "2", "--ensemble", "2",
        ...                    "--no-baselines", "--out", str(d / "run")]),
        ...              main(["forecast", str(d / "run"), "--csv", str(d / "s.csv")])]
        >>> codes, out.getvalue().splitlines()[-3:][0].split(",")[:2]
        ([0, 0], ['1', '120'])
    """
    p = train_commands.add_parser("forecast", help="multi-step forecasts of a series with prediction intervals",
                                  description=TRAIN_HELP, epilog=TRAIN_EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_args(p, ForecastConfig)
    p.set_defaults(func=_train)

    f = commands.add_parser("forecast", help="forecast the steps after the end of a CSV series with a trained run",
                            description="Forecast the next --horizon values after the last row of --csv with a "
                                        "trained forecast run: one line per step with every quantile.",
                            epilog="example: lstmkit forecast runs/co2 --csv co2.csv --out next.csv --plot next.png")
    f.add_argument("run", metavar="RUN_DIR", help="a run folder made by lstmkit train forecast")
    f.add_argument("--csv", required=True, metavar="FILE", help="the series (the run's columns; at least a window)")
    f.add_argument("--target", default="", help="the target column's name in FILE (default: the run's)")
    f.add_argument("--series", nargs="+", metavar="NAME", help="a global run: forecast only these series "
                   "(--target columns or --series-id values; default: every series of the run in FILE)")
    f.add_argument("--missing", choices=("error", "drop", "ffill", "interpolate"), default=None,
                   help="empty or NA cells (default: the run's policy)")
    f.add_argument("--non-numeric", choices=("error", "missing"), default=None,
                   help="cells that are not numbers (default: the run's policy)")
    f.add_argument("--out", metavar="FILE.csv", help="write the forecast here (default: print it)")
    f.add_argument("--plot", metavar="FILE.png", help="also plot history, forecast and interval")
    f.set_defaults(func=_forecast)
