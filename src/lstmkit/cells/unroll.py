"""A whole sequence as a Python loop of single steps, differentiated by autograd.

This is how users write custom cells today, and two things for us: the independent check of every
hand-written backward (it shares no code with the kernels), and the baseline the benchmark times the
variants against. It implements the same sequence semantics as the kernels (resets, zoneout, lengths,
variational dropout, reverse direction) directly, step by step.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .base import CellSpec
from .gru import gru_step
from .lstm import lstm_step
from .rnn import rnn_step

STEPS = {"lstm": lstm_step, "gru": gru_step, "rnn": rnn_step}


def unroll(spec: CellSpec, w, x: Tensor, state0: tuple[Tensor, ...], *, lengths: Optional[Tensor] = None,
           reset: Optional[Tensor] = None, drop_x: Optional[Tensor] = None, drop_h: Optional[Tensor] = None,
           zone_h: Optional[Tensor] = None, zone_c: Optional[Tensor] = None, reverse: bool = False):
    """Run ``spec``'s step function over x (T, B, I) from state0; same arguments as the kernels' masks.

    Returns (y (T, B, P), final state tuple). Differentiable by autograd through every step.
    """
    T, B, _ = x.shape
    step = STEPS[spec.family]
    L = [T] * B if lengths is None else [int(v) for v in lengths]
    zones = (zone_h, zone_c)[: spec.num_states]
    states = [tuple(s[b] for s in state0) for b in range(B)]       # per-sample state, so lengths are exact
    ys = [[x.new_zeros(spec.out_size) for _ in range(T)] for _ in range(B)]
    for b in range(B):
        order = range(L[b] - 1, -1, -1) if reverse else range(L[b])
        prev_t = None
        for t in order:
            boundary = t if not reverse else prev_t                 # reverse: restart when leaving a reset step
            st = states[b]
            if reset is not None and boundary is not None and bool(reset[boundary, b]):
                st = tuple(torch.zeros_like(s) for s in st)
            xt = x[t, b] if drop_x is None else x[t, b] * drop_x[b]
            dh = None if drop_h is None else drop_h[b:b + 1]
            h, cand = step(spec, w, xt.unsqueeze(0), tuple(s.unsqueeze(0) for s in st), dh)
            new = []
            for s_prev, s_c, z in zip(st, cand, zones):
                s_c = s_c.squeeze(0)
                new.append(s_c if z is None else z[t, b] * s_prev + (1 - z[t, b]) * s_c)
            states[b] = tuple(new)
            ys[b][t] = new[0]
            prev_t = t
    y = torch.stack([torch.stack(ys_b) for ys_b in ys], 1)
    final = tuple(torch.stack([states[b][k] for b in range(B)]) for k in range(spec.num_states))
    return y, final
