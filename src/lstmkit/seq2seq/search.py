"""Decoding: greedy and batched beam search over an :class:`~lstmkit.seq2seq.AttentionDecoder`.

Both decode a whole batch at once: every step is one decoder step for all rows (a beam of k turns a batch of
B into B*k rows), so the compiled single-step kernels serve it. A hypothesis ends when it emits ``eos``.
Beam search ranks finished hypotheses by log-probability divided by a length penalty,
lp(n) = ((5 + n) / 6)^alpha (Wu et al. 2016; alpha = 0: raw log-probability, which favours short outputs),
and stops when no live hypothesis can still beat the k-th finished one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import Tensor

from .decoder import AttentionDecoder
from .encoder import Memory

__all__ = ["Decoded", "greedy_decode", "beam_search", "length_penalty"]


@dataclass
class Decoded:
    """Decoder outputs for a batch: ``tokens[b]`` the ids (without start and end tokens), ``scores[b]`` the
    log-probability (beam: length-normalised), ``weights[b]`` the attention ``(len(tokens[b]) + 1, S)``
    for every emitted token including the end token (None without attention or when not asked for)."""

    tokens: list[list[int]]
    scores: list[float]
    weights: Optional[list[Tensor]] = None


def length_penalty(n: Tensor | int, alpha: float) -> Tensor | float:
    """((5 + n) / 6) ** alpha; the divisor of a hypothesis' log-probability."""
    return ((5.0 + n) / 6.0) ** alpha


def _forbidden(logits: Tensor, forbid: Sequence[int]) -> Tensor:
    if not forbid:
        return logits
    logits = logits.clone()
    logits[:, list(forbid)] = float("-inf")
    return logits


@torch.no_grad()
def greedy_decode(decoder: AttentionDecoder, memory: Memory, bos: int, eos: int, max_len: int,
                  attention: bool = False, forbid: Sequence[int] = ()) -> Decoded:
    """The most likely token at every step, for every row of ``memory`` at once, up to ``max_len`` tokens;
    ids in ``forbid`` (padding, the start token) are never emitted.

    Example::

        >>> import torch
        >>> from lstmkit.seq2seq import AttentionDecoder, RecurrentEncoder, greedy_decode
        >>> torch.manual_seed(0) and None
        >>> enc = RecurrentEncoder(12, 8, 8); dec = AttentionDecoder(12, 8, 8, 1, 16, 32)
        >>> out = greedy_decode(dec, enc(torch.randint(4, 12, (2, 5)), torch.tensor([5, 3])), 1, 2, 6)
        >>> len(out.tokens), all(len(t) <= 6 for t in out.tokens)
        (2, True)
    """
    N, device = len(memory), memory.values.device
    state = decoder.initial_state(memory)
    prev = torch.full((N,), bos, dtype=torch.long, device=device)
    done = torch.zeros(N, dtype=torch.bool, device=device)
    tokens, logps, weights = [], [], []
    for _ in range(max_len + 1):                                   # max_len tokens, then the end token
        logits, state, w = decoder.step(prev, state, memory)
        logp = _forbidden(logits, forbid).log_softmax(-1)
        prev = logp.argmax(-1)
        tokens.append(prev)
        logps.append(logp.gather(1, prev.unsqueeze(1)).squeeze(1).masked_fill(done, 0.0))
        weights.append(w)
        done = done | (prev == eos)
        if bool(done.all()):
            break
    ids = torch.stack(tokens, 1).tolist()                          # (N, steps)
    total = torch.stack(logps, 1).sum(1).tolist()
    out_tokens, out_w = [], []
    for b, row in enumerate(ids):
        n = row.index(eos) if eos in row else min(len(row), max_len)
        out_tokens.append(row[:n])
        if attention and weights[0] is not None:
            out_w.append(torch.stack([w[b] for w in weights[:n + 1]]).cpu())
    return Decoded(out_tokens, total, out_w if attention and weights[0] is not None else None)


@torch.no_grad()
def beam_search(decoder: AttentionDecoder, memory: Memory, bos: int, eos: int, max_len: int, beam: int = 5,
                alpha: float = 0.6, attention: bool = False, forbid: Sequence[int] = ()) -> Decoded:
    """The best of ``beam`` hypotheses per row, all rows' beams stepped together (B*beam decoder rows).

    Args:
        decoder, memory: the model's decoder and its encoded batch (B rows).
        bos, eos: start and end token ids; max_len: most tokens a hypothesis may emit before its end token.
        beam: hypotheses kept per row (1 is greedy search); alpha: the length penalty's exponent.
        attention: also return the attention weights of each best hypothesis.
        forbid: ids never emitted (padding, the start token).

    Example::

        >>> import torch
        >>> from lstmkit.seq2seq import AttentionDecoder, RecurrentEncoder, beam_search
        >>> torch.manual_seed(0) and None
        >>> enc = RecurrentEncoder(12, 8, 8); dec = AttentionDecoder(12, 8, 8, 1, 16, 32)
        >>> out = beam_search(dec, enc(torch.randint(4, 12, (2, 5)), torch.tensor([5, 3])), 1, 2, 6, beam=3)
        >>> len(out.tokens), out.scores[0] <= 0
        (2, True)
    """
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    B, K, device = len(memory), beam, memory.values.device
    mem = memory.repeat(K)
    state = decoder.initial_state(mem)
    V = decoder.vocab_size
    rows = torch.arange(B, device=device)
    score = torch.zeros(B, K, device=device)
    score[:, 1:] = float("-inf")                                   # all beams start equal: keep one
    history = torch.full((B * K, 0), bos, dtype=torch.long, device=device)
    attn_hist: Optional[Tensor] = None
    fin_score = torch.full((B, K), float("-inf"), device=device)   # normalised scores of finished ones
    fin_tokens: list[list[list[int]]] = [[[] for _ in range(K)] for _ in range(B)]
    fin_attn: list[list[Optional[Tensor]]] = [[None] * K for _ in range(B)]
    prev = torch.full((B * K,), bos, dtype=torch.long, device=device)
    for t in range(max_len + 1):
        logits, state, w = decoder.step(prev, state, mem)
        cand = score.unsqueeze(2) + _forbidden(logits, forbid).log_softmax(-1).view(B, K, V)   # (B, K, V)
        if t == max_len:                                           # out of room: only the end token is allowed
            keep = cand[:, :, eos].clone()
            cand = torch.full_like(cand, float("-inf"))
            cand[:, :, eos] = keep
        top, idx = cand.view(B, K * V).topk(2 * K if V >= 2 else 1, dim=1)      # (B, 2K)
        src_beam, tok = idx // V, idx % V
        if attention and w is not None:
            step_w = w.view(B, K, -1)
            attn_hist = step_w.unsqueeze(2) if attn_hist is None else torch.cat([attn_hist.view(B, K, t, -1),
                                                                                 step_w.unsqueeze(2)], 2)
        # finished: candidates that end here join the finished pool if they beat its k-th entry
        ended = (tok == eos) & torch.isfinite(top)
        norm = top / length_penalty(t + 1, alpha)
        for b, j in ended.nonzero().tolist():
            worst = int(fin_score[b].argmin())
            if norm[b, j] > fin_score[b, worst]:
                k = int(src_beam[b, j])
                fin_score[b, worst] = norm[b, j]
                fin_tokens[b][worst] = history[b * K + k].tolist()
                if attn_hist is not None:
                    fin_attn[b][worst] = attn_hist[b, k].cpu().clone()
        # live: the best K candidates that did not end
        live_top = top.masked_fill(tok == eos, float("-inf"))
        live_score, order = live_top.topk(K, dim=1)                             # (B, K)
        beams = src_beam.gather(1, order)                                       # (B, K)
        prev = tok.gather(1, order).view(-1)
        flat = (rows.unsqueeze(1) * K + beams).view(-1)                         # (B*K,) rows of the last step
        history = torch.cat([history.index_select(0, flat), prev.unsqueeze(1)], 1)
        if attn_hist is not None:
            attn_hist = attn_hist.view(B * K, t + 1, -1).index_select(0, flat).view(B, K, t + 1, -1)
        state = state.select(flat)
        score = live_score
        # no live hypothesis can beat the k-th finished one: its log-probability only falls from here on
        best_possible = score.max(1).values / length_penalty(max_len + 1, alpha) if alpha > 0 else score.max(1).values
        if bool((fin_score.min(1).values >= best_possible).all()):
            break
    best = fin_score.argmax(1).tolist()
    tokens = [fin_tokens[b][k] for b, k in enumerate(best)]
    weights = [fin_attn[b][k] for b, k in enumerate(best)] if attention and attn_hist is not None else None
    return Decoded(tokens, [float(fin_score[b, k]) for b, k in enumerate(best)], weights)
