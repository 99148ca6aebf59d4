"""The benchmark's other measurements: variable lengths, streaming steps, peak memory, cold start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import lstmkit

from .timing import interleaved


def packed_gemms(ref: nn.LSTM, x, lengths):
    """A callable doing only the float32 GEMMs that ``ref`` on the packed batch needs, through torch.mm:
    W_ih x over the sum(lengths) real rows, then per step W_hh h over the b_t rows still running. No
    implementation built on those GEMMs can run the packed work faster, so packed time / this time bounds
    what any of them could gain over PackedSequence."""
    T, B, _ = x.shape
    order = torch.argsort(lengths, descending=True)
    rows = torch.cat([x[:int(n), int(b)] for b, n in zip(order, lengths[order])]).detach()  # (sum(lengths), I)
    running = [int((lengths > t).sum()) for t in range(T)]
    w_ih, w_hh = ref.weight_ih_l0.detach().t().contiguous(), ref.weight_hh_l0.detach().t().contiguous()
    h = torch.randn(B, ref.hidden_size)

    def run():
        torch.mm(rows, w_ih)
        for b in running:
            torch.mm(h[:b], w_hh)
    return run


def variable_length(B=64, T=1000, I=256, H=256, repeats=3, seed=0) -> dict:
    """lengths uniform in [10, T]: ours with lengths= vs torch.nn.LSTM on a PackedSequence vs our padded run
    (and, in inference, the bare GEMMs of the packed work: :func:`packed_gemms`)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(10, T + 1, (B,), generator=g)
    ours = lstmkit.LSTM(I, H)
    ref = nn.LSTM(I, H)
    ref.load_state_dict(ours.state_dict())
    out = {"B": B, "T": T, "I": I, "H": H, "mean_length": float(lengths.float().mean())}
    for mode in ("inference", "training"):
        x = torch.randn(T, B, I, requires_grad=mode == "training")

        def wrap(fn):
            def run():
                with torch.set_grad_enabled(mode == "training"):
                    y = fn()
                    if mode == "training":
                        (y.data if hasattr(y, "batch_sizes") else y).sum().backward()
            return run
        fns = {"lstmkit lengths": wrap(lambda: ours(x, lengths=lengths)[0]),
               "lstmkit padded": wrap(lambda: ours(x)[0]),
               "torch.nn packed": wrap(lambda: ref(pack_padded_sequence(x, lengths, enforce_sorted=False))[0])}
        if mode == "inference":
            fns["bare GEMMs of the packed work"] = packed_gemms(ref, x, lengths)
        out[mode] = interleaved(fns, repeats)
    return out


def streaming(steps=2000, H=512, layers=2, repeats=3) -> dict:
    """B=1 generation: ``layer.step`` vs torch.nn.LSTM called one step at a time, state carried."""
    ours = lstmkit.LSTM(H, H, num_layers=layers).eval()
    ref = nn.LSTM(H, H, num_layers=layers).eval()
    ref.load_state_dict(ours.state_dict())
    xs = torch.randn(steps, 1, H)

    def run_ours():
        with torch.no_grad():
            state = None
            for x_t in xs:
                _, state = ours.step(x_t, state)

    def run_ref():
        with torch.no_grad():
            state = None
            for x_t in xs:
                _, state = ref(x_t.unsqueeze(0), state)
    t = interleaved({"lstmkit step": run_ours, "torch.nn per step": run_ref}, repeats)
    return {"steps": steps, "H": H, "layers": layers, **t}


_MEMORY_PROBE = textwrap.dedent("""
    import json, sys, tempfile, torch, lstmkit
    from torch.profiler import ProfilerActivity, profile
    which, B, T, I, H = sys.argv[1], *map(int, sys.argv[2:6])
    torch.manual_seed(0)
    m = lstmkit.LSTM(I, H) if which == "lstmkit" else torch.nn.LSTM(I, H)
    x = torch.randn(T, B, I, requires_grad=True)
    m(x)[0].sum().backward()                                # compile / load kernels, warm the allocator
    x.grad = None
    m.zero_grad(set_to_none=True)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        y, _ = m(x)
        y.sum().backward()
    path = tempfile.mktemp(suffix=".json")
    prof.export_chrome_trace(path)
    events = json.load(open(path))["traceEvents"]
    totals = [e["args"]["Total Allocated"] for e in events if e.get("name") == "[memory]"]
    print(json.dumps({"peak_mib": (max(totals) - totals[0]) / 2**20 if totals else float("nan")}))
""")


def peak_memory(sizes) -> list[dict]:
    """Peak memory torch allocates during one training step (the profiler's allocation trace, a fresh
    process each), ours and torch.nn.LSTM."""
    rows = []
    for B, T, I, H in sizes:
        row = {"B": B, "T": T, "I": I, "H": H}
        for which in ("lstmkit", "torch.nn"):
            res = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, which, str(B), str(T), str(I), str(H)],
                                 capture_output=True, text=True, check=True)
            row[which] = json.loads(res.stdout.strip().splitlines()[-1])["peak_mib"]
        rows.append(row)
    return rows


_START_PROBE = textwrap.dedent("""
    import json, time
    t0 = time.perf_counter()
    import torch, lstmkit
    t1 = time.perf_counter()
    m = lstmkit.LSTM(32, 64)
    y, _ = m(torch.randn(20, 4, 32, requires_grad=True))
    y.sum().backward()
    t2 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "first_train_step_s": t2 - t1}))
""")


def cold_warm_start() -> dict:
    """Two fresh processes sharing an empty numba cache dir: the first compiles, the second loads."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = {}
        for label in ("cold", "warm"):
            res = subprocess.run([sys.executable, "-c", _START_PROBE], capture_output=True, text=True, env=env,
                                 check=True)
            out[label] = json.loads(res.stdout.strip().splitlines()[-1])
    return out
