"""Which cells track what: simple features of the text, the cells most correlated with each, and the most
saturated gates (Karpathy, Johnson & Fei-Fei 2015, "Visualizing and Understanding Recurrent Networks").

Features are computed per token from the characters read so far, so a step's value describes the state the
network is in after reading that token:

* ``in_quotes``: 1 from an opening ``"`` up to (not including) its closing one;
* ``line_position``: tokens since the last newline (0 on the newline itself, which starts the new line);
* ``indentation``: leading spaces and tabs of the current line (a tab counts as 4);
* ``in_brackets``: 1 from an opening ``(``, ``[`` or ``{`` up to (not including) its closing bracket
  (brackets inside quotes do not count).

A token of several characters (a word) gets 1 for ``in_quotes`` / ``in_brackets`` when any of its
characters leaves the reader inside.

Example::

    >>> from lstmkit.inspect.analysis import text_features
    >>> f = text_features(list('a("b")\\n  c'))
    >>> f["in_quotes"].tolist(), f["in_brackets"].tolist()
    ([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    >>> f["line_position"].tolist(), f["indentation"].tolist()[5:]
    ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 2.0, 2.0, 2.0])
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .trace import GATES, Trace

__all__ = ["text_features", "correlations", "saturation", "saturation_fractions", "FEATURES", "SATURATED_LOW",
           "SATURATED_HIGH"]

FEATURES = ("in_quotes", "line_position", "indentation", "in_brackets")
#: a gate is left- (right-) saturated at a step when its value is below SATURATED_LOW (above SATURATED_HIGH)
SATURATED_LOW, SATURATED_HIGH = 0.1, 0.9
_OPEN, _CLOSE = "([{", ")]}"


def _indent(line: str) -> int:
    n = 0
    for ch in line:
        if ch == " ":
            n += 1
        elif ch == "\t":
            n += 4
        else:
            break
    return n


def text_features(tokens: Sequence[str]) -> dict[str, np.ndarray]:
    """{feature name: (T,) float64} for the tokens (characters, or words: each token's characters are read
    in turn and the state after its last one is its value)."""
    T = len(tokens)
    out = {name: np.zeros(T) for name in FEATURES}
    text = "".join(tokens)
    line_indent = [_indent(line) for line in text.split("\n")]
    quote = depth = line = column = 0
    for t, tok in enumerate(tokens):
        in_quotes, in_brackets = (False, False) if tok else (quote, depth > 0)   # empty: the state so far
        for ch in tok:
            if ch == '"':
                quote ^= 1
            elif quote:
                pass                                                   # brackets inside quotes are text
            elif ch in _OPEN:
                depth += 1
            elif ch in _CLOSE:
                depth = max(depth - 1, 0)
            in_quotes, in_brackets = in_quotes or quote, in_brackets or depth > 0
        if "\n" in tok:
            line += tok.count("\n")
            column = 0
        elif t > 0:
            column += 1
        out["in_quotes"][t], out["in_brackets"][t] = in_quotes, in_brackets
        out["line_position"][t] = column
        out["indentation"][t] = line_indent[line]
    return out


def _pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Correlation of x (T,) with every column of y (T, H); 0 where either is constant."""
    xc = x - x.mean()
    yc = y - y.mean(axis=0)
    den = np.sqrt((xc ** 2).sum() * (yc ** 2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc @ yc) / den
    return np.where(den > 1e-12, r, 0.0)


def correlations(tr: Trace, top: int = 5, quantities: Sequence[str] = ("c", "h")) -> dict[str, list[dict]]:
    """{feature: the ``top`` cells with the largest |Pearson r|, best first}, over every view and the given
    quantities; each entry {"view": index, "quantity", "cell", "r"}. A feature that is constant over the
    text (no quotes in it, say) gets an empty list."""
    feats = text_features(tr.tokens)
    out = {}
    for name, x in feats.items():
        if np.ptp(x) == 0:
            out[name] = []
            continue
        rows = []
        for vi, view in enumerate(tr.views):
            for q in quantities:
                if q in view.quantities:
                    r = _pearson(x, view.quantities[q].astype(np.float64))
                    rows += [(abs(float(v)), vi, q, h, float(v)) for h, v in enumerate(r)]
        rows.sort(key=lambda e: (-e[0], e[1], e[2], e[3]))
        out[name] = [{"view": vi, "quantity": q, "cell": h, "r": round(v, 4)} for _, vi, q, h, v in rows[:top]]
    return out


def saturation(tr: Trace, top: int = 10) -> list[dict]:
    """The ``top`` gate cells most often saturated (fraction of steps below SATURATED_LOW plus fraction
    above SATURATED_HIGH), most first; each {"view", "quantity", "cell", "low", "high"} (fractions)."""
    rows = []
    for (vi, q), (low, high) in saturation_fractions(tr).items():
        rows += [(float(lo + hi), vi, q, h, float(lo), float(hi)) for h, (lo, hi) in enumerate(zip(low, high))]
    rows.sort(key=lambda e: (-e[0], e[1], e[2], e[3]))
    return [{"view": vi, "quantity": q, "cell": h, "low": round(lo, 4), "high": round(hi, 4)}
            for _, vi, q, h, lo, hi in rows[:top]]


def saturation_fractions(tr: Trace) -> dict[tuple[int, str], tuple[np.ndarray, np.ndarray]]:
    """{(view index, gate): (fraction low (H,), fraction high (H,))} for every gate of every view."""
    out = {}
    for vi, view in enumerate(tr.views):
        for q in GATES:
            if q in view.quantities:
                v = view.quantities[q]
                out[(vi, q)] = ((v < SATURATED_LOW).mean(axis=0), (v > SATURATED_HIGH).mean(axis=0))
    return out
