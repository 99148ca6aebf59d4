"""Sampling from a next-symbol model one symbol at a time, carrying the recurrent state.

Works with any model that has ``prime(ids (T,)) -> (logits (V,), state)`` (read a prefix in one
whole-sequence pass) and ``step(ids (1,), state) -> (logits (1, V), state)`` (one symbol through every
layer, e.g. with :meth:`lstmkit.LSTM.step`): the prefix is never run again.
"""

from __future__ import annotations

import math

from typing import Iterator, Optional, Sequence

import torch
from torch import Tensor

__all__ = ["next_distribution", "sample_ids"]


def next_distribution(logits: Tensor, temperature: float = 1.0, top_k: int = 0,
                      banned: Sequence[int] = ()) -> Tensor:
    """Probabilities (V,) from logits (V,): symbols in ``banned`` removed, only the ``top_k`` most likely
    kept (0: all), then softmax at ``temperature`` (0: all mass on the most likely).

    Example::

        >>> import torch
        >>> from lstmkit.generate import next_distribution
        >>> next_distribution(torch.tensor([1.0, 2.0, 3.0]), top_k=2, banned=[2]).tolist()
        [0.2689414322376251, 0.7310585975646973, 0.0]
    """
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    if top_k < 0:
        raise ValueError(f"top_k must be >= 0 (0: off), got {top_k}")
    logits = logits.double().clone()                    # float64: extreme temperatures stay exact
    if torch.isnan(logits).any() or torch.isposinf(logits).any():
        raise ValueError("the model's scores for the next symbol are not finite; expected a model with "
                         "finite outputs (did its training diverge?)")
    if len(banned):
        logits[list(banned)] = -float("inf")
    if top_k and top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits[logits < kth] = -float("inf")
    if logits.max() == -float("inf"):
        raise ValueError("every symbol is banned or removed; expected at least one to sample from")
    if temperature == 0:
        probs = torch.zeros_like(logits)
        probs[int(logits.argmax())] = 1.0
        return probs.float()
    # shifted so the largest is 0: a tiny temperature sends the others to -inf (not inf - inf = nan),
    # a huge one sends them all to 0 (uniform over what is kept)
    return torch.softmax((logits - logits.max()) / temperature, dim=-1).float()


@torch.inference_mode()
def sample_ids(model, prime: Tensor, length: int, temperature: float = 1.0, top_k: int = 0,
               generator: Optional[torch.Generator] = None, banned: Sequence[int] = ()) -> Iterator[int]:
    """Yield ``length`` symbol ids continuing ``prime`` (T,), each as soon as it is drawn.

    Example::

        >>> import torch
        >>> from lstmkit.generate import sample_ids
        >>> from lstmkit.tasks.charlm import CharLM, CharLMConfig
        >>> model = CharLM(10, CharLMConfig(hidden=16, embed=4, layers=1)).eval()
        >>> ids = list(sample_ids(model, torch.tensor([1, 2]), 5, generator=torch.Generator().manual_seed(0)))
        >>> len(ids), all(0 <= i < 10 for i in ids)
        (5, True)
    """
    if prime.dim() != 1 or prime.numel() == 0:
        raise ValueError(f"prime must be a non-empty 1-D tensor of ids, got shape {tuple(prime.shape)}")
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    logits, state = model.prime(prime)                                   # (V,)
    nxt = torch.empty(1, dtype=torch.long, device=prime.device)
    for _ in range(length):
        probs = next_distribution(logits, temperature, top_k, banned)
        nxt[0] = torch.multinomial(probs, 1, generator=generator)[0]
        yield int(nxt[0])
        step_logits, state = model.step(nxt, state)                      # (1, V)
        logits = step_logits[0]
