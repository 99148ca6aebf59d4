"""Carrying recurrent state across batches: truncated backpropagation through time."""

from __future__ import annotations

from typing import Any

from torch import Tensor


def detach_state(state: Any) -> Any:
    """Cut the graph behind a carried state (truncated BPTT): tensors detached, structure kept.

    Works on a tensor, a tuple/list of them (``(h, c)``), dicts, and None.

    Example::

        >>> import torch, lstmkit
        >>> lstm = lstmkit.LSTM(4, 8)
        >>> state = None
        >>> for chunk in torch.randn(30, 2, 4).split(10):       # k1 = k2 = 10 steps
        ...     out, state = lstm(chunk, state)
        ...     out.sum().backward()                           # gradients stop at the chunk's start
        ...     state = lstmkit.detach_state(state)
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(detach_state(s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    if isinstance(state, dict):
        return {k: detach_state(v) for k, v in state.items()}
    raise TypeError(f"detach_state expects a tensor or a (nested) tuple/list/dict of tensors, "
                    f"got {type(state).__name__}")
