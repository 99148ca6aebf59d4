"""Reading a label string out of CTC outputs: greedy (best path) and prefix beam search, and the
character error rate.

Both decoders take per-step log-probabilities ``(T, C)`` over the blank (index ``blank``, default 0) and
the labels. CTC maps an alignment (one symbol per step) to a label string by merging repeats, then
dropping blanks: ``"1 1 - 1 2 2" -> "1 1 2"``. The greedy decoder collapses the most likely symbol of each
step; the prefix beam search keeps the ``beam`` most likely *label prefixes*, each with the probability
of all alignments that produce it, split by whether the alignment ends in a blank or not (Hannun et al.
2014, "First-pass large vocabulary continuous speech recognition using bi-directional recurrent DNNs").
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["greedy_decode", "beam_search", "edit_distance", "cer"]

NEG_INF = -math.inf


def _logaddexp(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    m = max(a, b)
    return m + math.log1p(math.exp(-abs(a - b)))


def greedy_decode(log_probs, blank: int = 0) -> list[int]:
    """The labels of the best path: the most likely symbol per step, repeats merged, blanks dropped.

    Example::

        >>> import numpy as np
        >>> from lstmkit.tasks.ctc.decode import greedy_decode
        >>> best = [1, 1, 0, 1, 2, 2, 0]                       # symbol per step (0 = blank)
        >>> greedy_decode(np.log(np.eye(3)[best] * 0.9 + 0.05))
        [1, 1, 2]
    """
    path = np.asarray(log_probs).argmax(axis=-1)               # (T,)
    out, prev = [], blank
    for s in path.tolist():
        if s != blank and s != prev:
            out.append(s)
        prev = s
    return out


def beam_search(log_probs, beam: int = 8, blank: int = 0) -> list[tuple[list[int], float]]:
    """CTC prefix beam search: the ``beam`` best label strings with their log-probabilities (the sum over
    every alignment that collapses to the string), best first.

    ``log_probs``: ``(T, C)`` per-step log-probabilities (log-softmax outputs). With a beam as wide as the
    number of distinct prefixes the scores are exact; a narrower beam prunes after every step.

    Example::

        >>> import numpy as np
        >>> from lstmkit.tasks.ctc.decode import beam_search
        >>> p = np.array([[0.4, 0.6], [0.4, 0.6]])             # blank, "a" for two steps
        >>> [(labels, round(float(np.exp(score)), 2)) for labels, score in beam_search(np.log(p), beam=4)]
        [([1], 0.84), ([], 0.16)]

    Greedy decoding would read ``"a"`` here too, but the best path can differ from the best string:
    ``"a"`` gathers the alignments ``a a``, ``a -`` and ``- a``.
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    if lp.ndim != 2:
        raise ValueError(f"log_probs must be (T, C), got shape {lp.shape}")
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    T, C = lp.shape
    # prefix -> (log P(prefix, alignment ends in blank), log P(prefix, ends in its last label))
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, NEG_INF)}
    for t in range(T):
        row = lp[t].tolist()
        nxt: dict[tuple[int, ...], list[float]] = {}

        def add(prefix, blank_part=NEG_INF, label_part=NEG_INF):
            cur = nxt.setdefault(prefix, [NEG_INF, NEG_INF])
            cur[0] = _logaddexp(cur[0], blank_part)
            cur[1] = _logaddexp(cur[1], label_part)

        for prefix, (pb, pnb) in beams.items():
            total = _logaddexp(pb, pnb)
            add(prefix, blank_part=total + row[blank])                      # a blank keeps the prefix
            last = prefix[-1] if prefix else None
            for c in range(C):
                if c == blank:
                    continue
                if c == last:
                    add(prefix, label_part=pnb + row[c])                    # repeat merges into the prefix
                    add(prefix + (c,), label_part=pb + row[c])              # a blank between: a new label
                else:
                    add(prefix + (c,), label_part=total + row[c])
        scored = [(k, v) for k, v in nxt.items() if _logaddexp(*v) > NEG_INF]    # impossible prefixes go
        ranked = sorted(scored, key=lambda kv: _logaddexp(*kv[1]), reverse=True)[:beam]
        beams = {k: (v[0], v[1]) for k, v in ranked}
    out = [(list(k), _logaddexp(*v)) for k, v in beams.items()]
    out.sort(key=lambda kv: kv[1], reverse=True)
    return out


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance (insertions, deletions, substitutions each cost 1).

    Example::

        >>> from lstmkit.tasks.ctc.decode import edit_distance
        >>> edit_distance("31415", "3145"), edit_distance("", "12"), edit_distance("12", "12")
        (1, 2, 0)
    """
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def cer(predictions: Sequence[Sequence], references: Sequence[Sequence]) -> float:
    """Character error rate: total edit distance over total reference length.

    Example::

        >>> from lstmkit.tasks.ctc.decode import cer
        >>> cer(["123", "45"], ["123", "456"])
        0.16666666666666666
    """
    if len(predictions) != len(references):
        raise ValueError(f"cer needs one prediction per reference: got {len(predictions)} predictions and "
                         f"{len(references)} references")
    total = sum(len(r) for r in references)
    if total == 0:
        raise ValueError("cer needs at least one reference character, got only empty references")
    return sum(edit_distance(p, r) for p, r in zip(predictions, references)) / total
