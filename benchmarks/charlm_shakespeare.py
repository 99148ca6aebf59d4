"""Quality per wall-clock minute on Tiny Shakespeare: lstmkit's recipe vs a plain torch.nn.LSTM char-rnn.

Both train through the same engine on the same data (last 10% of input.txt is validation, scored in full
at every evaluation) for the same wall-clock budget; the curves (validation nats/char against elapsed
wall time, evaluation included) are compared at equal time.

    python benchmarks/charlm_shakespeare.py --minutes 15            # both models, 15 min each
    python benchmarks/charlm_shakespeare.py --minutes 30 --which ours

Writes benchmarks/results/charlm_shakespeare_<which>_<minutes>m.json. Run it alone on the machine
(flock /tmp/lstmkit-cpu.lock ...): it measures wall time.
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib
import shutil
import sys

from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import ROOT, SHAKESPEARE, need_shakespeare, write_result  # noqa: E402

from lstmkit.tasks.charlm import CharLM, CharLMConfig, CharLMTask  # noqa: E402
from lstmkit.train import RunDir, Trainer  # noqa: E402


def recipe(text: str, minutes: float) -> CharLMConfig:
    """lstmkit's default recipe for Tiny Shakespeare on a few CPU cores, for a wall-clock budget."""
    return CharLMConfig(text=[text], max_time=minutes * 60, max_steps=10**7, decay_by="time",
                        cell="lstm", layers=2, hidden=512, embed=64, dropout=0.25, batch_size=32, seq_len=100,
                        lr=3e-3, min_lr=0.05, warmup_steps=100, weight_decay=0.1, beta2=0.99, grad_clip=1.0,
                        eval_every=150, log_every=25, sample_chars=300, final_sample=0)


def baseline(text: str, minutes: float) -> CharLMConfig:
    """The char-rnn reference of the issue: 2 x 512, batch 32 x 100, AdamW 2e-3, dropout 0.1, no schedule."""
    return CharLMConfig(text=[text], max_time=minutes * 60, max_steps=10**7, cell="lstm", layers=2,
                        hidden=512, embed=64, dropout=0.1, batch_size=32, seq_len=100, lr=2e-3,
                        schedule="constant", warmup_steps=0, weight_decay=0.01, beta2=0.999, grad_clip=5.0,
                        eval_every=150, log_every=25, sample_chars=300, final_sample=0)


class TorchLSTMTask(CharLMTask):
    """The same job with the recurrent stack swapped for torch.nn.LSTM."""

    def build_model(self) -> nn.Module:
        cfg = self.config
        model = CharLM(len(self.vocab), cfg)
        model.rnn = nn.LSTM(cfg.embed, cfg.hidden, cfg.layers, dropout=cfg.dropout)
        return model


def curve(run: pathlib.Path) -> list[tuple[float, float]]:
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["elapsed"], r["val_loss"]) for r in recs if "val_loss" in r]


def best_by(points, seconds: float):
    vals = [v for t, v in points if t <= seconds]
    return min(vals) if vals else None


def first_below(points, target: float):
    return next((round(t / 60, 2) for t, v in points if v <= target), None)


def train_one(name: str, cfg: CharLMConfig, task_cls, out_root: pathlib.Path) -> dict:
    run_dir = out_root / name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    print(f"== {name}: {cfg.max_time / 60:g} min", flush=True)
    task = task_cls(cfg)
    result = Trainer(task, RunDir.create(run_dir, cfg), stream=sys.stdout).fit()
    pts = curve(run_dir)
    recs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    speeds = [r["chars_per_s"] for r in recs if r.get("chars_per_s")]
    return {"run": str(run_dir), "steps": result.step, "best_val": result.best, "curve": pts,
            "chars_per_s_median": sorted(speeds)[len(speeds) // 2] if speeds else None,
            "params": sum(p.numel() for p in task.build_model().parameters())}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--which", choices=("both", "ours", "baseline"), default="both")
    p.add_argument("--text", type=pathlib.Path, default=SHAKESPEARE)
    p.add_argument("--runs", type=pathlib.Path, default=ROOT / "runs" / "bench")
    args = p.parse_args(argv)
    text = str(need_shakespeare(args.text))
    out: dict = {"minutes": args.minutes, "text": text, "models": {}}
    jobs = {"ours": (recipe(text, args.minutes), CharLMTask), "baseline": (baseline(text, args.minutes), TorchLSTMTask)}
    for name, (cfg, cls) in jobs.items():
        if args.which in ("both", name):
            res = train_one(f"shakespeare-{name}-{args.minutes:g}m", cfg, cls, args.runs)
            res["config"] = {k: v for k, v in cfg.__dict__.items() if k != "text"}
            pts = res["curve"]
            res["best_val_by_minute"] = {m: best_by(pts, m * 60) for m in (5, 10, 15, 20, 30) if m <= args.minutes}
            res["minutes_to"] = {str(t): first_below(pts, t) for t in (1.5, 1.45, 1.40)}
            out["models"][name] = res
            print(json.dumps({k: res[k] for k in ("best_val", "best_val_by_minute", "minutes_to",
                                                  "chars_per_s_median", "steps")}), flush=True)
    path = write_result(f"charlm_shakespeare_{args.which}_{args.minutes:g}m", out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
