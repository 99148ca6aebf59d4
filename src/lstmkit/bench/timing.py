"""Timing that survives a shared machine: contenders interleaved round by round, medians reported."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1, number: int = 1,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median seconds of one call of each callable over ``repeats`` rounds.

    Every round runs each contender in turn, as one block: ``warmup`` untimed calls, then ``number`` timed
    calls (their mean is the round's time). Rounds interleave the contenders, so slow drifts of a shared
    machine hit all alike; blocks keep what one contender leaves running after its call out of the next
    one's timed calls: it lands in that one's warm-up call. (onnxruntime's intra-op threads spin-wait for
    more work after a run; on 2 cores that slowed the call after them ~2-4x when contenders alternated call
    by call, and it outlasted one warm-up call, so the benchmark's onnxruntime sessions do not spin:
    onnx_peer.ALLOW_SPINNING.)
    """
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            for _ in range(warmup):
                fn()
            t0 = clock()
            for _ in range(number):
                fn()
            times[name].append((clock() - t0) / number)
    return {k: statistics.median(v) for k, v in times.items()}
