"""Quality per wall-clock minute on Tiny Shakespeare: lstmkit's recipe vs a plain torch.nn.LSTM char-rnn.

Both train through the same engine on the same data (the last 10% of input.txt is validation, scored in
full) for the same wall-clock training budget. To expose both to the same machine conditions they are
interleaved in one process: each trains for a slice (--slice-minutes), saves, and gives way to the other,
then continues exactly from its checkpoint. Each slice ends with an evaluation, so the curves (validation
nats/char against training wall time, evaluation time excluded) are compared at equal time.

    python benchmarks/charlm_shakespeare.py --minutes 15            # both models, 15 min of training each
    python benchmarks/charlm_shakespeare.py --minutes 30 --which ours

Writes benchmarks/results/charlm_shakespeare_<which>_<minutes>m.json. Run it alone on the machine
(flock /tmp/lstmkit-cpu.lock ...): it measures wall time.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys

from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import (ROOT, SHAKESPEARE, add_recipe_args, apply_overrides, finished, need_shakespeare,  # noqa: E402
                     write_result)

from lstmkit.tasks.charlm import CharLM, CharLMConfig, CharLMTask  # noqa: E402
from lstmkit.train import RunDir, Trainer  # noqa: E402


#: evaluations happen at the end of each slice only (see the module docstring)
NO_SCHEDULED_EVAL = dict(eval_every=10**9, log_every=25, sample_chars=300, final_sample=0, max_steps=10**7)


def recipe(text: str, minutes: float) -> CharLMConfig:
    """lstmkit's default recipe for Tiny Shakespeare on a few CPU cores, for a wall-clock budget.

    * mixed precision: ``backend="cpu-bf16"`` runs the recurrent GEMMs on bfloat16 operands (float32
      state, pointwise and optimizer), ~1.4x the float32 throughput on this AVX512-BF16 CPU, so the budget
      covers more passes over the text (~9,500 chars/s: 15 minutes ~ 8 passes, 30 minutes ~ 17);
    * the learning rate anneals (cosine) to the end of the budget;
    * regularisation grows with the passes the budget allows: up to 20 minutes dropout 0.15 and decoupled
      weight decay 0.05 (15 minutes: 1.432); beyond that zoneout on the cell (0.5) and on h (0.05),
      dropout 0.25, weight decay 0.1, and evaluation with a moving average of the weights (--ema 0.998):
      30 minutes 1.421, still falling at the end. Tried before it at 30 minutes: dropout 0.5 (1.431 at
      25), the same with the moving average (1.426 at 27.5), dropout 0.3 (peaked at 15 with 1.438),
      float32 with dropout 0.1 (1.454 at 17.5), each flattening or overfitting first.
    """
    short = minutes <= 20
    longer = {} if short else dict(zoneout_c=0.5, zoneout_h=0.05, ema=0.998)
    return CharLMConfig(text=[text], decay_by="time", decay_time=minutes * 60, cell="lstm", layers=2,
                        hidden=512, embed=64, dropout=0.15 if short else 0.25, batch_size=32, seq_len=100,
                        lr=2e-3, min_lr=0.05, warmup_steps=50, weight_decay=0.05 if short else 0.1, beta2=0.99,
                        grad_clip=1.0, eval_batch_size=128, backend="cpu-bf16", **longer, **NO_SCHEDULED_EVAL)


def baseline(text: str, minutes: float) -> CharLMConfig:
    """The char-rnn reference of the issue: 2 x 512, batch 32 x 100, AdamW 2e-3, dropout 0.1, no schedule."""
    return CharLMConfig(text=[text], cell="lstm", layers=2, hidden=512, embed=64, dropout=0.1, batch_size=32,
                        seq_len=100, lr=2e-3, schedule="constant", warmup_steps=0, weight_decay=0.01,
                        beta2=0.999, grad_clip=5.0, eval_batch_size=128, **NO_SCHEDULED_EVAL)


class TorchLSTMTask(CharLMTask):
    """The same job with the recurrent stack swapped for torch.nn.LSTM."""

    def build_model(self) -> nn.Module:
        cfg = self.config
        model = CharLM(len(self.vocab), cfg)
        model.rnn = nn.LSTM(cfg.embed, cfg.hidden, cfg.layers, dropout=cfg.dropout)
        return model


def curve(run: pathlib.Path) -> list[tuple[float, float]]:
    """(training seconds, validation nats/char) at the end of each slice."""
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["elapsed"], r["val_loss"]) for r in recs if "val_loss" in r]


def best_by(points, minutes: float, slice_minutes: float):
    """Best validation loss of the slices that end by ``minutes`` (slice k ends at k * slice_minutes, at
    the first step boundary past it)."""
    vals = [v for k, (_, v) in enumerate(points) if (k + 1) * slice_minutes <= minutes + 1e-9]
    return min(vals) if vals else None


def first_below(points, target: float):
    return next((round(t / 60, 2) for t, v in points if v <= target), None)


class Sliced:
    """One model trained slice by slice: each :meth:`advance` raises its time budget by one slice and
    trains (the first creates the run, the others resume it exactly)."""

    def __init__(self, name: str, cfg: CharLMConfig, task_cls, run_dir: pathlib.Path, fresh: bool = True) -> None:
        if fresh and run_dir.exists():
            shutil.rmtree(run_dir)
        self.name, self.cfg, self.run_dir, self.task_cls = name, cfg, run_dir, task_cls
        self.task = task_cls(cfg) if fresh else None
        self.budget = 0.0

    def advance(self, seconds: float) -> None:
        self.budget += seconds
        self.cfg.max_time = self.budget
        first = not self.run_dir.exists()
        run = RunDir.create(self.run_dir, self.cfg) if first else RunDir.open(self.run_dir)
        self.result = finished(Trainer(self.task, run, resume=not first, stream=sys.stdout).fit(), self.run_dir)
        pts = curve(self.run_dir)
        print(f"== {self.name}: {pts[-1][0] / 60:.1f} min, step {self.result.step}, val {pts[-1][1]:.4f}",
              flush=True)

    def summary(self, minutes: float, slice_minutes: float) -> dict:
        pts = curve(self.run_dir)
        recs = [json.loads(line) for line in (self.run_dir / "metrics.jsonl").read_text().splitlines()]
        speeds = sorted(r["chars_per_s"] for r in recs if r.get("chars_per_s"))
        steps = max(r["step"] for r in recs)
        return {"run": str(self.run_dir), "steps": steps, "best_val": min(v for _, v in pts),
                "curve_minutes_val": [(round(t / 60, 2), v) for t, v in pts],
                "best_val_by_minute": {m: best_by(pts, m, slice_minutes) for m in (5, 10, 15, 20, 25, 30)
                                       if m <= minutes},
                "minutes_to": {str(t): first_below(pts, t) for t in (1.5, 1.45, 1.40)},
                "chars_per_s_median": speeds[len(speeds) // 2] if speeds else None,
                "params": sum(p.numel() for p in (self.task or self.task_cls(self.cfg)).build_model().parameters()),
                "config": {k: v for k, v in json.loads((self.run_dir / "config.json").read_text()).items()
                           if k not in ("text", "max_time")}}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--which", choices=("both", "ours", "baseline"), default="both")
    p.add_argument("--slice-minutes", type=float, default=2.5, help="training time per turn (and between evaluations)")
    p.add_argument("--summarize", action="store_true", help="only rewrite the JSON from the runs already there")
    p.add_argument("--text", type=pathlib.Path, default=SHAKESPEARE)
    p.add_argument("--runs", type=pathlib.Path, default=ROOT / "runs" / "bench")
    add_recipe_args(p)
    args = p.parse_args(argv)
    text = str(need_shakespeare(args.text))
    ours = apply_overrides(recipe(text, args.minutes), args.set)
    jobs = {"ours": (ours, CharLMTask), "baseline": (baseline(text, args.minutes), TorchLSTMTask)}
    suffix = f"-{args.name}" if args.name else ""
    models = [Sliced(name, cfg, cls, args.runs / f"shakespeare-{name}-{args.minutes:g}m{suffix}",
                     fresh=not args.summarize)
              for name, (cfg, cls) in jobs.items() if args.which in ("both", name)]
    n_slices = max(1, round(args.minutes / args.slice_minutes))
    for _ in range(0 if args.summarize else n_slices):
        for m in models:
            m.advance(args.minutes * 60 / n_slices)
    out: dict = {"minutes": args.minutes, "slices": n_slices, "text": text,
                 "models": {m.name: m.summary(args.minutes, args.minutes / n_slices) for m in models}}
    for name, res in out["models"].items():
        print(name, json.dumps({k: res[k] for k in ("best_val", "best_val_by_minute", "minutes_to",
                                                    "chars_per_s_median", "steps")}), flush=True)
    tag = f"_{args.name}" if args.name else ""
    path = write_result(f"charlm_shakespeare_{args.which}_{args.minutes:g}m{tag}", out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
