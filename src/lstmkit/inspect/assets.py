"""The page's own style sheet and script, inlined into every page (no network, no external file).

The script reads the JSON data block, draws the tokens, and colours each by the chosen cell's value. The
selection lives in the URL hash (``#view=0&q=c&cell=3``): choosing in the controls writes it, opening a page
with one (or following a link of the panel) applies it, so a page can be opened on a given cell.
Colour: t = (v - low) / (high - low) clipped to [0, 1], s = 2t - 1; s >= 0 runs white -> red
(255, 255(1-s), 255(1-s)), s < 0 white -> blue (255(1+s), 255(1+s), 255), each rounded half up
(the same formula as :func:`lstmkit.inspect.page.colour`).
"""

CSS = """
body { font-family: system-ui, sans-serif; margin: 1.2em; color: #222; }
#controls { position: sticky; top: 0; background: #fff; padding: .4em 0; border-bottom: 1px solid #ddd; }
#controls label { margin-right: 1em; }
#text { font-family: ui-monospace, monospace; white-space: pre-wrap; line-height: 1.5; margin: 1em 0;
        word-break: break-all; }
#text.words .tok { padding: 0 .15em; margin-right: .25em; }
.tok { border-radius: 2px; }
.nl { color: #999; }
#legend span { display: inline-block; width: 1.6em; text-align: center; font-size: 80%; }
#panel { display: flex; flex-wrap: wrap; gap: 2em; }
#panel table { border-collapse: collapse; font-size: 90%; }
#panel td, #panel th { padding: .1em .6em; border-bottom: 1px solid #eee; text-align: left; }
#status { color: #555; font-size: 90%; }
"""

JS = r"""
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
function decode(b64) {
  const bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}
for (const v of D.views) for (const q in v.quantities) v.quantities[q].values = decode(v.quantities[q].data);
const T = D.tokens.length;
const $ = (id) => document.getElementById(id);
const text = $("text"), selView = $("view"), selQ = $("quantity"), inCell = $("cell");
const spans = [];
if (D.words) text.className = "words";
D.tokens.forEach((tok, t) => {
  const s = document.createElement("span");
  s.className = "tok"; s.dataset.t = t;
  if (tok === "\n") { s.textContent = "\u21b5"; s.classList.add("nl"); }
  else s.textContent = tok;
  text.appendChild(s); spans.push(s);
  if (tok.includes("\n")) text.appendChild(document.createElement("br"));
});
D.views.forEach((v, i) => selView.add(new Option(v.label + " (" + v.cell + ", " + v.size + " cells)", i)));
function colour(v, lo, hi) {
  let t = (v - lo) / (hi - lo); t = Math.min(1, Math.max(0, t));
  const s = 2 * t - 1, a = Math.floor(255 * (1 - Math.abs(s)) + 0.5);
  return s >= 0 ? [255, a, a] : [a, a, 255];
}
function rgb(c) { return "rgb(" + c[0] + ", " + c[1] + ", " + c[2] + ")"; }
function fillQuantities() {
  const v = D.views[+selView.value], keep = selQ.value;
  selQ.innerHTML = "";
  for (const q of D.order) if (q in v.quantities) selQ.add(new Option(D.names[q] || q, q));
  if (keep in v.quantities) selQ.value = keep;
  inCell.max = v.size - 1;
}
function update(writeHash) {
  const vi = +selView.value, v = D.views[vi], q = selQ.value;
  let cell = Math.max(0, Math.min(v.size - 1, parseInt(inCell.value, 10) || 0));
  inCell.value = cell;
  const Q = v.quantities[q], H = v.size, lo = Q.lo[cell], hi = Q.hi[cell];
  for (let t = 0; t < T; t++) {
    const x = Q.values[t * H + cell];
    spans[t].style.backgroundColor = rgb(colour(x, lo, hi));
    spans[t].title = "step " + t + ": " + q + "[" + cell + "] = " + x.toFixed(4);
    spans[t].dataset.v = x;
  }
  const st = $("status");
  st.dataset.view = vi; st.dataset.quantity = q; st.dataset.cell = cell;
  st.textContent = v.label + ", " + (D.names[q] || q) + ", cell " + cell + ": colour from " +
      lo.toFixed(3) + " (blue) through " + ((lo + hi) / 2).toFixed(3) + " (white) to " + hi.toFixed(3) + " (red)";
  if (writeHash) history.replaceState(null, "", "#view=" + vi + "&q=" + q + "&cell=" + cell);
}
function applyHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  if (p.has("view") && +p.get("view") < D.views.length) selView.value = p.get("view");
  fillQuantities();
  if (p.has("q") && p.get("q") in D.views[+selView.value].quantities) selQ.value = p.get("q");
  if (p.has("cell")) inCell.value = p.get("cell");
  update(false);
}
selView.addEventListener("change", () => { fillQuantities(); update(true); });
selQ.addEventListener("change", () => update(true));
inCell.addEventListener("input", () => update(true));
window.addEventListener("hashchange", applyHash);
function link(e) {
  const a = document.createElement("a");
  a.href = "#view=" + e.view + "&q=" + e.quantity + "&cell=" + e.cell;
  a.textContent = D.views[e.view].label + " " + e.quantity + "[" + e.cell + "]";
  return a;
}
function table(title, head, rows) {
  const div = document.createElement("div"), h = document.createElement("h3");
  const tb = document.createElement("table");
  h.textContent = title; div.appendChild(h); div.appendChild(tb);
  const tr = tb.insertRow();
  for (const x of head) { const th = document.createElement("th"); th.textContent = x; tr.appendChild(th); }
  for (const r of rows) {
    const row = tb.insertRow();
    for (const x of r) {
      const c = row.insertCell();
      if (typeof x === "string") c.textContent = x; else c.appendChild(x);
    }
  }
  if (!rows.length) {
    const c = tb.insertRow().insertCell();
    c.colSpan = head.length; c.textContent = "constant over this text";
  }
  $("panel").appendChild(div);
}
for (const f in D.correlations)
  table("Correlated with " + f.replace("_", " "), ["cell", "r"], D.correlations[f].map(e => [link(e), e.r.toFixed(3)]));
table("Most saturated gates", ["gate cell", "< " + D.low, "> " + D.high],
      D.saturation.map(e => [link(e), (100 * e.low).toFixed(1) + "%", (100 * e.high).toFixed(1) + "%"]));
applyHash();
document.body.dataset.ready = "1";
"""
