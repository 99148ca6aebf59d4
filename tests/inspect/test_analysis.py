"""Text features, and the panel's rankings find planted cells: one that follows a feature, one that saturates."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.inspect import Trace, View, correlations, saturation, text_features


def test_features_of_characters():
    text = 'if x:\n    f("a(b", [1])\n'
    f = text_features(list(text))
    t = text.index('"a')
    assert f["in_quotes"][t] == 1 and f["in_quotes"][t + 4] == 0 and f["in_quotes"][t + 3] == 1
    assert f["in_brackets"][text.index("(")] == 1 and f["in_brackets"][text.index("[") - 1] == 1
    assert f["in_brackets"][text.rindex(")")] == 0, "the '(' inside the string does not count"
    assert f["indentation"][:5].tolist() == [0] * 5 and f["indentation"][6:10].tolist() == [4] * 4
    assert f["line_position"][:6].tolist() == [0, 1, 2, 3, 4, 0]


def test_features_of_words():
    f = text_features(["He", 'said', '"go', 'now"', "(", "ok", ")"])
    assert f["in_quotes"].tolist() == [0, 0, 1, 1, 0, 0, 0]
    assert f["in_brackets"].tolist() == [0, 0, 0, 0, 1, 1, 0]
    assert f["line_position"].tolist() == [0, 1, 2, 3, 4, 5, 6]


def _planted():
    tokens = list('ab "cd" e (f) "g" hh')
    quotes = text_features(tokens)["in_quotes"]
    rng = np.random.default_rng(0)
    T = len(tokens)
    h = rng.uniform(-0.3, 0.3, (T, 5)).astype(np.float32)
    h[:, 3] = np.where(quotes > 0, 0.9, -0.8)                          # a quote cell
    f = rng.uniform(0.3, 0.7, (T, 5)).astype(np.float32)
    f[:, 1] = 0.97                                                     # always remembers
    f[: T // 2, 4], f[T // 2:, 4] = 0.02, 0.95                          # half closed, half open
    views = [View("m", 0, 0, "GRU", {"h": rng.uniform(-1, 1, (T, 5)).astype(np.float32)}),
             View("m", 1, 0, "LSTM", {"h": h, "c": h * 0.5, "f": f})]
    return Trace(tokens, views)


def test_correlation_panel_finds_the_quote_cell():
    top = correlations(_planted(), top=2)
    assert set(top) == {"in_quotes", "line_position", "indentation", "in_brackets"}
    best = top["in_quotes"][0]
    assert (best["view"], best["cell"], best["r"]) == (1, 3, pytest.approx(1.0, abs=1e-4))
    assert top["indentation"] == [], "no indentation anywhere: nothing to correlate with"
    assert len(top["in_brackets"]) == 2


def test_saturation_panel_ranks_the_saturated_gates():
    top = saturation(_planted(), top=2)
    assert [(e["view"], e["quantity"], e["cell"]) for e in top] == [(1, "f", 1), (1, "f", 4)]
    assert (top[0]["low"], top[0]["high"]) == (0.0, 1.0)
    assert top[1]["low"] == pytest.approx(0.5, abs=0.05) and top[1]["low"] + top[1]["high"] == pytest.approx(1.0)
