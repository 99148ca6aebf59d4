"""The interactive page: one self-contained HTML file (style, script and data inline; nothing is fetched)
showing the text token by token, coloured by the value of a chosen cell (layer/direction, quantity, cell),
beside a panel of the cells most correlated with simple text features and the most saturated gates.

Example::

    >>> import os, tempfile, torch, lstmkit
    >>> from lstmkit.inspect import trace_layer, write_page
    >>> lstm = lstmkit.LSTM(2, 3)
    >>> tr = trace_layer(lstm, torch.randn(4, 2), tokens=list('a"b"'))
    >>> path = write_page(tr, os.path.join(tempfile.mkdtemp(), "page.html"), title="tiny")
    >>> html = open(path, encoding="utf-8").read()
    >>> "<script src" in html, "http" in html.split("<body")[1], colour(0.75, 0.0, 1.0)
    (False, False, (255, 128, 128))
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import pathlib
from typing import Optional

import numpy as np

from .analysis import SATURATED_HIGH, SATURATED_LOW, correlations, saturation
from .assets import CSS, JS
from .trace import Trace

__all__ = ["render_page", "write_page", "colour", "page_data"]

#: quantities in the order the page lists them, with their names
ORDER = ("c", "h", "i", "f", "g", "o", "r", "z", "n")
NAMES = {"c": "c: cell state", "h": "h: hidden state (output)", "i": "i: input gate", "f": "f: forget gate",
         "g": "g: candidate (C~)", "o": "o: output gate", "r": "r: reset gate", "z": "z: update gate",
         "n": "n: candidate (GRU)"}


def colour(v: float, lo: float, hi: float) -> tuple[int, int, int]:
    """The page's colour of value ``v`` on the scale [lo, hi]: blue (lo) through white to red (hi)."""
    t = min(1.0, max(0.0, (v - lo) / (hi - lo)))
    s = 2 * t - 1
    a = math.floor(255 * (1 - abs(s)) + 0.5)
    return (255, a, a) if s >= 0 else (a, a, 255)


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def page_data(tr: Trace, title: str = "", top: int = 5) -> dict:
    """Everything the page shows, as JSON-ready data (values as base64 little-endian float32, (T, H)
    row-major per quantity, with each cell's colour range)."""
    views = []
    for v in tr.views:
        qs = {}
        for q, a in v.quantities.items():
            rng = v.value_range(q)                                       # (H, 2)
            qs[q] = {"data": _b64(a), "lo": rng[:, 0].tolist(), "hi": rng[:, 1].tolist()}
        views.append({"label": v.label, "cell": v.cell, "size": v.size, "quantities": qs})
    return {"title": title, "tokens": list(tr.tokens), "words": any(len(t) != 1 for t in tr.tokens),
            "views": views, "order": list(ORDER), "names": NAMES,
            "correlations": correlations(tr, top=top), "saturation": saturation(tr, top=2 * top),
            "low": SATURATED_LOW, "high": SATURATED_HIGH}


def render_page(tr: Trace, title: str = "lstmkit inspect", top: int = 5) -> str:
    """The page as one HTML string."""
    data = json.dumps(page_data(tr, title, top), separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")  # inert inside <script>
    t = html.escape(title)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{t}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; \
script-src 'unsafe-inline'; img-src data:">
<style>{CSS}</style></head>
<body>
<h2>{t}</h2>
<div id="controls">
<label>layer / direction <select id="view"></select></label>
<label>quantity <select id="quantity"></select></label>
<label>cell <input id="cell" type="number" min="0" value="0" style="width:5em"></label>
<div id="status"></div>
</div>
<div id="text"></div>
<p>Each token is coloured by the chosen cell's value after the layer read it (a backward direction reads from the
end of the text). Links below pick a cell.
Saturation: fraction of steps a gate spends below {SATURATED_LOW} or above {SATURATED_HIGH}
(Karpathy, Johnson &amp; Fei-Fei 2015).</p>
<div id="panel"></div>
<script id="data" type="application/json">{data}</script>
<script>{JS}</script>
</body></html>
"""


def write_page(tr: Trace, path: str | os.PathLike, title: Optional[str] = None, top: int = 5) -> pathlib.Path:
    """Write the page to ``path`` atomically (the page is built in full first); returns the path."""
    from ..train.atomic import write_text

    path = pathlib.Path(path)
    page = render_page(tr, title or path.stem, top)
    write_text(path, page)
    return path
