"""Run the benchmark grid and the extras, print a table, write JSON under benchmarks/results/."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from . import onnx_peer
from .cases import CELLS, SIZES, Point, available_peers, contenders, gemm_bound, gemm_flops, parse_peers
from .extras import cold_warm_start, peak_memory, streaming, variable_length
from .timing import interleaved
from ..train.atomic import write_text

#: sizes whose GEMMs dominate: reported against the bare GEMMs (and in GFLOP/s)
LARGE = [(64, 50, 512, 512), (16, 100, 1024, 1024)]
LOOP, GEMMS = "python loop", "bare GEMMs (torch.mm)"


@dataclass
class BenchConfig:
    """Settings of ``lstmkit bench``."""

    quick: bool = False                 #: a subset that finishes in under 2 minutes
    cells: list = field(default_factory=lambda: list(CELLS))
    sizes: list = field(default_factory=lambda: list(SIZES))   #: (B, T, I, H) points
    repeats: int = 5                    #: timed rounds per grid point (medians)
    extras: bool = True                 #: variable length, streaming, memory, cold/warm start
    out: str = ""                       #: JSON path ("" -> benchmarks/results/bench-<time>.json)
    peers: list | None = None           #: baselines to time (cases.PEERS); None -> every available one
    device: str = "cpu"                 #: "cpu", or "cuda"/"cuda:N": the GPU grid (:mod:`.gpu`)
    dtype: str = "float32"              #: on CUDA: float32, bfloat16 or float16 (CPU: float32 only)


def resolve_peers(cfg: BenchConfig) -> tuple[list[str], dict[str, str]]:
    """(the peers to time, {peer: why it is skipped}): ``cfg.peers`` checked (ValueError/ImportError), or
    every available peer and the reasons the others are not."""
    if cfg.peers is None:
        return available_peers()
    return parse_peers(",".join(cfg.peers)), {}


def check_device_dtype(device: str, dtype: str) -> None:
    """ValueError (one line) unless ``device`` is here and ``dtype`` is timed on it: the CPU grid runs float32;
    CUDA float32, bfloat16 or float16."""
    from ..train.config import check_device
    check_device(device)
    dtypes = ("float32",) if device == "cpu" else ("float32", "bfloat16", "float16")
    if dtype not in dtypes:
        raise ValueError(f"--dtype on {device} must be one of {', '.join(dtypes)}, got {dtype!r}")


def grid(cfg: BenchConfig) -> list[Point]:
    sizes = [tuple(s) for s in cfg.sizes]
    if cfg.quick:
        sizes = [s for s in sizes if s in (SIZES[0], SIZES[2])] or sizes[:2]
    cells = [c for c in cfg.cells if not cfg.quick or c in ("LSTM", "GRU", "LSTM+layer_norm")]
    return [Point(c, m, *s) for s in sizes for c in cells for m in ("inference", "training")]


def run_grid(cfg: BenchConfig, log=print, peers=None) -> list[dict]:
    peers = resolve_peers(cfg)[0] if peers is None else peers
    rows = []
    for p in grid(cfg):
        fns = contenders(p, peers)
        large = (p.B, p.T, p.I, p.H) in LARGE
        if large or LOOP in fns:
            fns[GEMMS] = gemm_bound(p)
        repeats = max(2, cfg.repeats // 2) if LOOP in fns and p.T * p.B >= 16000 else cfg.repeats
        t = interleaved(fns, repeats=1 if cfg.quick else repeats)
        row = {**asdict(p), "times_s": t, "ratios": {k: v / t["lstmkit"] for k, v in t.items() if k != "lstmkit"}}
        if large:
            row["gflops"] = {k: gemm_flops(p) / v / 1e9 for k, v in t.items()}
        if LOOP in t:                       # what the loop's own GEMMs leave to gain: loop / bare GEMMs
            row["loop_over_gemms"] = t[LOOP] / t[GEMMS]
        rows.append(row)
        log(_line(row))
    return rows


def _line(row: dict) -> str:
    key = f"{row['cell']:16s} {row['mode']:9s} B={row['B']:<3d} T={row['T']:<4d} I={row['I']:<4d} H={row['H']:<4d}"
    t = row["times_s"]
    parts = [f"lstmkit {1e3 * t['lstmkit']:9.2f} ms"]
    parts += [f"{k} {1e3 * v:9.2f} ms (x{row['ratios'][k]:.2f})" for k, v in t.items() if k != "lstmkit"]
    if "loop_over_gemms" in row:
        parts.append(f"loop / bare GEMMs x{row['loop_over_gemms']:.2f}")
    return key + " | " + " | ".join(parts)


def loop_headroom(rows: list[dict]) -> dict:
    """Per variant and mode, the median over the sizes of (python loop time / its bare GEMMs' time): how
    much faster than the loop anything running the same float32 GEMMs through torch.mm could be."""
    out: dict = {}
    for r in rows:
        if "loop_over_gemms" in r:
            out.setdefault(f"{r['cell']} {r['mode']}", []).append(r["loop_over_gemms"])
    return {k: {"median": statistics.median(v), "min": min(v)} for k, v in out.items()}


def summary(rows: list[dict]) -> dict:
    """Median ratio (baseline time / lstmkit time) per cell, mode and baseline over the sizes."""
    out: dict = {}
    for r in rows:
        for base, ratio in r["ratios"].items():
            out.setdefault(f"{r['cell']} {r['mode']} vs {base}", []).append(ratio)
    return {k: {"median": statistics.median(v), "min": min(v), "n": len(v)} for k, v in out.items()}


def variant_cost(rows: list[dict]) -> dict:
    """Each variant's time over the standard LSTM's at the same size and mode (target <= 1.3)."""
    std = {(r["mode"], r["B"], r["T"], r["I"], r["H"]): r["times_s"]["lstmkit"] for r in rows if r["cell"] == "LSTM"}
    out: dict = {}
    for r in rows:
        k = (r["mode"], r["B"], r["T"], r["I"], r["H"])
        if r["cell"].startswith("LSTM+") and k in std:
            out.setdefault(f"{r['cell']} {r['mode']}", []).append(r["times_s"]["lstmkit"] / std[k])
    return {k: {"median": statistics.median(v), "max": max(v)} for k, v in out.items()}


def run(cfg: BenchConfig, log=print) -> dict:
    check_device_dtype(cfg.device, cfg.dtype)
    if cfg.device != "cpu":
        from .gpu import run_gpu
        return _write(cfg, {"config": asdict(cfg), **run_gpu(cfg, log)}, log)
    peers, skipped = resolve_peers(cfg)
    torch.manual_seed(0)
    log(f"lstmkit bench: torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{'quick' if cfg.quick else 'full'} grid; ratio = baseline time / lstmkit time (higher is better)")
    log(f"peers: {', '.join(peers)}" + "".join(f"; {k} skipped ({v})" for k, v in skipped.items()))
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if onnx_peer.NAME in peers:
        import onnxruntime
        machine["onnxruntime"] = {"version": onnxruntime.__version__, "intra_op_num_threads": torch.get_num_threads(),
                                  "inter_op_num_threads": 1, "allow_spinning": onnx_peer.ALLOW_SPINNING}
    result = {"config": asdict(cfg), "machine": machine, "peers": peers, "skipped_peers": skipped,
              "grid": run_grid(cfg, log, peers)}
    result["summary"] = summary(result["grid"])
    result["variant_cost_vs_lstm"] = variant_cost(result["grid"])
    result["loop_over_gemms"] = loop_headroom(result["grid"])
    log("\nMedian ratios over the sizes:")
    for k, v in result["summary"].items():
        log(f"  {k:45s} median x{v['median']:.2f}  min x{v['min']:.2f}")
    for k, v in result["variant_cost_vs_lstm"].items():
        log(f"  {k:45s} costs x{v['median']:.2f} our LSTM (max x{v['max']:.2f})")
    for k, v in result["loop_over_gemms"].items():
        log(f"  {k:45s} python loop / its bare GEMMs x{v['median']:.2f} (min x{v['min']:.2f})")
    if cfg.extras:
        _extras(cfg, result, log)
    return _write(cfg, result, log)


def _write(cfg: BenchConfig, result: dict, log) -> dict:
    """Write ``result`` as JSON to ``cfg.out`` (default benchmarks/results/bench[-cuda]-<time>[-quick].json)."""
    device = "" if cfg.device == "cpu" else f"-{cfg.device.replace(':', '')}-{cfg.dtype}"
    path = Path(cfg.out) if cfg.out else Path("benchmarks/results") / \
        f"bench{device}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}{'-quick' if cfg.quick else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(result, indent=1))
    log(f"\nwrote {path}")
    return result


def _extras(cfg: BenchConfig, result: dict, log) -> None:
    vl = variable_length(T=300 if cfg.quick else 1000, repeats=1 if cfg.quick else 3)
    result["variable_length"] = vl
    for mode in ("inference", "training"):
        t = vl[mode]
        log(f"variable lengths {mode:9s} (B={vl['B']}, T={vl['T']}, mean length {vl['mean_length']:.0f}): "
            f"lstmkit {1e3 * t['lstmkit lengths']:.1f} ms, x{t['torch.nn packed'] / t['lstmkit lengths']:.2f} vs "
            f"torch.nn packed, {t['lstmkit lengths'] / t['lstmkit padded']:.2f} of our padded run"
            + (f"; torch.nn packed / its bare GEMMs x{t['torch.nn packed'] / t['bare GEMMs of the packed work']:.2f}"
               if "bare GEMMs of the packed work" in t else ""))
    st = streaming(steps=500 if cfg.quick else 2000, repeats=1 if cfg.quick else 3)
    result["streaming"] = st
    log(f"streaming {st['steps']} steps (B=1, H={st['H']}, {st['layers']} layers): lstmkit "
        f"{1e6 * st['lstmkit step'] / st['steps']:.0f} us/step, x{st['torch.nn per step'] / st['lstmkit step']:.2f} "
        f"vs torch.nn per step")
    mem = peak_memory([SIZES[2]] if cfg.quick else SIZES)
    result["peak_memory_training_mib"] = mem
    for r in mem:
        log(f"peak training memory B={r['B']} T={r['T']} H={r['H']}: lstmkit {r['lstmkit']:.0f} MiB, torch.nn "
            f"{r['torch.nn']:.0f} MiB (x{r['lstmkit'] / max(r['torch.nn'], 1e-9):.2f})")
    cw = cold_warm_start()
    result["start"] = cw
    log(f"start: cold (compiling) first training step {cw['cold']['first_train_step_s']:.1f} s, warm (cached) "
        f"{cw['warm']['first_train_step_s']:.2f} s; import {cw['warm']['import_s']:.2f} s")
