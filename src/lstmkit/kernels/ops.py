"""The kernels as torch.library custom ops, so that ``torch.compile`` traces lstmkit layers without
graph breaks: a kernel call is one opaque op with a fake (shape-only) implementation and a registered
backward. Eager code calls the kernels through :class:`~lstmkit.kernels.autograd.SequenceFunction`
instead (no copies); both run the same kernels and give the same numbers.

A call is one layer-direction, both directions of a bidirectional layer, or one direction's batch run as
two halves, exactly as in eager mode (:mod:`.autograd`: the same functions run, side by side where eager
runs them so). ``lstmkit::sequence_forward`` returns the outputs, the final states and the tensors the
backward needs (described by each kernel's ``saved_shapes``); ``lstmkit::sequence_backward`` takes them back.
Outputs of a custom op may not alias its inputs or each other, so a saved tensor that is an input (the
input sequence itself, say) or another output is returned as a copy on this path.
"""

from __future__ import annotations

import json
from typing import Optional

import torch
from torch import Tensor

from ..cells import GRUSpec, LSTMSpec, RNNSpec
from .autograd import backward_all, forward_all, part_rows
from .common import SeqMasks

SPECS = {"lstm": LSTMSpec, "gru": GRUSpec, "rnn": RNNSpec}
MASK_FIELDS = SeqMasks._fields


def encode(kernel, spec, reverse: tuple, fields: tuple, split: bool = False) -> str:
    """The non-tensor arguments of a call as the op's string argument:
    "kernel;directions (0 forward in time, 1 reverse, one digit each);split;present weight fields;spec json"."""
    return ";".join((kernel.name, "".join("1" if r else "0" for r in reverse), "1" if split else "0",
                     ",".join(fields), spec.config_json))


def decode(config: str, masks: list):
    """(kernel, spec, masks per direction, reverse, fields, split): the call of
    :func:`~lstmkit.kernels.autograd.forward_all` from :func:`encode`'s string and the flat mask list."""
    from .dispatch import kernel                                # the registry
    name, reverse, split, fields, spec_json = config.split(";", 4)
    c = json.loads(spec_json)
    n = len(MASK_FIELDS)
    per_direction = tuple(SeqMasks(*masks[d * n:(d + 1) * n]) for d in range(len(reverse)))
    return (kernel(name), SPECS[c["family"]](**c["spec"]), per_direction, tuple(r == "1" for r in reverse),
            tuple(fields.split(",")), split == "1")


def _part_shapes(kernel, spec, masks: tuple, split: bool, x: Tensor) -> list[dict]:
    """Per part of the call, {saved field: shape} of what its kernel forward saves."""
    T, B, I = x.shape
    return [kernel.families[spec.family].saved_shapes(spec, T, r.stop - r.start, I, m)
            for r, m in part_rows(masks, split, B)]


def _unalias(outs: list[Tensor], inputs: list) -> list[Tensor]:
    seen = {t.untyped_storage().data_ptr() for t in inputs if isinstance(t, Tensor) and t.numel() > 0}
    fixed = []
    for t in outs:
        ptr = t.untyped_storage().data_ptr() if t.numel() > 0 else None
        if ptr is not None and ptr in seen:
            t = t.clone()
            ptr = t.untyped_storage().data_ptr()
        if ptr is not None:
            seen.add(ptr)
        fixed.append(t)
    return fixed


@torch.library.custom_op("lstmkit::sequence_forward", mutates_args=())
def sequence_forward(config: str, x: Tensor, tensors: list[Tensor], masks: list[Optional[Tensor]]) -> list[Tensor]:
    """[*outputs, *saved] of one call (see :mod:`lstmkit.kernels.autograd`): ``tensors`` are the directions'
    initial states then their weights, ``masks`` each direction's :class:`SeqMasks` fields in turn."""
    kernel, spec, m, reverse, fields, split = decode(config, masks)
    outs, saved = forward_all(kernel, spec, m, reverse, fields, split, x, tuple(tensors), save=True)
    flat = [s for part in saved for s in part if s is not None]
    return _unalias([*outs, *flat], [x, *tensors, *masks])


@sequence_forward.register_fake
def _(config, x, tensors, masks):
    kernel, spec, m, reverse, _, split = decode(config, masks)
    D, ns = len(reverse), spec.num_states
    outs = []
    for _ in range(D):                                         # plain loops: dynamo runs this function
        outs.append(x.new_empty(x.shape[0], x.shape[1], spec.out_size))
    for s in tensors[:D * ns]:                                 # final states: shaped as the initial ones
        outs.append(s.new_empty(s.shape))
    for shapes in _part_shapes(kernel, spec, m, split, x):
        for shape in shapes.values():
            outs.append(x.new_empty(shape))
    return outs


@torch.library.custom_op("lstmkit::sequence_backward", mutates_args=())
def sequence_backward(config: str, x: Tensor, tensors: list[Tensor], masks: list[Optional[Tensor]],
                      saved: list[Tensor], grads: list[Optional[Tensor]]) -> list[Tensor]:
    """[dx, *d_tensors] of one call, given its saved tensors and the gradients of its outputs (None: zero)."""
    kernel, spec, m, reverse, fields, split = decode(config, masks)
    parts, k = [], 0
    for names in _part_shapes(kernel, spec, m, split, x):
        parts.append(kernel.families[spec.family].saved_type(**dict(zip(names, saved[k:k + len(names)]))))
        k += len(names)
    outs = backward_all(kernel, spec, m, reverse, fields, split, x, tuple(tensors), parts, tuple(grads))
    return _unalias(list(outs), [x, *tensors, *masks, *saved, *grads])


@sequence_backward.register_fake
def _(config, x, tensors, masks, saved, grads):
    outs = [x.new_empty(x.shape)]
    for t in tensors:
        outs.append(t.new_empty(t.shape))
    return outs


def _setup_context(ctx, inputs, output):
    config, x, tensors, masks = inputs
    _, spec, _, reverse, _, _ = decode(config, masks)
    ctx.config, ctx.n_tensors, ctx.n_out = config, len(tensors), len(reverse) * (1 + spec.num_states)
    ctx.mask_present = [t is not None for t in masks]
    ctx.save_for_backward(x, *tensors, *[t for t in masks if t is not None], *output[ctx.n_out:])


def _backward(ctx, grads):
    x, *rest = ctx.saved_tensors
    tensors, rest = rest[:ctx.n_tensors], iter(rest[ctx.n_tensors:])
    masks = [next(rest) if present else None for present in ctx.mask_present]
    saved = list(rest)
    d = sequence_backward(ctx.config, x, list(tensors), masks, saved, list(grads[:ctx.n_out]))
    return None, d[0], list(d[1:]), None


torch.library.register_autograd("lstmkit::sequence_forward", _backward, setup_context=_setup_context)


def run_op(kernel, spec, masks: tuple, reverse: tuple, fields: tuple, split: bool, x: Tensor, tensors: tuple):
    """The op route of :func:`lstmkit.kernels.run`: the call's outputs (see :mod:`.autograd`)."""
    flat_masks = [t for m in masks for t in m]
    outs = sequence_forward(encode(kernel, spec, reverse, fields, split), x, list(tensors), flat_masks)
    return tuple(outs[:len(reverse) * (1 + spec.num_states)])
