"""The kernels as torch.library custom ops, so that ``torch.compile`` traces lstmkit layers without
graph breaks: a kernel call is one opaque op with a fake (shape-only) implementation and a registered
backward. Eager code calls the kernels through :class:`~lstmkit.kernels.autograd.SequenceFunction`
instead (no copies); both run the same kernels and give the same numbers.

``lstmkit::sequence_forward`` returns the outputs, the final state and the tensors the backward needs
(described by each kernel's ``saved_shapes``); ``lstmkit::sequence_backward`` takes them back.
Outputs of a custom op may not alias its inputs or each other, so a saved tensor that is an input (the
input sequence itself, say) or another output is returned as a copy on this path.
"""

from __future__ import annotations

import json
from typing import Optional

import torch
from torch import Tensor

from ..cells import GRUSpec, LSTMSpec, RNNSpec
from .common import SeqMasks

SPECS = {"lstm": LSTMSpec, "gru": GRUSpec, "rnn": RNNSpec}
MASK_FIELDS = SeqMasks._fields


def encode(kernel, spec, reverse: bool, fields: tuple) -> str:
    """The non-tensor arguments of a call as the op's string argument:
    "kernel;reverse;present weight fields;spec json"."""
    return kernel.name + (";1;" if reverse else ";0;") + ",".join(fields) + ";" + spec.config_json


def decode(config: str):
    """(kernel, spec, reverse, weight field names) from :func:`encode`'s string."""
    from . import _KERNELS                                      # the registry (import here: no cycle)
    name, reverse, fields, spec_json = config.split(";", 3)
    c = json.loads(spec_json)
    return _KERNELS[name], SPECS[c["family"]](**c["spec"]), reverse == "1", fields.split(",")


def _weights(spec, fields: list, weights: list):
    return spec.make_weights(dict(zip(fields, weights)))


def _masks(*tensors) -> SeqMasks:
    return SeqMasks(*tensors)


def _shapes(kernel, spec, x: Tensor, masks: SeqMasks) -> dict:
    return kernel.families[spec.family].saved_shapes(spec, x.shape[0], x.shape[1], x.shape[2], masks)


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
def sequence_forward(config: str, x: Tensor, state0: list[Tensor], weights: list[Tensor],
                     lengths: Optional[Tensor], reset: Optional[Tensor], drop_x: Optional[Tensor],
                     drop_h: Optional[Tensor], zone_h: Optional[Tensor], zone_c: Optional[Tensor]) -> list[Tensor]:
    """[y, *state_T, *saved] of one layer-direction (see :func:`lstmkit.kernels.run`)."""
    kernel, spec, reverse, fields = decode(config)
    masks = _masks(lengths, reset, drop_x, drop_h, zone_h, zone_c)
    w = _weights(spec, fields, weights)
    y, stateT, saved = kernel.run_forward(spec, w, x, tuple(state0), masks, reverse, save=True)
    outs = [y, *stateT, *[s for s in saved if s is not None]]
    return _unalias(outs, [x, *state0, *weights, *masks])


@sequence_forward.register_fake
def _(config, x, state0, weights, lengths, reset, drop_x, drop_h, zone_h, zone_c):
    kernel, spec, _, _ = decode(config)
    masks = _masks(lengths, reset, drop_x, drop_h, zone_h, zone_c)
    outs = [x.new_empty(x.shape[0], x.shape[1], spec.out_size)]
    for s in state0:                                           # plain loops: dynamo runs this function
        outs.append(s.new_empty(s.shape))
    for shape in _shapes(kernel, spec, x, masks).values():
        outs.append(x.new_empty(shape))
    return outs


@torch.library.custom_op("lstmkit::sequence_backward", mutates_args=())
def sequence_backward(config: str, x: Tensor, state0: list[Tensor], weights: list[Tensor],
                      lengths: Optional[Tensor], reset: Optional[Tensor], drop_x: Optional[Tensor],
                      drop_h: Optional[Tensor], zone_h: Optional[Tensor], zone_c: Optional[Tensor],
                      saved: list[Tensor], dy: Tensor, d_stateT: list[Tensor]) -> list[Tensor]:
    """[dx, *d_state0, *d_weights (present ones)]."""
    kernel, spec, reverse, fields = decode(config)
    masks = _masks(lengths, reset, drop_x, drop_h, zone_h, zone_c)
    names = list(_shapes(kernel, spec, x, masks))
    saved_t = kernel.families[spec.family].saved_type(**dict(zip(names, saved)))
    w = _weights(spec, fields, weights)
    dx, d_state0, dw = kernel.run_backward(spec, w, x, tuple(state0), masks, reverse, saved_t, dy, tuple(d_stateT))
    outs = [dx, *d_state0, *[getattr(dw, f) for f in fields]]
    return _unalias(outs, [x, *state0, *weights, *masks, *saved, dy, *d_stateT])


@sequence_backward.register_fake
def _(config, x, state0, weights, lengths, reset, drop_x, drop_h, zone_h, zone_c, saved, dy, d_stateT):
    outs = [x.new_empty(x.shape)]
    for t in list(state0) + list(weights):
        outs.append(t.new_empty(t.shape))
    return outs


def _setup_context(ctx, inputs, output):
    config, x, state0, weights, *masks = inputs
    ctx.config, ctx.n_state, ctx.n_weights = config, len(state0), len(weights)
    ctx.mask_present = [m is not None for m in masks]
    saved = output[1 + len(state0):]
    ctx.save_for_backward(x, *state0, *weights, *[m for m in masks if m is not None], *saved)


def _backward(ctx, grads):
    ns, nw = ctx.n_state, ctx.n_weights
    tensors = list(ctx.saved_tensors)
    x, state0, weights = tensors[0], tensors[1:1 + ns], tensors[1 + ns:1 + ns + nw]
    rest = iter(tensors[1 + ns + nw:])
    masks = [next(rest) if present else None for present in ctx.mask_present]
    saved = list(rest)
    spec = decode(ctx.config)[1]
    dy = grads[0] if grads[0] is not None else x.new_zeros(x.shape[0], x.shape[1], spec.out_size)
    d_stateT = [torch.zeros_like(s) if g is None else g for g, s in zip(grads[1:1 + ns], state0)]
    outs = sequence_backward(ctx.config, x, state0, weights, *masks, saved, dy, d_stateT)
    return (None, outs[0], list(outs[1:1 + ns]), list(outs[1 + ns:])) + (None,) * len(masks)


torch.library.register_autograd("lstmkit::sequence_forward", _backward, setup_context=_setup_context)


def run_op(kernel, spec, weights, x: Tensor, state0: tuple, masks: SeqMasks, reverse: bool):
    """The op route of :func:`lstmkit.kernels.run`: (y, final state tuple)."""
    fields = tuple(f for f in weights._fields if getattr(weights, f) is not None)
    outs = sequence_forward(encode(kernel, spec, reverse, fields), x, list(state0),
                            [getattr(weights, f) for f in fields], *masks)
    return outs[0], tuple(outs[1:1 + len(state0)])
