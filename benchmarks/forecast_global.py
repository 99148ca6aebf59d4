"""One global forecaster over several monthly series of the suite (a panel CSV with a ``series`` column),
against each series' own baselines -- and, when the suite's results file is there, against the
one-series runs of the same series:

    OMP_NUM_THREADS=1 python benchmarks/forecast_global.py --max-time 1m

The command is the user's: ``lstmkit train forecast --csv panel.csv --series-id series --target y --time t
--max-time 1m``. Series: the generated airline-like one, CO2, El Nino and the generated monthly sunspots
(``forecast_suite.series_csv``). Writes benchmarks/results/forecast_global_<max-time>.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import ROOT, write_result  # noqa: E402
from forecast_suite import run_quiet, series_csv  # noqa: E402

SERIES = ["airline", "co2", "elnino", "sunspots-monthly"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--series", nargs="+", default=SERIES)
    p.add_argument("--max-time", default="1m")
    p.add_argument("--runs", type=pathlib.Path, default=ROOT / "runs" / "bench-forecast-global")
    args = p.parse_args(argv)
    import torch


    torch.set_num_threads(1)
    if args.runs.exists():
        shutil.rmtree(args.runs)
    args.runs.mkdir(parents=True)
    rows = ["series,t,y"]
    for name in args.series:
        rows += [f"{name},{line}" for line in series_csv(name).splitlines()[1:]]
    panel = args.runs / "panel.csv"
    panel.write_text("\n".join(rows) + "\n")
    cmd = ["train", "forecast", "--csv", str(panel), "--series-id", "series", "--target", "y", "--time", "t",
           "--max-time", args.max_time, "--out", str(args.runs / "run")]
    t0 = time.perf_counter()
    run_quiet(cmd)
    report = json.loads((args.runs / "run" / "holdout.json").read_text())
    single_path = ROOT / "benchmarks" / "results" / f"forecast_suite_{args.max_time}.json"
    single = json.loads(single_path.read_text())["series"] if single_path.is_file() else {}
    out = {"max_time": args.max_time, "command": "lstmkit " + " ".join(cmd), "wall_seconds":
           round(time.perf_counter() - t0, 1), "summary": report["summary"], "series": {}}
    for name, r in report["series"].items():
        one = single.get(name, {}).get("lstm", {})
        out["series"][name] = {"lstm": r["lstm"]["mase"], "coverage": r["lstm"]["coverage"],
                               "arima": r["arima"]["mase"], "ets": r["ets"]["mase"],
                               "one_series_lstm": one.get("mase"), "one_series_coverage": one.get("coverage")}
        o = out["series"][name]
        alone = f"  alone {o['one_series_lstm']:.3f} cov {o['one_series_coverage']:.2f}" if one else ""
        print(f"{name:<17} global LSTM {o['lstm']:.3f} cov {o['coverage']:.2f}  arima {o['arima']:.3f}  ets "
              f"{o['ets']:.3f}{alone}", flush=True)
    print(f"{out['wall_seconds']}s; wrote {write_result(f'forecast_global_{args.max_time}', out)}")


if __name__ == "__main__":
    main()
