"""Every routing decision of lstmkit's kernels, and every number behind them.

What runs a call of one layer-direction is decided here and nowhere else:

0. **stack** (:func:`cudnn_route`): before any of the below, whether a layer's whole stack runs through
   torch's own RNN op (cuDNN on CUDA; ``backend="cudnn"``), taken by ``auto`` on CUDA for the
   configurations torch.nn expresses.
1. **kernel** (:func:`select`): ``backend="auto"`` takes the first registered kernel in the device's
   preference order that supports the call (CPU: ``"cpu"``, then ``"reference"``); a named backend runs
   or raises with the reason.
2. **sides** (:func:`sides`): whether the call's two independent halves run at the same time, each on half
   of the threads (:mod:`.concurrent`): the two directions of a bidirectional layer, or the two halves of
   a one-direction layer's batch; or the call runs whole on all threads.
3. **loop** (:func:`loop`): per window of steps, whether the time loop runs compiled end to end
   (``"fused"``: per-step GEMMs inside the loop) or steps from Python with oneDNN's packed GEMMs
   (``"stepped"``). Forward and backward are decided separately.
4. **gemm** (:func:`gemm`): for a GEMM called from Python, oneDNN's matmul on a weight packed once per call,
   or MKL (``torch.mm``); bfloat16 operands inside :func:`~lstmkit.kernels.cpu.gemm.bfloat16_gemms`.
5. **windows** (:func:`window_steps`): an inference call's input projection runs over windows of steps that
   stay in cache.
6. **single steps** (:func:`step_parallel`): whether a streaming step's matrix-vector products are split
   across threads.

The thresholds live in one record, :class:`Tuning`. The crossovers that depend on the processor (fused
against stepped, oneDNN against MKL) are measured on the machine itself: at first use :func:`tuning`
loads them from a small JSON file kept per CPU model, torch version and thread count (beside numba's
compiled-code cache: ``$LSTMKIT_CACHE_DIR`` or ``~/.cache/lstmkit``), and where there is none runs
:func:`autotune` (a few seconds, once per machine) and writes it. ``LSTMKIT_TUNING`` overrides: ``defaults`` (the record's
defaults, no measurement), ``autotune`` (measure again), or the path of a JSON file of fields to set;
:func:`set_tuning` does the same from Python. ``lstmkit tune`` runs and shows it.

Ask which path a call takes with :func:`lstmkit.explain` (``layer.explain(x)``): it applies these same
functions to the call's sizes and prints each decision with its reason.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import threading
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

__all__ = ["Tuning", "tuning", "set_tuning", "autotune", "register", "available", "select", "sides", "loop",
           "gemm", "window_steps", "step_parallel", "cpu_model", "cache_path", "part_threads", "units", "concat_input"]


# ---------------------------------------------------------------------------------------------- the record

@dataclass(frozen=True)
class Tuning:
    """The thresholds of every routing decision (multiply-adds "MACs" are B * K * N of one GEMM)."""

    #: a forward's per-step recurrent GEMM of up to this many MACs runs in the fused (compiled) loop, larger
    #: ones step from Python with oneDNN -- for a part that has two threads or more (a part on one thread,
    #: e.g. a batch half run side by side, always takes the fused loop: :func:`loop`). Measured by
    #: :func:`autotune`: inference forwards of an LSTM layer run whole (not side by side), T=12, on a ladder of
    #: (B, H), both loops, the fastest of 5 calls each, the cut that serves the ladder best (:func:`crossover`).
    #: Default: the cut measured on a 2-core AMD EPYC (Zen 3), between (64, 256) and (64, 512).
    fused_max_macs: int = 33_554_432
    #: the same for the backward (forward + backward measured, training); the same cut there
    fused_max_macs_backward: int = 33_554_432
    #: a GEMM called from Python of at least this many MACs runs on oneDNN's packed matmul, below on MKL.
    #: Measured by :func:`autotune`: torch.mm against oneDNN with a packed weight, a ladder of per-step
    #: and whole-sequence shapes, the crossover where oneDNN wins from there up.
    onednn_min_macs: int = 4_000_000
    #: the same for a GEMM whose weight is packed afresh in the call (not kept by an inference program nor
    #: by the weight cache), called from a part run side by side on one thread of its own: a batch half or
    #: a direction of a training call, its input projection over all steps and its input gradient.
    #: Measured by :func:`autotune` on both threads of a side-by-side pair at once, as the parts run: torch.mm against oneDNN with the packing, a ladder of a half's
    #: whole-sequence shapes (:data:`PART_LADDER`). Default: what the 2-core AMD EPYC (Zen 3) measured, MKL
    #: at every size: ms torch.mm / oneDNN, (1600, 64) x (64, 512) 1.45 / 1.75, (1600, 256) x (256, 1024)
    #: 9.9 / 11.6, (3200, 256) x (256, 1024) 19.4 / 23.1, (800, 512) x (512, 2048) 19.8 / 23.0 (oneDNN's own
    #: call, its weight already packed, took 20.8 / 21.2 ms at the last two). 2**62: "never"
    onednn_min_macs_part: int = 1 << 62
    #: a call runs side by side (two tasks, half the threads each) only from this many MACs over all steps
    #: and GEMMs: below, handing work to a thread costs about what it saves (measured on 2 cores, AMD Zen 4:
    #: training, both directions, (32, 25, 228, 200) 52 -> 33 ms; (350, 8, 50, 64) 22 -> 15 ms)
    side_by_side_min_macs: int = 5_000_000
    #: a one-direction call's batch is cut in two halves from this many rows ...
    split_min_rows: int = 8
    #: ... while its recurrent weights take at most this many bytes (each half reads them all every step;
    #: measured: up to H = 512 in float32, (32, 100, 64, 128) training 48 -> 23 ms)
    split_max_weight_bytes: int = 4 << 20
    #: an inference call's input projection runs over windows of about this many bytes of gates ...
    #: (measured, 2 cores: W_ih x_t at T=1000, B=64, I=256, 4H=1024: 247 ms as one GEMM into a fresh 262 MB
    #: buffer, 175-197 ms in windows of 4-16 steps)
    window_bytes: int = 8 << 20
    #: ... and at least this many rows (T*B) per GEMM, below which a GEMM call's overhead shows
    window_min_rows: int = 1024
    #: a lean LSTM part run whole splits its hidden units between two threads from this many units
    #: (:func:`units`; measured, Zen 3, 2 threads, inference ms, one core -> units split: (1, 1000, 64, 128)
    #: 5.06 -> 5.22, (1, 1000, 64, 256) 22.2 -> 11.7, (1, 300, 512, 512) 25.3 -> 20.5, (4, 200, 256, 512)
    #: 74.5 -> 21.0, (16, 100, 1024, 1024) 256 (stepped) -> 195)
    units_min_hidden: int = 256
    #: a lean LSTM part computes its input projection inside the step (:func:`concat_input`) while
    #: [W_ih; W_hh] takes at most this many bytes ... (measured, Zen 3, 2 threads, inference ms, window GEMM
    #: -> inside the step: (32, 100, 64, 128) 7.80 -> 6.33, (64, 100, 256, 256) 48.9 -> 44.5, (32, 50, 512,
    #: 256) 24.0 -> 20.0, (4, 1000, 32, 64) 6.04 -> 5.83; joined weight 8 MB, (64, 50, 512, 512): 91 -> 104)
    concat_max_weight_bytes: int = 4 << 20
    #: ... and the part has at least this many rows (B=1: 2.66 -> 3.09 ms, B=2: 4.09 -> 4.55 at H=64)
    concat_min_rows: int = 4
    #: a single step's matrix-vector product of at least this many MACs is split across threads
    step_parallel_min_macs: int = 200_000
    #: ... and a single step of at least this many rows (a batch, a beam search's B*k hypotheses) is a small
    #: GEMM, run by the BLAS's blocked kernel instead (measured, AMD Zen 3, 2 cores, I=320, H=256, medians of
    #: 5: B=64 1.38 -> 1.18 ms, B=8 455 -> 423 us; torch.nn's step 1.00 ms and 630 us)
    step_blas_min_rows: int = 8
    #: a lean inference part on one thread (a batch half or a direction side by side, a half of the units
    #: split) projects each window's inputs with the compiled loops' packed GEMM
    #: (:mod:`lstmkit.kernels.cpu.packed_gemm`) instead of torch's, from this input width K up (float32).
    #: Measured by :func:`autotune`: one thread, (1024, K) x (K, 1024), K on :data:`PROJECTION_LADDER`, the
    #: crossover where the packed GEMM wins from there up. Default: the cut measured on a 2-core AMD EPYC
    #: (Zen 3), one thread, ms torch (oneDNN) -> packed: (1600, 1024) x (1024, 2048) 86 -> 73, (800, 512) x
    #: (512, 1024) 10.6 -> 9.2, (1024, 256) x (256, 1024) 6.7 -> 6.4, (3200, 256) x (256, 1024) 21.2 -> 23.0
    packed_projection_min_k: int = 362
    #: where the numbers come from: "defaults", "measured on <cpu> ...", or the override's name
    source: str = "defaults"

    def replace(self, **changes) -> "Tuning":
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        def show(v: int) -> str:
            return "never" if v >= NEVER else f"{v:,}"
        rows = [f"  {f.name:<26} {show(getattr(self, f.name)):>14}" for f in fields(self) if f.name != "source"]
        return "\n".join([f"tuning ({self.source}):"] + rows)


#: a threshold no call reaches ("never": the other side won at every measured size)
NEVER = 1 << 62



_TUNING: Optional[Tuning] = None
_LOCK = threading.RLock()


def tuning() -> Tuning:
    """The record in force (resolved once per process; see the module docstring)."""
    global _TUNING
    t = _TUNING
    if t is None:
        with _LOCK:
            if _TUNING is None:
                _TUNING = _resolve()
            t = _TUNING
    return t


def set_tuning(t: Optional[Tuning]) -> None:
    """Use ``t`` from now on in this process; None: resolve again (environment, cache file, autotune)."""
    global _TUNING
    _TUNING = t


def cpu_model() -> str:
    """The processor's model name with its family and model numbers (``/proc/cpuinfo``; a virtual machine
    may show only "AMD EPYC"), else :func:`platform.processor`."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if not key and info:
                break                                              # the first processor's block is enough
            info.setdefault(key, value.strip())
    except OSError:
        pass
    if "model name" in info:
        return f"{info['model name']} (family {info.get('cpu family', '?')} model {info.get('model', '?')})"
    return platform.processor() or platform.machine() or "unknown CPU"


def cache_path() -> Path:
    """The JSON file of measured tunings (one entry per CPU model, torch version and thread count)."""
    root = os.environ.get("LSTMKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "lstmkit")
    return Path(root) / "tuning.json"


def machine_key() -> str:
    """The cache file's key of this machine: CPU model, torch version, thread count."""
    return f"{cpu_model()} | torch {torch.__version__} | {torch.get_num_threads()} threads"


def _from_file(path: str) -> Tuning:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"LSTMKIT_TUNING must be 'defaults', 'autotune' or a JSON file of tuning fields, "
                         f"got {path!r} ({e})") from None
    names = {f.name for f in fields(Tuning)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{path}: unknown tuning fields {unknown}; expected some of {sorted(names)}")
    return Tuning().replace(**{**data, "source": data.get("source", f"file {path}")})


def _resolve() -> Tuning:
    how = os.environ.get("LSTMKIT_TUNING", "")
    if how == "defaults":
        return Tuning()
    if how and how != "autotune":
        return _from_file(how)
    if how != "autotune":
        cached = _load_cached()
        if cached is not None:
            return cached
    if torch.compiler.is_compiling():                # no measuring while torch.compile traces a model
        return Tuning().replace(source="defaults (first used while torch.compile traced)")
    try:
        return autotune(save=True)
    except Exception as e:  # pragma: no cover - a broken measurement must not break a forward
        return Tuning().replace(source=f"defaults (autotune failed: {e})")


def read_cache() -> dict:
    """The cache file's entries (machine key -> tuning fields); empty when there is none or it is unreadable."""
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


#: the fields :func:`autotune` measures; a cached entry without one of them (written by an earlier
#: version) is measured again
MEASURED = ("onednn_min_macs", "fused_max_macs", "fused_max_macs_backward", "onednn_min_macs_part",
            "packed_projection_min_k")


def _load_cached() -> Optional[Tuning]:
    entry = read_cache().get(machine_key())
    if not entry or not all(name in entry for name in MEASURED):
        return None
    known = {f.name for f in fields(Tuning)}
    return Tuning().replace(**{k: v for k, v in entry.items() if k in known})


def _save(t: Tuning) -> None:
    """Add this machine's entry to the cache file."""
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = read_cache()
        data[machine_key()] = t.as_dict()
        write_cache(data)
    except OSError:  # pragma: no cover - a read-only home: keep the measurement for this process only
        pass


def write_cache(data: dict) -> None:
    """Replace the cache file's content (written whole to a temporary file, then renamed)."""
    path = cache_path()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------- autotune

def crossover(macs: Sequence[int], a_times: Sequence[float], b_times: Sequence[float], margin: float = 1.03) -> int:
    """The size from which route B serves a ladder of points (sorted by ``macs``) better than route A: the cut
    that minimises the summed time of A below it and B from it up, each point's times relative to its
    faster route (so near-ties at one point do not move the cut, and large points do not outweigh small
    ones); B's times count ``margin`` times slower, and a tie keeps A longer. Returns the geometric mean of
    the sizes either side of the cut: 0 when B serves every point, :data:`NEVER` when it serves none."""
    n = len(macs)
    best = min(range(n + 1), key=lambda i: (sum(a_times[j] / min(a_times[j], b_times[j]) for j in range(i)) +
                                            sum(b_times[j] * margin / min(a_times[j], b_times[j])
                                                for j in range(i, n)), -i))
    if best == 0:
        return 0
    if best == n:
        return NEVER
    return int(math.sqrt(macs[best - 1] * macs[best]))


def _best_times(fns: Sequence[Callable[[], object]], repeats: int) -> list[float]:
    """Per function, the fastest of ``repeats`` timed calls after one warm-up, the functions called in
    turn within each round (in alternating order): on a shared machine the minimum is the steadiest
    estimate of what a route costs (a median still moves with a busy neighbour or a slow thread wake-up),
    and taking turns gives the routes compared the same stretches of a noisy machine. (Where two routes
    are near ties the cut between them still moves from run to run: docs/performance.md, "Autotune on a
    shared machine".)"""
    for fn in fns:
        fn()
    best = [math.inf] * len(fns)
    for r in range(repeats):
        for i in (range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))):
            t0 = time.perf_counter()
            fns[i]()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


#: (B, K, N) of GEMMs the kernels call from Python: per-step recurrent GEMMs and whole-sequence projections
GEMM_LADDER = [(8, 64, 256), (32, 128, 512), (64, 128, 512), (64, 256, 1024), (400, 128, 512), (64, 512, 2048)]
#: (B, H) of the LSTM layers timed fused against stepped
LOOP_LADDER = [(16, 128), (32, 256), (64, 256), (64, 512), (16, 1024)]


def autotune(save: bool = True, repeats: int = 5, log: Optional[Callable[[str], None]] = None) -> Tuning:
    """Measure this machine's crossovers (oneDNN against MKL, fused against stepped loops; a few seconds),
    set them in force for this process, and (``save``) keep them in :func:`cache_path`."""
    from .cpu import gemm as G
    base = Tuning()
    # the first call may come under no_grad or inference_mode (an inference benchmark's): measure outside them
    with _LOCK, torch.inference_mode(False), torch.enable_grad():
        set_tuning(base.replace(source="autotuning"))
        try:
            onednn = base.onednn_min_macs
            if G.ONEDNN:
                onednn = _tune_onednn(repeats)
                set_tuning(base.replace(onednn_min_macs=onednn, source="autotuning"))
            fwd, bwd = _tune_loops(repeats)
            onednn_part = _tune_onednn_part(repeats) if G.ONEDNN else base.onednn_min_macs_part
            packed_k = _tune_projection(repeats)
        except BaseException:
            set_tuning(None)
            raise
        t = base.replace(onednn_min_macs=onednn, fused_max_macs=fwd, fused_max_macs_backward=bwd,
                         onednn_min_macs_part=onednn_part, packed_projection_min_k=packed_k,
                         source=f"measured on {cpu_model()}, {torch.get_num_threads()} threads, "
                                f"{time.strftime('%Y-%m-%d')}")
        set_tuning(t)
    if log is not None:
        log(str(t))
    if save:
        _save(t)
    return t


def _tune_onednn(repeats: int) -> int:
    from .cpu.gemm import Linear
    macs, mkl, dnn = [], [], []
    for B, K, N in sorted(GEMM_LADDER, key=lambda s: s[0] * s[1] * s[2]):
        a, w = torch.randn(B, K), torch.randn(N, K)
        lin_mm, lin_dnn = Linear(w, B, force_mm=True), Linear(w, B, force_onednn=True)
        reps = max(2, min(100, int(1e7 // (B * K * N))))

        def many(lin):
            return lambda: [lin(a) for _ in range(reps)]
        macs.append(B * K * N)
        t_mkl, t_dnn = _best_times([many(lin_mm), many(lin_dnn)], repeats)
        mkl.append(t_mkl)
        dnn.append(t_dnn)
    return crossover(macs, mkl, dnn)


#: (rows, K, N) of the GEMMs a part on one thread calls from Python: a batch half's input projection or
#: input gradient over all steps
PART_LADDER = [(800, 64, 256), (1600, 64, 512), (1600, 256, 768), (1600, 256, 1024), (800, 512, 2048)]


def _in_pair(measure: Callable[[], list]) -> list:
    """``measure()`` run on both threads of a side-by-side pair at once, as parts run (each on one thread,
    the other core busy with the same work): the two threads' results averaged element by element. Run
    in the calling thread alone, on one thread, when nothing would run side by side."""
    from .concurrent import _restore_threads, _use_threads, side_by_side
    if not threads_enabled():
        saved = _use_threads(1)
        try:
            return measure()
        finally:
            _restore_threads(saved)
    a, b = side_by_side(lambda _: measure(), 2)
    return [(x + y) / 2 for x, y in zip(a, b)]


def _tune_onednn_part(repeats: int) -> int:
    from .cpu.gemm import Linear
    from .cpu.prepared import reusing
    ladder = sorted(PART_LADDER, key=lambda s: s[0] * s[1] * s[2])
    inputs = [(torch.randn(B, K), torch.randn(N, K)) for B, K, N in ladder]

    def measure() -> list:
        times = []
        with reusing(False):                     # the weight packed in every call, as a training call does
            for a, w in inputs:
                times += _best_times([lambda: Linear(w, a.shape[0], force_mm=True)(a),
                                      lambda: Linear(w, a.shape[0], force_onednn=True)(a)], repeats)
        return times
    times = _in_pair(measure)
    return crossover([B * K * N for B, K, N in ladder], times[0::2], times[1::2])


#: input widths K of the one-thread projections (1024, K) x (K, 1024) timed torch against the packed GEMM
PROJECTION_LADDER = [128, 256, 512, 1024]


def _tune_projection(repeats: int) -> int:
    # timed alone, not in a pair (:func:`_in_pair`): in a pair it came out "never" on the Zen 3, and the
    # inference it decides then ran 4-10% slower at I >= 512 than with the packed GEMM
    from .concurrent import _restore_threads, _use_threads
    from .cpu.gemm import Linear
    torch_times, packed_times = [], []
    saved = _use_threads(1)
    try:
        for K in PROJECTION_LADDER:
            a, w = torch.randn(1024, K), torch.randn(1024, K)
            lin_torch, lin_packed = Linear(w, 1024, kept=True), Linear(w, 1024, force_packed=True)
            t_torch, t_packed = _best_times([lambda: lin_torch(a), lambda: lin_packed(a)], repeats)
            torch_times.append(t_torch)
            packed_times.append(t_packed)
    finally:
        _restore_threads(saved)
    return crossover(PROJECTION_LADDER, torch_times, packed_times)


def _tune_loops(repeats: int) -> tuple[int, int]:
    """The fused/stepped crossovers for a part that has all the threads (a part on one thread always takes
    the fused loop, :func:`loop`): measured with every call run whole, never side by side."""
    _WHOLE.on = True
    try:
        return _measure_loops(repeats)
    finally:
        _WHOLE.on = False


def _measure_loops(repeats: int) -> tuple[int, int]:
    from ..cells.lstm import LSTMSpec
    from . import run
    T = 12
    macs, times = [], {k: [] for k in ("fused", "stepped", "fused-train", "stepped-train")}
    for B, H in LOOP_LADDER:
        spec = LSTMSpec(H, H)
        w = spec.make_weights({i.field: torch.randn(i.shape) * 0.1 for i in spec.layout()})
        wg = spec.make_weights({i.field: torch.randn(i.shape).mul_(0.1).requires_grad_() for i in spec.layout()})
        x = torch.randn(T, B, H)
        state0 = (torch.zeros(B, H), torch.zeros(B, H))
        macs.append(B * H * 4 * H)

        def infer(backend):
            def call():
                with torch.no_grad():
                    run(spec, w, x, state0, backend=backend)
            return call

        def train(backend):
            def call():
                y, _ = run(spec, wg, x, state0, backend=backend)
                y.sum().backward()
            return call
        for kind, make in (("", infer), ("-train", train)):
            fused, stepped = _best_times([make("cpu-fused"), make("cpu-stepped")], repeats)
            times["fused" + kind].append(fused)
            times["stepped" + kind].append(stepped)
    fwd = crossover(macs, times["fused"], times["stepped"])
    # the backward's own crossover: training time minus the forward's
    bwd = crossover(macs, [a - b for a, b in zip(times["fused-train"], times["fused"])],
                    [a - b for a, b in zip(times["stepped-train"], times["stepped"])])
    return fwd, bwd


# ---------------------------------------------------------------------------------------------- kernels

_KERNELS: dict = {}
#: preference order of ``backend="auto"`` per device type; the reference runs everywhere
_AUTO_ORDER: dict[str, list[str]] = {"cpu": ["reference"], "cuda": ["reference"]}


def register(kernel, auto_for: Sequence[str] = ()) -> None:
    """Make ``kernel`` selectable by name and, for the device types in ``auto_for``, preferred by "auto"."""
    _KERNELS[kernel.name] = kernel
    for dev in auto_for:
        order = _AUTO_ORDER.setdefault(dev, ["reference"])
        if kernel.name in order:
            order.remove(kernel.name)
        order.insert(0, kernel.name)


def available() -> list[str]:
    """Names of the registered kernels (valid values of ``backend`` besides "auto")."""
    return sorted(_KERNELS)


def kernel(name: str):
    return _KERNELS[name]


def select(backend: str, spec, x):
    """The kernel that ``backend`` names for this spec and input ("auto": the first of the device's
    preference order that supports it). An empty batch always runs the reference (its torch ops give
    the empty outputs and gradients)."""
    return explain_select(backend, spec, x)[0]


def explain_select(backend: str, spec, x) -> tuple:
    """(kernel, why) of :func:`select`."""
    if x.dim() >= 2 and x.shape[1] == 0:
        return _KERNELS["reference"], "an empty batch: the reference's torch ops give the empty outputs"
    if backend == "auto":
        skipped = []
        for name in _AUTO_ORDER.get(x.device.type, ["reference"]):
            k = _KERNELS.get(name)
            if k is None:
                continue
            why = k.unsupported(spec, x)
            if why is None:
                note = f"; skipped {'; '.join(skipped)}" if skipped else ""
                return k, f"auto: first of {_AUTO_ORDER.get(x.device.type)} that runs this call{note}"
            skipped.append(f"{name}: {why}")
        return _KERNELS["reference"], "auto: nothing else runs this call (" + "; ".join(skipped) + ")"
    if backend not in _KERNELS:
        raise ValueError(f"backend must be 'auto' or one of {available()}, got {backend!r}")
    k = _KERNELS[backend]
    why = k.unsupported(spec, x)
    if why is not None:
        raise ValueError(f"backend {backend!r} cannot run this layer: {why}")
    return k, f"backend={backend!r} asked for"


# ---------------------------------------------------------------------------------------------- cuDNN route

def cudnn_route(backend: str, spec, x, tensors: Sequence, variant: dict, reset: bool = False,
                recording: bool = False) -> tuple[bool, str]:
    """(take, why): whether one call of a layer runs its whole stack through torch's own RNN op
    (:mod:`lstmkit.kernels.gpu.cudnn`) instead of lstmkit's kernels layer by layer. ``spec``: the first
    layer's; ``x`` (T, B, I); ``tensors``: initial states and flat weights; ``variant``: the layer's options
    torch.nn lacks ({} when standard). ``backend="auto"`` takes it on CUDA tensors where it applies (never
    on CPU: lstmkit's CPU kernels stay the default there, nor while torch.compile traces, where the
    kernels' custom op keeps the graph whole); ``backend="cudnn"`` takes it on any device it runs on, or
    raises ValueError with the reason. An empty batch runs the reference (:func:`explain_select`)."""
    if backend not in ("auto", "cudnn"):
        return False, f"backend={backend!r} asked for"
    if backend == "auto" and x.device.type != "cuda":
        return False, f"auto takes the cudnn route on CUDA tensors only (lstmkit's kernels run {x.device.type})"
    if x.dim() >= 2 and x.shape[1] == 0:
        return False, "an empty batch: the reference's torch ops give the empty outputs"
    from .gpu import cudnn
    why = cudnn.unsupported(spec, x, tensors, variant, reset=reset, recording=recording)
    if backend == "cudnn":
        if why is not None:
            raise ValueError(f"backend='cudnn' cannot run this layer: {why}")
        return True, "backend='cudnn' asked for"
    if why is not None:
        return False, f"not the cudnn route: {why}"
    if torch.compiler.is_compiling():
        return False, "not the cudnn route while torch.compile traces (the kernels' custom op keeps one graph)"
    return True, "auto: a CUDA tensor and a configuration torch.nn (cuDNN) runs"


# ---------------------------------------------------------------------------------------------- CPU routes

def _weight_sizes(spec) -> dict:
    return {i.field: math.prod(i.shape) for i in spec.layout() if i.field in ("w_ih", "w_hh", "w_hr")}


_PART = threading.local()           # .threads: the share of a part run side by side (set by concurrent)


def current_threads() -> int:
    """The threads the calling thread's work runs on: its share when it runs a part side by side
    (:mod:`lstmkit.kernels.concurrent` sets it), else torch's count."""
    share = part_share()
    return torch.get_num_threads() if share is None else share


_WHOLE = threading.local()          # .on: this thread's calls run their parts whole (the loop autotune's)


def threads_enabled() -> bool:
    """Whether two tasks would run side by side now (the calling thread has >= 2 threads)."""
    return not os.environ.get("LSTMKIT_NO_SIDE_BY_SIDE") and torch.get_num_threads() >= 2 and \
        not getattr(_WHOLE, "on", False)


@torch.compiler.assume_constant_result        # under torch.compile: decided once, at trace time
def worth_it(spec, steps: int, rows: int) -> bool:
    """Whether one direction of ``spec`` over ``steps`` x ``rows`` is work enough to share
    (:attr:`Tuning.side_by_side_min_macs`) and two tasks would run side by side now."""
    return steps * rows * sum(_weight_sizes(spec).values()) >= tuning().side_by_side_min_macs and threads_enabled()


@torch.compiler.assume_constant_result
def split_rows(spec, steps: int, rows: int, itemsize: int) -> bool:
    """Whether one direction of ``spec`` over ``steps`` x ``rows`` (elements of ``itemsize`` bytes) runs as
    two batch halves side by side."""
    t, sizes = tuning(), _weight_sizes(spec)
    weight_bytes = itemsize * (sizes["w_hh"] + sizes.get("w_hr", 0))
    return rows >= t.split_min_rows and weight_bytes <= t.split_max_weight_bytes and worth_it(spec, steps, rows)


def sides(kernel_, spec, steps: int, rows: int, itemsize: int, directions: int) -> str:
    """How a call's work is shared between threads: "directions" (a bidirectional layer's two directions
    side by side), "halves" (a one-direction batch cut in two, side by side) or "whole"."""
    if not kernel_.side_by_side or rows == 0:
        return "whole"
    if directions == 2:
        return "directions" if worth_it(spec, steps, rows) else "whole"
    return "halves" if split_rows(spec, steps, rows, itemsize) else "whole"


def units(kernel_, spec, steps: int, rows: int, itemsize: int, directions: int) -> bool:
    """Whether a lean LSTM or GRU part's time loop runs on two threads, each owning half of the hidden units
    (:mod:`lstmkit.kernels.cpu.lean`): for a part that would otherwise run whole on one core (too few rows
    to halve the batch, or recurrent weights too large to read twice per step), with two threads to use,
    from :attr:`Tuning.units_min_hidden` units, in calls with work enough to share (:func:`worth_it`). Each thread reads half of W_hh per step and the two meet
    at a barrier per step. The LSTM without projection (a projection needs all of h~ before any of h) and
    the GRU in torch.nn's form (reset before, W_hn (r * h) needs all of r * h)."""
    if not _units_cell(spec):
        return False
    if getattr(kernel_, "route", None) == "stepped" or not getattr(kernel_, "side_by_side", False):
        return False
    return worth_it(spec, steps, rows) and sides(kernel_, spec, steps, rows, itemsize, directions) == "whole"


def units_train(route, spec, steps: int, rows: int, plain: bool, threads: Optional[int] = None) -> bool:
    """Whether a layer-direction's training call (forward that saves every step, then its BPTT) runs each
    time loop on two threads owning half of the hidden units each
    (:func:`lstmkit.kernels.cpu.lstm.loop.lstm_units_train_forward` / ``..._backward``, the GRU's alike):
    a part with two threads or more (run whole: too few rows to halve the batch, or W_hh too large to read
    twice per step), the LSTM without projection or layer norm (peepholes, cifg allowed) or the GRU in
    torch.nn's form
    (reset after), ``plain`` (no lengths, resets, recurrent dropout or zoneout), from
    :attr:`Tuning.units_min_hidden` units, in calls of :func:`worth_it`. The
    forward meets at a barrier once per step (h_t whole), the backward once per step (the step's
    dL/d(pre-activations) whole before each thread's columns of dh_{t-1}). ``threads``: the part's threads
    (default: the calling thread's, :func:`current_threads`)."""
    threads = current_threads() if threads is None else threads
    if route == "stepped" or not plain or not _units_cell(spec) or threads < 2:
        return False
    return worth_it(spec, steps, rows)


def _units_cell(spec) -> bool:
    """A cell whose step splits by hidden units (:func:`units`, :func:`units_train`), from
    :attr:`Tuning.units_min_hidden` units: the LSTM without projection or layer norm (a projection needs all
    of h~ before any of h; layer norm all of a row) and the GRU in torch.nn's form (reset before, W_hn (r * h)
    needs all of r * h)."""
    form = spec.family == "lstm" and spec.proj_size == 0 or spec.family == "gru" and not spec.reset_before
    return form and not getattr(spec, "layer_norm", False) and spec.hidden_size >= tuning().units_min_hidden


def units_cut(hidden: int) -> int:
    """Where a units split cuts H units in two: about half, a multiple of 8 (a vector) where it can be."""
    return min(max(((hidden + 1) // 2 + 7) // 8 * 8, 1), hidden - 1)


def concat_input(spec, rows: int, input_size: int, itemsize: int = 4) -> bool:
    """Whether a lean LSTM part computes its input projection inside the step, one GEMM of [x_t | h_{t-1}]
    with [W_ih; W_hh] (:func:`lstmkit.kernels.cpu.lstm.loop.lstm_concat_loop`), instead of one GEMM per
    window whose output (the window's gates) leaves the cache before the loop reads it back: while the
    joined weight stays within :attr:`Tuning.concat_max_weight_bytes` (it is read every step) and the part
    has at least :attr:`Tuning.concat_min_rows` rows (with fewer the step is a matrix-vector product, bound
    by reading that larger weight). The LSTM without projection."""
    t = tuning()
    if spec.family != "lstm" or spec.proj_size > 0 or getattr(spec, "layer_norm", False):
        return False
    joined = (input_size + spec.hidden_size) * spec.num_gates * spec.hidden_size * itemsize
    return rows >= t.concat_min_rows and joined <= t.concat_max_weight_bytes


def lean(kernel_, spec, steps: int, rows: int, itemsize: int, directions: int) -> Optional[str]:
    """None if an inference call (no gradient, lengths, resets, dropout or zoneout: the layer checks those)
    takes the lean route (:mod:`lstmkit.kernels.cpu.lean`: one compiled call per layer-direction or batch
    half), else why not. It needs the CPU kernel's fused loop ("cpu" or "cpu-fused"), a cell that loop
    runs without layer norm, and a step small enough for the fused loop (:func:`loop`); a call of one step
    takes it with every cell form (:func:`one_step`)."""
    if getattr(kernel_, "name", None) not in ("cpu", "cpu-fused"):
        return f"the {getattr(kernel_, 'name', kernel_)} kernel runs it"
    if one_step(steps):
        return None                       # one step (generation, streaming): every cell form
    if getattr(spec, "layer_norm", False):
        return "layer norm runs on the general route"
    if units(kernel_, spec, steps, rows, itemsize, directions):
        return None
    how = sides(kernel_, spec, steps, rows, itemsize, directions)
    rows_part = (rows + 1) // 2 if how == "halves" else rows
    gates = spec.num_gates * spec.hidden_size if spec.family == "lstm" else \
        (3 if spec.family == "gru" else 1) * spec.hidden_size
    if loop(kernel_.route, rows_part, spec.out_size, gates, threads=part_threads(how)) != "fused":
        return "a step this large runs the stepped loop (oneDNN per step)"
    return None


def one_step(steps: int) -> bool:
    """Whether a lean call runs as single steps on the weights as they are (:meth:`CpuKernel.step
    <lstmkit.kernels.cpu.CpuKernel.step>`, :mod:`lstmkit.kernels.cpu.single_step`: matrix-vector products
    over the weights' rows) rather than a prepared program: a call of one step, as generation and streaming
    make. Such a call reads each weight once; checking that the kept packed weights still hold the same
    values (:mod:`lstmkit.kernels.cpu.prepared`) would read them all again and packing them would cost
    more than the step (measured, 2-core AMD EPYC Zen 3, an LSTM layer's one-step call at B=1, ms,
    prepared -> single step: H=64 0.25 -> 0.14, H=1024 4.96 -> 2.1)."""
    return steps == 1


def loop_threshold(backward: bool = False) -> tuple[str, int]:
    """(field name, value) of the :class:`Tuning` threshold that :func:`loop` compares a step's GEMM with."""
    name = "fused_max_macs_backward" if backward else "fused_max_macs"
    return name, getattr(tuning(), name)


def loop(route: Optional[str], rows: int, k: int, n: int, backward: bool = False,
         threads: Optional[int] = None) -> str:
    """"fused" or "stepped" for a window whose first step runs ``rows`` rows of a (k -> n) recurrent GEMM;
    ``route`` ("fused" / "stepped", backends cpu-fused / cpu-stepped) forces it. ``threads``: the threads
    the part runs on (default: :func:`current_threads`). The fused loop runs on one thread, the stepped one calls oneDNN on all of the part's:
    a part with one thread takes the fused loop at every size (the stepped loop would run the same GEMM
    on the same core, plus a call from Python per step); with more, up to the measured threshold."""
    if route is not None:
        return route
    if (current_threads() if threads is None else threads) <= 1:
        return "fused"
    return "fused" if rows * k * n <= loop_threshold(backward)[1] else "stepped"


def part_share() -> Optional[int]:
    """The calling thread's share of threads while it runs a part side by side (:mod:`.concurrent` sets
    it), else None."""
    return getattr(_PART, "threads", None)


def part_threads(how: str) -> int:
    """The threads one part of a call runs on, for :func:`sides`' answer ``how``."""
    total = torch.get_num_threads()
    return total if how == "whole" or not threads_enabled() else max(total // 2, 1)


def gemm(rows: int, n: int, k: int, dtype: torch.dtype, onednn_ok: bool, part: Optional[int] = None) -> str:
    """"onednn" or "mkl" for a GEMM called from Python: ``rows`` x (k -> n) on ``dtype``; ``onednn_ok``:
    oneDNN is present and takes this dtype. ``part``: for a GEMM whose weight is packed in the call, the
    threads of the side-by-side part that calls it (:func:`part_share`; None: a call run whole, or a
    weight prepared once); a part on one thread has its own crossover (:attr:`Tuning.onednn_min_macs_part`)."""
    t = tuning()
    cut = t.onednn_min_macs_part if part == 1 else t.onednn_min_macs
    return "onednn" if onednn_ok and rows * n * k >= cut else "mkl"


def packed_projection(k: int, threads: int, dtype: torch.dtype) -> bool:
    """Whether a window's input projection of input width ``k`` on a part of ``threads`` threads runs on the
    compiled packed GEMM (:attr:`Tuning.packed_projection_min_k`; float32 on one thread) rather than
    torch's (which spreads one GEMM over several threads)."""
    return threads == 1 and dtype == torch.float32 and k >= tuning().packed_projection_min_k


def window_steps(T: int, B: int, width: int, itemsize: int) -> int:
    """Steps per inference window for a gate buffer of ``width`` columns."""
    t = tuning()
    k = max(t.window_bytes // max(B * width * itemsize, 1), -(-t.window_min_rows // B), 1)
    return min(T, k)


def step_parallel(macs: int) -> bool:
    """Whether a single step's matrix-vector product of ``macs`` multiply-adds is split across threads."""
    return macs >= tuning().step_parallel_min_macs


def step_route(rows: int, macs: int) -> str:
    """How a single step's product of ``rows`` input rows runs: ``blas`` (a small GEMM), ``parallel``
    (dot products split across threads) or ``serial``."""
    if rows >= tuning().step_blas_min_rows:
        return "blas"
    return "parallel" if step_parallel(macs) else "serial"


__all__ += ["lean", "one_step", "units_train", "units_cut", "machine_key", "read_cache", "write_cache", "worth_it", "split_rows", "threads_enabled", "explain_select", "crossover",
            "kernel", "loop_threshold", "step_route", "cudnn_route", "packed_projection"]
