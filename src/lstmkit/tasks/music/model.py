"""The piano-roll model (recurrent stack -> per-key logits), the frame NLL, and sampling new music."""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...layers import Dropout
from ..charlm.model import make_recurrent
from .config import MusicConfig

__all__ = ["MusicRNN", "frame_nll", "sample_roll"]


def frame_nll(logits: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> tuple[Tensor, int]:
    """``(summed NLL, frames)`` of the next frames ``target`` (T, B, K) under per-key sigmoid ``logits``
    (T, B, K): per frame -sum_k [y log p + (1 - y) log(1 - p)], summed over every frame t < lengths[b] of
    every sequence (all T frames without ``lengths``). The published figure (locuslab/TCN's music_test.py)
    is the sum over a split divided by its number of frames, not a mean of per-sequence means.

    Example::

        >>> import math, torch
        >>> from lstmkit.tasks.music.model import frame_nll
        >>> logits = torch.zeros(2, 1, 3)                      # p = 0.5 for every key
        >>> total, frames = frame_nll(logits, torch.ones(2, 1, 3))
        >>> frames, round(total.item() / frames, 4) == round(3 * math.log(2), 4)
        (2, True)
    """
    per_key = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    per_frame = per_key.sum(-1)                                            # (T, B)
    if lengths is None:
        return per_frame.sum(), per_frame.numel()
    T = per_frame.shape[0]
    mask = torch.arange(T, device=per_frame.device)[:, None] < lengths.to(per_frame.device)[None, :]
    return (per_frame * mask).sum(), int(lengths.sum())


class MusicRNN(nn.Module):
    """Next-frame model of a ``width``-key piano-roll: ``forward(x (T, B, K), state, lengths)`` ->
    ``(logits (T, B, K), state)``; ``sigmoid(logits[t])`` is each key's probability of sounding at t + 1.
    The roll frames go straight into an lstmkit recurrent stack (``cfg.cell``: LSTM and its variants, GRU,
    Elman RNN), then dropout and a linear layer to one logit per key.

    Example::

        >>> import torch
        >>> from lstmkit.tasks.music import MusicConfig, MusicRNN
        >>> model = MusicRNN(88, MusicConfig(cell="lstm", hidden=36, layers=1)).eval()
        >>> logits, state = model(torch.zeros(5, 2, 88))
        >>> logits.shape, model.num_parameters()
        (torch.Size([5, 2, 88]), 21400)
    """

    def __init__(self, width: int, cfg: MusicConfig) -> None:
        super().__init__()
        self.width = width
        self.rnn = make_recurrent(cfg, width)
        self.drop = Dropout(cfg.dropout)
        out = cfg.proj_size if cfg.cell == "lstm" and cfg.proj_size else cfg.hidden
        self.head = nn.Linear(out, width)

    def forward(self, x: Tensor, state: Optional[Any] = None, lengths: Optional[Tensor] = None) -> tuple[Tensor, Any]:
        out, state = self.rnn(x, state, lengths=lengths)                      # (T, B, H)
        return self.head(self.drop(out)), state                               # (T, B, K)

    def step(self, frame: Tensor, state: Optional[Any] = None) -> tuple[Tensor, Any]:
        """One frame per sequence (B, K) -> the next frame's logits (B, K), the new state."""
        y, state = self.rnn.step(frame, state)                                # (B, H)
        return self.head(self.drop(y)), state

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


@torch.no_grad()
def sample_roll(model: MusicRNN, length: int, prime: Optional[Tensor] = None, temperature: float = 1.0,
                seed: Optional[int] = None) -> Tensor:
    """``length`` new frames (length, K) uint8 after reading ``prime`` (T0, K) (none: one silent frame):
    each key of each frame is drawn as Bernoulli(sigmoid(logit / temperature)) and fed back as the next
    input; temperature 0 takes every key with p > 0.5.

    Example::

        >>> import torch
        >>> from lstmkit.tasks.music import MusicConfig, MusicRNN, sample_roll
        >>> model = MusicRNN(88, MusicConfig(hidden=8, layers=1)).eval()
        >>> sample_roll(model, 16, seed=0).shape
        torch.Size([16, 88])
    """
    if not (temperature >= 0 and temperature < float("inf")):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    if length < 1:
        raise ValueError(f"length must be >= 1 frame, got {length}")
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator(device=device)
    g.manual_seed(seed if seed is not None else int(torch.randint(2**62, ()).item()))
    if prime is None or len(prime) == 0:
        prime = torch.zeros(1, model.width)
    if prime.shape[-1] != model.width:
        raise ValueError(f"the prime has {prime.shape[-1]} keys per frame; expected {model.width} (the model's)")
    logits, state = model(prime.to(device=device, dtype=torch.float32).unsqueeze(1))  # (T0, 1, K)
    logits = logits[-1]                                                       # (1, K)
    frames = []
    for _ in range(length):
        if temperature == 0:
            frame = (logits > 0).float()
        else:
            frame = torch.bernoulli(torch.sigmoid(logits.float() / temperature), generator=g)
        frames.append(frame[0])
        logits, state = model.step(frame, state)
    return torch.stack(frames).to(torch.uint8).cpu()
