"""The kernel interface: one layer-direction of one cell family over a whole sequence.

A kernel implements, for the families it supports, a forward in time and its BPTT backward::

    forward(spec, w, x, state0, masks, save)  -> (y, stateT, saved)
    backward(spec, w, x, state0, masks, saved, dy, d_stateT) -> (dx, d_state0, dw)

with x (T, B, I), y / dy (T, B, P), state tuples (h (B, P)[, c (B, H)]), w and dw the family's weights
tuple, masks a :class:`~lstmkit.kernels.common.SeqMasks`, and ``saved`` a NamedTuple of tensors (or None
when ``save`` is False). :class:`Kernel` adds the reverse direction on top of the forward-time functions
by reordering each sequence within its length; a kernel that reverses natively overrides
:meth:`Kernel.run_forward` / :meth:`Kernel.run_backward`.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import torch
from torch import Tensor

from ..cells.base import CellSpec
from .common import SeqMasks, reverse_index, reverse_masks, reverse_time, valid_mask


class FamilyOps(NamedTuple):
    forward: Callable
    backward: Callable
    #: saved_shapes(spec, T, B, I, masks) -> {field: shape} of what forward saves (for fake tensors)
    saved_shapes: Callable
    #: the NamedTuple forward saves into
    saved_type: type
    #: gates_of(spec, saved) -> {name: (T, B, H)} gate activations (and LSTM's c_t), in processing order
    gates_of: Callable
    #: jvp(spec, w, x, state0, masks, dw, dx, d_state0) -> (y, stateT, dy, d_stateT): forward-mode
    #: derivative in differentiable torch ops (the reference kernels; None elsewhere)
    jvp: Optional[Callable] = None


def classic_unsupported(kernel: "Kernel", spec: CellSpec) -> Optional[str]:
    """The reason ``kernel`` cannot run ``spec``'s 1997 LSTM options, or None."""
    classic = getattr(spec, "classic", None)
    if classic and not kernel.runs_classic:
        named = ", ".join(f"{k}={v!r}" for k, v in classic.items())
        return f"{named}: the 1997 LSTM options run on the reference kernel, not the {kernel.name} kernel"
    return None


class Kernel:
    """Base class: subclasses set ``name``, ``families`` (family -> :class:`FamilyOps`) and may refine
    :meth:`unsupported`."""

    name = "kernel"
    families: dict[str, FamilyOps] = {}
    #: whether independent parts of a call (the two directions of a bidirectional layer, a batch's halves)
    #: run side by side (:mod:`.concurrent`): for kernels whose calls release the GIL and use torch's threads
    side_by_side = False
    #: whether it runs the 1997 LSTM options (memory blocks, no forget gate, the 1997 squashing functions,
    #: the truncated gradient; ``LSTMSpec.classic``)
    runs_classic = False

    def unsupported(self, spec: CellSpec, x: Tensor) -> Optional[str]:
        """None if this kernel runs ``spec`` on tensors like ``x``, else the reason it does not."""
        if spec.family not in self.families:
            return f"the {self.name} kernel has no {spec.family} implementation"
        return classic_unsupported(self, spec)

    def run_forward(self, spec, w, x: Tensor, state0, m: SeqMasks, reverse: bool, save: bool):
        ops = self.families[spec.family]
        if not reverse:
            return ops.forward(spec, w, x, state0, m, save)
        idx = reverse_index(x.shape[0], x.shape[1], m.lengths, x.device)
        y, stateT, saved = ops.forward(spec, w, reverse_time(x, idx), state0,
                                       reverse_masks(m, x.shape[0], idx), save)
        return reverse_time(y, idx), stateT, saved

    def record(self, spec, w, x: Tensor, state0, m: SeqMasks, reverse: bool) -> dict:
        """Every step's gate activations (and LSTM's c_t) in original time and batch order, (T, B, H)
        each, zero past each sequence's end. A no-grad forward that keeps what the backward would."""
        with torch.no_grad():
            _, _, saved = self.run_forward(spec, w, x, tuple(state0), m, reverse, save=True)
            rec = self.families[spec.family].gates_of(spec, saved)
            rec = {k: self.to_original_order(v, x, m, reverse) for k, v in rec.items()}
            valid = valid_mask(m.lengths, x.shape[0])
            if valid is not None:
                rec = {k: torch.where(valid, v, torch.zeros_like(v)) for k, v in rec.items()}
        return rec

    def to_original_order(self, seq: Tensor, x: Tensor, m: SeqMasks, reverse: bool) -> Tensor:
        """A (T, B, ...) tensor in this kernel's processing order -> the caller's order."""
        if not reverse:
            return seq
        return reverse_time(seq, reverse_index(x.shape[0], x.shape[1], m.lengths, x.device))

    def step(self, spec, w, x: Tensor, state: tuple, zone_rates: tuple = ()) -> tuple:
        """One step without gradient (streaming): x (B, I), state (h (B, P)[, c (B, H)]) -> new state.

        ``zone_rates``: evaluation-mode zoneout probabilities of (h[, c]). The default runs the sequence
        forward on one step; kernels with a cheaper single step override it.
        """
        T1 = x.unsqueeze(0)
        zones = {k: T1.new_full((1, 1, 1), p).expand(1, x.shape[0], n)
                 for k, p, n in zip(("zone_h", "zone_c"), zone_rates, spec.state_sizes()) if p > 0}
        _, stateT, _ = self.run_forward(spec, w, T1, tuple(state), SeqMasks(**zones), False, save=False)
        return tuple(stateT)

    def run_jvp(self, spec, w, x: Tensor, state0, m: SeqMasks, reverse: bool, dw, dx: Tensor, d_state0):
        """(y, stateT, dy, d_stateT): the outputs and their tangents for the tangents ``dw``, ``dx`` and
        ``d_state0`` of the inputs (all tensors), in the caller's time order."""
        ops = self.families[spec.family]
        if ops.jvp is None:
            raise NotImplementedError(f"the {self.name} kernel has no forward-mode derivative")
        if not reverse:
            return ops.jvp(spec, w, x, state0, m, dw, dx, d_state0)
        idx = reverse_index(x.shape[0], x.shape[1], m.lengths, x.device)
        y, stateT, dy, d_stateT = ops.jvp(spec, w, reverse_time(x, idx), state0, reverse_masks(m, x.shape[0], idx),
                                          dw, reverse_time(dx, idx), d_state0)
        return reverse_time(y, idx), stateT, reverse_time(dy, idx), d_stateT

    def run_backward(self, spec, w, x: Tensor, state0, m: SeqMasks, reverse: bool, saved, dy: Tensor, d_stateT):
        ops = self.families[spec.family]
        if not reverse:
            return ops.backward(spec, w, x, state0, m, saved, dy, d_stateT)
        idx = reverse_index(x.shape[0], x.shape[1], m.lengths, x.device)
        dx, d_state0, dw = ops.backward(spec, w, reverse_time(x, idx), state0, reverse_masks(m, x.shape[0], idx),
                                        saved, reverse_time(dy, idx), d_stateT)
        return reverse_time(dx, idx), d_state0, dw
