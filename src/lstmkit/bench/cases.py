"""What the benchmark runs: the contenders for one grid point, built the same way for every cell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

import lstmkit
from lstmkit.cells.unroll import STEPS

from . import onnx_peer

#: (B, T, I, H) of the issue's grid
SIZES = [(1, 1000, 64, 64), (32, 100, 64, 128), (64, 100, 256, 256), (64, 50, 512, 512), (16, 100, 1024, 1024)]
#: cell name -> (lstmkit class, options, torch.nn class or None when torch.nn has no such cell)
CELLS = {
    "LSTM": (lstmkit.LSTM, {}, nn.LSTM),
    "GRU": (lstmkit.GRU, {}, nn.GRU),
    "RNN-tanh": (lstmkit.RNN, {}, nn.RNN),
    "LSTM+peephole": (lstmkit.LSTM, {"peephole": True}, None),
    "LSTM+layer_norm": (lstmkit.LSTM, {"layer_norm": True}, None),
    "LSTM+proj": (lstmkit.LSTM, {"proj_size": "H/2"}, nn.LSTM),
}


#: every baseline lstmkit is timed against (``--peers`` picks among them); each runs where it applies:
#: torch.nn where it has the cell, onnxruntime at the inference points of :data:`onnx_peer.CELLS` (when
#: installed), the Python loop and lstmkit's reference backend where torch.nn lacks the cell or for LSTM+proj
PEERS = ("torch.nn", onnx_peer.NAME, "python loop", "lstmkit reference")


def available_peers() -> tuple[list[str], dict[str, str]]:
    """(the peers that can run here, {peer: why not} for the others)."""
    why = onnx_peer.missing()
    return [p for p in PEERS if p != onnx_peer.NAME or why is None], ({onnx_peer.NAME: why} if why else {})


def parse_peers(text: str) -> list[str]:
    """``"torch.nn,onnxruntime"`` -> ["torch.nn", "onnxruntime"]: known names (ValueError naming the valid
    ones otherwise), installed (ImportError saying what to install otherwise)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    valid = ", ".join(PEERS)
    if not names:
        raise ValueError(f"--peers: expected a comma-separated list of peers among: {valid}")
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        raise ValueError(f"--peers: unknown peer {', '.join(map(repr, unknown))}; valid peers: {valid}")
    _, missing = available_peers()
    for n in names:
        if n in missing:
            raise ImportError(f"--peers {n}: {missing[n]}")
    return list(dict.fromkeys(names))


@dataclass
class Point:
    cell: str
    mode: str               # "inference" or "training"
    B: int
    T: int
    I: int
    H: int

    @property
    def key(self) -> str:
        return f"{self.cell} {self.mode} B={self.B} T={self.T} I={self.I} H={self.H}"


def _options(cell: str, H: int) -> dict:
    opts = dict(CELLS[cell][1])
    if opts.get("proj_size") == "H/2":
        opts["proj_size"] = H // 2
    return opts


def user_loop(layer) -> Callable:
    """The pure-PyTorch way: a Python loop over time calling the cell's step under autograd."""
    spec, w = layer._specs[0], layer.weights(0, 0)
    step = STEPS[spec.family]

    def run(x):
        state = tuple(x.new_zeros(x.shape[1], n) for n in spec.state_sizes())
        ys = []
        for x_t in x:
            h, state = step(spec, w, x_t, state)
            ys.append(h)
        return torch.stack(ys), state
    return run


def contenders(p: Point, peers=None) -> dict[str, Callable[[], object]]:
    """name -> callable for one grid point: "lstmkit" first, then the baselines among ``peers`` (default:
    every available one, :func:`available_peers`) that apply to the point. onnxruntime's output is checked
    against lstmkit's once here (:func:`onnx_peer.check`: a RuntimeError beyond 1e-4)."""
    peers = available_peers()[0] if peers is None else peers
    ours_cls, _, torch_cls = CELLS[p.cell]
    opts = _options(p.cell, p.H)
    ours = ours_cls(p.I, p.H, **opts)
    x = torch.randn(p.T, p.B, p.I, requires_grad=p.mode == "training")
    runs: dict[str, Callable] = {"lstmkit": lambda x_: ours(x_)[0]}
    want_onnx = onnx_peer.NAME in peers and p.mode == "inference" and p.cell in onnx_peer.CELLS
    if torch_cls is not None and ("torch.nn" in peers or want_onnx):
        ref = torch_cls(p.I, p.H, **({"proj_size": opts["proj_size"]} if "proj_size" in opts else {}))
        ref.load_state_dict(ours.state_dict())
        if "torch.nn" in peers:
            runs["torch.nn"] = lambda x_: ref(x_)[0]
        if want_onnx:                       # the same torch.nn module's weights, exported to ONNX
            ort_run = onnx_peer.contender(ref, x)
            with torch.no_grad():
                onnx_peer.check(ort_run(x), ours(x)[0], p.key)
            runs[onnx_peer.NAME] = ort_run
    if torch_cls is None or "proj_size" in opts:
        if "python loop" in peers:
            loop = user_loop(ours)
            runs["python loop"] = lambda x_: loop(x_)[0]
        if "lstmkit reference" in peers:
            ref_layer = ours_cls(p.I, p.H, **opts, backend="reference")
            ref_layer.load_state_dict(ours.state_dict())
            runs["lstmkit reference"] = lambda x_: ref_layer(x_)[0]
    return {name: in_mode(fn, x, p.mode) for name, fn in runs.items()}


def in_mode(fn: Callable, x, mode: str) -> Callable[[], object]:
    """``fn(x)`` as one timed call: under no_grad ("inference"), or forward and backward ("training")."""
    if mode == "inference":
        def infer():
            with torch.no_grad():
                return fn(x)
        return infer

    def train():
        y = fn(x)
        y.sum().backward()
    return train


def gemm_bound(p: Point) -> Callable[[], None]:
    """The bare GEMMs the algorithm needs at this point, with torch.mm: the machine's limit for it."""
    G = 4 if p.cell.startswith("LSTM") else (3 if p.cell == "GRU" else 1)
    P = p.H // 2 if p.cell == "LSTM+proj" else p.H
    GH = G * p.H
    x2, w_ih = torch.randn(p.T * p.B, p.I), torch.randn(p.I, GH)
    h, w_hh = torch.randn(p.B, P), torch.randn(P, GH)
    d, w_hh_t, w_ih_t = torch.randn(p.B, GH), torch.randn(GH, P), torch.randn(GH, p.I)
    d_all, h_all = torch.randn(p.T * p.B, GH), torch.randn(p.T * p.B, P)

    m, w_hr, w_hr_t = torch.randn(p.B, p.H), torch.randn(p.H, P), torch.randn(P, p.H)
    proj = P != p.H

    def run():
        torch.mm(x2, w_ih)                                        # W_ih x_t, all steps
        for _ in range(p.T):
            torch.mm(h, w_hh)                                     # W_hh h_{t-1}
            if proj:
                torch.mm(m, w_hr)                                 # W_hr (o tanh c)
        if p.mode == "training":
            for _ in range(p.T):
                torch.mm(d, w_hh_t)                               # W_hh^T da_t
                if proj:
                    torch.mm(h, w_hr_t)                           # W_hr^T dh
            torch.mm(d_all.t(), x2)                               # dW_ih
            torch.mm(d_all.t(), h_all)                            # dW_hh
            torch.mm(d_all, w_ih_t)                               # dx
    return run


def gemm_flops(p: Point) -> float:
    G = 4 if p.cell.startswith("LSTM") else (3 if p.cell == "GRU" else 1)
    P = p.H // 2 if p.cell == "LSTM+proj" else p.H
    fwd = 2.0 * p.T * p.B * ((p.I + P) * G * p.H + (p.H * P if P != p.H else 0))
    return fwd * (3 if p.mode == "training" else 1)
