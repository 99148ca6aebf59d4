"""The forecaster on statsmodels' CO2 (monthly) and sunspots (yearly) series, against seasonal-naive,
ARIMA and ETS on the same chronological hold-out (the last 15%): every origin whose 12-step horizon fits,
MAE / RMSE / MASE of the median forecast, and the 10-90% interval's coverage.

    python benchmarks/forecast_classic.py --minutes 1.5      # per series and decoder: 4 runs

Each run trains ``lstmkit train forecast`` for the budget (learning rate annealed to it), keeps the
checkpoint with the best validation MAE (the 10% before the hold-out), and scores the hold-out once.
Writes benchmarks/results/forecast_classic_<minutes>m.json. Run it alone on the machine
(flock /tmp/lstmkit-cpu.lock ...): the budget is wall time.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import ROOT, finished, write_result  # noqa: E402

from lstmkit.tasks.forecast import ForecastConfig, train  # noqa: E402

#: per series: the window (about four seasons for CO2, three solar cycles for sunspots)
WINDOWS = {"co2": 48, "sunspots": 33}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=1.5, help="training budget per run")
    p.add_argument("--datasets", nargs="+", default=["co2", "sunspots"])
    p.add_argument("--decoders", nargs="+", default=["direct", "autoregressive"])
    p.add_argument("--runs", type=pathlib.Path, default=ROOT / "runs" / "bench")
    args = p.parse_args(argv)
    out: dict = {"minutes_per_run": args.minutes, "runs": {}}
    for ds in args.datasets:
        for dec in args.decoders:
            run = args.runs / f"forecast-{ds}-{dec}-{args.minutes:g}m"
            if run.exists():
                shutil.rmtree(run)
            cfg = ForecastConfig(dataset=ds, decoder=dec, window=WINDOWS[ds], horizon=12, max_time=args.minutes * 60,
                                 decay_by="time", max_steps=10**7, eval_every=100, log_every=100)
            result = finished(train(cfg, run, stream=sys.stdout), run)
            report = json.loads((run / "holdout.json").read_text())
            out["runs"][f"{ds}/{dec}"] = {"steps": result.step, "train_seconds": round(result.elapsed, 1),
                                          "best_val_mae": result.best, "best_step": result.best_step, **report,
                                          "config": json.loads((run / "config.json").read_text())}
    for name, r in out["runs"].items():
        print(name, {k: round(r[k]["mase"], 3) for k in ("lstm", "seasonal_naive", "arima", "ets")},
              f"coverage {r['lstm']['coverage']:.2f}", flush=True)
    print(f"wrote {write_result(f'forecast_classic_{args.minutes:g}m', out)}")


if __name__ == "__main__":
    main()
