"""The page is self-contained and carries exactly the traced values; the heatmaps are PNGs of every quantity."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import torch

import lstmkit
from lstmkit.inspect import render_page, trace_layer, write_heatmaps
from lstmkit.inspect.page import colour


def _data(page: str) -> dict:
    m = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def test_page_is_self_contained_and_holds_the_traced_values():
    lstm = lstmkit.LSTM(3, 4, num_layers=2, bidirectional=True)
    tokens = list('<a href="x">&</script>\n')                          # markup in the text stays text
    tr = trace_layer(lstm, torch.randn(len(tokens), 3), tokens=tokens)
    page = render_page(tr, title="<b>t</b>")
    assert page.count("</script>") == 2 and "<b>t</b>" not in page
    assert not re.search(r"\b(src|href)\s*=", page.replace('a.href = "#view', "")), "nothing is loaded or linked"
    assert "default-src 'none'" in page
    data = _data(page)
    assert data["tokens"] == tokens and len(data["views"]) == 4
    for view, v in zip(tr.views, data["views"]):
        assert v["label"] == view.label and v["size"] == 4
        for q, arr in view.quantities.items():
            got = np.frombuffer(base64.b64decode(v["quantities"][q]["data"]), dtype="<f4").reshape(arr.shape)
            np.testing.assert_array_equal(got, arr)
            assert v["quantities"][q]["lo"] == view.value_range(q)[:, 0].tolist()
    assert set(data["correlations"]) == {"in_quotes", "line_position", "indentation", "in_brackets"}
    assert all(e["quantity"] in "ifo" for e in data["saturation"])


def test_colour_scale():
    assert colour(-1, -1, 1) == (0, 0, 255) and colour(0, -1, 1) == (255, 255, 255)
    assert colour(5, -1, 1) == (255, 0, 0) and colour(0.25, 0, 1) == (128, 128, 255)


def test_heatmaps_are_pngs_of_every_quantity_and_saturation(tmp_path):
    gru = lstmkit.GRU(2, 3, bidirectional=True)
    tr = trace_layer(gru, torch.randn(6, 2), tokens=list("ab\ncd "))
    paths = write_heatmaps(tr, tmp_path / "png", prefix="p")
    names = sorted(p.name for p in paths)
    want = sorted(f"p-layer0-{d}-{q}.png" for d in ("fwd", "bwd") for q in ("h", "r", "z", "n", "saturation"))
    assert names == want
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
    rnn = trace_layer(lstmkit.RNN(2, 3), torch.randn(4, 2))
    assert [p.name for p in write_heatmaps(rnn, tmp_path)] == ["layer0-fwd-h.png"], "no gates, no saturation plot"
