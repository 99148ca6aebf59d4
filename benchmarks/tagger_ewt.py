"""Part-of-speech tagging of UD English EWT: train lstmkit's tagger on train, report dev UPOS accuracy
against wall-clock training time (the curve), and the time at which it first reaches a target.

The recipe is `lstmkit train tagger`'s defaults (100-d lowercased word embedding with 0.2 word dropout,
character BiLSTM 2x64, 2-layer BiLSTM 2x200, dropout 0.33, AdamW 6e-3 decayed to 10% over the time budget
by cosine, batches of 64 sentences of similar length run with `lengths=`), no outside embeddings.

    flock /tmp/lstmkit-cpu.lock python benchmarks/tagger_ewt.py --minutes 19
    flock /tmp/lstmkit-cpu.lock python benchmarks/tagger_ewt.py --minutes 15 --name aux-ema \
        --set 'aux_columns=["xpos", "feats"]' --set ema=0.999

Recipes compared step for step (two at a time, one thread each, cosine decay over the steps; wall time
then means nothing, accuracy at equal steps does):

    python benchmarks/tagger_ewt.py --steps 2000 --threads 1 --name b64-lr6e-3
    python benchmarks/tagger_ewt.py --steps 4000 --threads 1 --name b32-lr4e-3 --set batch_size=32 --set lr=0.004

Writes benchmarks/results/tagger_ewt_<minutes>m.json or tagger_ewt_<steps>steps.json (the curve: minutes of
training, evaluations included, against dev accuracy). Run it alone on the machine: it measures wall time.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import ROOT, add_recipe_args, apply_overrides, finished, write_result  # noqa: E402

from lstmkit.tasks.tagger import TaggerConfig, train  # noqa: E402

EWT = ROOT.parent / "shared" / "data" / "ud_english_ewt"
#: a plain torch.nn tagger of the usual shape, measured on this machine (issue 6): 95.34% after 12 minutes
PEER = {"dev_accuracy": 0.9534, "minutes": 12.0}


def curve(run: pathlib.Path) -> list[dict]:
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{"step": r["step"], "minutes": round(r["elapsed"] / 60, 3), "dev_accuracy": r["val_acc"]}
            for r in recs if "val_acc" in r]


def first_reaching(points: list[dict], target: float):
    return next((p["minutes"] for p in points if p["dev_accuracy"] >= target), None)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=19.0, help="training budget (evaluations included)")
    p.add_argument("--steps", type=int, default=0, help="a step budget instead of --minutes (cosine decay over "
                   "the steps, evaluation every 500 unless --set eval_every=...)")
    p.add_argument("--data", type=pathlib.Path, default=EWT)
    p.add_argument("--runs", type=pathlib.Path, default=ROOT / "runs" / "bench")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    add_recipe_args(p)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    tr, dev = args.data / "en_ewt-ud-train.conllu", args.data / "en_ewt-ud-dev.conllu"
    if not tr.is_file() or not dev.is_file():
        raise SystemExit(f"UD English EWT not found under {args.data}; pass --data DIR")
    name = f"tagger_ewt_{f'{args.steps}steps' if args.steps else f'{args.minutes:g}m'}" + \
        (f"_{args.name}" if args.name else "")
    run = args.runs / name
    shutil.rmtree(run, ignore_errors=True)
    budget = dict(max_steps=args.steps, eval_every=500) if args.steps else \
        dict(max_steps=10**6, max_time=args.minutes * 60, decay_by="time")
    cfg = TaggerConfig(train=str(tr), dev=str(dev), seed=args.seed, **budget)
    cfg = apply_overrides(cfg, args.set)
    t0 = time.perf_counter()
    result = finished(train(cfg, run), run)
    wall = time.perf_counter() - t0
    points = curve(run)
    best = max(points, key=lambda q: q["dev_accuracy"])
    out = {"task": "UPOS tagging, UD English EWT v2.16 (train -> dev)", "config": json.loads(
               (run / "config.json").read_text()),
           "steps": result.step, "train_minutes": round(result.elapsed / 60, 2),
           "wall_minutes_with_data_loading": round(wall / 60, 2),
           "best_dev_accuracy": best["dev_accuracy"], "best_at_minutes": best["minutes"],
           "final_dev_accuracy": points[-1]["dev_accuracy"],
           "minutes_to_95.3": first_reaching(points, 0.953), "minutes_to_96.0": first_reaching(points, 0.96),
           "peer_torch_nn": PEER, "curve": points}
    path = write_result(name, out)
    print(json.dumps({k: v for k, v in out.items() if k not in ("curve", "config")}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
