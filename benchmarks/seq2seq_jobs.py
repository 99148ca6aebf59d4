"""The encoder-decoder jobs against issue 24's targets, each for a wall-clock training budget, with the job's
defaults (the learning rate annealed to the budget), scored on its held-out test set with the best
checkpoint (beam 5):

* ``numbers-fr`` / ``numbers-de``: English number words -> French / German, 0..999,999, exact match;
* ``dates``: dates written in 9 locales -> ISO 8601, exact match;
* ``caption``: digit canvases -> captions: digit-word accuracy, exact caption, attention score;
* ``length``: numbers -> French with attention and with ``--attention none``, exact match and BLEU by
  source length (Bahdanau et al. 2015, figure 2), drawn into docs/figures/translate-length.png.

    python benchmarks/seq2seq_jobs.py numbers-fr numbers-de dates --minutes 5
    python benchmarks/seq2seq_jobs.py caption --minutes 20
    python benchmarks/seq2seq_jobs.py length --minutes 5

Writes benchmarks/results/seq2seq_<job>_<minutes>m.json. Run it alone on the machine: the budget is wall time.
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

from lstmkit.tasks import caption, translate  # noqa: E402

JOBS = {
    "numbers-fr": (translate, dict(target_lang="fr")),
    "numbers-de": (translate, dict(target_lang="de")),
    "dates": (translate, dict(data="dates")),
    "caption": (caption, {}),
}


def run_job(name: str, module, settings: dict, minutes: float, runs: pathlib.Path) -> dict:
    run = runs / f"{name}-{minutes:g}m"
    if run.exists():
        shutil.rmtree(run)
    cfg_cls = module.TranslateConfig if module is translate else module.CaptionConfig
    cfg = cfg_cls(max_time=minutes * 60, decay_by="time", max_steps=10**7, log_every=50, **settings)
    t0 = time.perf_counter()
    result = finished(module.train(cfg, run, stream=sys.stdout), run)
    wall = time.perf_counter() - t0
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    test = json.loads((run / "test.json").read_text())
    return {"job": name, "minutes": minutes, "steps": result.step, "train_seconds": round(result.elapsed, 1),
            "wall_seconds_with_evaluation_and_test": round(wall, 1), "best_val_loss": result.best,
            "best_step": result.best_step, "val_curve": [r for r in recs if "val_loss" in r], "test": test,
            "config": json.loads((run / "config.json").read_text()), "run": str(run)}


def length_figure(minutes: float, runs: pathlib.Path) -> dict:
    out = {}
    for label, attention in (("attention (general)", "general"), ("no attention", "none")):
        out[label] = run_job(f"length-{attention}", translate, dict(attention=attention), minutes, runs)
    return {"runs": out, "figures": draw_length(out, minutes)}


def draw_length(runs: dict, minutes: float) -> list[str]:
    """Exact match and BLEU against source length, one line per model: docs/figures/translate-length-*.png."""
    from lstmkit.inspect.attention import plot_score_by_length

    figures = ROOT / "docs" / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    names = []
    for key, metric, scale in (("exact", "exact match (%)", 100), ("bleu", "BLEU", 1)):
        rows = [{"label": k, "lengths": [round(r["length"], 1) for r in v["test"]["by_source_length"]],
                 "scores": [scale * r[key] for r in v["test"]["by_source_length"]]} for k, v in runs.items()]
        name = f"translate-length-{key}.png"
        plot_score_by_length(rows, figures / name, metric=metric,
                             title=f"English -> French numbers (source length in words), {minutes:g} min each")
        names.append(f"docs/figures/{name}")
    return names


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("jobs", nargs="+", choices=sorted(JOBS) + ["length"])
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--runs", type=pathlib.Path, default=ROOT / "runs" / "bench")
    args = p.parse_args(argv)
    for name in args.jobs:
        res = length_figure(args.minutes, args.runs) if name == "length" else \
            run_job(name, *JOBS[name], args.minutes, args.runs)
        summary = {k: v["test"]["beam_search"] for k, v in res["runs"].items()} if name == "length" else \
            res["test"]["beam_search"]
        print(name, json.dumps(summary), flush=True)
        print("wrote", write_result(f"seq2seq_{name}_{args.minutes:g}m", res))


if __name__ == "__main__":
    main()
