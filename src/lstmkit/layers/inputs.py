"""Turning what a user passes to a layer into what the kernels take, and back; every check says what it
expected and what it got."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


@dataclass
class Prepared:
    """A forward call normalised to time-major batched form."""

    x: Tensor                              # (T, B, I)
    state0: tuple[Tensor, ...]             # each (L*D, B, size)
    lengths: Optional[Tensor]              # (B,) int64 on x's device, or None
    reset: Optional[Tensor]                # (T, B) bool, or None
    unbatched: bool = False
    packed: Optional[PackedSequence] = None


def check_input_tensor(x: object, input_size: int, dtype: torch.dtype, what: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor or PackedSequence, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{what} must be a floating-point tensor, got dtype {x.dtype}")
    if x.dtype != dtype:
        raise TypeError(f"{what} dtype must match the parameters' dtype {dtype}, got {x.dtype} "
                        f"(convert the module with .to({x.dtype}) or the input with .to({dtype}))")
    if x.size(-1) != input_size:
        raise ValueError(f"{what}.size(-1) must be {input_size} (input_size), got {x.size(-1)}")
    return x


def prepare(input, hx, lengths, reset, *, input_size: int, batch_first: bool, dtype: torch.dtype,
            state_shapes: Sequence[tuple[str, int, int]]) -> Prepared:
    """Validate a forward call and bring it to (T, B, I) with the initial state as a tuple.

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
        x = check_input_tensor(input, input_size, dtype)
        if x.dim() not in (2, 3):
            raise ValueError(f"input must be 2-D (seq_len, input_size) for an unbatched sequence or 3-D "
                             f"({'batch, seq_len' if batch_first else 'seq_len, batch'}, input_size), "
                             f"got {x.dim()}-D with shape {tuple(x.shape)}")
        unbatched = x.dim() == 2
        if unbatched:
            if lengths is not None:
                raise ValueError("lengths= needs a batched 3-D input; an unbatched input is one whole sequence")
            x = x.unsqueeze(1)
        elif batch_first:
            x = x.transpose(0, 1)
    T, B = x.shape[0], x.shape[1]
    if T < 1:
        raise ValueError(f"input must have at least one time step, got seq_len={T}")
    if B < 1:
        raise ValueError(f"input must have at least one sequence in the batch, got batch={B}")
    state0 = _check_hx(hx, x, unbatched, state_shapes)
    lengths = _check_lengths(lengths, T, B, x.device)
    reset = _check_reset(reset, T, B, batch_first and not unbatched and packed is None, unbatched, x.device)
    return Prepared(x=x, state0=state0, lengths=lengths, reset=reset, unbatched=unbatched, packed=packed)


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
    for p, (name, n, size) in zip(parts, shapes):
        want = (n, size) if unbatched else (n, B, size)
        if tuple(p.shape) != want:
            kind = "unbatched 2-D input" if unbatched else "batched input"
            raise ValueError(f"{name} must have shape {want} (num_layers * num_directions, "
                             f"{'' if unbatched else 'batch, '}state size) for {kind}, got {tuple(p.shape)}")
        if p.dtype != x.dtype:
            raise TypeError(f"{name} dtype must be {x.dtype} (the input's), got {p.dtype}")
        if p.device != x.device:
            raise ValueError(f"{name} must be on {x.device} (the input's device), got {p.device}")
        out.append(p.unsqueeze(1) if unbatched else p)
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
