"""Turning what a user passes to a layer into what the kernels take, and back; every check says what it
expected and what it got."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..errors import DeviceError, DTypeError, ShapeError


@dataclass
class Prepared:
    """A forward call normalised to time-major batched form."""

    x: Tensor                              # (T, B, I)
    state0: tuple[Tensor, ...]             # each (L*D, B, size)
    lengths: Optional[Tensor]              # (B,) int64 on x's device, or None
    reset: Optional[Tensor]                # (T, B) bool, or None
    unbatched: bool = False
    packed: Optional[PackedSequence] = None
    lengths_host: Optional[Tensor] = None  # the same lengths on the CPU where the caller gave them there


def check_input_tensor(x: object, input_size: int, dtype: torch.dtype, what: str = "input") -> Tensor:
    """torch.nn's ``check_input``: the dtype (as the weights'), then the size of the last dimension."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor or PackedSequence, got {type(x).__name__}")
    if x.dtype != dtype:
        advice = (f"Convert input: input.to({dtype}), or convert model: model.to({x.dtype})"
                  if x.is_floating_point() else f"Convert input: input.to({dtype}) (it must be floating point)")
        raise DTypeError(f"RNN input dtype ({x.dtype}) does not match weight dtype ({dtype}). {advice}")
    if x.dim() > 0 and x.size(-1) != input_size:
        raise ShapeError(f"input.size(-1) must be equal to input_size. Expected {input_size}, got {x.size(-1)}")
    return x


def prepare(input, hx, lengths, reset, *, name: str, input_size: int, batch_first: bool, dtype: torch.dtype,
            device: torch.device, state_shapes: Sequence[tuple[str, int, int]]) -> Prepared:
    """Validate a forward call, with torch.nn's checks in torch.nn's order (its messages and exception
    types: :mod:`lstmkit.errors`), and bring it to (T, B, I) with the initial state as a tuple.

    ``name``: the layer's class name for messages; ``dtype``, ``device``: the weights';
    ``state_shapes``: per state tensor (name, L*D, size), e.g. [("h0", 2, 20), ("c0", 2, 20)].
    """
    packed = None
    if isinstance(input, PackedSequence):
        if lengths is not None:
            raise ValueError("lengths= cannot be combined with a PackedSequence input: "
                             "the PackedSequence carries its own lengths")
        packed = input
        check_input_tensor(input.data, input_size, dtype, "input.data")
        x, lengths = pad_packed_sequence(input)                       # (T, B, I), original batch order
        unbatched = False
    else:
        if isinstance(input, Tensor) and input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D tensor instead "
                             f"(shape {tuple(input.shape)}; 2-D is one unbatched (seq_len, input_size) sequence)")
        unbatched = isinstance(input, Tensor) and input.dim() == 2
        _check_hx_dims(hx, unbatched, len(state_shapes))
        x = check_input_tensor(input, input_size, dtype)
        if unbatched and lengths is not None:
            raise ValueError("lengths= needs a batched 3-D input; an unbatched input is one whole sequence")
        x = time_major(x, unbatched, batch_first)
    T, B = x.shape[0], x.shape[1]
    state0 = _check_hx(hx, x, unbatched, state_shapes)
    if T < 1:
        raise ShapeError(f"Expected sequence length to be larger than 0 in RNN, got an input of shape "
                         f"{tuple(input.shape)}")
    if x.device != device:
        raise DeviceError(f"Input and parameter tensors are not at the same device, found input tensor at "
                          f"{x.device} and parameter tensor at {device}")
    given = lengths
    lengths = _check_lengths(lengths, T, B, x.device)
    host = None
    if lengths is not None:                   # kept for reading on the host without a device sync
        host = lengths if lengths.device.type == "cpu" else _host_lengths(given)
    reset = _check_reset(reset, T, B, batch_first and not unbatched and packed is None, unbatched, x.device)
    return Prepared(x=x, state0=state0, lengths=lengths, reset=reset, unbatched=unbatched, packed=packed,
                    lengths_host=host)


def time_major(x: Tensor, unbatched: bool, batch_first: bool) -> Tensor:
    """A checked input as (T, B, I): (T, I) unbatched -> (T, 1, I); (B, T, I) with ``batch_first`` -> a
    transposed view."""
    if unbatched:
        return x.unsqueeze(1)
    return x.transpose(0, 1) if batch_first else x


def _host_lengths(given) -> Optional[Tensor]:
    """The caller's (checked) lengths as a CPU int64 tensor if they were not on a device, else None."""
    if isinstance(given, Tensor):
        return given.to(torch.int64) if given.device.type == "cpu" else None
    return torch.as_tensor(given, dtype=torch.int64)


def _check_hx_dims(hx, unbatched: bool, n_states: int) -> None:
    """torch.nn's check that the initial state has the input's batchedness (3-D batched, 2-D unbatched)."""
    parts = (hx,) if isinstance(hx, Tensor) else hx
    if hx is None or not isinstance(parts, (tuple, list)) or not all(isinstance(p, Tensor) for p in parts):
        return                                                         # _check_hx names the type problem
    want = 2 if unbatched else 3
    if any(p.dim() != want for p in parts):
        kind = "unbatched 2-D" if unbatched else "batched 3-D"
        if n_states == 2 and len(parts) == 2:
            raise ShapeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                             f"({parts[0].dim()}-D, {parts[1].dim()}-D) tensors")
        raise ShapeError(f"For {kind} input, hx should also be {want}-D but got {parts[0].dim()}-D tensor")


def _check_hx(hx, x: Tensor, unbatched: bool, shapes) -> tuple[Tensor, ...]:
    B = x.shape[1]
    names = " and ".join(name for name, _, _ in shapes)
    if hx is None:
        return tuple(x.new_zeros(n, B, size) for _, n, size in shapes)
    parts = (hx,) if isinstance(hx, Tensor) else hx
    if not isinstance(parts, (tuple, list)) or len(parts) != len(shapes) or \
            not all(isinstance(p, Tensor) for p in parts):
        want = "a tensor h0" if len(shapes) == 1 else f"a tuple ({names}) of {len(shapes)} tensors"
        raise TypeError(f"hx must be {want}, got {_describe(hx)}")
    out = []
    for k, (p, (name, n, size)) in enumerate(zip(parts, shapes)):
        p = p.unsqueeze(1) if unbatched and p.dim() == 2 else p
        if tuple(p.shape) != (n, B, size):
            which = "hidden" if len(shapes) == 1 else f"hidden[{k}]"
            raise ShapeError(f"Expected {which} size {(n, B, size)}, got {list(p.shape)} ({name} is "
                             f"(num_layers * num_directions, batch, {'cell' if k == 1 else 'output'} size))")
        if p.dtype != x.dtype:
            raise DTypeError(f"{name} dtype must be {x.dtype} (the input's), got {p.dtype}")
        if p.device != x.device:
            raise DeviceError(f"Input and hidden tensors are not at the same device, found input tensor at "
                              f"{x.device} and hidden tensor at {p.device} ({name})")
        out.append(p)
    return tuple(out)


def _describe(obj) -> str:
    if isinstance(obj, (tuple, list)):
        return f"{type(obj).__name__} of {len(obj)} ({', '.join(type(o).__name__ for o in obj)})"
    return type(obj).__name__


def _check_lengths(lengths, T: int, B: int, device) -> Optional[Tensor]:
    if lengths is None:
        return None
    if not isinstance(lengths, Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"lengths must be a 1-D integer tensor (or list) of {B} lengths, "
                            f"got {type(lengths).__name__}") from None
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
    if lengths.dim() != 1 or lengths.numel() != B:
        raise ValueError(f"lengths must be 1-D with one length per sequence ({B},), got shape {tuple(lengths.shape)}")
    if lengths.device.type == "meta" or B == 0:                      # shape inference: no values to check
        return lengths.to(device=device, dtype=torch.int64)
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo < 1 or hi > T:
        raise ValueError(f"lengths must lie in [1, {T}] (1 to seq_len), got values in [{lo}, {hi}]")
    return lengths.to(device=device, dtype=torch.int64)


def _check_reset(reset, T: int, B: int, batch_first: bool, unbatched: bool, device) -> Optional[Tensor]:
    if reset is None:
        return None
    if not isinstance(reset, Tensor):
        raise TypeError(f"reset must be a bool tensor, got {type(reset).__name__}")
    if unbatched:
        want = (T,)
    else:
        want = (B, T) if batch_first else (T, B)
    if tuple(reset.shape) != want:
        layout = "(seq_len,)" if unbatched else ("(batch, seq_len)" if batch_first else "(seq_len, batch)")
        raise ValueError(f"reset must have shape {want} {layout}, got {tuple(reset.shape)}")
    if reset.dtype != torch.bool:
        if reset.is_floating_point() or reset.is_complex():
            raise TypeError(f"reset must be a bool (or 0/1 integer) tensor, got dtype {reset.dtype}")
        if reset.device.type != "meta" and reset.numel() and (int(reset.min()) < 0 or int(reset.max()) > 1):
            raise ValueError(f"reset must hold 0/1 (or be a bool tensor), got values in "
                             f"[{int(reset.min())}, {int(reset.max())}]")
        reset = reset != 0
    if unbatched:
        reset = reset.unsqueeze(1)
    elif batch_first:
        reset = reset.t()
    return reset.to(device)


def finish(prep: Prepared, y: Tensor, states: tuple[Tensor, ...], batch_first: bool):
    """The output in the caller's form (Tensor or PackedSequence) and the final states (unbatched-aware)."""
    if prep.packed is not None:
        return repack(y, prep), states
    if prep.unbatched:
        return y.squeeze(1), tuple(s.squeeze(1) for s in states)
    if batch_first:
        y = y.transpose(0, 1)
    return y, states


def repack(y: Tensor, prep: Prepared) -> PackedSequence:
    """Pack a padded (T, B, N) output exactly as the input was packed (same batch_sizes and indices)."""
    p = prep.packed
    lengths = prep.lengths.cpu()
    if p.sorted_indices is not None:
        idx = p.sorted_indices.to(y.device)
        y = y.index_select(1, idx)
        lengths = lengths.index_select(0, p.sorted_indices.cpu())
    data = pack_padded_sequence(y, lengths, enforce_sorted=True).data
    return PackedSequence(data, p.batch_sizes, p.sorted_indices, p.unsorted_indices)
