"""Speed of the char-LM job: training throughput and generation speed, lstmkit vs torch.nn.LSTM.

* train: the same model (embedding 64 -> 2 x 512 LSTM -> linear, dropout 0.1, batch 32 x 100 characters
  of Tiny Shakespeare) with its recurrent stack built on lstmkit.LSTM and on torch.nn.LSTM; full training
  steps (forward, loss, backward, clipping, AdamW), the models interleaved in one process. float32 against
  float32 is the comparison; mixed precision is measured beside it: lstmkit's ``backend="cpu-bf16"``
  (bfloat16 GEMM operands inside the recurrent kernels, everything else float32) and torch.nn.LSTM under
  ``torch.autocast("cpu", torch.bfloat16)`` (oneDNN's bfloat16 LSTM; embedding and head in bfloat16 too).
* generate: ``lstmkit sample``'s code path (prime read once, then one ``layer.step`` per character) vs a
  naive loop that calls torch.nn.LSTM once per character with the state carried (under no_grad), same
  weights; and, for context, a loop that re-reads the whole prefix for every character.

    python benchmarks/charlm_speed.py                    # both
    python benchmarks/charlm_speed.py --only train --rounds 3

Writes benchmarks/results/charlm_speed.json (medians and ratios). Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import copy
import pathlib
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import SHAKESPEARE, median, timed_training, write_result  # noqa: E402

from lstmkit.tasks.charlm import CharLM, CharLMConfig, CharLMTask, Vocab, sample_text  # noqa: E402
from lstmkit.tasks.charlm.text import default_corpus  # noqa: E402


def model_config(**kw) -> CharLMConfig:
    return CharLMConfig(cell="lstm", layers=2, hidden=512, embed=64, dropout=0.1, batch_size=32, seq_len=100, **kw)


def _text() -> str:
    return SHAKESPEARE.read_text(encoding="utf-8") if SHAKESPEARE.is_file() else default_corpus()


# ------------------------------------------------------------------------------------------- training
def bench_train(rounds: int, steps: int) -> dict:
    text = _text()
    cfg = model_config()
    torch.manual_seed(0)
    tasks = [CharLMTask(cfg, text=text) for _ in range(4)]
    ours = CharLM(len(tasks[0].vocab), cfg)
    ours_bf16 = copy.deepcopy(ours)
    ours_bf16.rnn.backend = "cpu-bf16"
    theirs = CharLM(len(tasks[0].vocab), cfg)
    theirs.rnn = ours.rnn.to_torch()                                  # same weights, torch.nn.LSTM
    theirs_bf16 = copy.deepcopy(theirs)
    run = {"lstmkit": timed_training(tasks[0], ours.train(), 1.0),
           "torch.nn.LSTM": timed_training(tasks[1], theirs.train(), 1.0),
           "lstmkit bf16": timed_training(tasks[2], ours_bf16.train(), 1.0),
           "torch.nn.LSTM autocast bf16": timed_training(tasks[3], theirs_bf16.train(), 1.0, autocast=True)}
    chars = cfg.batch_size * cfg.seq_len * steps
    for f in run.values():                                            # warm-up
        f(1)
    speeds: dict = {k: [] for k in run}
    for r in range(rounds):
        for name, f in run.items():
            speeds[name].append(chars / f(steps)[0])
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f} chars/s" for k, v in speeds.items()), flush=True)
    med = {k: median(v) for k, v in speeds.items()}
    return {"model": "embed 64 -> LSTM 2 x 512 -> linear, dropout 0.1, batch 32 x 100", "steps_per_round": steps,
            "rounds": rounds, "chars_per_s": speeds, "median_chars_per_s": med,
            "ratio_lstmkit_over_torch": med["lstmkit"] / med["torch.nn.LSTM"],
            "ratio_bf16_over_torch_bf16": med["lstmkit bf16"] / med["torch.nn.LSTM autocast bf16"],
            "ratio_bf16_over_torch_float32": med["lstmkit bf16"] / med["torch.nn.LSTM"]}


# ------------------------------------------------------------------------------------------- generation
def bench_generate(rounds: int, length: int) -> dict:
    text = _text()
    vocab = Vocab.from_text(text)
    torch.manual_seed(0)
    model = CharLM(len(vocab), model_config()).eval()
    embed, lstm, head = model.embed, model.rnn.to_torch().eval(), model.head
    prime = "ROMEO:\n"

    def ours() -> float:
        t0 = time.perf_counter()
        out = "".join(sample_text(model, vocab, prime, length, temperature=0.8, seed=1))
        assert len(out) == length
        return time.perf_counter() - t0

    @torch.no_grad()
    def naive_stateful(n: int = length) -> float:
        t0 = time.perf_counter()
        state, out = None, []
        for c in vocab.encode(prime).tolist():
            logits, state = lstm(embed(torch.tensor([[c]])), state)
        for _ in range(n):
            p = torch.softmax(head(logits[0, 0]) / 0.8, dim=-1)
            c = int(torch.multinomial(p, 1))
            out.append(vocab.chars[c])
            logits, state = lstm(embed(torch.tensor([[c]])), state)
        return time.perf_counter() - t0

    @torch.no_grad()
    def naive_rerun(n: int) -> float:
        t0 = time.perf_counter()
        ids = vocab.encode(prime).tolist()
        for _ in range(n):
            y, _ = lstm(embed(torch.tensor(ids).unsqueeze(1)))
            p = torch.softmax(head(y[-1, 0]) / 0.8, dim=-1)
            ids.append(int(torch.multinomial(p, 1)))
        return time.perf_counter() - t0

    ours(), naive_stateful()                                          # warm-up
    speeds: dict = {"lstmkit sample": [], "naive nn.LSTM per char (state carried)": []}
    for r in range(rounds):
        speeds["lstmkit sample"].append(length / ours())
        speeds["naive nn.LSTM per char (state carried)"].append(length / naive_stateful())
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f} chars/s" for k, v in speeds.items()), flush=True)
    rerun_n = min(length, 200)
    rerun = rerun_n / naive_rerun(rerun_n)
    med = {k: median(v) for k, v in speeds.items()}
    return {"model": "embed 64 -> LSTM 2 x 512 -> linear", "length": length, "rounds": rounds,
            "chars_per_s": speeds, "median_chars_per_s": med,
            "naive_rerun_prefix_chars_per_s (first %d chars)" % rerun_n: rerun,
            "ratio_vs_naive_stateful": med["lstmkit sample"] / med["naive nn.LSTM per char (state carried)"],
            "ratio_vs_naive_rerun_prefix": med["lstmkit sample"] / rerun}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=("train", "generate"))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--train-steps", type=int, default=5, help="training steps per model per round")
    p.add_argument("--length", type=int, default=1000, help="characters generated per round")
    args = p.parse_args(argv)
    out = {}
    if args.only in (None, "train"):
        out["train"] = bench_train(args.rounds, args.train_steps)
        tr = out["train"]
        print(f"training throughput ratio lstmkit / torch.nn.LSTM (float32): {tr['ratio_lstmkit_over_torch']:.2f}; "
              f"bfloat16 GEMMs: {tr['ratio_bf16_over_torch_bf16']:.2f} vs nn.LSTM under autocast, "
              f"{tr['ratio_bf16_over_torch_float32']:.2f} vs nn.LSTM float32")
    if args.only in (None, "generate"):
        out["generate"] = bench_generate(args.rounds, args.length)
        print(f"generation ratio vs naive per-char nn.LSTM: {out['generate']['ratio_vs_naive_stateful']:.2f} "
              f"(vs re-reading the prefix: {out['generate']['ratio_vs_naive_rerun_prefix']:.1f})")
    name = "charlm_speed" if args.only is None else f"charlm_speed_{args.only}"
    print(f"wrote {write_result(name, out)}")


if __name__ == "__main__":
    main()
