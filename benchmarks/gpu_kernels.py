"""Issue 27's GPU targets, measured once on a rented GPU (about 5 minutes; Triton compiles on first use).

    python benchmarks/gpu_kernels.py                  # on CUDA: writes benchmarks/results/gpu_kernels.json
    python benchmarks/gpu_kernels.py --quick          # the script itself, at toy sizes, on CPU tensors with
                                                      # TRITON_INTERPRET=1 (gpu_kernels-quick.json)

What it measures (each measurement on its own: one that fails prints its error and the rest still run):

1. cudnn route: lstmkit ``backend="cudnn"`` (and ``auto``) against torch.nn (cuDNN), LSTM and GRU, inference
   and forward + backward, bf16, at B16 T1024 H768 and B128 T256 H512 (target: at most 1.1x).
2. triton plain LSTM against torch.nn at the same points, bf16 forward + backward (targets: 3x at B16 H768,
   2x at B128 H512), and its activation memory (peak above the call's start) against cuDNN's (1.5x).
3. variants (peephole, layer_norm, cifg, zoneout, recurrent_dropout, lengths, resets) under Triton against the
   plain Triton LSTM (1.3x; lengths 1.2x), at B16 T1024 H768 and B16 T1024 H128, forward + backward; against
   the eager loop (``backend="reference"``), which is timed at T=64 only (it would take minutes at T=1024):
   the speed-up compares time per step (targets: 10x at H768, 5x at H128); resets (every 64 steps)
   against torch.nn run segment by segment with the sequence split at each reset, the state carried (faster);
   memory of each against cuDNN's plain LSTM (1.5x).
4. numerics: bf16 Triton h at T=1024 against the float32 reference of the same (bf16-rounded) weights (2e-2
   relative); float32 Triton against the float32 reference at T=64 (1e-5; tf32 setting recorded); outputs
   and every gradient bitwise identical across two runs (plain and layer_norm).
"""

from __future__ import annotations

import os
import sys

QUICK = "--quick" in sys.argv[1:]
if QUICK:                                   # before triton is imported anywhere
    os.environ["TRITON_INTERPRET"] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit.bench.gpu import (DTYPES, VARIANTS, as_call, make_lengths, make_resets, split_at_resets,  # noqa: E402
                               time_calls)
from lstmkit.kernels import available  # noqa: E402
from lstmkit.train.atomic import write_text  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results"

#: (B, T, I, H) of each named point, full size and --quick
FULL = {"B16 T1024 H768": (16, 1024, 768, 768), "B128 T256 H512": (128, 256, 512, 512),
        "B16 T1024 H128": (16, 1024, 128, 128)}
TOY = {"B16 T1024 H768": (2, 16, 8, 8), "B128 T256 H512": (3, 12, 8, 8), "B16 T1024 H128": (2, 16, 4, 4)}


class Bench:
    def __init__(self, device: torch.device, quick: bool, repeats: int) -> None:
        self.device, self.quick, self.repeats = device, quick, repeats
        self.sizes = TOY if quick else FULL
        self.ref_T = 8 if quick else 64
        self.reset_every = 4 if quick else 64
        self.dtype = "float32" if quick else "bfloat16"     # the interpreter runs float32 at toy size
        self.results: dict = {}
        self.checks: list[tuple] = []          # (measurement, value, target, ok)

    # -- building blocks -------------------------------------------------------------------------------
    def lstm(self, I, H, backend="auto", dtype=None, cls=lstmkit.LSTM, **opts):
        torch.manual_seed(0)
        return cls(I, H, device=self.device, dtype=DTYPES[dtype or self.dtype], backend=backend, **opts)

    def torch_twin(self, ours, cls=nn.LSTM):
        ref = cls(ours.input_size, ours.hidden_size, device=self.device, dtype=ours.weight_ih_l0.dtype)
        ref.load_state_dict(ours.state_dict())
        ref.flatten_parameters()               # cuDNN's one weight buffer (else it compacts at every call)
        return ref

    def x(self, T, B, I, dtype=None, grad=True):
        torch.manual_seed(1)
        return torch.randn(T, B, I, device=self.device, dtype=DTYPES[dtype or self.dtype], requires_grad=grad)

    def time(self, fns: dict, x, mode: str) -> dict:
        calls = {k: as_call(f, x, mode) for k, f in fns.items()}
        times, mem, errors = time_calls(calls, self.device, self.repeats, mode == "training")
        for k, e in errors.items():
            print(f"    {k}: {e}")
        return {"times_s": times, "memory_mib": mem, "errors": errors}

    def check(self, name: str, value, target: str, ok) -> None:
        self.checks.append((name, value, target, ok))

    def attempt(self, name: str, fn) -> None:
        """Run one measurement; an exception is printed and recorded, and the script goes on."""
        t0 = time.perf_counter()
        print(f"-- {name}", flush=True)
        try:
            self.results[name] = fn()
        except Exception as e:                 # noqa: BLE001 -- one failing measurement leaves the rest
            traceback.print_exc(limit=3)
            self.results[name] = {"error": f"{type(e).__name__}: {e}"}
            self.check(name, None, "-", f"error: {type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''}")
        print(f"   ({time.perf_counter() - t0:.1f} s)", flush=True)

    # -- the measurements ------------------------------------------------------------------------------
    def cudnn_route(self) -> dict:
        out = {}
        if "cudnn" not in available():
            self.check("cudnn route vs torch.nn", None, "<= 1.1x", "cudnn not in lstmkit.kernels.available()")
        for cell, cls, tcls in (("LSTM", lstmkit.LSTM, nn.LSTM), ("GRU", lstmkit.GRU, nn.GRU)):
            for size in ("B16 T1024 H768", "B128 T256 H512"):
                B, T, I, H = self.sizes[size]
                for mode in ("inference", "training"):
                    ours = self.lstm(I, H, "auto", cls=cls)
                    fns = {"torch.nn": (lambda m: lambda x: m(x)[0])(self.torch_twin(ours, tcls)),
                           "lstmkit auto": lambda x, m=ours: m(x)[0]}
                    if "cudnn" in available():
                        cud = self.lstm(I, H, "cudnn", cls=cls)
                        cud.load_state_dict(ours.state_dict())
                        fns["lstmkit cudnn"] = lambda x, m=cud: m(x)[0]
                    r = self.time(fns, self.x(T, B, I, grad=mode == "training"), mode)
                    t = r["times_s"]
                    for k in ("lstmkit cudnn", "lstmkit auto"):
                        if k in t and "torch.nn" in t:
                            ratio = t[k] / t["torch.nn"]
                            self.check(f"{k} / torch.nn {cell} {mode} {size}", ratio, "<= 1.1x", ratio <= 1.1)
                    out[f"{cell} {mode} {size}"] = r
        return out

    def triton_plain(self) -> dict:
        out = {}
        for size, target in (("B16 T1024 H768", 3.0), ("B128 T256 H512", 2.0)):
            B, T, I, H = self.sizes[size]
            for mode in ("inference", "training"):
                tri = self.lstm(I, H, "triton")
                fns = {"torch.nn": (lambda m: lambda x: m(x)[0])(self.torch_twin(tri)),
                       "lstmkit triton": lambda x, m=tri: m(x)[0]}
                r = self.time(fns, self.x(T, B, I, grad=mode == "training"), mode)
                t, mem = r["times_s"], r["memory_mib"]
                if mode == "training" and {"torch.nn", "lstmkit triton"} <= set(t):
                    ratio = t["lstmkit triton"] / t["torch.nn"]
                    self.check(f"triton / cuDNN LSTM fwd+bwd {size} {self.dtype}", ratio, f"<= {target}x",
                               ratio <= target)
                if mem.get("torch.nn") and mem.get("lstmkit triton") is not None:
                    m = mem["lstmkit triton"] / mem["torch.nn"]
                    self.check(f"triton / cuDNN activation memory {size}", m, "<= 1.5x", m <= 1.5)
                out[f"{mode} {size}"] = r
        return out

    def variants(self) -> dict:
        out = {}
        for size, ref_target in (("B16 T1024 H768", 10.0), ("B16 T1024 H128", 5.0)):
            B, T, I, H = self.sizes[size]
            lengths, reset = make_lengths(B, T, self.device), make_resets(B, T, self.device, self.reset_every)
            plain = self.lstm(I, H, "triton")
            fns = {"torch.nn": (lambda m: lambda x: m(x)[0])(self.torch_twin(plain)),
                   "triton plain": lambda x: plain(x)[0],
                   "torch.nn split at resets": split_at_resets(self.torch_twin(plain), reset)}
            refs, mods = {}, {}
            for v, opts in VARIANTS.items():
                kw = {"lengths": lengths} if v == "lengths" else {"reset": reset} if v == "resets" else {}
                try:
                    mods[v] = (self.lstm(I, H, "triton", **opts), kw)
                    ref = self.lstm(I, H, "reference", **opts)
                    ref.load_state_dict(mods[v][0].state_dict())
                    refs[v] = (ref, kw)
                except Exception as e:         # noqa: BLE001
                    print(f"    {v}: {type(e).__name__}: {e}")
                fns[f"triton {v}"] = (lambda m, kw: lambda x: m(x, **kw)[0])(*mods[v]) if v in mods else None
            fns = {k: f for k, f in fns.items() if f is not None}
            r = self.time(fns, self.x(T, B, I), "training")
            # the eager loop at T = ref_T (per-step time compared): its own call, forward + backward
            Tr = self.ref_T
            ref_fns = {}
            for v, (m, kw) in refs.items():
                kw_r = {"lengths": kw["lengths"].clamp(max=Tr)} if "lengths" in kw else \
                    {"reset": kw["reset"][:Tr]} if "reset" in kw else {}
                ref_fns[f"reference {v} (T={Tr})"] = (lambda m, kw: lambda x: m(x, **kw)[0])(m, kw_r)
            rr = time_calls({k: as_call(f, self.x(Tr, B, I), "training") for k, f in ref_fns.items()},
                            self.device, max(1, min(self.repeats, 3)), memory=False)
            r["reference"] = {"T": Tr, "times_s": rr[0], "errors": rr[2]}
            t, mem = r["times_s"], r["memory_mib"]
            for v in VARIANTS:
                k = f"triton {v}"
                if k not in t:
                    self.check(f"{v} {size}", None, "-", f"failed: {r['errors'].get(k, 'not built')[:80]}")
                    continue
                if "triton plain" in t:
                    lim = 1.2 if v == "lengths" else 1.3
                    ratio = t[k] / t["triton plain"]
                    self.check(f"{v} / plain triton {size}", ratio, f"<= {lim}x", ratio <= lim)
                rk = f"reference {v} (T={Tr})"
                if rk in rr[0]:
                    speed = (rr[0][rk] / Tr) / (t[k] / T)
                    self.check(f"reference / {v} per step {size} (ref at T={Tr})", speed, f">= {ref_target}x",
                               speed >= ref_target)
                if mem.get("torch.nn") and mem.get(k) is not None:
                    m = mem[k] / mem["torch.nn"]
                    self.check(f"{v} memory / cuDNN plain {size}", m, "<= 1.5x", m <= 1.5)
            if {"triton resets", "torch.nn split at resets"} <= set(t):
                ratio = t["torch.nn split at resets"] / t["triton resets"]
                self.check(f"cuDNN split at resets / triton resets {size} (every {self.reset_every})", ratio,
                           "> 1x", ratio > 1)
            out[size] = r
        return out

    def numerics(self) -> dict:
        out = {}
        B, T, I, H = self.sizes["B16 T1024 H768"]
        B = min(B, 4)
        low = "float32" if self.quick else "bfloat16"
        tri = self.lstm(I, H, "triton", dtype=low)
        ref = self.lstm(I, H, "reference", dtype="float32")
        ref.load_state_dict({k: v.float() for k, v in tri.state_dict().items()})  # the same, rounded, weights
        x = self.x(T, B, I, dtype=low, grad=False)
        with torch.no_grad():
            h, h_ref = tri(x)[0].float(), ref(x.float())[0]
        rel_max = float((h - h_ref).abs().max() / h_ref.abs().max())
        rel_norm = float((h - h_ref).norm() / h_ref.norm())
        out[f"{low} h vs float32 reference T={T}"] = {"max_rel": rel_max, "norm_rel": rel_norm}
        self.check(f"{low} h vs float32 reference T={T} (max|d| / max|h|)", rel_max, "<= 2e-2", rel_max <= 2e-2)

        Bs, Ts, Is, Hs = self.sizes["B16 T1024 H128"]
        Ts = self.ref_T
        t32 = self.lstm(Is, Hs, "triton", dtype="float32")
        r32 = self.lstm(Is, Hs, "reference", dtype="float32")
        r32.load_state_dict(t32.state_dict())
        x32 = self.x(Ts, Bs, Is, dtype="float32", grad=False)
        with torch.no_grad():
            d = float((t32(x32)[0] - r32(x32)[0]).abs().max())
        tf32 = torch.backends.cuda.matmul.allow_tf32
        out["float32 triton vs reference"] = {"max_abs": d, "T": Ts, "allow_tf32": tf32}
        self.check(f"float32 triton vs reference T={Ts} max abs (tf32 {'on' if tf32 else 'off'})", d, "<= 1e-5",
                   d <= 1e-5)

        for name, opts in (("plain", {}), ("layer_norm", {"layer_norm": True})):
            runs = []
            for _ in range(2):
                m = self.lstm(I, H, "triton", dtype=low, **opts)
                xx = self.x(T, B, I, dtype=low)
                y, (hn, cn) = m(xx)
                (y.float().sum() + hn.float().sum() + cn.float().sum()).backward()
                runs.append([y, hn, cn, xx.grad] + [p.grad for p in m.parameters()])
            same = all(torch.equal(a, b) for a, b in zip(*runs))
            out[f"bitwise {name}"] = same
            self.check(f"bitwise identical across two runs ({name}, {low}, fwd+bwd)", same, "True", same)
        return out


def table(checks) -> str:
    lines = [f"{'measurement':78s} {'value':>10s}  {'target':>8s}  result"]
    for name, value, target, ok in checks:
        shown = "-" if value is None else (str(value) if isinstance(value, bool) else f"{value:10.4g}")
        verdict = ok if isinstance(ok, str) else ("ok" if ok else "MISSED")
        lines.append(f"{name:78s} {shown:>10s}  {target:>8s}  {verdict}")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="toy sizes on CPU tensors under TRITON_INTERPRET=1")
    ap.add_argument("--device", default=None, help="default: cuda (cpu with --quick)")
    ap.add_argument("--repeats", type=int, default=5, help="timed rounds per measurement (--quick: 1)")
    ap.add_argument("--only", nargs="+", choices=("cudnn", "triton", "variants", "numerics"),
                    help="run only these measurements")
    a = ap.parse_args(argv)
    device = torch.device(a.device or ("cpu" if a.quick else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_kernels: no CUDA device here (run with --quick to check the script on CPU tensors)")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
    b = Bench(device, a.quick, 1 if a.quick else a.repeats)
    t0 = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (TRITON_INTERPRET=1)"
    print(f"gpu_kernels on {name}: torch {torch.__version__}, lstmkit backends {available()}, "
          f"timing dtype {b.dtype}{', QUICK toy sizes: the numbers mean nothing' if a.quick else ''}")
    steps = {"cudnn": ("cudnn route vs torch.nn", b.cudnn_route),
             "triton": ("triton plain LSTM vs cuDNN", b.triton_plain),
             "variants": ("variants vs plain triton, eager reference, cuDNN", b.variants),
             "numerics": ("numerics", b.numerics)}
    for key, (title, fn) in steps.items():
        if a.only is None or key in a.only:
            b.attempt(title, fn)
    elapsed = time.perf_counter() - t0
    print("\n" + table(b.checks))
    print(f"\n{elapsed:.0f} s in all")
    res = {"device": name, "torch": torch.__version__, "cuda": torch.version.cuda, "quick": a.quick,
           "backends": available(), "timing_dtype": b.dtype, "sizes": b.sizes, "reference_T": b.ref_T,
           "reset_every": b.reset_every, "elapsed_s": elapsed,
           "checks": [{"measurement": n, "value": v, "target": t, "ok": ok} for n, v, t, ok in b.checks],
           "measurements": b.results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"gpu_kernels{'-quick' if a.quick else ''}.json"
    write_text(path, json.dumps(res, indent=1, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
