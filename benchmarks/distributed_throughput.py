"""Throughput of the char-LM recipe under torchrun: 2 processes x 1 thread against 1 process x 2 threads on
this machine, and what one step moves against what it computes (for scaling across machines).

    python benchmarks/distributed_throughput.py [--steps 60] [--repeats 3] [--text FILE]

Each configuration trains the recipe (`lstmkit train charlm` defaults: 2x256 LSTM, 32 streams x 64 chars)
for ``--steps`` steps from scratch in a fresh process; the throughput is the chars/s of the last logged
window (the first steps -- compiling, warm-up -- are excluded), the two configurations run in turns, medians
over ``--repeats``. Results: benchmarks/results/distributed-throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from _common import SHAKESPEARE, median, write_result  # noqa: E402


def run(config: str, steps: int, text: str | None) -> float:
    out = tempfile.mkdtemp() + "/run"
    args = ["train", "charlm", "--max-steps", str(steps), "--log-every", str(steps // 2), "--eval-every", str(steps),
            "--eval-chars", "2000", "--sample-chars", "0", "--final-sample", "0", "--out", out]
    if text:
        args += ["--text", text]
    env = dict(os.environ)
    if config == "1x2":
        env.update(OMP_NUM_THREADS="2")
        cmd = [sys.executable, "-m", "lstmkit", *args]
    else:
        env.update(OMP_NUM_THREADS="1", LSTMKIT_THREADS="1")
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "lstmkit",
               *args]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = [json.loads(line) for line in open(out + "/metrics.jsonl")]
    return [r["chars_per_s"] for r in records if r.get("chars_per_s")][-1]


def paper(step_s: float) -> dict:
    """Bytes all-reduced per step against compute per step, for the recipe's model."""
    from lstmkit.tasks.charlm import CharLMConfig, CharLMTask

    task = CharLMTask(CharLMConfig())
    params = sum(p.numel() for p in task.build_model().parameters())
    grad_bytes = 4 * params
    out = {"parameters": params, "gradient_bytes": grad_bytes, "step_s_2x1": step_s}
    for nodes in (8, 64):
        ring = 2 * (nodes - 1) / nodes * grad_bytes                      # bytes each node sends and receives
        out[f"{nodes}_nodes"] = {f"{gbit}gbit_ms": round(ring * 8 / (gbit * 1e9) * 1e3, 3) for gbit in (10, 25, 100)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--text", default=str(SHAKESPEARE) if SHAKESPEARE.exists() else None)
    a = p.parse_args()
    speeds: dict[str, list[float]] = {"1x2": [], "2x1": []}
    for r in range(a.repeats):
        for config in (("1x2", "2x1") if r % 2 == 0 else ("2x1", "1x2")):
            speeds[config].append(run(config, a.steps, a.text))
            print(f"repeat {r}: {config} {speeds[config][-1]:.0f} chars/s", flush=True)
    med = {k: median(v) for k, v in speeds.items()}
    chars_per_step = 32 * 64
    result = {"steps": a.steps, "repeats": a.repeats, "text": a.text, "chars_per_s": speeds,
              "median_chars_per_s": med, "ratio_2x1_over_1x2": round(med["2x1"] / med["1x2"], 3),
              "paper": paper(chars_per_step / med["2x1"])}
    print(json.dumps({k: result[k] for k in ("median_chars_per_s", "ratio_2x1_over_1x2", "paper")}, indent=1))
    print(write_result("distributed-throughput", result))


if __name__ == "__main__":
    main()
