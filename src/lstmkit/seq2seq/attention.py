"""Attention over an encoder's outputs: additive (Bahdanau et al. 2015), dot and general (Luong et al. 2015).

Each scores a decoder query q (the decoder's hidden state) against the encoder's annotation vectors
h_1..h_S, normalises the scores over the valid positions only, and returns the context vector:

.. math::

    e_{s} = \\mathrm{score}(q, h_s), \\quad
    \\alpha_{s} = \\frac{\\exp e_s}{\\sum_{s' \\le S_b} \\exp e_{s'}}, \\quad
    c = \\sum_s \\alpha_s h_s

with score(q, h) = v^T tanh(W_q q + W_h h) (``additive``), q^T h (``dot``: needs equal sizes) or
q^T W h (``general``). Positions past a sequence's length (``mask`` False) get no weight. The part of the
score that depends on the annotations only (W_h h, W h) is computed once per source by :meth:`keys`,
not at every decoder step.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["Attention", "ATTENTION_KINDS", "masked_softmax"]

#: the score functions :class:`Attention` offers
ATTENTION_KINDS = ("additive", "dot", "general")


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the last dimension of ``scores (..., S)`` where ``mask (..., S)`` is True; zero
    elsewhere. A row with no valid position (never made by the encoders) gets all zeros, not NaN."""
    scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return torch.nan_to_num(weights, nan=0.0)


class Attention(nn.Module):
    """Scores a query against annotation vectors and returns ``(context, weights)``.

    Args:
        kind: ``additive``, ``dot`` or ``general`` (see the module docstring for the equations).
        query_size: size of the query q (the decoder's hidden size).
        value_size: size of each annotation h_s (encoder output size).
        hidden_size: size of the additive score's hidden layer (``additive`` only; default query_size).

    Shapes: ``keys(values (B, S, V)) -> (B, S, K)``; ``forward(query (B, Q), keys, values (B, S, V),
    mask (B, S) bool) -> (context (B, V), weights (B, S))``; a query ``(B, T, Q)`` attends for T steps at
    once, giving ``(B, T, V)`` and ``(B, T, S)``.

    Example::

        >>> import torch
        >>> from lstmkit.seq2seq import Attention
        >>> att = Attention("additive", query_size=8, value_size=6)
        >>> values, mask = torch.randn(2, 5, 6), torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
        >>> context, weights = att(torch.randn(2, 8), att.keys(values), values, mask)
        >>> context.shape, weights.shape, weights[1, 3:].sum().item()
        (torch.Size([2, 6]), torch.Size([2, 5]), 0.0)
    """

    def __init__(self, kind: str, query_size: int, value_size: int, hidden_size: int | None = None) -> None:
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"attention must be one of {ATTENTION_KINDS}, got {kind!r}")
        if kind == "dot" and query_size != value_size:
            raise ValueError(f"dot attention needs the query size to equal the annotation size; got query "
                             f"{query_size}, annotations {value_size} (use 'general' or 'additive')")
        self.kind, self.query_size, self.value_size = kind, query_size, value_size
        if kind == "additive":
            hidden_size = hidden_size or query_size
            self.w_query = nn.Linear(query_size, hidden_size, bias=False)
            self.w_value = nn.Linear(value_size, hidden_size, bias=True)
            self.v = nn.Linear(hidden_size, 1, bias=False)
        elif kind == "general":
            self.w_value = nn.Linear(value_size, query_size, bias=False)

    def keys(self, values: Tensor) -> Tensor:
        """The annotation-only part of the score, once per source: ``(B, S, V) -> (B, S, K)``."""
        return values if self.kind == "dot" else self.w_value(values)

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """Unnormalised scores ``(B, S)`` for a query ``(B, Q)`` (or ``(B, T, S)`` for ``(B, T, Q)``)."""
        steps = query.dim() == 3
        q = query if steps else query.unsqueeze(1)                            # (B, T, Q)
        if self.kind == "additive":
            e = self.v(torch.tanh(self.w_query(q).unsqueeze(2) + keys.unsqueeze(1))).squeeze(-1)  # (B, T, S)
        else:
            e = torch.bmm(q, keys.transpose(1, 2))                              # (B, T, S)
        return e if steps else e.squeeze(1)

    def forward(self, query: Tensor, keys: Tensor, values: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        steps = query.dim() == 3
        weights = masked_softmax(self.scores(query, keys), mask.unsqueeze(1) if steps else mask)
        w = weights if steps else weights.unsqueeze(1)
        context = torch.bmm(w, values)                                          # (B, T, V)
        return (context if steps else context.squeeze(1)), weights

    def extra_repr(self) -> str:
        return f"{self.kind}, query_size={self.query_size}, value_size={self.value_size}"
