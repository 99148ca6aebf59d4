"""CUDA graphs for the Triton kernels' step loops.

A Triton kernel's time loop launches a few small kernels per step (the recurrent GEMM, the fused step);
at small batch and hidden sizes the GPU finishes each before Python has launched the next, so the loop runs
at the speed of kernel launches. A CUDA graph records the whole loop once and replays it as one launch.

:class:`Graphed` wraps a family's forward or backward: the first call with a given signature (shapes,
dtypes, strides, which optional tensors are present, the non-tensor arguments) runs eagerly (it also
compiles the Triton kernels); the second captures a graph on static copies of the inputs; later calls copy
their inputs into the static buffers, replay, and return clones of the outputs (the next replay
overwrites the static outputs, and a stack of equal layers shares one graph). At most
:data:`MAX_GRAPHS` signatures are kept per wrapped function (least recently used dropped).

``LSTMKIT_CUDA_GRAPHS=0`` turns graphs off (every call eager). Graphs are used only for CUDA tensors, outside
another capture, and when no input is being differentiated by autograd itself (the kernels' own backward
node always calls them under no_grad).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Callable

import torch
from torch import Tensor

__all__ = ["Graphed", "enabled", "MAX_GRAPHS"]

MAX_GRAPHS = 16


def enabled() -> bool:
    return os.environ.get("LSTMKIT_CUDA_GRAPHS", "1") not in ("0", "", "false", "no")


def _flatten(obj: Any, leaves: list) -> Any:
    """A picklable skeleton of ``obj`` with every tensor replaced by its index in ``leaves``."""
    if isinstance(obj, Tensor):
        leaves.append(obj)
        return ("T", len(leaves) - 1)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return ("N", type(obj), tuple(_flatten(v, leaves) for v in obj))
    if isinstance(obj, (tuple, list)):
        return ("S", type(obj), tuple(_flatten(v, leaves) for v in obj))
    return ("V", obj)


def _build(skel: Any, leaves: list) -> Any:
    kind = skel[0]
    if kind == "T":
        return leaves[skel[1]]
    if kind == "N":
        return skel[1](*(_build(s, leaves) for s in skel[2]))
    if kind == "S":
        return skel[1](_build(s, leaves) for s in skel[2])
    return skel[1]


def _meta(t: Tensor) -> tuple:
    return (tuple(t.shape), t.stride(), t.dtype, t.device)


class _Entry:
    def __init__(self) -> None:
        self.calls = 0
        self.graph = None
        self.static_in: list[Tensor] = []
        self.out_skel = None
        self.static_out: list[Tensor] = []


class Graphed:
    """``fn(*args)`` (tensors nested in tuples / NamedTuples, plus plain values) replayed from CUDA graphs."""

    def __init__(self, fn: Callable, capture: Callable | None = None) -> None:
        self.fn = fn
        self._capture = capture or _cuda_capture
        self._entries: OrderedDict = OrderedDict()

    def applies(self, leaves: list[Tensor]) -> bool:
        if not enabled() or not leaves or leaves[0].device.type != "cuda":
            return False
        if torch.cuda.is_current_stream_capturing():
            return False
        return not (torch.is_grad_enabled() and any(t.requires_grad for t in leaves))

    def __call__(self, *args):
        leaves: list[Tensor] = []
        skel = _flatten(args, leaves)
        if not self.applies(leaves):
            return self.fn(*args)
        return self.replay(skel, leaves)

    def replay(self, skel, leaves: list[Tensor]):
        key = (_key(skel), tuple(_meta(t) for t in leaves))
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            while len(self._entries) > MAX_GRAPHS:
                self._entries.popitem(last=False)
        self._entries.move_to_end(key)
        entry.calls += 1
        if entry.graph is None and entry.calls < 2:            # first sight: eager (compiles the kernels)
            return self.fn(*_build(skel, leaves))
        if entry.graph is None:
            entry.static_in = [t.detach().clone() for t in leaves]
            out_leaves: list[Tensor] = []

            def body():
                out = self.fn(*_build(skel, entry.static_in))
                out_leaves.clear()
                entry.out_skel = _flatten(out, out_leaves)
                entry.static_out = list(out_leaves)
            entry.graph = self._capture(body)
        else:
            for s, t in zip(entry.static_in, leaves):
                s.copy_(t)
            entry.graph()
        return _build(entry.out_skel, [t.clone() for t in entry.static_out])


def _key(skel):
    """The skeleton as a hashable key (types by identity, plain values as they are)."""
    kind = skel[0]
    if kind == "T":
        return skel
    if kind in ("N", "S"):
        return (kind, skel[1], tuple(_key(s) for s in skel[2]))
    v = skel[1]
    try:
        hash(v)
        return ("V", v)
    except TypeError:
        return ("V", repr(v))


def _cuda_capture(body: Callable[[], None]) -> Callable[[], None]:
    """Record ``body`` (which already ran once eagerly) into a CUDA graph; returns its replay. The capture
    itself leaves its outputs in the static buffers, as a replay would."""
    graph = torch.cuda.CUDAGraph()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):                       # a warm-up run on the capture stream, as torch advises
        body()
    torch.cuda.current_stream().wait_stream(side)
    with torch.cuda.graph(graph):
        body()
    graph.replay()
    return graph.replay
