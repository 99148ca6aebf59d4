"""The vanishing gradient, measured: ||dL/dh_t|| (and ||dL/dc_t||) at every step t of a task whose
loss sits at the sequence end, for the Elman RNN, LSTM and GRU, at initialisation and after training.

The network runs one step at a time (``layer.step``) under autograd, keeping every h_t (and c_t) with
``retain_grad()``; after ``loss.backward()`` each holds the total derivative of the loss with respect
to that state, through every later step. The norm is over the whole batch (B, H).

Example::

    >>> from lstmkit.tasks.longlag.gradflow import state_gradients
    >>> from lstmkit.tasks.longlag.training import LongLagConfig, build
    >>> cfg, task, net = build(LongLagConfig(task="adding", T=20, cell="lstm", hidden=8))
    >>> g = state_gradients(task, net, batch=4, seed=0)
    >>> len(g["h"]) >= 20, len(g["c"]) == len(g["h"]), g["h"][0] > 0
    (True, True, True)
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import torch

from .registry import make_task
from .training import LongLagConfig, build, fit, resolve
from ...train.atomic import write_text

__all__ = ["GradFlowConfig", "state_gradients", "run_gradflow"]


@dataclass
class GradFlowConfig:
    """Settings of ``lstmkit longlag gradflow``.

    Attributes:
        task, T: the task and its length (an end-of-sequence loss: adding, multiplication, 3a, 6a, ...).
        cells: the networks to compare.
        hidden, init: network size and initialisation (as :class:`LongLagConfig`).
        batch: sequences the gradients are averaged over.
        train_seconds, train_sequences: the training budget of each network for the "after" curves.
        seed: weights, training sequences and the measured batch.
        out: folder for gradflow.png, gradflow.json and config.json.
    """

    task: str = "adding"
    T: Optional[int] = 200
    cells: tuple[str, ...] = ("rnn", "lstm", "gru")
    hidden: int = 32
    init: str = "chrono"
    batch: int = 64
    train_seconds: float = 120.0
    train_sequences: int = 200_000
    seed: int = 0
    out: str = "runs/gradflow"


def state_gradients(task, net, batch: int, seed: int) -> dict[str, list[float]]:
    """||dL/dh_t|| (and ||dL/dc_t|| for LSTM) for t = 0 .. min length - 1, on ``batch`` fresh sequences.

    Computed in float64 on a copy of ``net`` (an Elman RNN's gradient underflows float32 within 200 steps).
    """
    b = task.sample(batch, torch.Generator().manual_seed(seed + 777))
    b.x, b.target = b.x.double(), (b.target.double() if b.target.is_floating_point() else b.target)
    T = int(b.lengths.min())
    net = copy.deepcopy(net).double()
    layer = net.rnn
    state = layer.init_state(batch)
    hs, cs, ys = [], [], []
    for t in range(b.x.shape[0]):
        y, state = layer.step(b.x[t], state)                          # y: (B, H); state (L, B, H)[, c]
        y.retain_grad()
        ys.append(y)
        parts = state if isinstance(state, tuple) else (state,)
        for p in parts:
            p.retain_grad()
        hs.append(parts[0])
        if len(parts) > 1:
            cs.append(parts[1])
    out = net.head(torch.stack(ys))                                   # (T, B, O)
    net.zero_grad()
    task.loss(out, b).backward()

    def grad(x):                                                      # (B, H) of the last layer
        g = x.grad if x.grad is not None else torch.zeros_like(x)
        return g[-1] if g.dim() == 3 else g
    # h_t reaches the loss through the output y_t and through the carried state: the total is their sum
    res = {"h": [float((grad(ys[t]) + grad(hs[t])).norm()) for t in range(T)]}
    if cs:
        res["c"] = [float(grad(cs[t]).norm()) for t in range(T)]
    return res


def _ratio(g: list[float]) -> float:
    return g[-1] / g[0] if g[0] > 0 else float("inf")


def run_gradflow(cfg: GradFlowConfig, log: Callable[[str], None] = print) -> dict:
    """Measure at initialisation, train each cell within the budget, measure again; plot and save."""
    def config(cell: str) -> LongLagConfig:
        return LongLagConfig(task=cfg.task, cell=cell, T=cfg.T, hidden=None if cell == "lstm1997" else cfg.hidden, init=cfg.init, seed=cfg.seed,
                             max_seconds=cfg.train_seconds, max_sequences=cfg.train_sequences, log_every=30)

    if cfg.batch < 1:
        raise ValueError(f"batch must be >= 1, got {cfg.batch}")
    for cell in cfg.cells:                                 # every setting checked before the folder is made
        checked = resolve(config(cell))
        make_task(checked.task, seed=checked.seed, T=checked.T, p=checked.p, N=checked.N)
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; expected a folder (new or existing)")
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "config.json", json.dumps(asdict(cfg), indent=1))
    curves: dict = {}
    for cell in cfg.cells:
        run_cfg, task, net = build(config(cell))
        before = state_gradients(task, net, cfg.batch, cfg.seed)
        t0 = time.perf_counter()
        report = fit(run_cfg, task, net, log=lambda s: log("  " + s))
        after = state_gradients(task, net, cfg.batch, cfg.seed)
        curves[cell] = {"init": before, "trained": after, "solved": report["solved"],
                        "sequences": report["sequences"], "train_seconds": round(time.perf_counter() - t0, 1),
                        "test": report["test"], "describe": task.describe()}
        log(f"{cell.upper():4s} ||dL/dh_0|| / ||dL/dh_T||: at init {1 / _ratio(before['h']):.3g}, "
            f"trained {1 / _ratio(after['h']):.3g} ({'solved' if report['solved'] else 'not solved'})")
    write_text(out / "gradflow.json", json.dumps(curves))
    png = plot(curves, out / "gradflow.png", f"{next(iter(curves.values()))['describe']}: gradient reaching step t")
    log(f"wrote {png} and {out / 'gradflow.json'}")
    return curves


def plot(curves: dict, path: Path, title: str) -> Path:
    """One log-scale figure: ||dL/dh_t|| per cell, dashed at initialisation, solid after training;
    ||dL/dc_t|| of the LSTM dotted."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colors = {"rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
    names = {"rnn": "Elman RNN", "lstm": "LSTM", "gru": "GRU"}
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for cell, c in curves.items():
        col = colors.get(cell, "black")
        for when, style in (("init", "--"), ("trained", "-")):
            g = c[when]["h"]
            ax.semilogy(range(len(g)), [max(v, 1e-45) for v in g], style, color=col,
                        label=f"{names.get(cell, cell)} ||dL/dh_t||, {'at init' if when == 'init' else 'trained'}")
            if "c" in c[when] and when == "trained":
                gc = c[when]["c"]
                ax.semilogy(range(len(gc)), [max(v, 1e-45) for v in gc], ":", color=col,
                            label=f"{names.get(cell, cell)} ||dL/dc_t||, trained")
    ax.set_xlabel("time step t (the loss is at the sequence end)")
    ax.set_ylabel("gradient norm (log scale)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
