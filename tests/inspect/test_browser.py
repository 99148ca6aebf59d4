"""The page in a real browser: headless Chromium opens it, a cell is picked (through the URL hash, which the
page applies with the same handlers as its controls), and every token's colour must be the page's colour of
the value the layer recorded for that cell, computed here from lstmkit's own record."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser

import pytest
import torch

import lstmkit
from lstmkit.inspect import trace_layer, write_page
from lstmkit.inspect.page import colour


class _Dom(HTMLParser):
    """Background colours of the token spans and the page's selection status."""

    def __init__(self):
        super().__init__()
        self.colours, self.status = {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "span" and a.get("class", "").startswith("tok"):
            m = re.search(r"background-color:\s*rgb\((\d+),\s*(\d+),\s*(\d+)\)", a.get("style") or "")
            self.colours[int(a["data-t"])] = tuple(map(int, m.groups())) if m else None
        if a.get("id") == "status":
            self.status = (a.get("data-view"), a.get("data-quantity"), a.get("data-cell"))


def _open(chromium, page, fragment=""):
    """The page's DOM after its scripts ran, as headless Chromium dumps it."""
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--virtual-time-budget=5000", "--dump-dom", page.as_uri() + fragment]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = _Dom()
    dom.feed(done.stdout)
    assert 'data-ready="1"' in done.stdout, "the page's script ran to its end"
    return dom


def _expected(layer, x, view_key, quantity, cell, value_range):
    """Colours from the layer's own record (not from the page's data)."""
    layer(x, record=True)
    values = layer.last_record[view_key][quantity][:, 0, cell].tolist()                # (T,)
    lo, hi = value_range
    return [colour(v, lo, hi) for v in values]


@pytest.mark.parametrize("make,view,quantity,cell", [
    (lambda: lstmkit.LSTM(3, 6, num_layers=2, bidirectional=True, peephole=True), 3, "f", 4),
    (lambda: lstmkit.GRU(3, 5, num_layers=2), 1, "z", 2),
    (lambda: lstmkit.RNN(3, 4, bidirectional=True), 1, "h", 3)])
def test_picking_a_cell_colours_the_text_by_its_recorded_values(chromium, tmp_path, make, view, quantity, cell):
    torch.manual_seed(0)
    layer = make().eval()
    text = 'x = ("a", [b])\n  y'
    x = torch.randn(len(text), 1, 3) * 2
    tr = trace_layer(layer, x, tokens=list(text))
    page = write_page(tr, tmp_path / "page.html")

    first = _open(chromium, page)
    assert first.status == ("0", "c" if "c" in tr.views[0].quantities else "h", "0")
    picked = _open(chromium, page, f"#view={view}&q={quantity}&cell={cell}")
    assert picked.status == (str(view), quantity, str(cell))
    assert sorted(picked.colours) == list(range(len(text)))
    assert picked.colours != first.colours, "picking another cell changed the colouring"

    v = tr.views[view]
    key = (v.layer, v.direction)
    rng = tuple(v.value_range(quantity)[cell])
    want = _expected(layer, x, key, quantity, cell, rng)
    got = [picked.colours[t] for t in range(len(text))]
    assert all(max(abs(a - b) for a, b in zip(g, w)) <= 1 for g, w in zip(got, want)), (got, want)
    assert len(set(got)) > 3, "the cell's values vary along the text, and so do the colours"
