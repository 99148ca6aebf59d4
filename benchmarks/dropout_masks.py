"""Training throughput with lstmkit's compiled dropout/zoneout masks against torch.bernoulli's, in one process.

The same model and optimizer run interleaved rounds of full training steps; before each round the masks are
switched between the compiled generator (:mod:`lstmkit.kernels.cpu.bernoulli`) and its torch.bernoulli
fallback, so both halves of a round see the same machine. Jobs: the char-LM's 30-minute recipe (2 x 512
LSTM, zoneout c 0.5 / h 0.05, dropout 0.25, bf16 GEMMs, batch 32 x 100, Tiny Shakespeare) and the tagger's
defaults on UD English EWT.

    flock /tmp/lstmkit-cpu.lock python benchmarks/dropout_masks.py --job charlm --rounds 5
    flock /tmp/lstmkit-cpu.lock python benchmarks/dropout_masks.py --job tagger --rounds 7

Writes benchmarks/results/dropout_masks_<job>.json (units/s per round, medians, ratio compiled / torch).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import ROOT, SHAKESPEARE, median, need_shakespeare, timed_training, write_result  # noqa: E402

from lstmkit.kernels.cpu import bernoulli  # noqa: E402

EWT = ROOT.parent / "shared" / "data" / "ud_english_ewt"


def _units_per_s(run, steps: int):
    def rate() -> float:
        seconds, units = run(steps)
        return units / seconds
    return rate


def job(name: str):
    torch.manual_seed(0)
    if name == "charlm":
        from lstmkit.tasks.charlm import CharLM, CharLMConfig, CharLMTask
        cfg = CharLMConfig(cell="lstm", layers=2, hidden=512, embed=64, dropout=0.25, batch_size=32, seq_len=100,
                           zoneout_c=0.5, zoneout_h=0.05, backend="cpu-bf16")
        task = CharLMTask(cfg, text=need_shakespeare(SHAKESPEARE).read_text(encoding="utf-8"))
        return _units_per_s(timed_training(task, CharLM(len(task.vocab), cfg).train(), 1.0), 4), "chars/s"
    from lstmkit.tasks.tagger import TaggerConfig, TaggerTask
    if not EWT.is_dir():
        raise SystemExit(f"UD English EWT not found under {EWT}")
    cfg = TaggerConfig(train=str(EWT / "en_ewt-ud-train.conllu"), dev=str(EWT / "en_ewt-ud-dev.conllu"))
    task = TaggerTask(cfg)
    return _units_per_s(timed_training(task, task.build_model().train(), cfg.grad_clip), 20), "words/s"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--job", choices=("charlm", "tagger"), default="charlm")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    run, unit = job(args.job)
    compiled = bernoulli._fill
    modes = {"torch.bernoulli": None, "compiled": compiled}
    speeds: dict = {k: [] for k in modes}
    try:
        for fill in modes.values():                                   # warm-up (and compile)
            bernoulli._fill = fill
            run()
        for r in range(args.rounds):
            for k, fill in modes.items():
                bernoulli._fill = fill
                speeds[k].append(run())
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f} {unit}" for k, v in speeds.items()), flush=True)
    finally:
        bernoulli._fill = compiled
    med = {k: median(v) for k, v in speeds.items()}
    out = {"job": args.job, "unit": unit, "rounds": args.rounds, "per_round": speeds, "median": med,
           "ratio_compiled_over_torch": med["compiled"] / med["torch.bernoulli"]}
    print(f"{args.job}: compiled masks x{out['ratio_compiled_over_torch']:.2f} ({med['compiled']:,.0f} against "
          f"{med['torch.bernoulli']:,.0f} {unit})")
    print(f"wrote {write_result(f'dropout_masks_{args.job}', out)}")


if __name__ == "__main__":
    main()
