"""What looking inside costs.

1. Recording overhead: forward (inference, no grad) and forward+backward of 2-layer LSTM, GRU and RNN
   stacks, a small (per-call overhead) and a mid-sized case,
   with record off (a layer never recorded), off after a recording block ended, and on; interleaved
   rounds, medians, ratios to off.
2. ``lstmkit inspect`` end to end on a 2x256 LSTM char model (untrained weights: timing does not depend
   on them) over texts of 500 and 2,000 characters: trace, page, heatmaps; the page's size.

    flock /tmp/lstmkit-cpu.lock .venv/bin/python benchmarks/inspect_cost.py      # ~5 minutes
Writes benchmarks/results/inspect_cost.json.
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
import time

import torch

import lstmkit
from lstmkit.bench.timing import interleaved
from lstmkit.inspect import recording, render_page, trace, write_heatmaps
from lstmkit.tasks.charlm import CharLM, CharLMConfig, default_corpus

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import RESULTS, machine  # noqa: E402


#: (T, B, input, hidden, repeats): a small case where per-call overhead shows, and a mid-sized one
SIZES = [(20, 1, 16, 32, 301), (100, 16, 64, 256, 7)]


def overhead() -> list[dict]:
    rows = []
    for (T, B, I, H, repeats), cls in itertools.product(SIZES, (lstmkit.LSTM, lstmkit.GRU, lstmkit.RNN)):
        layer = cls(I, H, num_layers=2)
        x = torch.randn(T, B, I, requires_grad=True)
        with recording(layer):
            layer(x)                                          # leaves nothing behind when the block ends
        plain = cls(I, H, num_layers=2)
        plain.load_state_dict(layer.state_dict())

        def infer(m, rec):
            with torch.no_grad():
                m(x, record=rec)

        def train(m, rec):
            out, _ = m(x, record=rec)
            out.sum().backward()

        for mode, fn in (("inference", infer), ("train", train)):
            t = interleaved({"off": lambda: fn(plain, False), "off_after_recording": lambda: fn(layer, False),
                             "on": lambda: fn(layer, True)}, repeats=repeats, warmup=2)
            rows.append({"cell": cls.__name__, "mode": mode, "T": T, "B": B, "H": H, "layers": 2, "repeats": repeats,
                         **{f"{k}_ms": round(v * 1e3, 3) for k, v in t.items()},
                         "ratio_off_after_recording": round(t["off_after_recording"] / t["off"], 3),
                         "ratio_on": round(t["on"] / t["off"], 3)})
            print(rows[-1], flush=True)
    return rows


def end_to_end() -> list[dict]:
    rows = []
    corpus = default_corpus()
    chars = sorted(set(corpus))
    model = CharLM(len(chars) + 1, CharLMConfig(hidden=256, layers=2)).eval()
    for n in (500, 2000):
        text = corpus[:n]
        ids = torch.tensor([chars.index(c) + 1 for c in text]).unsqueeze(1)
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            tr = trace(model, lambda: model(ids), list(text), layers=["rnn"])
            t1 = time.perf_counter()
            page = render_page(tr)
            t2 = time.perf_counter()
            pngs = write_heatmaps(tr, d)
            t3 = time.perf_counter()
        rows.append({"chars": n, "model": "charlm LSTM 2x256", "trace_s": round(t1 - t0, 3),
                     "page_s": round(t2 - t1, 3), "heatmaps_s": round(t3 - t2, 3), "pngs": len(pngs),
                     "page_MB": round(len(page.encode()) / 2**20, 2)})
        print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    result = {"machine": machine(), "overhead": overhead(), "end_to_end": end_to_end()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "inspect_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS / 'inspect_cost.json'}")
