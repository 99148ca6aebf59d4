"""Two independent halves of a layer's work, run at the same time on their own share of the cores.

A direction's time loop is sequential, and at the sizes taggers, classifiers and language models use
(a batch of 32 sentences, 200 units) its per-step GEMM is too small to split well across cores: on 2
cores a direction run with 2 threads is barely faster than with 1. But some work is independent, forward
and backward, for the whole sequence: the two directions of a bidirectional layer, and the two halves of
a batch (each sample's recurrence is its own; only the weight gradients add up). :func:`side_by_side`
runs two such tasks at once, each on half of the caller's threads (measured on 2 cores, training, one
layer, both directions: (32, 25, 228, 200) 52 -> 33 ms, (350, 8, 50, 64) 22 -> 15 ms,
(64, 100, 256, 256) 375 -> 283 ms; one direction, batch halves: (32, 100, 64, 128) 48 -> 23 ms).
:func:`lstmkit.kernels.dispatch.sides` decides when (a one-direction layer's batch is cut in two where the
recurrent weights are small enough that reading them twice per step costs less than the threads save;
small calls run in turn: there the hand-over costs what it saves).

The calling thread runs one task and another thread the other: with two threads in all, the worker of
torch's own OpenMP team, handed the task in a parallel region (:func:`_on_torch_team`: nothing else then
competes for the two cores, where a thread of ours would run beside OpenMP's spin-waiting worker); with
more, a long-lived worker thread of ours (``LSTMKIT_SIDE_BY_SIDE=pool`` takes it on two threads too). For
the duration each one's thread counts are set, all thread-locally: OpenMP's (torch's intra-op parallelism and oneDNN), MKL's and
numba's (the caller's are restored after). The worker takes the caller's grad and inference mode.
``LSTMKIT_NO_SIDE_BY_SIDE=1`` in the environment turns this off (each task then runs whole, in turn, on
all threads); a caller with one thread never uses it.
"""

from __future__ import annotations

import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, TypeVar

import torch

from .dispatch import _PART, threads_enabled
from .native import torch_cpu_library

__all__ = ["side_by_side", "halves"]

R = TypeVar("R")

_POOL: Optional[ThreadPoolExecutor] = None
_POOL_LOCK = threading.Lock()


def halves(rows: int) -> tuple[slice, slice]:
    """The two batch halves (the first one the larger by at most one row)."""
    cut = (rows + 1) // 2
    return slice(0, cut), slice(cut, rows)


def _native_setters() -> tuple[Optional[Callable], Optional[Callable]]:
    """(omp_set_num_threads, MKL_Set_Num_Threads_Local) of the OpenMP runtime and MKL torch runs on, each
    None where this torch build has none (both act on the calling thread only)."""
    lib = torch_cpu_library()
    found = []
    for name in ("omp_set_num_threads", "MKL_Set_Num_Threads_Local"):
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.argtypes, fn.restype = [ctypes.c_int], None if name.startswith("omp") else ctypes.c_int
        found.append(fn)
    return found[0], found[1]


_OMP_SET, _MKL_SET_LOCAL = _native_setters()


def _use_threads(n: int) -> tuple:
    """Limit the calling thread to ``n`` threads in torch (OpenMP: its parallel loops and oneDNN), MKL and
    numba; returns what to pass to :func:`_restore_threads` to undo it."""
    import numba
    before = torch.get_num_threads()  # also torch's per-thread lazy init, which would otherwise reset ours later
    mkl_before = _MKL_SET_LOCAL(n) if _MKL_SET_LOCAL is not None else 0
    if _OMP_SET is not None:
        _OMP_SET(n)
    numba_before = numba.get_num_threads()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    share_before = getattr(_PART, "threads", None)
    _PART.threads = n                        # what the dispatch's decisions in this thread see
    return before, mkl_before, numba_before, share_before


def _uses_threads(n: int) -> bool:
    """Whether the calling thread is limited to ``n`` threads as :func:`_use_threads` leaves it (torch's
    count, numba's and the dispatch's share; MKL's is set only there)."""
    import numba
    return getattr(_PART, "threads", None) == n and torch.get_num_threads() == n and \
        numba.get_num_threads() == min(n, numba.config.NUMBA_NUM_THREADS)


def _restore_threads(saved: tuple) -> None:
    import numba
    before, mkl_before, numba_before, _PART.threads = saved
    if _MKL_SET_LOCAL is not None:
        _MKL_SET_LOCAL(mkl_before)           # 0: back to MKL's process-wide setting
    if _OMP_SET is not None:
        _OMP_SET(before)
    numba.set_num_threads(numba_before)


def _openmp_team() -> Optional[tuple]:
    """(GOMP_parallel, omp_get_thread_num, omp_get_num_threads) of the OpenMP runtime torch runs its
    parallel loops on (GNU's, or one that exports its entry points, as Intel's and LLVM's do), or None."""
    lib = torch_cpu_library()
    try:
        run, me, size = lib.GOMP_parallel, lib.omp_get_thread_num, lib.omp_get_num_threads
    except AttributeError:                                   # pragma: no cover - builds without OpenMP
        return None
    run.argtypes = [_TEAM_TASK, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    run.restype = None
    me.restype = size.restype = ctypes.c_int
    return run, me, size


_TEAM_TASK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_GOMP = _openmp_team() if torch_cpu_library() is not None else None


def _on_torch_team(fn: Callable[[int], R], grad: bool, inference: bool) -> list[R]:
    """[fn(0), fn(1)] on a parallel region of two threads of torch's own OpenMP team: fn(0) on the calling
    thread (the team's master), fn(1) on the team's worker, each limited to one thread.

    On two cores this is what side by side means: after each of torch's parallel loops its OpenMP worker
    spin-waits for more, and a thread of our own beside it is a third runnable thread on two cores -- a
    training call at (32, 100, 64, 128) then took 32-34 ms instead of 18-21 (2-core AMD EPYC Zen 3; it
    happened in every full bench run). Handing the second task to that worker leaves nothing to compete.
    (With more threads the Python worker stays: a nested region would run each task's own GEMMs on one
    thread.) If the region gets one thread (the caller already runs inside one), it runs both in turn."""
    run, me, size = _GOMP
    out: list = [None, None]
    errors: list = [None, None]

    def task(_):
        # As little Python as can be here: the two threads take turns at the GIL until each is in compiled
        # code, so what runs before fn delays the other task's start. The caller's thread count is set
        # around the region (below); the team's worker keeps its count and grad mode from one region to the
        # next (the worker only runs torch's own loop bodies otherwise, which read neither).
        k = me()
        for j in ((k,) if size() >= 2 else (0, 1)):
            try:
                if k == 0:
                    out[j] = fn(j)
                else:
                    if not _uses_threads(1):
                        _use_threads(1)
                    if torch.is_grad_enabled() != grad:
                        torch.set_grad_enabled(grad)
                    if torch.is_inference_mode_enabled() == inference:
                        out[j] = fn(j)
                    else:
                        with torch.inference_mode(inference):
                            out[j] = fn(j)
            except BaseException as e:                     # (a callback cannot raise: kept, raised below)
                errors[j] = e

    saved = _use_threads(1)
    try:
        run(_TEAM_TASK(task), None, 2, 0)
    finally:
        _restore_threads(saved)
    for e in errors:
        if e is not None:
            raise e
    return out


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lstmkit-side-by-side")
        return _POOL


def _forget_pool() -> None:
    """In a forked child the workers do not exist: make the next call start new ones. Nor do the OpenMP
    team's, and GNU OpenMP waits for them forever in the child's next parallel region if the parent ever
    opened one: the child uses workers of its own instead (torch's own parallel loops there are torch's
    matter; a forked child usually runs them on one thread)."""
    global _POOL, _POOL_LOCK, _GOMP
    _POOL, _POOL_LOCK, _GOMP = None, threading.Lock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def side_by_side(fn: Callable[[int], R], tasks: int = 2, together: bool = False) -> list[R]:
    """[fn(0), ..., fn(tasks - 1)]: with two tasks and threads to share (:func:`~lstmkit.kernels.dispatch.threads_enabled`), fn(1) runs in a worker thread while
    the calling thread runs fn(0), each on half of the caller's threads; else in turn in the calling
    thread. ``fn`` must not depend on the thread it runs in; grad and inference mode are carried over.
    An error in either is raised once both have finished (neither is left writing buffers).
    ``together=True``: two tasks that wait on each other (:mod:`lstmkit.kernels.cpu.sync`) always run in
    two threads, whatever the thread count."""
    if tasks != 2 or not (together or threads_enabled()):
        return [fn(d) for d in range(tasks)]
    total = max(torch.get_num_threads(), 2)
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()
    if total == 2 and not together and _GOMP is not None and os.environ.get("LSTMKIT_SIDE_BY_SIDE") != "pool":
        return _on_torch_team(fn, grad, inference)

    def other():
        # the worker keeps its thread counts and grad mode from one task to the next, so that a task like
        # the last one starts at once (the worker waits for the caller's Python to let go of the GIL first)
        if not _uses_threads(total // 2):
            _use_threads(total // 2)
        if torch.is_grad_enabled() != grad:
            torch.set_grad_enabled(grad)
        if torch.is_inference_mode_enabled() == inference:
            return fn(1)
        with torch.inference_mode(inference):
            return fn(1)

    future = _pool().submit(other)
    try:
        saved = _use_threads(total - total // 2)
        try:
            first = fn(0)
        finally:
            _restore_threads(saved)
    finally:
        error = future.exception()                      # waits for it
    if error is not None:
        raise error
    return [first, future.result()]
