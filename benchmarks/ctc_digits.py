"""CTC on handwritten digit lines (scikit-learn's 8x8 digits side by side, random gaps, noise): character
error rate on held-out lines made of digit images no training line uses, for a wall-clock training budget.

    python benchmarks/ctc_digits.py --minutes 8

Trains ``lstmkit train ctc`` with its defaults (BiLSTM 2 x 64 per direction) and the learning rate annealed
to the budget, then scores 1,000 test lines with the best checkpoint, greedy and prefix beam search.
Writes benchmarks/results/ctc_digits_<minutes>m.json. Run it alone on the machine
(flock /tmp/lstmkit-cpu.lock ...): the budget is wall time.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import ROOT, finished, write_result  # noqa: E402

from lstmkit.tasks.ctc import CTCConfig, train  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--beam", type=int, default=8)
    p.add_argument("--runs", type=pathlib.Path, default=ROOT / "runs" / "bench")
    args = p.parse_args(argv)
    run = args.runs / f"ctc-digits-{args.minutes:g}m"
    if run.exists():
        shutil.rmtree(run)
    cfg = CTCConfig(max_time=args.minutes * 60, decay_by="time", max_steps=10**7, eval_every=300, log_every=50,
                    val_lines=300, test_lines=1000, beam=args.beam)
    t0 = time.perf_counter()
    result = finished(train(cfg, run, stream=sys.stdout), run)
    wall = time.perf_counter() - t0
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    test = json.loads((run / "test.json").read_text())
    out = {"minutes": args.minutes, "steps": result.step, "train_seconds": round(result.elapsed, 1),
           "wall_seconds_with_evaluation_and_test": round(wall, 1), "lines_seen": result.step * cfg.batch_size,
           "best_val_cer": result.best, "best_step": result.best_step,
           "val_cer_curve": [(r["step"], round(r["elapsed"] / 60, 2), r["val_cer"]) for r in recs if "val_cer" in r],
           "test": test, "config": json.loads((run / "config.json").read_text())}
    print(json.dumps({k: out[k] for k in ("steps", "train_seconds", "best_val_cer")}),
          json.dumps({k: test[k] for k in ("cer_greedy", "cer_beam", "line_accuracy_beam")}), flush=True)
    print(f"wrote {write_result(f'ctc_digits_{args.minutes:g}m', out)}")


if __name__ == "__main__":
    main()
