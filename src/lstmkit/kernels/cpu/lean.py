"""The lean inference route: a stack's plain inference without the general machinery.

A deployed model calls a layer without gradients, lengths, resets, dropout or zoneout. Such a call needs
none of the general path's plans, masks, per-window drivers and autograd node, whose ~450 Python-level
operations cost about 0.25 ms a call (a sixth of a (1, 1000, 64, 64) LSTM inference). The layers hand it
here (:func:`lstmkit.kernels.dispatch.lean` decides; :func:`lstmkit.explain` says so) and each
layer-direction, or each half of the batch (:func:`lstmkit.kernels.dispatch.sides`), runs as windows of
steps (:func:`lstmkit.kernels.dispatch.window_steps`):

* the window's input projection W_ih x_t (+ b) in one GEMM (:class:`~.gemm.Linear`, the weight prepared
  once across calls, :mod:`.prepared`): torch's on a part with the threads to spread it over, the compiled
  packed GEMM on a part of one thread (:func:`lstmkit.kernels.dispatch.packed_projection`);
* the family's fused time loop over the window (:mod:`.lstm.loop`, :mod:`.gru.loop`, :mod:`.rnn.loop`: the
  same compiled steps every CPU route runs), writing h_t straight into the stack's output when its layout
  allows, so the halves of a batch and the two directions need no joining copy; the final states are
  written in place too.

A call of one step (generation, streaming: :func:`lstmkit.kernels.dispatch.one_step`) prepares nothing:
each layer-direction's single step runs on the weights as they are (:func:`_one_step`).

Two variants of a part, each decided in :mod:`lstmkit.kernels.dispatch` and named by ``explain``:

* a narrow-input LSTM part computes the projection inside each step instead, one GEMM of
  [x_t | h_{t-1}] with [W_ih; W_hh] (:func:`~lstmkit.kernels.dispatch.concat_input`,
  :func:`~.lstm.loop.lstm_concat_loop`): no window of gates leaves the cache;
* a part that would run whole on one core splits its hidden units between two threads stepping together
  (:func:`~lstmkit.kernels.dispatch.units`, :class:`_UnitsPart`, :mod:`.sync`).

What a call prepares (packed weights, the summed bias, buffers, windows, the thread split) is kept as a
program for the next call of the same stack and input shape while the weights hold the same values
(:func:`run_stack`); with the layer's own decision kept per shape too, a (1, 1, 64, 64) LSTM call
costs 0.24 ms instead of 0.28 and a (32, 100, 64, 128) one 7.8 ms instead of 8.4 (2-core AMD EPYC Zen 3,
interleaved medians; torch.nn's own call at (1, 1, 64, 64) took 0.17-0.19 ms there).

Two parts (halves or directions) run side by side (:mod:`lstmkit.kernels.concurrent`), each prepared in
the calling thread first so that the threads do not wait on each other's Python. The equations are the
cells' (:class:`lstmkit.cells.lstm.LSTMCell`, :class:`lstmkit.cells.gru.GRUCell`,
:class:`lstmkit.cells.rnn.RNNCell`); the tests compare this route with the reference kernel and torch.nn.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from .. import dispatch
from ..concurrent import halves, side_by_side
from .gemm import Linear, packed
from .gru.loop import gru_forward_loop, gru_units_loop
from .lstm.loop import lstm_concat_loop, lstm_forward_loop, lstm_units_loop
from .plan import weight_view
from .prepared import fingerprint, fingerprint_of, fingerprint_view, limit_bytes, reusing, source
from .rnn.loop import rnn_forward_loop
from .sequence import step_together, unit_rows
from .single_step import views_of

__all__ = ["run_stack", "clear_programs", "Rerun"]


def _width(spec) -> int:
    """The gate columns of a step: G*H (LSTM), 3H (GRU), H (RNN)."""
    H, fam = spec.hidden_size, spec.family
    return spec.num_gates * H if fam == "lstm" else 3 * H if fam == "gru" else H


def _steps_buffers(spec, n: int, S: int, dt) -> dict:
    """The step and window buffers of one part's family loop (C-contiguous: the step functions' loops
    vectorise on them)."""
    H, P, fam, width = spec.hidden_size, spec.out_size, spec.family, _width(spec)
    out = dict(hd=np.empty((n, P), dt), rec=np.empty((n, width), dt), h_cand=np.empty((n, P), dt))
    if fam == "lstm":
        out.update(cs=np.empty((S, n, H), dt), m=np.empty((1, n, H), dt) if spec.proj_size > 0 else None)
    elif fam == "gru":
        one, empty = np.empty((1, n, H), dt), np.empty((0, 0, 0), dt)
        out.update(ah_n=empty if spec.reset_before else one, rh=one if spec.reset_before else empty)
    return out


def _family_loop(spec, w):
    """step(gates (k, n, G*H), h0, c0, y (k, n, P), buf): the family's fused loop over one window, with the
    recurrent weights prepared (kept across calls: :mod:`.prepared`)."""
    fam = spec.family
    if fam == "lstm":
        wp_hh, w_ch = packed(w.w_hh.t()), weight_view(w.w_ch)
        wp_hr = packed(None if w.w_hr is None else w.w_hr.t())

        def step(g, h0, c0, y, buf):
            k = g.shape[0]
            lstm_forward_loop(np.full(k, g.shape[1], np.int64), g, wp_hh, wp_hr, h0, c0, y, buf["cs"][:k], None,
                              buf["m"], False, None, w_ch, None, None, spec.ln_eps, None, None, None, None, None,
                              buf["hd"], buf["rec"], buf["h_cand"])
            return buf["cs"][k - 1]
        return step
    if fam == "gru":
        H, wt, b, rb = spec.hidden_size, w.w_hh.t(), weight_view(w.b_hh), spec.reset_before
        wp_a, wp_b = (packed(wt[:, :2 * H]), packed(wt[:, 2 * H:])) if rb else \
            (packed(wt), np.empty((0, 0, 0), wt.numpy().dtype))     # the unused form's weight: a placeholder
        b_a, b_b = (b, None) if (b is None or not rb) else (b[:2 * H], b[2 * H:])

        def step(g, h0, c0, y, buf):
            gru_forward_loop(np.full(g.shape[0], g.shape[1], np.int64), g, wp_a, wp_b,
                             b_a, b_b, h0, y, buf["ah_n"], buf["rh"], False, rb, None, None, None, buf["hd"],
                             buf["rec"], buf["h_cand"])
        return step
    wp_hh, relu = packed(w.w_hh.t()), spec.nonlinearity == "relu"

    def step(g, h0, c0, y, buf):
        rnn_forward_loop(np.full(g.shape[0], g.shape[1], np.int64), g, wp_hh, h0, y, relu, None, None, None,
                         buf["hd"], buf["rec"], buf["h_cand"])
    return step


def _tensors(weights: list) -> Optional[list]:
    """Every weight tensor of a stack (contiguous or transposed-contiguous), or None if one is neither."""
    out = []
    for layer in weights:
        for wd in layer:
            for t in wd:
                if isinstance(t, Tensor):
                    src = source(t)
                    if src is None:
                        return None
                    out.append(src)
    return out


def _biases(spec, w) -> tuple:
    """(bias of the input projection, bias of the step's recurrent GEMM): the LSTM and the RNN add both
    biases to the projection; the GRU keeps b_hh in the step (r multiplies W_hn h + b_hn)."""
    if spec.family == "gru":
        return w.b_ih, w.b_hh
    return (None if w.b_ih is None else w.b_ih + w.b_hh), None


class _Windows:
    """What every part shares: its windows of steps in the direction's time, where each window's h_t go
    (straight into the stack's output when its layout allows, else a buffer copied out after the window)."""

    def _windows(self, spec, T: int, n: int, width: int, dt, reverse: bool, direct: bool) -> int:
        """Set the windows up for a gate row of ``width`` columns; returns the steps per window."""
        S = dispatch.window_steps(T, n, width, dt.itemsize)
        self.T, self.n, self.reverse, self.direct = T, n, reverse, direct
        self.wins = [(s0, min(s0 + S, T)) for s0 in range(0, T, S)]
        self.yw = None if direct else np.empty((S, n, spec.out_size), dt)   # h_t before its copy into y
        return S

    def _inputs(self, x, s0: int, s1: int):
        """x's steps [s0, s1) in the direction's time (a tensor or a numpy array; original time in ``x``)."""
        T = self.T
        if not self.reverse:
            return x[s0:s1]
        return x[T - s1:T - s0].flip(0) if isinstance(x, Tensor) else x[T - s1:T - s0][::-1]

    def _outputs(self, y: np.ndarray, s0: int, s1: int) -> np.ndarray:
        """Where the window's h_t are written: y's rows, or the buffer."""
        return y[s0:s1] if self.direct else self.yw[:s1 - s0]

    def _copy_out(self, y: np.ndarray, yk: np.ndarray, s0: int, s1: int, cols: slice = slice(None)) -> None:
        """The buffered window's h_t (columns ``cols``) into y, in original time."""
        if not self.direct:
            T = self.T
            if self.reverse:
                y[T - s1:T - s0, :, cols] = yk[::-1, :, cols]
            else:
                y[s0:s1, :, cols] = yk[:, :, cols]


class _Part(_Windows):
    """One part (a layer-direction, or a half of its batch) prepared once: weights, buffers, windows.

    Calling it with x (T, n, I) in original time, h0 / h_T (n, P) and y (T, n, P) numpy views, c0 / c_T
    (n, H) for the LSTM computes the part: windows of steps in the direction's time, the input projection
    of a window (:class:`~.gemm.Linear` on the part's ``threads``), then the family's fused loop over it. (Computing the
    projections in the worker thread a window ahead of the loop, on the core a lone part leaves idle, was
    measured and dropped: at B=1, H=64 the loop ran 9% slower beside it and the hand-overs took the rest
    of the gain.)"""

    def __init__(self, spec, w, T: int, n: int, dt, reverse: bool, direct: bool, threads: int) -> None:
        self.lstm = spec.family == "lstm"
        self.width = _width(spec)
        S = self._windows(spec, T, n, self.width, dt, reverse, direct)
        self.buf = _steps_buffers(spec, n, S, dt)
        bias = _biases(spec, w)[0]
        I = w.w_ih.shape[1]
        self.concat = dispatch.concat_input(spec, n, I, dt.itemsize)
        if self.concat:                       # the projection inside the step: [W_ih; W_hh] packed together
            with reusing(False):              # (this program's own weight: nothing to share)
                wp_cat = packed(torch.cat([w.w_ih.detach(), w.w_hh.detach()], 1).t())
            b = None if bias is None else np.ascontiguousarray(bias.detach().numpy())
            w_ch = weight_view(w.w_ch)
            xh, pre = np.empty((n, I + spec.out_size), dt), np.empty((n, self.width), dt)
            cs = self.buf["cs"]

            def step(xw, h0, c0, y, buf):
                return lstm_concat_loop(xw, wp_cat, b, h0, c0, y, w_ch, xh, pre, cs)
            self.step = step
        else:
            self.step = _family_loop(spec, w)
            self.lin = Linear(w.w_ih, S * n, bias, threads=threads, kept=True)

    def __call__(self, x: Tensor, h0: np.ndarray, c0: Optional[np.ndarray], y: np.ndarray, h_T: np.ndarray,
                 c_T: Optional[np.ndarray]) -> None:
        n, lstm = self.n, self.lstm
        h_T[...] = h0
        if lstm:
            c_T[...] = c0
        xn = x.numpy() if self.concat else None
        for s0, s1 in self.wins:
            k = s1 - s0
            if self.concat:                                                  # x_t itself
                g = self._inputs(xn, s0, s1)
            else:                                                            # W_ih x_t + b
                g = self.lin(self._inputs(x, s0, s1).reshape(k * n, x.shape[2])).numpy().reshape(k, n, self.width)
            yk = self._outputs(y, s0, s1)
            c_last = self.step(g, h_T, c_T, yk, self.buf)
            self._copy_out(y, yk, s0, s1)
            h_T[...] = yk[k - 1]
            if lstm:
                c_T[...] = c_last


class _UnitsPart(_Windows):
    """One part whose time loop runs on two threads at once, each owning half of the hidden units (an LSTM
    without projection, a GRU in torch.nn's form; :func:`lstmkit.kernels.dispatch.units` decides): each
    thread projects its units' gates for a window (its rows of W_ih), then runs
    :func:`~.lstm.loop.lstm_units_loop` / :func:`~.gru.loop.gru_units_loop` -- per step its columns of
    W_hh h_{t-1} from the whole h_{t-1}, its units' cell, its half of h_t -- meeting the other at a barrier
    per step (:mod:`.sync`). Called as :class:`_Part`."""

    def __init__(self, spec, w, T: int, n: int, dt, reverse: bool, direct: bool, threads: int) -> None:
        H = spec.hidden_size
        self.lstm = lstm = spec.family == "lstm"
        G = spec.num_gates if lstm else 3
        S = self._windows(spec, T, n, G * H, dt, reverse, direct)
        cut = dispatch.units_cut(H)
        b_x, b_h = _biases(spec, w)
        self.halves = []
        with reusing(False):                  # these weights are this program's own: nothing to share
            for lo, hi in ((0, cut), (cut, H)):
                cols = unit_rows(H, G, lo, hi)
                w_ch = None if not lstm or w.w_ch is None else np.ascontiguousarray(weight_view(w.w_ch)[:, lo:hi])
                Hs = hi - lo
                self.halves.append(dict(
                    lo=lo, hi=hi, lin=Linear(w.w_ih.detach()[cols].contiguous(), S * n,
                                             None if b_x is None else b_x.detach()[cols].contiguous(),
                                             threads=threads, kept=True),
                    wp=packed(w.w_hh.detach()[cols].t()), w_ch=w_ch, rec=np.empty((n, G * Hs), dt),
                    b_h=None if b_h is None else b_h.detach()[cols].contiguous().numpy(), m=np.empty((n, Hs), dt),
                    state=np.empty((S, n, Hs), dt) if lstm else np.empty((1, n, Hs), dt)))  # c_t / W_hn h + b_hn

    def __call__(self, x: Tensor, h0: np.ndarray, c0: Optional[np.ndarray], y: np.ndarray, h_T: np.ndarray,
                 c_T: Optional[np.ndarray]) -> None:
        step_together(lambda k, flags, me, other: self._half(k, flags, me, other, x, h0, c0, y, h_T, c_T))

    def _half(self, k: int, flags, me: int, other: int, x: Tensor, h0, c0, y, h_T, c_T) -> None:
        n = self.n
        p = self.halves[k]
        lo, hi = p["lo"], p["hi"]
        h_T[:, lo:hi] = h0[:, lo:hi]
        if self.lstm:
            c_own = c_T[:, lo:hi]
            c_own[...] = c0[:, lo:hi]
        base = 0
        for s0, s1 in self.wins:
            kk = s1 - s0
            g = p["lin"](self._inputs(x, s0, s1).reshape(kk * n, x.shape[2])).numpy().reshape(kk, n, -1)
            yk = self._outputs(y, s0, s1)
            if self.lstm:
                done = lstm_units_loop(g, p["wp"], p["w_ch"], h_T, c_own, yk, lo, p["state"], p["rec"], p["m"],
                                       flags, me, other, base)
            else:
                done = gru_units_loop(g, p["wp"], p["b_h"], h_T, yk, lo, p["state"], p["rec"], p["m"],
                                      flags, me, other, base)
            if not done:
                return                                 # the other half failed: its error is raised
            base += kk + 1
            self._copy_out(y, yk, s0, s1, slice(lo, hi))


class _Program:
    """A stack's lean inference for one input shape, prepared once: per layer, its parts and how they run
    (side by side or in turn). Not for two threads at once: :meth:`try_run` declines while it runs."""

    def __init__(self, kernel, specs: list, weights: list, T: int, B: int, dtype: torch.dtype) -> None:
        self.lock = threading.Lock()
        self.T, self.B, self.dtype = T, B, dtype
        self.D = D = len(weights[0])
        self.lstm = specs[0].family == "lstm"
        dt = torch.empty(0, dtype=dtype).numpy().dtype
        self.layers = []
        for layer, spec in enumerate(specs):
            how = dispatch.sides(kernel, spec, T, B, dtype.itemsize, D)
            jobs = [(d, slice(0, B)) for d in range(D)] if D == 2 else \
                [(0, r) for r in (halves(B) if how == "halves" else (slice(0, B),))]
            together = len(jobs) == 2 and (D == 1 or how == "directions")
            units = dispatch.units(kernel, spec, T, B, dtype.itemsize, D)
            make = _UnitsPart if units else _Part
            threads = dispatch.part_threads("halves" if units else how)   # (a units half shares as a batch half)
            parts = [(d, r, make(spec, weights[layer][d], T, r.stop - r.start, dt, d == 1,
                                 direct=d == 0 and len(jobs) == 1, threads=threads)) for d, r in jobs]
            self.layers.append((spec.out_size, together, parts))

    def try_run(self, x: Tensor, state0: tuple) -> Optional[tuple[Tensor, tuple]]:
        """``self(x, state0)`` unless another thread runs this program now (then None)."""
        if not self.lock.acquire(blocking=False):
            return None
        try:
            return self(x, state0)
        finally:
            self.lock.release()

    def __call__(self, x: Tensor, state0: tuple) -> tuple[Tensor, tuple]:
        T, B, D, lstm = self.T, self.B, self.D, self.lstm
        h_n = [torch.empty_like(s) for s in state0]
        s0 = [s.detach().numpy() for s in state0]
        sn = [s.numpy() for s in h_n]
        for layer, (P, together, parts) in enumerate(self.layers):
            y = x.new_empty(T, B, D * P)
            ys = y.numpy()
            xd = x.detach()
            calls = [(part, xd[:, r], s0[0][layer * D + d, r], s0[1][layer * D + d, r] if lstm else None,
                      ys[:, r, d * P:(d + 1) * P], sn[0][layer * D + d, r],
                      sn[1][layer * D + d, r] if lstm else None) for d, r, part in parts]
            if together:
                side_by_side(lambda k: calls[k][0](*calls[k][1:]), 2)
            else:
                for part, *args in calls:
                    part(*args)
            x = y
        return x, tuple(h_n)


def _one_step(kernel, specs: list, weights: list, x: Tensor, state0: tuple,
              views: Optional[list] = None) -> tuple[Tensor, tuple]:
    """A call of one step (:func:`lstmkit.kernels.dispatch.one_step`): each layer-direction's single step
    (:meth:`~lstmkit.kernels.cpu.CpuKernel.step`) on the weights as they are; both directions of a layer
    see the same one step. Arguments and result as :func:`run_stack`; ``views``: per layer, per direction,
    the weights' numpy views (:func:`~.single_step.views_of`), when the caller keeps them."""
    D = len(weights[0])
    inp = x[0]
    new_states: list[list[Tensor]] = [[] for _ in state0]          # per state, per layer-direction
    for layer, spec in enumerate(specs):
        outs = []
        for d in range(D):
            new = kernel.step(spec, weights[layer][d], inp, tuple(s[layer * D + d] for s in state0),
                              views=None if views is None else views[layer][d])
            for lst, s in zip(new_states, new):
                lst.append(s)
            outs.append(new[0])
        inp = outs[0] if D == 1 else torch.cat(outs, 1)
    return inp.unsqueeze(0), tuple(torch.stack(lst) for lst in new_states)   # (stacked: not the output's memory)


_PROGRAMS: "OrderedDict[tuple, tuple]" = OrderedDict()   # key -> (versions, fingerprints, program)
_PROGRAMS_LOCK = threading.Lock()
#: programs kept (each holds its parts' buffers: a few MB at most)
MAX_PROGRAMS = 8


def clear_programs() -> None:
    """Forget every kept program."""
    with _PROGRAMS_LOCK:
        _PROGRAMS.clear()


def run_stack(kernel, specs: list, weights: list, x: Tensor, state0: tuple,
              keep: bool = False) -> tuple[Tensor, tuple, Optional["Rerun"]]:
    """A stack's inference on the lean route.

    Args:
        kernel: the CPU kernel the call selected (its ``side_by_side``); specs: one per layer;
        weights: per layer, per direction, the family's weights tuple; x: (T, B, I) time-major (any
            strides); state0: the stack's initial states, each (L*D, B, ·).
        keep: also return a :class:`Rerun` of this call (None where nothing is kept: the weights are
            neither contiguous nor transposed-contiguous, or ``LSTMKIT_WEIGHT_CACHE_MB=0``).
    Returns:
        (y (T, B, D*P), final states, each (L*D, B, ·), fresh tensors; the :class:`Rerun` or None).

    The prepared program (weights packed, buffers, windows, thread split) is kept for the next call of the
    same stack and shape while its weights hold the same values (address, version counter and a 64-bit
    fingerprint of the bytes: :mod:`.prepared`), at most :data:`MAX_PROGRAMS` of them, none when
    ``LSTMKIT_WEIGHT_CACHE_MB=0``.
    """
    T, B = x.shape[0], x.shape[1]
    if dispatch.one_step(T):
        views = [[views_of(w) for w in layer] for layer in weights] if keep else None
        with torch.no_grad():
            y, states = _one_step(kernel, specs, weights, x, state0, views)
        return y, states, Rerun(kernel, specs, weights, None, views, ()) if keep else None
    with torch.no_grad(), reusing():
        tensors = _tensors(weights) if limit_bytes() > 0 else None
        if tensors is None:
            return (*_Program(kernel, specs, weights, T, B, x.dtype)(x, state0), None)
        key = (kernel.name, tuple(specs), T, B, x.dtype, torch.get_num_threads(), dispatch.threads_enabled(),
               dispatch.tuning(), tuple((t.data_ptr(), t.shape, t.stride()) for t in tensors))
        versions = tuple(t._version for t in tensors)
        prints = tuple(fingerprint(t) for t in tensors)
        with _PROGRAMS_LOCK:
            hit = _PROGRAMS.get(key)
            if hit is not None and hit[0] == versions and hit[1] == prints:
                _PROGRAMS.move_to_end(key)
                program = hit[2]
            else:
                program = None
        if program is None:
            program = _Program(kernel, specs, weights, T, B, x.dtype)
            with _PROGRAMS_LOCK:
                _PROGRAMS[key] = (versions, prints, program)
                _PROGRAMS.move_to_end(key)
                while len(_PROGRAMS) > MAX_PROGRAMS:
                    _PROGRAMS.popitem(last=False)
        rerun = Rerun(kernel, specs, weights, program, tuple(fingerprint_view(t) for t in tensors), prints) \
            if keep else None
        done = program.try_run(x, state0)
        if done is None:                                      # another thread runs it now: a fresh one
            done = _Program(kernel, specs, weights, T, B, x.dtype)(x, state0)
        return (*done, rerun)


class Rerun:
    """One :func:`run_stack` call kept to run again on another input of the same shape, without its
    look-ups: the program it ran and the fingerprints of the weights it was prepared from (``views`` their
    bytes); or, for a call of one step, which prepares nothing, no program and ``views`` the weights'
    numpy views per layer-direction (:func:`~.single_step.views_of`).

    Calling it with x (T, B, I) and state0 as :func:`run_stack` returns the same result, or None when a
    weight's bytes have changed since (or another thread runs the program now): then run :func:`run_stack`.
    The caller vouches for the rest, as the layer does (:meth:`lstmkit.layers.base.RecurrentBase.forward`):
    the same weight tensors at the same addresses, shapes, strides and version counters; the same stack,
    sequence length, batch, dtype, thread counts and tuning record.
    """

    __slots__ = ("kernel", "specs", "weights", "program", "views", "prints")

    def __init__(self, kernel, specs: list, weights: list, program: Optional[_Program], views: tuple,
                 prints: tuple) -> None:
        self.kernel, self.specs, self.weights, self.program = kernel, specs, weights, program
        self.views, self.prints = views, prints

    def __call__(self, x: Tensor, state0: tuple) -> Optional[tuple[Tensor, tuple]]:
        program = self.program
        with torch.no_grad():
            if program is None:
                return _one_step(self.kernel, self.specs, self.weights, x, state0, self.views)
            for view, known in zip(self.views, self.prints):
                if fingerprint_of(view) != known:
                    return None
            return program.try_run(x, state0)
