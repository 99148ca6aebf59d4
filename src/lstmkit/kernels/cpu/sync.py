"""Two compiled loops in step: a barrier between two threads for the units-split routes (inference:
:mod:`lstmkit.kernels.cpu.lean`; training: the LSTM and GRU drivers), and the copies of one thread's units
between its own buffers and whole rows (:func:`put_columns`, :func:`units_columns`).

The units-split route (:mod:`lstmkit.kernels.cpu.lean`) runs one time loop on two threads, each owning half
of the hidden units: at every step each computes its units from the whole h_{t-1}, and neither may start
step t+1 before the other has written its half of h_t. :func:`barrier` is that wait: a thread publishes
how many steps it has finished (an atomic store with release order: its writes of h_t are visible to
whoever sees the count) and waits until its partner's count (an atomic load with acquire order) reaches
the same. Measured on 2 cores (AMD EPYC Zen 3): 28-33 ns per step of two threads doing nothing else.

Waiting spins with the CPU's pause hint for a few hundred rounds (about 10 us; a step of the route takes a few
microseconds), then yields the core at every round (``sched_yield``): with a busy neighbour, or both
threads on one core, a waiting thread hands the core over instead of burning its time slice.
"""

from __future__ import annotations

import platform

from llvmlite import ir
from numba import types
from numba.core.extending import intrinsic

from .jit import jit_inline

__all__ = ["barrier", "load_acquire", "store_release", "FIRST", "SECOND", "ABORT", "FLAGS", "abort", "put_columns",
           "units_columns"]

#: pause-hint rounds before a waiting thread starts yielding its core
SPINS = 512

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


@intrinsic
def load_acquire(typingctx, arr, idx):
    """arr[idx] of an int64 array, an atomic load with acquire order."""
    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.load_atomic(builder.gep(ary.data, [args[1]]), "acquire", 8)
    return types.int64(arr, idx), codegen


@intrinsic
def store_release(typingctx, arr, idx, val):
    """arr[idx] = val on an int64 array, an atomic store with release order."""
    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        builder.store_atomic(args[2], builder.gep(ary.data, [args[1]]), "release", 8)
        return context.get_dummy_value()
    return types.void(arr, idx, val), codegen


@intrinsic
def _pause(typingctx):
    """The spin-wait hint (x86 ``pause``); nothing elsewhere."""
    def codegen(context, builder, signature, args):
        if _X86:
            fn = builder.module.declare_intrinsic("llvm.x86.sse2.pause", fnty=ir.FunctionType(ir.VoidType(), []))
            builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen


@intrinsic
def _yield(typingctx):
    """Give the core to another runnable thread (POSIX ``sched_yield``)."""
    def codegen(context, builder, signature, args):
        fn = builder.module.globals.get("sched_yield")
        if fn is None:
            fn = ir.Function(builder.module, ir.FunctionType(ir.IntType(32), []), "sched_yield")
        builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen


#: the flags entries: each thread's count a cache line apart, and the abort flag
FIRST, SECOND, ABORT = 0, 16, 32
#: the length of a flags array
FLAGS = 48


def abort(flags) -> None:
    """Tell the partner of a failed thread to stop waiting (its barrier returns False)."""
    flags[ABORT] = 1


@jit_inline
def barrier(flags, me, other, k):
    """Publish flags[me] = k (steps this thread has finished), then wait until flags[other] >= k; False
    (at once) when flags[ABORT] is set (the partner failed and will not come).

    flags: an int64 array of :data:`FLAGS` both threads share; ``me`` and ``other``: :data:`FIRST` and
    :data:`SECOND`, one each."""
    store_release(flags, me, k)
    spins = 0
    while load_acquire(flags, other) < k:
        if load_acquire(flags, ABORT) != 0:
            return False
        if spins < SPINS:
            _pause()
            spins += 1
        else:
            _yield()
    return True


@jit_inline
def put_columns(dst, lo, src):
    """dst[:, lo:lo + m] = src (n, m): one thread's units into whole rows (the units split; one gate of
    :func:`units_columns`)."""
    units_columns(src, lo, src.shape[1], dst, True)


@jit_inline
def units_columns(units, lo, Hs, rows, into_rows):
    """Copy between one thread's units, units (n, G*Hs), and their columns of whole gate rows, rows (n, G*H):
    gate q's units [lo, lo + Hs) are rows[:, q*H + lo : q*H + lo + Hs]. ``into_rows``: units -> rows, else
    rows -> units."""
    n, GHs = units.shape
    G = GHs // Hs
    H = rows.shape[1] // G
    for b in range(n):
        for q in range(G):
            for j in range(Hs):
                if into_rows:
                    rows[b, q * H + lo + j] = units[b, q * Hs + j]
                else:
                    units[b, q * Hs + j] = rows[b, q * H + lo + j]
