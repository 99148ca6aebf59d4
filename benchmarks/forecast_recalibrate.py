"""Recompute the calibration of finished forecast runs with the current code, without training again: for
each run folder, the first fit's validation errors give the factors (:func:`lstmkit.tasks.forecast.jobs.
calibration`), and the hold-out coverage of the model the run uses (the refit when there is one) is
measured with them. For comparing calibration methods on the suite's runs:

    OMP_NUM_THREADS=1 python benchmarks/forecast_recalibrate.py runs/bench-forecast-suite/*/
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=pathlib.Path)
    args = p.parse_args(argv)
    import torch

    from lstmkit.tasks.forecast.baselines import coverage
    from lstmkit.tasks.forecast.jobs import calibration, load_model, make_task
    from lstmkit.tasks.forecast.task import predict

    torch.set_num_threads(1)
    covs = []
    for run in args.runs:
        if not (run / "holdout.json").is_file():
            continue
        first, cfg, _, _ = load_model(run, "fit")
        model, _, _, which = load_model(run, "auto")
        task = make_task(cfg)
        factors = calibration(task, first)
        parts = task.parts.values() if hasattr(task, "parts") else [task]
        for t in parts:
            origins = np.arange(t.split.val_end, t.split.n - cfg.horizon + 1)
            w = t.windows_at(origins)
            pred = predict(model, w, t.prep, factors, cfg.median_index)
            c = coverage(pred[..., 0], pred[..., -1], w.truth)
            covs.append(c)
            print(f"{run.name:<18} {which:<6} factors {[round(f, 2) for f in factors]}  coverage {c:.2f}")
    print(f"in 70-90%: {sum(0.7 <= c <= 0.9 for c in covs)}/{len(covs)}")


if __name__ == "__main__":
    main()
