"""The forecaster's defaults on series it was not tuned to, each against seasonal-naive, ARIMA and ETS from
the same hold-out origins: MASE of the median forecast and the 10-90% interval's coverage.

    OMP_NUM_THREADS=1 python benchmarks/forecast_suite.py --max-time 1m          # every series, 1 minute each
    OMP_NUM_THREADS=1 python benchmarks/forecast_suite.py --series airline co2   # some of them

Each series is written to a CSV file (a date column where the series has dates) and trained with exactly
the command a user types: ``lstmkit train forecast --csv FILE --target y --time t --max-time 1m`` (no
--season, no --window: the defaults infer them). The series: statsmodels' CO2 (monthly), sunspots (yearly),
Nile flow (yearly), El Nino sea-surface temperatures (monthly, 1950-2010) and US quarterly real GDP
(macrodata), each read from a CSV file; the built-in co2 and sunspots (``--dataset``, season 12 and 11);
and four generated ones: ``airline`` (144 months, a trend times a seasonal pattern that grows
with it, noise), ``daily`` (10 years of days: a yearly cycle, a weekly pattern, AR(1) noise),
``sunspots-monthly`` (2820 months of 9.5-12.5-year cycles with level-dependent persistent noise: monthly
dates infer a season of 12 that is not there) and ``temps`` (10 years of daily minimum temperatures: a
yearly cycle, no weekly one, AR(1) weather noise wider in summer). Writes
benchmarks/results/forecast_suite_<max-time>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import pathlib
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import ROOT, write_result  # noqa: E402


def _frame(dates, y) -> str:
    return "t,y\n" + "".join(f"{d},{v:.6g}\n" for d, v in zip(dates, y))


def series_csv(name: str) -> str:
    """The CSV text of one benchmark series (column t: time, y: target)."""
    import pandas as pd
    from statsmodels import datasets

    if name == "co2":
        s = datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
        return _frame([f"{t:%Y-%m}" for t in s.index], s.to_numpy())
    if name == "sunspots":
        d = datasets.sunspots.load_pandas().data
        return _frame([str(int(y)) for y in d["YEAR"]], d["SUNACTIVITY"].to_numpy())
    if name == "nile":
        d = datasets.nile.load_pandas().data
        return _frame([str(int(y)) for y in d["year"]], d["volume"].to_numpy())
    if name == "elnino":
        d = datasets.elnino.load_pandas().data
        months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        vals = d[months].to_numpy().ravel()
        dates = [f"{int(y)}-{m + 1:02d}" for y in d["YEAR"] for m in range(12)]
        return _frame(dates, vals)
    if name == "gdp":
        d = datasets.macrodata.load_pandas().data
        dates = [f"{int(y)}-{3 * int(q) - 2:02d}-01" for y, q in zip(d["year"], d["quarter"])]
        return _frame(dates, d["realgdp"].to_numpy())
    rng = np.random.default_rng(7)
    if name == "airline":
        t = np.arange(144)
        season = 1 + 0.22 * np.sin(2 * np.pi * (t - 3) / 12) + 0.08 * np.cos(4 * np.pi * t / 12)
        y = (110 + 2.4 * t + 0.006 * t ** 2) * season * np.exp(rng.normal(0, 0.03, 144))
        return _frame([f"{1949 + m // 12}-{m % 12 + 1:02d}" for m in t], y)
    if name == "daily":
        days = pd.date_range("1981-01-01", periods=3650, freq="D")
        t = np.arange(3650)
        noise = np.zeros(3650)
        e = rng.normal(0, 2.0, 3650)
        for i in range(1, 3650):
            noise[i] = 0.65 * noise[i - 1] + e[i]
        y = 11 + 4 * np.cos(2 * np.pi * (t - 15) / 365.25) + 0.6 * (t % 7 >= 5) + noise
        return _frame([f"{d:%Y-%m-%d}" for d in days], y)
    if name == "sunspots-monthly":
        return _frame(*monthly_sunspots_like(rng))
    if name == "temps":
        return _frame(*daily_temperatures_like(rng))
    raise ValueError(f"unknown series {name!r}")


def monthly_sunspots_like(rng, months: int = 2820):
    """Monthly counts 1749-1983 shaped like the sunspot record: cycles of 9.5-12.5 years (not a calendar
    season: monthly dates infer 12) rising faster than they decay, each with its own amplitude, and
    persistent month-to-month noise whose spread grows with the level; never negative."""
    level = []
    while len(level) < months:
        length, amp = int(rng.uniform(9.5, 12.5) * 12), rng.gamma(6.0, 20.0)
        u = np.arange(length) / length
        level.extend(amp * np.sin(np.pi * u ** 0.6) ** 2)
    level = np.array(level[:months])
    e = np.zeros(months)
    for i in range(1, months):
        e[i] = 0.6 * e[i - 1] + rng.normal(0, 0.8)
    y = np.maximum(0.0, level + 3.0 * np.sqrt(level + 1.0) * e).round(1)
    return [f"{1749 + m // 12}-{m % 12 + 1:02d}" for m in range(months)], y


def daily_temperatures_like(rng, days: int = 3650):
    """Ten years of daily minimum temperatures (like Melbourne's 1981-1990): a yearly cycle with a second
    harmonic, no weekly pattern, AR(1) weather noise that is wider in summer, in tenths of a degree."""
    import pandas as pd

    dates = pd.date_range("1981-01-01", periods=days, freq="D")
    a = 2 * np.pi * (dates.day_of_year.to_numpy() - 15) / 365.25
    noise = np.zeros(days)
    for i in range(1, days):
        noise[i] = 0.6 * noise[i - 1] + rng.normal(0, 2.2 * (1 + 0.25 * np.cos(a[i])))
    y = (11 + 4 * np.cos(a) + 0.7 * np.cos(2 * a - 0.5) + noise).round(1)
    return [f"{d:%Y-%m-%d}" for d in dates], y


def run_quiet(cmd: list[str], what: str = "") -> None:
    """``lstmkit CMD`` in this process, its output swallowed; its tail and SystemExit when it fails."""
    from lstmkit.cli import main as cli

    with contextlib.redirect_stdout(io.StringIO()) as log:
        code = cli(cmd)
    if code != 0:
        print(log.getvalue()[-2000:])
        raise SystemExit(f"{what}lstmkit {' '.join(cmd)} failed ({code})")


def without(r: dict) -> str:
    """The first fit's hold-out scores (before the refit), when the run refitted."""
    if "lstm_without_refit" not in r:
        return ""
    w = r["lstm_without_refit"]
    return f"(no refit: {w['mase']:.3f} cov {w['coverage']:.2f}; refit {r['refit']['steps']} steps)"


SERIES = ["airline", "co2", "elnino", "sunspots", "nile", "gdp", "daily", "sunspots-monthly", "temps", "builtin-co2",
          "builtin-sunspots"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--series", nargs="+", default=SERIES, choices=SERIES)
    p.add_argument("--max-time", default="1m", help="training budget per series (the CLI's --max-time)")
    p.add_argument("--extra", default="", help="more flags for every run (quoted), e.g. '--ensemble 1'")
    p.add_argument("--runs", type=pathlib.Path, default=ROOT / "runs" / "bench-forecast-suite")
    p.add_argument("--tag", default="", help="suffix of the results file")
    args = p.parse_args(argv)
    import torch


    torch.set_num_threads(1)
    out: dict = {"max_time": args.max_time, "extra": args.extra, "series": {}}
    args.runs.mkdir(parents=True, exist_ok=True)
    for name in args.series:
        run = args.runs / name
        if run.exists():
            shutil.rmtree(run)
        if name.startswith("builtin-"):
            data = ["--dataset", name[len("builtin-"):]]
        else:
            csv = args.runs / f"{name}.csv"
            csv.write_text(series_csv(name))
            data = ["--csv", str(csv), "--target", "y", "--time", "t"]
        cmd = ["train", "forecast", *data, "--max-time", args.max_time, "--out", str(run), *args.extra.split()]
        t0 = time.perf_counter()
        run_quiet(cmd, f"{name}: ")
        r = json.loads((run / "holdout.json").read_text())
        r["wall_seconds"] = round(time.perf_counter() - t0, 1)
        r["command"] = "lstmkit " + " ".join(cmd)
        out["series"][name] = r
        best = min(r[k]["mase"] for k in ("arima", "ets"))
        print(f"{name:<9} m={r['period']:<3} w={r['window']:<3} LSTM {r['lstm']['mase']:.3f}  arima "
              f"{r['arima']['mase']:.3f}  ets {r['ets']['mase']:.3f}  snaive {r['seasonal_naive']['mase']:.3f}  "
              f"{'WIN ' if r['lstm']['mase'] <= best else 'lose'} cov {r['lstm']['coverage']:.2f} "
              f"(raw {r['lstm'].get('coverage_uncalibrated', float('nan')):.2f})  {r['preparation']}  "
              f"level={r['level_input']}  {r['wall_seconds']}s  {without(r)}", flush=True)
    wins = sum(r["lstm"]["mase"] <= min(r["arima"]["mase"], r["ets"]["mase"]) for r in out["series"].values())
    cov = sum(0.7 <= r["lstm"]["coverage"] <= 0.9 for r in out["series"].values())
    out["summary"] = {"wins": wins, "coverage_in_70_90": cov, "series": len(out["series"])}
    print(f"LSTM at or below the better of ARIMA and ETS on {wins}/{len(out['series'])}; 80% interval "
          f"covering 70-90% on {cov}/{len(out['series'])}")
    tag = f"_{args.tag}" if args.tag else ""
    print(f"wrote {write_result(f'forecast_suite_{args.max_time}{tag}', out)}")


if __name__ == "__main__":
    main()
