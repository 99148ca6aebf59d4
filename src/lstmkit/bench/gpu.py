"""``lstmkit bench --device cuda``: lstmkit on a GPU against torch.nn (cuDNN), its Triton kernels, and the
eager loop (``backend="reference"``) for the variants cuDNN lacks.

Per grid point (cell, mode, B, T, I, H) the contenders are built on the device in the chosen dtype, with the
same weights (one state_dict):

* ``lstmkit``: ``backend="auto"`` (on CUDA the cuDNN route where it applies, Triton for the variants);
* ``lstmkit triton``: ``backend="triton"``, when that backend is registered and runs the call;
* ``torch.nn``: the cell's torch.nn module (cuDNN) where torch.nn has it; for ``LSTM+lengths`` torch.nn.LSTM on
  a PackedSequence (``torch.nn packed``), for ``LSTM+resets`` torch.nn.LSTM run segment by segment, the
  sequence split at every step where a sample resets, the state carried and zeroed for the samples that
  reset (``torch.nn split at resets``);
* ``lstmkit reference``: the eager loop, for the variants, timed in its own rounds (it is slow: from
  T >= 512 only :data:`REFERENCE_LONG_REPEATS` rounds).

Timing: each contender is called :data:`WARMUP` times first (Triton compiles, cuDNN picks its algorithms),
then :func:`~lstmkit.bench.timing.interleaved` rounds with ``torch.cuda.synchronize`` before each clock
read, medians. Training is forward + backward of ``y.sum()``; the peak memory a training call allocates
above what was allocated before it (``torch.cuda.max_memory_allocated`` after
``reset_peak_memory_stats``: activations, workspaces and temporaries) is reported beside its time.
Modules stay in training mode, so zoneout and recurrent dropout draw their masks in both modes.

The same code runs on CPU tensors (the ``--quick`` self-check of ``benchmarks/gpu_kernels.py``, Triton in
its interpreter); memory is then not measured.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import lstmkit
from lstmkit.kernels import available

from .cases import CELLS, SIZES, Point, _options
from .timing import interleaved

#: the CPU grid's sizes plus two GPU-sized points (flashrnn's B16 T1024 H768, torchrl-like B128 T256 H512)
GPU_EXTRA_SIZES = [(16, 1024, 768, 768), (128, 256, 512, 512)]
#: LSTM variants timed on the GPU: name -> lstmkit.LSTM options (lengths and resets are forward arguments)
VARIANTS = {
    "peephole": {"peephole": True},
    "layer_norm": {"layer_norm": True},
    "cifg": {"cifg": True},
    "zoneout": {"zoneout_h": 0.1, "zoneout_c": 0.1},
    "recurrent_dropout": {"recurrent_dropout": 0.25},
    "lengths": {},
    "resets": {},
}
#: the cells of the GPU grid: torch.nn's (cuDNN runs them) and the variants
GPU_CELLS = ["LSTM", "GRU", "RNN-tanh", "LSTM+proj"] + [f"LSTM+{v}" for v in VARIANTS]
#: a sample's state restarts every this many steps in ``LSTM+resets`` (every sample at the same steps)
RESET_EVERY = 64
#: untimed calls of each contender before the rounds
WARMUP = 2
#: rounds of the eager reference from T >= 512
REFERENCE_LONG_REPEATS = 2
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class GpuPoint(Point):
    """A grid point with its dtype (the CPU grid's points are float32)."""

    dtype: str = "float32"

    @property
    def key(self) -> str:
        return f"{super().key} {self.dtype}"


def synced_clock(device: torch.device) -> Callable[[], float]:
    """perf_counter after the device's queued work has finished (a plain clock on CPU)."""
    def clock() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()
    return clock


def peak_mib(fn: Callable[[], object], device: torch.device) -> Optional[float]:
    """MiB one call of ``fn`` allocates at its peak above what was allocated before it (None off CUDA)."""
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - base) / 2**20


def make_lengths(B: int, T: int, device, seed: int = 0) -> torch.Tensor:
    """(B,) int64 lengths uniform in [T/2, T], the first sample full length, on ``device``."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(max(1, T // 2), T + 1, (B,), generator=g)
    lengths[0] = T
    return lengths.to(device)


def make_resets(B: int, T: int, device, every: int = RESET_EVERY) -> torch.Tensor:
    """(T, B) bool: True at t = every, 2 every, ... for every sample."""
    reset = torch.zeros(T, B, dtype=torch.bool)
    reset[every::every] = True
    return reset.to(device)


def split_at_resets(ref: nn.LSTM, reset: torch.Tensor) -> Callable:
    """torch.nn.LSTM over a sequence with resets, the only way cuDNN can: split the sequence at every step
    where some sample resets, run the segments in turn carrying (h, c), zeroing the rows that reset."""
    cuts = [0] + [t for t in range(1, reset.shape[0]) if bool(reset[t].any())] + [reset.shape[0]]
    keep = (~reset).to(next(ref.parameters()).dtype)                     # (T, B)

    def run(x):
        state, ys = None, []
        for a, b in zip(cuts[:-1], cuts[1:]):
            if state is not None:
                k = keep[a].view(1, -1, 1)
                state = (state[0] * k, state[1] * k)
            y, state = ref(x[a:b], state)
            ys.append(y)
        return torch.cat(ys)
    return run


def build(p: GpuPoint, device, backends: list[str]) -> tuple[dict[str, Callable], dict[str, str], bool]:
    """({name: callable(x) -> output}, {name: why it could not be built}, whether the reference is among
    them) for one point. ``backends``: lstmkit backends to time besides "auto" ("triton", "reference")."""
    dtype = DTYPES[p.dtype]
    variant = p.cell.split("+", 1)[1] if p.cell.startswith("LSTM+") and p.cell[5:] in VARIANTS else None
    if variant is not None:
        ours_cls, opts, torch_cls = lstmkit.LSTM, dict(VARIANTS[variant]), None
    else:
        ours_cls, _, torch_cls = CELLS[p.cell]
        opts = _options(p.cell, p.H)
    kw: dict = {}
    if variant == "lengths":
        kw["lengths"] = make_lengths(p.B, p.T, device)
    elif variant == "resets":
        kw["reset"] = make_resets(p.B, p.T, device)
    ours = ours_cls(p.I, p.H, **opts, device=device, dtype=dtype)
    sd = ours.state_dict()
    fns: dict[str, Callable] = {"lstmkit": lambda x: ours(x, **kw)[0]}
    errors: dict[str, str] = {}
    for b in backends:
        if b == "reference" and variant is None:
            continue                                   # the eager loop is timed for the variants only
        try:
            other = ours_cls(p.I, p.H, **opts, device=device, dtype=dtype, backend=b)
            other.load_state_dict(sd)
            fns[f"lstmkit {b}"] = (lambda m: lambda x: m(x, **kw)[0])(other)
        except Exception as e:                         # noqa: BLE001 -- reported beside the row
            errors[f"lstmkit {b}"] = f"{type(e).__name__}: {e}"
    if torch_cls is not None or variant in ("lengths", "resets"):
        ref = (torch_cls or nn.LSTM)(p.I, p.H, **({"proj_size": opts["proj_size"]} if "proj_size" in opts else {}),
                                     device=device, dtype=dtype)
        ref.load_state_dict(sd)
        ref.flatten_parameters()                       # cuDNN's one weight buffer (else it compacts per call)
        if variant == "lengths":
            lengths_cpu = kw["lengths"].cpu()
            fns["torch.nn packed"] = lambda x: ref(pack_padded_sequence(x, lengths_cpu, enforce_sorted=False))[0].data
        elif variant == "resets":
            fns["torch.nn split at resets"] = split_at_resets(ref, kw["reset"])
        else:
            fns["torch.nn"] = lambda x: ref(x)[0]
    return fns, errors, "lstmkit reference" in fns


def as_call(fn: Callable, x: torch.Tensor, mode: str) -> Callable[[], None]:
    """``fn(x)`` as one call: under no_grad ("inference"), or forward and backward of the sum ("training")."""
    if mode == "inference":
        def infer():
            with torch.no_grad():
                fn(x)
        return infer

    def train():
        fn(x).float().sum().backward()
    return train


def time_calls(calls: dict[str, Callable[[], None]], device, repeats: int, memory: bool,
               slow: Optional[dict[str, Callable[[], None]]] = None, slow_repeats: Optional[int] = None
               ) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
    """(median seconds, peak MiB (``memory`` on CUDA), {name: error}) of zero-argument calls: each warmed up
    alone first (:data:`WARMUP` calls; one that raises is dropped and its error kept), then interleaved
    rounds with the device synchronised at each clock read. ``slow`` ones get their own ``slow_repeats``
    rounds after the others."""
    errors: dict[str, str] = {}

    def warm(group: dict) -> dict:
        ok = {}
        for name, call in group.items():
            try:
                for _ in range(WARMUP):
                    call()
                ok[name] = call
            except Exception as e:                     # noqa: BLE001 -- reported, the rest still run
                first = str(e).splitlines()[0] if str(e) else ""
                errors[name] = f"{type(e).__name__}: {first}"
        return ok
    fast, slow = warm(calls), warm(slow or {})
    clock = synced_clock(device)
    times = interleaved(fast, repeats=repeats, clock=clock) if fast else {}
    if slow:
        times.update(interleaved(slow, repeats=slow_repeats or repeats, warmup=0, clock=clock))
    mem = {}
    if memory and device.type == "cuda":
        mem = {k: peak_mib(c, device) for k, c in {**fast, **slow}.items()}
    return times, mem, errors


def measure(p: GpuPoint, device, backends: list[str], repeats: int, log=print) -> dict:
    """One point's row: times_s (medians), ratios (contender time / lstmkit's), memory_mib (training, CUDA),
    errors (contenders that failed to build or run, with the reason)."""
    torch.manual_seed(0)
    fns, errors, _ = build(p, device, backends)
    x = torch.randn(p.T, p.B, p.I, device=device, dtype=DTYPES[p.dtype], requires_grad=p.mode == "training")
    calls = {name: as_call(fn, x, p.mode) for name, fn in fns.items()}
    slow = {k: calls.pop(k) for k in [k for k in calls if k == "lstmkit reference"]}
    ref_repeats = (min(repeats, REFERENCE_LONG_REPEATS) if p.T >= 512 else repeats) if slow else None
    times, mem, failed = time_calls(calls, device, repeats, p.mode == "training", slow, ref_repeats)
    errors.update(failed)
    row = {**asdict(p), "times_s": times,
           "ratios": {k: v / times["lstmkit"] for k, v in times.items() if k != "lstmkit"} if "lstmkit" in times
           else {}, "errors": errors}
    if ref_repeats is not None and "lstmkit reference" in times:
        row["reference_repeats"] = ref_repeats
    if mem:
        row["memory_mib"] = mem
    log(line(row))
    for k, why in errors.items():
        log(f"    {k} skipped: {why}")
    return row


def line(row: dict) -> str:
    """The row as one line: times, ratio to lstmkit (auto) and training memory side by side."""
    key = (f"{row['cell']:24s} {row['mode']:9s} B={row['B']:<3d} T={row['T']:<4d} I={row['I']:<4d} "
           f"H={row['H']:<4d} {row['dtype']}")
    mem = row.get("memory_mib", {})
    parts = []
    for k, v in row["times_s"].items():
        part = f"{k} {1e3 * v:9.2f} ms"
        if k in row["ratios"]:
            part += f" (x{row['ratios'][k]:.2f})"
        if mem.get(k) is not None:
            part += f" {mem[k]:.0f} MiB"
        parts.append(part)
    return key + " | " + " | ".join(parts)


def gpu_backends(device) -> tuple[list[str], dict[str, str]]:
    """(lstmkit backends to time besides auto, {backend: why not}) checked with :func:`available` now."""
    have = available()
    out, skipped = [], {}
    if "triton" in have:
        out.append("triton")
    else:
        skipped["triton"] = "not registered in lstmkit.kernels.available()"
    out.append("reference")
    return out, skipped


def gpu_grid(cells: list[str], sizes: list[tuple], dtype: str, quick: bool) -> list[GpuPoint]:
    if quick:
        sizes = [s for s in sizes if s in (SIZES[2], GPU_EXTRA_SIZES[0])] or sizes[:2]
        cells = [c for c in cells if c in ("LSTM", "GRU", "LSTM+layer_norm", "LSTM+resets")] or cells[:2]
    return [GpuPoint(c, m, *s, dtype=dtype) for s in sizes for c in cells for m in ("inference", "training")]


def variant_cost(rows: list[dict], base: str = "lstmkit triton") -> dict:
    """Each variant's ``base`` time over the plain LSTM's at the same point (issue 27: at most 1.3x), and
    the eager reference's time over it (at least 10x at H768, 5x at H128)."""
    key = lambda r: (r["mode"], r["B"], r["T"], r["I"], r["H"], r["dtype"])  # noqa: E731
    plain = {key(r): r["times_s"][base] for r in rows if r["cell"] == "LSTM" and base in r["times_s"]}
    out: dict = {}
    for r in rows:
        t = r["times_s"]
        if not r["cell"].startswith("LSTM+") or base not in t:
            continue
        entry = out.setdefault(f"{r['cell']} {r['mode']}", {"vs_plain": [], "reference_over": []})
        if key(r) in plain:
            entry["vs_plain"].append(t[base] / plain[key(r)])
        if "lstmkit reference" in t:
            entry["reference_over"].append(t["lstmkit reference"] / t[base])
    return {k: {n: (max(v) if n == "vs_plain" else min(v)) for n, v in e.items() if v} for k, e in out.items()}


def run_gpu(cfg, log=print) -> dict:
    """The CUDA grid of ``cfg`` (a :class:`~lstmkit.bench.run.BenchConfig` with ``device`` set): rows,
    summaries. The CPU defaults stand for the GPU's: cells == CELLS -> :data:`GPU_CELLS`, sizes == SIZES ->
    SIZES + :data:`GPU_EXTRA_SIZES`."""
    from .run import summary
    device = torch.device(cfg.device)
    cells = GPU_CELLS if list(cfg.cells) == list(CELLS) else list(cfg.cells)
    sizes = [tuple(s) for s in cfg.sizes]
    if sizes == [tuple(s) for s in SIZES]:
        sizes += GPU_EXTRA_SIZES
    backends, skipped = gpu_backends(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    log(f"lstmkit bench on {name} ({cfg.dtype}): torch {torch.__version__}, cuDNN "
        f"{torch.backends.cudnn.version() if device.type == 'cuda' else '-'}; ratio = contender time / lstmkit "
        f"(auto) time (above 1: lstmkit auto is faster); training memory = peak MiB above the call's start")
    log(f"lstmkit backends timed besides auto: {', '.join(backends)}"
        + "".join(f"; {k} skipped ({v})" for k, v in skipped.items())
        + f"; the eager reference from T >= 512 over {REFERENCE_LONG_REPEATS} rounds")
    rows = []
    for p in gpu_grid(cells, sizes, cfg.dtype, cfg.quick):
        try:
            rows.append(measure(p, device, backends, 1 if cfg.quick else cfg.repeats, log))
        except Exception as e:                         # noqa: BLE001 -- one point failing leaves the rest
            log(f"{p.key}: failed ({type(e).__name__}: {e})")
            rows.append({**asdict(p), "times_s": {}, "ratios": {}, "errors": {"point": f"{type(e).__name__}: {e}"}})
    machine = {"device": name, "torch": torch.__version__, "cuda": torch.version.cuda,
               "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None}
    result = {"machine": machine, "backends": backends, "skipped_backends": skipped, "grid": rows,
              "summary": summary(rows), "variant_cost": variant_cost(rows)}
    log("\nMedian ratios (contender / lstmkit auto) over the sizes:")
    for k, v in result["summary"].items():
        log(f"  {k:55s} median x{v['median']:.2f}  min x{v['min']:.2f}")
    for k, v in result["variant_cost"].items():
        said = ([f"triton costs x{v['vs_plain']:.2f} the plain LSTM's (max over sizes)"] if "vs_plain" in v else []) \
            + ([f"the eager reference x{v['reference_over']:.1f} its time (min)"] if "reference_over" in v else [])
        log(f"  {k:40s} " + "; ".join(said))
    return result
