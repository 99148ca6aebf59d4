"""Decoding speed of lstmkit.seq2seq (issue 24's decoding targets), interleaved in one process, medians:

1. batched beam search (beam 5) of a batch of sources against decoding the same sources one at a time
   (beam 5 each): the speed-up of stepping all B*5 hypotheses together;
2. the decoder's recurrent step: an lstmkit LSTM's ``step`` (the compiled single-step kernel) against
   ``torch.nn.LSTM`` called on one time step, same weights, no_grad, at the decoder's sizes.

The model is untrained with the end token's logit pushed down, so every hypothesis runs to ``max_len``
and both ways do the same number of steps.

    .venv/bin/python benchmarks/seq2seq_decoding.py            # writes benchmarks/results/seq2seq_decoding.json
"""

from __future__ import annotations

import argparse
import time

import torch

import lstmkit
from lstmkit.seq2seq import AttentionDecoder, RecurrentEncoder, Seq2Seq

from _common import median, write_result


def model(vocab: int, hidden: int) -> Seq2Seq:
    torch.manual_seed(0)
    enc = RecurrentEncoder(vocab, 64, 128)
    dec = AttentionDecoder(vocab, 64, hidden, 1, enc.output_size, enc.summary_size, attention="general",
                           input_feeding=True)
    with torch.no_grad():
        dec.out.bias[2] = -30.0                                 # never end early: equal work both ways
    return Seq2Seq(enc, dec).eval()


def beam_speedup(m: Seq2Seq, batch: int, length: int, max_len: int, repeats: int) -> dict:
    g = torch.Generator().manual_seed(1)
    src = torch.randint(4, 40, (batch, length), generator=g)
    lengths = torch.full((batch,), length)
    batched, single = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        m.translate((src, lengths), max_len=max_len, beam=5)
        batched.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for b in range(batch):
            m.translate((src[b:b + 1], lengths[b:b + 1]), max_len=max_len, beam=5)
        single.append(time.perf_counter() - t0)
    return {"batch": batch, "source_length": length, "max_len": max_len, "beam": 5,
            "batched_s": median(batched), "one_at_a_time_s": median(single),
            "speedup": median(single) / median(batched)}


def step_speed(batch: int, inp: int, hidden: int, layers: int, repeats: int, steps: int = 200) -> dict:
    ours = lstmkit.LSTM(inp, hidden, layers).eval()
    ref = ours.to_torch().eval()
    x = torch.randn(steps, batch, inp)
    times = {"lstmkit_step_us": [], "torch_nn_step_us": []}
    with torch.no_grad():
        ours.step(x[0])                                          # compile
        for _ in range(repeats):
            state = None
            t0 = time.perf_counter()
            for t in range(steps):
                y, state = ours.step(x[t], state)
            times["lstmkit_step_us"].append((time.perf_counter() - t0) / steps * 1e6)
            state = None
            t0 = time.perf_counter()
            for t in range(steps):
                y, state = ref(x[t:t + 1], state)
            times["torch_nn_step_us"].append((time.perf_counter() - t0) / steps * 1e6)
    out = {k: median(v) for k, v in times.items()}
    return {"batch": batch, "input": inp, "hidden": hidden, "layers": layers, **out,
            "ratio_torch_over_lstmkit": out["torch_nn_step_us"] / out["lstmkit_step_us"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default="seq2seq_decoding")
    args = p.parse_args()
    m = model(vocab=60, hidden=256)
    beams = [beam_speedup(m, batch, 12, 30, args.repeats) for batch in (16, 64)]
    for r in beams:
        print(f"beam 5, batch {r['batch']}: batched {r['batched_s'] * 1e3:.0f} ms, one at a time "
              f"{r['one_at_a_time_s'] * 1e3:.0f} ms: x{r['speedup']:.1f}")
    steps = [step_speed(b, 64 + 256, 256, layers, args.repeats) for b in (1, 5, 64) for layers in (1, 2)]
    for r in steps:
        print(f"decoder step B={r['batch']} layers={r['layers']} H={r['hidden']}: lstmkit {r['lstmkit_step_us']:.1f} us, "
              f"torch.nn {r['torch_nn_step_us']:.1f} us: x{r['ratio_torch_over_lstmkit']:.2f}")
    print("wrote", write_result(args.out, {"beam_search": beams, "decoder_step": steps}))


if __name__ == "__main__":
    main()
