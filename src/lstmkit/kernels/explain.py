"""Which path a call takes, and why: :func:`explain_call` applies :mod:`.dispatch`'s own decisions to a
call's sizes without running it; :class:`Explanation` prints them (``layer.explain(x)`` builds one per layer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from . import dispatch

__all__ = ["explain_call", "explain_cudnn", "Explanation"]


def explain_call(backend: str, spec, x: Tensor, directions: int = 1, train: bool = False,
                 lengths: Optional[Tensor] = None, lean: bool = False) -> dict:
    """The decisions for one layer (both directions when ``directions`` is 2) over ``x`` (T, B, I), as a
    dict of plain values: kernel and why, how threads are shared, and for the CPU kernels each pass's loop,
    windows and GEMM routes. ``train``: a backward will follow (the forward saves every step); ``lean``: the
    call takes the lean inference route (:mod:`.cpu.lean`; the layer decides)."""
    T, B = int(x.shape[0]), int(x.shape[1])
    kernel, why = dispatch.explain_select(backend, spec, x)
    out = {"kernel": kernel.name, "why": why, "T": T, "B": B, "directions": directions, "train": train}
    shared = dispatch.sides(kernel, spec, T, B, x.element_size(), directions)
    threads = torch.get_num_threads()
    out["threads"] = {
        "directions": f"the two directions side by side, {threads - threads // 2} + {threads // 2} threads",
        "halves": f"the batch in two halves side by side ({(B + 1) // 2} + {B // 2} rows), "
                  f"{threads - threads // 2} + {threads // 2} threads",
        "whole": f"{'each direction in turn' if directions == 2 else 'one task'} on {threads} thread(s)"}[shared]
    if not kernel.name.startswith("cpu"):
        out["passes"] = {"forward": _OTHER_PASSES.get(kernel.name, "the kernel's own")}
        return out
    rows = (B + 1) // 2 if shared == "halves" else B
    out["passes"] = _cpu_passes(getattr(kernel, "route", None), getattr(kernel, "bf16", False), spec, x, T, rows,
                                train, lengths, dispatch.part_threads(shared), shared != "whole")
    if lean and dispatch.one_step(T):
        macs = B * spec.hidden_size * (spec.out_size + int(x.shape[2]))
        gemv = {"blas": "the BLAS's GEMM", "parallel": "compiled dot products over the weight rows, split across "
                "threads", "serial": "compiled dot products over the weight rows"}[dispatch.step_route(B, macs)]
        out["passes"]["forward"] = {
            "route": "lean inference, one step (kernels/cpu/single_step.py): a plain inference call of one step",
            "GEMMs": f"W_ih x_t and W_hh h_{{t-1}} on the weights as they are ({gemv}): nothing packed or "
                     f"checked, each weight read once",
            "step": "the compiled pointwise step the sequence loops run"}
    elif lean:
        fwd = out["passes"]["forward"]
        units = dispatch.units(kernel, spec, T, B, x.element_size(), directions)
        I = int(x.shape[2])
        if dispatch.packed_projection(I, dispatch.part_threads("halves" if units else shared), x.dtype):
            fwd = dict(fwd, **{"input projection": f"the compiled packed GEMM on the part's one thread (I = {I} >= "
                                                   f"packed_projection_min_k = "
                                                   f"{dispatch.tuning().packed_projection_min_k}) per window"})
        if units:
            H = spec.hidden_size
            fwd = dict(fwd, loop="fused, units split", why=f"{H} units >= units_min_hidden = "
                       f"{dispatch.tuning().units_min_hidden} on a part run whole: two threads step together, "
                       f"each owning half of the units ({dispatch.tuning().source})",
                       **{"recurrent GEMM": "packed-weight GEMM inside the compiled loop, each thread its units' "
                                            "columns of W_hh; a barrier per step"})
        elif dispatch.concat_input(spec, rows, I, x.element_size()):
            fwd = dict(fwd, **{"input projection": "inside each step: one GEMM of [x_t | h_{t-1}] with [W_ih; W_hh] "
                                                   "packed together (a narrow input: the window's gates would "
                                                   "leave the cache)"})
        out["passes"]["forward"] = {"route": "lean inference (kernels/cpu/lean.py): a plain inference call, one "
                                             "window loop per part, no autograd node, outputs written in place",
                                    **fwd}
    return out


def explain_cudnn(why: str, mode: str, x: Tensor, layers: int, directions: int = 1, train: bool = False,
                  lengths: Optional[Tensor] = None) -> list[dict]:
    """The decisions of a call that takes the cuDNN route (:mod:`.gpu.cudnn`): every layer runs inside one
    torch RNN op, so each layer's entry names that op."""
    T, B = int(x.shape[0]), int(x.shape[1])
    op = f"torch._VF.{mode.lower()} over all {layers} layer(s) in one call"
    engine = "cuDNN" if x.device.type == "cuda" else "torch's CPU RNN (ATen/oneDNN)"
    ragged = lengths is not None and int(lengths.min()) < T
    passes = {"forward": f"{op}: {engine}" + (", on the batch packed by lengths (pack_padded_sequence)"
                                             if ragged else "")}
    if train:
        passes["backward"] = f"the op's own backward ({engine}), through autograd"
    threads = "one op for the whole stack" + ("" if x.device.type == "cuda" else f" on {torch.get_num_threads()} thread(s)")
    return [{"kernel": "cudnn", "why": why, "T": T, "B": B, "directions": directions, "train": train,
             "threads": threads, "passes": dict(passes)} for _ in range(layers)]


_OTHER_PASSES = {
    "reference": "a Python loop of torch ops per step",
    "triton": "per step the recurrent GEMM (cuBLAS) and one fused Triton kernel (backward likewise); on a GPU "
              "the loop is replayed from a CUDA graph after its first call with these shapes",
}


def _cpu_passes(route, bf16: bool, spec, x: Tensor, T: int, rows: int, train: bool, lengths, threads: int,
                side: bool) -> dict:
    from .cpu import gemm
    H, P = spec.hidden_size, spec.out_size
    width = next(i.shape[0] for i in spec.layout() if i.field == "w_hh")      # the recurrent GEMM's output
    I = int(x.shape[2])
    onednn = gemm.onednn_takes(x.dtype)
    lowered = " on bfloat16 operands" if bf16 and x.dtype == torch.float32 else ""

    def gemm_name(m: int, n: int, k: int) -> str:
        part = threads if side and train else None              # (inference keeps its prepared weights)
        r = dispatch.gemm(m, n, k, x.dtype, onednn, part)
        packed = "weight packed once per call" if train else "weight packed once, kept across inference calls"
        on_part = " (onednn_min_macs_part: a part on one thread)" if part == 1 else ""
        return (f"oneDNN ({packed})" if r == "onednn" else "MKL (torch.mm)") + on_part + (
            lowered if m * n * k >= dispatch.tuning().onednn_min_macs else "")

    def recurrent(loop: str, m: int) -> str:
        if loop == "fused":
            return "packed-weight GEMM inside the compiled loop" + (" (a GEMV: one row)" if m == 1 else "") + (
                "" if train else "; weight packed once, kept across inference calls")
        return gemm_name(m, width, P) + ", called from Python each step"

    n_t = _running_rows(T, rows, lengths)
    passes = {}
    if train:
        loop = dispatch.loop(route, rows, P, width, threads=threads)
        passes["forward"] = {"loop": loop, "why": _loop_why(route, rows, P, width, False, threads),
                             "windows": f"one window of {T} steps, every step saved for the backward",
                             "input projection": gemm_name(T * rows, width, I) + " over all steps at once",
                             "recurrent GEMM": recurrent(loop, rows)}
        bloop = dispatch.loop(route, rows, P, width, backward=True, threads=threads)
        passes["backward"] = {"loop": bloop, "why": _loop_why(route, rows, P, width, True, threads),
                              "recurrent GEMM": recurrent(bloop, rows),
                              "weight gradients": "MKL (torch.mm) over all steps at once: dW_ih, dW_hh" +
                                                  (", dW_hr" if P != H else ""),
                              "input gradient": gemm_name(T * rows, I, width) + " over all steps at once"}
        if dispatch.units_train(route, spec, T, rows, bool(n_t[-1] == rows), threads=threads):
            why = (f"{H} units >= units_min_hidden = {dispatch.tuning().units_min_hidden} on a part with {threads} "
                   f"threads: two threads step together, each owning half of the units (unless the call has "
                   f"resets, recurrent dropout or zoneout; {dispatch.tuning().source})")
            passes["forward"].update(loop="fused, units split", why=why, **{
                "recurrent GEMM": "packed-weight GEMM inside the compiled loop, each thread its units' columns of "
                                  "W_hh; a barrier per step"})
            passes["backward"].update(loop="fused, units split", why=why, **{
                "recurrent GEMM": "packed-weight GEMM inside the compiled loop: each thread its units' cell "
                                  "backward, then their columns of dh_{t-1} = W_hh^T da_t; a barrier per step"})
        return passes
    k = dispatch.window_steps(T, rows, width, x.element_size())
    wins = [(t0, min(t0 + k, T)) for t0 in range(0, T, k) if n_t[t0] > 0]
    loops = [(t0, t1, int(n_t[t0]), dispatch.loop(route, int(n_t[t0]), P, width, threads=threads)) for t0, t1 in wins]
    groups: list[list] = []
    for t0, t1, n, lp in loops:
        if groups and groups[-1][3] == lp:
            groups[-1][1], groups[-1][4] = t1, min(groups[-1][4], n)
        else:
            groups.append([t0, t1, n, lp, n])
    passes["forward"] = {
        "loop": " then ".join(f"{g[3]} (steps {g[0]}-{g[1] - 1}, {g[4]}-{g[2]} rows)" for g in groups)
        if len(groups) > 1 else loops[0][3],
        "why": _loop_why(route, rows, P, width, False, threads),
        "windows": f"{len(wins)} window(s) of {k} steps (inference: nothing saved; the input projection of one "
                   f"window at a time stays in cache)",
        "input projection": gemm_name(k * rows, width, I) + " per window",
        "recurrent GEMM": recurrent(loops[0][3], rows)}
    return passes


def _running_rows(T: int, rows: int, lengths: Optional[Tensor]) -> np.ndarray:
    from .cpu.plan import running_rows
    if lengths is None:
        return np.full(T, rows, dtype=np.int64)
    return running_rows(np.sort(lengths.detach().cpu().numpy())[::-1][:rows], T)


def _loop_why(route, rows: int, k: int, n: int, backward: bool, threads: int) -> str:
    if route is not None:
        return f"backend cpu-{route} forces it"
    if threads <= 1:
        return "the part runs on one thread: the fused loop at every size (stepping from Python would run the " \
               "same GEMM on the same core)"
    name, cap = dispatch.loop_threshold(backward)
    macs = rows * k * n
    cap_s = "never" if cap >= dispatch.NEVER else f"{cap:,}"
    return f"a step's recurrent GEMM is {rows} x {k} x {n} = {macs:,} multiply-adds, " \
           f"{'<=' if macs <= cap else '>'} {name} = {cap_s} ({dispatch.tuning().source})"


@dataclass
class Explanation:
    """What a layer call would run: one entry per layer (:func:`explain_call`'s dicts) and the tuning in
    force. ``print(explanation)`` shows it; the fields are plain data for programs."""

    layer: str
    calls: list = field(default_factory=list)
    tuning: Optional[dispatch.Tuning] = None

    def __str__(self) -> str:
        lines = [self.layer]
        for k, c in enumerate(self.calls):
            dirs = "both directions" if c["directions"] == 2 else "one direction"
            mode = "training (forward + backward)" if c["train"] else "inference"
            lines.append(f"layer {k}: {dirs}, T={c['T']}, B={c['B']}, {mode}")
            lines.append(f"  kernel   {c['kernel']}  ({c['why']})")
            lines.append(f"  threads  {c['threads']}")
            for name, p in c["passes"].items():
                if isinstance(p, str):
                    lines.append(f"  {name:<8} {p}")
                    continue
                lines.append(f"  {name}:")
                for key, value in p.items():
                    lines.append(f"    {key:<17} {value}")
        if self.tuning is not None:
            lines.append(f"thresholds: {self.tuning.source} (all of them: print(lstmkit.kernels.dispatch.tuning()))")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)
