"""Ensembles of trained UD English EWT taggers: dev UPOS accuracy of each run alone and of the ensembles of
its first k runs (k = 2 .. n; the mean of their tag distributions, what `lstmkit eval RUN RUN ...` and
`lstmkit tag RUN RUN ...` do), with each member's training time from its metrics; and, so that one lucky
ordering of the runs does not make the claim, every ensemble of k of the n runs (all combinations, or
--max-subsets of them drawn at random when there are more): the lowest, median and highest accuracy, and
how many reach --target.

    for s in 0 1 2 3 4; do
        flock /tmp/lstmkit-cpu.lock python benchmarks/tagger_ewt.py --minutes 10 --seed $s --name seed$s
    done
    python benchmarks/tagger_ensemble.py runs/bench/tagger_ewt_10m_seed{0,1,2,3,4} --name 10m-5seeds

Writes benchmarks/results/tagger_ensemble_<name>.json. Inference only: it needs no quiet machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import pathlib
import random
import statistics
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402
from tagger_ewt import EWT  # noqa: E402

from lstmkit.tasks.tagger import load_taggers, read_conllu, tag_probabilities  # noqa: E402
from lstmkit.tasks.tagger.data import gold_tags  # noqa: E402
from lstmkit.train.metrics import MetricsLog  # noqa: E402


def subsets(n: int, k: int, limit: int) -> list[tuple[int, ...]]:
    """Every k-combination of range(n), or ``limit`` distinct ones drawn at random (seed 0) when there are more."""
    if math.comb(n, k) <= limit:
        return list(itertools.combinations(range(n), k))
    rng, chosen = random.Random(0), set()
    while len(chosen) < limit:
        chosen.add(tuple(sorted(rng.sample(range(n), k))))
    return sorted(chosen)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=pathlib.Path, help="tagger run folders")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best",
                   help="best (by dev accuracy during training) or last (the end of the schedule: no choice made "
                        "on dev)")
    p.add_argument("--data", type=pathlib.Path, default=EWT / "en_ewt-ud-dev.conllu")
    p.add_argument("--name", default="", help="suffix of the result file")
    p.add_argument("--target", type=float, default=0.96, help="dev accuracy counted in the subset statistics")
    p.add_argument("--max-subsets", type=int, default=2000,
                   help="score at most this many of the k-run combinations (drawn with a fixed seed)")
    args = p.parse_args(argv)
    if not args.data.is_file():
        raise SystemExit(f"{args.data} not found; pass --data FILE.conllu")
    loaded = load_taggers(args.runs, args.checkpoint)
    vocab, cfg = loaded[0][1], loaded[0][2]
    sentences = read_conllu(args.data, (cfg.column,))
    gold = torch.cat(gold_tags(sentences, cfg.column, vocab, str(args.data)))
    words = [s.words for s in sentences]
    probs = [torch.cat(tag_probabilities(model, v, words)) for model, v, _ in loaded]   # (N, K) per run

    def accuracy(p: torch.Tensor) -> float:
        return round(float((p.argmax(1) == gold).double().mean()), 6)

    members = []
    for path, p_run in zip(args.runs, probs):
        recs = MetricsLog(path / "metrics.jsonl").read()
        members.append({"run": str(path), "dev_accuracy": accuracy(p_run), "steps": recs[-1]["step"],
                        "train_minutes": round(recs[-1]["elapsed"] / 60, 2)})
    ensembles = [{"members": k, "dev_accuracy": accuracy(sum(probs[:k]) / k)} for k in range(2, len(probs) + 1)]
    for entry in ensembles:
        scores = [accuracy(sum(probs[i] for i in combo) / len(combo))
                  for combo in subsets(len(probs), entry["members"], args.max_subsets)]
        entry["all_subsets"] = {"count": len(scores), "min": min(scores), "median": round(statistics.median(scores), 6),
                                "max": max(scores), f"reaching_{args.target:g}": sum(a >= args.target for a in scores)}
    singles = [m["dev_accuracy"] for m in members]
    out = {"task": f"UPOS ensembles, {args.data.name}", "checkpoint": args.checkpoint, "words": int(gold.numel()),
           "members": members,
           "single_median": statistics.median(singles), "single_best": max(singles), "ensembles": ensembles,
           "total_train_minutes": round(sum(m["train_minutes"] for m in members), 2)}
    suffix = (f"_{args.name}" if args.name else "") + ("_last" if args.checkpoint == "last" else "")
    path = write_result("tagger_ensemble" + suffix, out)
    print(json.dumps(out, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
