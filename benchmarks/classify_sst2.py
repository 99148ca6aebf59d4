"""Sentiment of a sentence (SST-2, binary): the README's recipe of `lstmkit train classify` on a wall-clock
budget, against a majority-class and a bag-of-characters logistic regression, with its dev-accuracy curve.

Training data: the 67,349 labelled phrases and sentences of SST-2's training split as GLUE distributes it
(../shared/data/sst2/train.tsv: phrase-level labels, no outside text, no pretrained vectors); dev: GLUE's 872
development sentences. The recipe (RECIPE below, the README's command): word tokens, an ensemble of
bidirectional LSTMs trained side by side (``--members``), attention pooling, dropout on the embeddings and the
pooled vector, word dropout, a weight average (``--ema``), the learning rate annealed to the time budget; the
best checkpoint on dev is kept. ``--test FILE`` (a TSV with label and sentence columns, e.g. the original SST-2
test split, kept out of this repo) also scores the kept checkpoint there.

    flock /tmp/lstmkit-cpu.lock python benchmarks/classify_sst2.py --minutes 15 [--test sst2-test.tsv]
    python benchmarks/classify_sst2.py --minutes 3 --set members=1 --name single

Writes benchmarks/results/classify_sst2_<minutes>m[_<name>].json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys
import time
from collections import Counter

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import ROOT, add_recipe_args, apply_overrides, finished, write_result  # noqa: E402
from classify_genre import bag_of_chars_logreg, scores  # noqa: E402

from lstmkit.tasks.classify import ClassifyConfig, load_classifier, read_examples, train  # noqa: E402
from lstmkit.tasks.classify.task import combine, predict_member_logits  # noqa: E402

SST2 = ROOT.parent / "shared" / "data" / "sst2"

#: the README's recipe (besides --data, --dev, --max-time)
RECIPE = dict(text_column="sentence", tokens="word", members=3, embed=128, hidden=256, dropout=0.5,
              word_dropout=0.1, ema=0.999, decay_by="time", max_steps=10**7, eval_every=500)


def score_file(run: pathlib.Path, path: pathlib.Path) -> dict:
    """Accuracy of the run's kept checkpoint on a labelled file, the ensemble's and each member's."""
    model, enc, cfg = load_classifier(run)
    ex = read_examples(str(path), cfg)
    x, y = enc.encode(ex)
    members = predict_member_logits(model, x, cfg.eval_batch_size)
    return {"sentences": len(y), "accuracy": round((combine(members).argmax(1) == y).float().mean().item(), 4),
            "member_accuracy": [round(v, 4) for v in (members.argmax(2) == y).float().mean(1).tolist()]}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=15.0, help="the classifier's training budget")
    p.add_argument("--data", type=pathlib.Path, default=SST2, help="folder holding train.tsv and dev.tsv")
    p.add_argument("--test", type=pathlib.Path, default=None, help="a labelled held-out TSV to score at the end")
    p.add_argument("--runs", type=pathlib.Path, default=ROOT / "runs" / "bench")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    p.add_argument("--no-baselines", action="store_true", help="skip the majority and logistic baselines")
    add_recipe_args(p)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    tr_path, dev_path = args.data / "train.tsv", args.data / "dev.tsv"
    if not tr_path.is_file() or not dev_path.is_file():
        raise SystemExit(f"SST-2 not found under {args.data} (expected train.tsv and dev.tsv); pass --data DIR")
    if args.test is not None and not args.test.is_file():
        raise SystemExit(f"--test {args.test} does not exist")
    cfg = apply_overrides(ClassifyConfig(data=str(tr_path), dev=str(dev_path), max_time=args.minutes * 60,
                                         **RECIPE), args.set)
    out: dict = {"task": "SST-2 sentiment (binary): GLUE train phrases -> GLUE dev sentences"}
    if not args.no_baselines:
        tr, dev = read_examples(str(tr_path), cfg), read_examples(str(dev_path), cfg)
        classes = sorted(set(tr.labels))
        ytr = torch.tensor([classes.index(y) for y in tr.labels])
        ydev = torch.tensor([classes.index(y) for y in dev.labels])
        majority = Counter(tr.labels).most_common(1)[0][0]
        out["majority_class"] = {"predicts": majority,
                                 **scores(ydev, torch.full_like(ydev, classes.index(majority)), classes)}
        t0 = time.perf_counter()
        pred, n_feats = bag_of_chars_logreg(tr.items, ytr, dev.items, len(classes))
        out["bag_of_chars_logreg"] = {"features": n_feats, "seconds": round(time.perf_counter() - t0, 1),
                                      **scores(ydev, pred, classes)}
        print(json.dumps({k: out[k] for k in ("majority_class", "bag_of_chars_logreg")}, indent=1), flush=True)

    name = f"classify_sst2_{args.minutes:g}m" + (f"_{args.name}" if args.name else "")
    run = args.runs / name
    shutil.rmtree(run, ignore_errors=True)
    result = finished(train(cfg, run), run)
    evals = [r for r in (json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()) if "val_acc" in r]
    best = min(evals, key=lambda r: r["val_error"])
    out["lstmkit_classifier"] = {
        "config": json.loads((run / "config.json").read_text()), "steps": result.step,
        "train_minutes": round(result.elapsed / 60, 2), "dev_accuracy": best["val_acc"],
        "best_at_minutes": round(best["elapsed"] / 60, 2), "final_dev_accuracy": evals[-1]["val_acc"],
        "curve": [{"minutes": round(r["elapsed"] / 60, 2), "step": r["step"], "dev_accuracy": r["val_acc"],
                   **({"member_accuracy": r["val_member_acc"]} if "val_member_acc" in r else {})} for r in evals]}
    if args.test is not None:
        out["lstmkit_classifier"]["test"] = score_file(run, args.test)
    path = write_result(name, out)
    print(json.dumps({k: v for k, v in out["lstmkit_classifier"].items() if k not in ("config", "curve")}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
