"""Throughput against step over a long run: the training engine's cliffs (issue 22).

A word-level job's embedding rows whose words stop appearing get zero gradients; their AdamW moments
then decay through float32's subnormal range, where x86 arithmetic is many times slower. The engine flushes
tiny moments (lstmkit/train/optim.py); this benchmark trains the same run twice in one process, with the
flush and without it (plain AdamW), and reports items/s per window of steps and the subnormal moments at
the end, so a cliff shows as a window far below the run's median.

    python benchmarks/step_time.py                        # SST-2 words (../shared/data/sst2), 2,400 steps
    python benchmarks/step_time.py --job tagger --steps 3000
    python benchmarks/step_time.py --job charlm --steps 3000

Writes benchmarks/results/step_time-<job>.json (median items/s of each window of --window steps).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import time

import torch

from _common import ROOT, write_result

SHARED = ROOT.parent / "shared" / "data"

JOBS = ("classify", "tagger", "charlm")


def subnormal_moments(opt) -> int:
    tiny = torch.finfo(torch.float32).tiny
    return sum(int(((t != 0) & (t.abs() < tiny)).sum()) for s in opt.state.values()
               for k, t in s.items() if k.startswith("exp_avg"))


def make_task(job: str, steps: int):
    common = dict(max_steps=steps, eval_every=10 ** 9, log_every=10 ** 9, seed=0)
    if job == "classify":
        from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask
        data = SHARED / "sst2"
        if not (data / "train.tsv").is_file():
            sys.exit(f"step_time: needs {data}/train.tsv (SST-2), which is absent")
        return ClassifyTask(ClassifyConfig(data=str(data / "train.tsv"), dev=str(data / "dev.tsv"),
                                           text_column="sentence", tokens="word", **common))
    if job == "tagger":
        from lstmkit.tasks.tagger import TaggerConfig, TaggerTask
        ewt = SHARED / "ud_english_ewt"
        train = sorted(ewt.glob("*train*.conllu"))
        dev = sorted(ewt.glob("*dev*.conllu"))
        if not train or not dev:
            sys.exit(f"step_time: needs UD English EWT in {ewt}, which is absent")
        return TaggerTask(TaggerConfig(train=str(train[0]), dev=str(dev[0]), **common))
    from lstmkit.tasks.charlm import CharLMConfig, CharLMTask
    text = SHARED / "tinyshakespeare" / "input.txt"
    if not text.is_file():
        sys.exit(f"step_time: needs {text}, which is absent")
    return CharLMTask(CharLMConfig(text=[str(text)], **common))


def timed_run(job: str, steps: int, window: int, flush: bool) -> dict:
    """Train ``steps`` steps with the engine's own step (optimizer included), timing each."""
    from lstmkit.train import optim
    task = make_task(job, steps)
    torch.manual_seed(0)
    model = task.build_model()
    opt = optim.make_optimizer(model, task.config)
    if not flush:
        opt._optimizer_step_post_hooks.clear()                       # plain AdamW
    times, opt_times, items = [], [], []
    for step in range(steps):
        t0 = time.perf_counter()
        model.train()
        loss, n = task.train_step(model, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), task.config.grad_clip)
        t1 = time.perf_counter()
        opt.step()
        t2 = time.perf_counter()
        times.append(t2 - t0)
        opt_times.append(t2 - t1)
        items.append(n)
    starts = range(0, steps - window + 1, window)
    rates = [sum(items[i:i + window]) / sum(times[i:i + window]) for i in starts]
    opt_ms = [1e3 * statistics.median(opt_times[i:i + window]) for i in starts]
    tiny = torch.finfo(torch.float32).tiny
    sub_params = sum(int(((p != 0) & (p.abs() < tiny)).sum()) for p in model.parameters())
    return {"items_per_s": [round(r, 1) for r in rates], "median": round(statistics.median(rates), 1),
            "worst": round(min(rates), 1), "optimizer_step_ms": [round(x, 2) for x in opt_ms],
            "optimizer_step_ms_median": round(statistics.median(opt_ms), 2),
            "optimizer_step_ms_worst": round(max(opt_ms), 2),
            "subnormal_moments_at_end": subnormal_moments(opt), "subnormal_weights_at_end": sub_params,
            "seconds": round(sum(times), 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--job", choices=JOBS, default="classify")
    p.add_argument("--steps", type=int, default=2400)
    p.add_argument("--window", type=int, default=100)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"job": args.job, "steps": args.steps, "window": args.window, "threads": torch.get_num_threads()}
    for name, flush in (("flushed", True), ("plain_adamw", False)):
        r = timed_run(args.job, args.steps, args.window, flush)
        result[name] = r
        print(f"{name:12s} median {r['median']:8.1f}/s  worst window {r['worst']:8.1f}/s  "
              f"({r['worst'] / r['median']:.2f} of median); optimizer step median {r['optimizer_step_ms_median']} "
              f"ms, worst window {r['optimizer_step_ms_worst']} ms; subnormal moments at end "
              f"{r['subnormal_moments_at_end']:,}, weights {r['subnormal_weights_at_end']:,}; {r['seconds']} s",
              flush=True)
        print("  items/s per window:", " ".join(f"{x:.0f}" for x in r["items_per_s"]), flush=True)
        print("  optimizer ms per window:", " ".join(f"{x:.1f}" for x in r["optimizer_step_ms"]), flush=True)
    print("wrote", write_result(f"step_time-{args.job}", result))


if __name__ == "__main__":
    main()
