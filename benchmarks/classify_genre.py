"""Genre of a sentence in UD English EWT (answers, email, newsgroup, reviews, weblog: the sent_id prefix):
lstmkit's sequence classifier against a majority-class and a bag-of-characters logistic regression.

All three train on en_ewt-ud-train.conllu and are scored on en_ewt-ud-dev.conllu (accuracy and macro-F1
over the five genres). The baseline reads character 1-3-grams (seen at least twice in training; log counts,
rows L2-normalised) into a multinomial logistic regression (torch, full batch, AdamW with a fixed L2; no
tuning on dev). The classifier is `lstmkit train classify --tokens word` with a BiLSTM and attention
pooling, class weights, on a wall-clock budget.

    flock /tmp/lstmkit-cpu.lock python benchmarks/classify_genre.py --minutes 5
    python benchmarks/classify_genre.py --steps 2000      # a step budget: its times are not comparable

Writes benchmarks/results/classify_genre_<minutes>m.json (or _<steps>steps.json).
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
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import ROOT, finished, write_result  # noqa: E402

from lstmkit.tasks.classify import ClassifyConfig, read_examples, train  # noqa: E402
from lstmkit.tasks.scores import confusion, label_scores  # noqa: E402

EWT = ROOT.parent / "shared" / "data" / "ud_english_ewt"


def scores(gold: torch.Tensor, pred: torch.Tensor, classes: list[str]) -> dict:
    s = label_scores(confusion(gold, pred, len(classes)), classes)
    return {"dev_accuracy": round(s["accuracy"], 4), "dev_macro_f1": round(s["macro_f1"], 4),
            "per_class_f1": {k: v["f1"] for k, v in s["labels"].items()}}


def ngrams(text: str, n_max: int = 3) -> list[str]:
    t = f" {text} "
    return [t[i:i + n] for n in range(1, n_max + 1) for i in range(len(t) - n + 1)]


def bag_of_chars_logreg(train_x, train_y, dev_x, n_classes: int, epochs: int = 300, l2: float = 1e-4):
    counts = Counter(g for x in train_x for g in set(ngrams(x)))
    vocab = {g: i for i, g in enumerate(sorted(g for g, c in counts.items() if c >= 2))}

    def features(texts):
        rows, cols, vals = [], [], []
        for r, x in enumerate(texts):
            for g, c in Counter(ngrams(x)).items():
                if g in vocab:
                    rows.append(r), cols.append(vocab[g]), vals.append(1.0 + float(torch.tensor(c).log()))
        m = torch.sparse_coo_tensor([rows, cols], vals, (len(texts), len(vocab))).coalesce()
        norm = torch.zeros(len(texts)).index_add_(0, m.indices()[0], m.values() ** 2).sqrt().clamp(min=1e-8)
        return torch.sparse_coo_tensor(m.indices(), m.values() / norm[m.indices()[0]], m.shape).coalesce()

    xtr, xdev = features(train_x), features(dev_x)
    torch.manual_seed(0)
    w = torch.zeros(len(vocab), n_classes, requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.05)
    for _ in range(epochs):
        loss = F.cross_entropy(torch.sparse.mm(xtr, w) + b, train_y) + l2 * w.pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (torch.sparse.mm(xdev, w) + b).argmax(1), len(vocab)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=5.0, help="the classifier's training budget")
    p.add_argument("--steps", type=int, default=0, help="a step budget instead of --minutes (quality then does "
                                                         "not depend on the machine's speed)")
    p.add_argument("--data", type=pathlib.Path, default=EWT)
    p.add_argument("--runs", type=pathlib.Path, default=ROOT / "runs" / "bench")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="classifier settings on top of the recipe (e.g. dropout=0.5 min_count=2)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    tr_path, dev_path = args.data / "en_ewt-ud-train.conllu", args.data / "en_ewt-ud-dev.conllu"
    if not tr_path.is_file() or not dev_path.is_file():
        raise SystemExit(f"UD English EWT not found under {args.data}; pass --data DIR")
    budget = dict(max_steps=args.steps) if args.steps else dict(max_steps=10**6, max_time=args.minutes * 60,
                                                                  decay_by="time")
    extra = {k: json.loads(v) if v[:1].isdigit() or v in ("true", "false") else v
             for k, v in (item.split("=", 1) for item in args.set)}
    cfg = ClassifyConfig(data=str(tr_path), dev=str(dev_path), tokens="word", class_weights=True, eval_every=200,
                         **budget, **extra)
    tr, dev = read_examples(str(tr_path), cfg), read_examples(str(dev_path), cfg)
    classes = sorted(set(tr.labels))
    ytr = torch.tensor([classes.index(y) for y in tr.labels])
    ydev = torch.tensor([classes.index(y) for y in dev.labels])
    out = {"task": "genre of a sentence, UD English EWT v2.16 (train -> dev), 5 classes",
           "train_distribution": dict(Counter(tr.labels)), "dev_distribution": dict(Counter(dev.labels))}

    majority = Counter(tr.labels).most_common(1)[0][0]
    out["majority_class"] = {"predicts": majority, **scores(ydev, torch.full_like(ydev, classes.index(majority)),
                                                            classes)}
    t0 = time.perf_counter()
    pred, n_feats = bag_of_chars_logreg(tr.items, ytr, dev.items, len(classes))
    out["bag_of_chars_logreg"] = {"features": n_feats, "seconds": round(time.perf_counter() - t0, 1),
                                  **scores(ydev, pred, classes)}
    print(json.dumps({k: out[k] for k in ("majority_class", "bag_of_chars_logreg")}, indent=1), flush=True)

    name = f"classify_genre_{args.steps}steps" if args.steps else f"classify_genre_{args.minutes:g}m"
    name += "".join(f"_{k}{v}" for k, v in extra.items())
    run = args.runs / name
    shutil.rmtree(run, ignore_errors=True)
    t0 = time.perf_counter()
    result = finished(train(cfg, run), run)
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in recs if "val_acc" in r]
    best = min(evals, key=lambda r: r["val_error"])
    out["lstmkit_classifier"] = {"config": json.loads((run / "config.json").read_text()), "steps": result.step,
                                 "train_minutes": round(result.elapsed / 60, 2),
                                 "wall_minutes": round((time.perf_counter() - t0) / 60, 2),
                                 "dev_accuracy": best["val_acc"], "dev_macro_f1": best["val_macro_f1"],
                                 "best_at_minutes": round(best["elapsed"] / 60, 2),
                                 "final_dev_accuracy": evals[-1]["val_acc"],
                                 "final_dev_macro_f1": evals[-1]["val_macro_f1"],
                                 "curve": [{"minutes": round(r["elapsed"] / 60, 2), "dev_accuracy": r["val_acc"],
                                            "dev_macro_f1": r["val_macro_f1"]} for r in evals]}
    path = write_result(name, out)
    print(json.dumps({k: v for k, v in out["lstmkit_classifier"].items() if k not in ("config", "curve")}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
