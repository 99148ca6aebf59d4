"""Training on fresh sequences until the paper's criterion holds, or a budget runs out.

Each step draws a new mini-batch from the task's generator, takes one Adam step on the task's loss
(gradient norm clipped), and feeds the per-sequence scores of that batch — computed from the outputs
the network produced before the update, as an online learner would be judged — to the criterion.
"Sequences" counts every training sequence presented, as the paper does.

Example::

    >>> from lstmkit.tasks.longlag.training import LongLagConfig, train
    >>> res = train(LongLagConfig(task="adding", T=10, max_sequences=64, hidden=8), log=lambda s: None)
    >>> res["solved"], res["sequences"], sorted(res["test"])
    (False, 64, ['mean_abs_error', 'mse', 'of', 'wrong'])
"""

from __future__ import annotations

import math

import time
from dataclasses import asdict, dataclass, fields
from typing import Callable, Optional

import torch
from torch import nn

from ...state import detach_state
from .model import CELLS, Net
from .registry import make_task, others, paper, recipe
from .topology import topology, weights

__all__ = ["LongLagConfig", "train", "build", "fit", "resolve"]


@dataclass
class LongLagConfig:
    """Settings of one ``lstmkit longlag TASK`` run. ``None`` takes the task's default (its recipe in
    :mod:`~lstmkit.tasks.longlag.registry`).

    Attributes:
        task: reber, reber-continual, 2a, 2b, 2c, 3a, adding, multiplication, 6a, 6b, adding-modern, copy.
        cell: lstm, gru, rnn (Elman) or lstm1997 (the 1997 LSTM with the task's Table-10 memory blocks:
            :mod:`~lstmkit.tasks.longlag.topology`; its size comes from ``blocks`` x ``cells_per_block``,
            not ``hidden``, and it always takes the paper's initialisation).
        T: the task's length or lag parameter (adding/multiplication/copy/3a: T; 2c: the minimal lag q;
            reber-continual: symbols per test stream).
        p: distractor symbols (2a, 2b, 2c; 2c defaults to p = q).
        N: informative leading elements (3a).
        hidden, layers: network size; peephole, forget_bias: LSTM options (forget_bias 1.0: the
            forget gate starts mostly open; used with ``init="default"``).
        init: "chrono" (default: gate biases set for the task's lag, Tallec & Ollivier 2018, LSTM and
            GRU) or "default" (torch.nn's initialisation, plus ``forget_bias``).
        batch, lr, clip: mini-batch size, Adam learning rate, gradient-norm clipping (0: none).
        max_sequences, max_seconds: the budget; training stops there unsolved.
        seed: seeds the weights and the sequence generator.
        log_every: seconds between progress lines.
        backend: the recurrent kernel ("auto": the fastest available).
        blocks, cells_per_block: override the 1997 topology of the task (lstm1997 only).
    """

    task: str = "adding"
    cell: str = "lstm"
    T: Optional[int] = None
    p: Optional[int] = None
    N: Optional[int] = None
    hidden: Optional[int] = None
    layers: int = 1
    peephole: bool = False
    forget_bias: Optional[float] = 1.0
    init: str = "chrono"
    batch: Optional[int] = None
    lr: Optional[float] = None
    clip: float = 1.0
    max_sequences: Optional[int] = None
    max_seconds: Optional[float] = None
    seed: int = 0
    log_every: float = 10.0
    backend: str = "auto"
    blocks: Optional[int] = None
    cells_per_block: Optional[int] = None

    @classmethod
    def from_dict(cls, d: dict) -> "LongLagConfig":
        """Build from a dict, rejecting unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown LongLagConfig keys {unknown}; known: {sorted(known)}")
        return cls(**d)


def resolve(cfg: LongLagConfig) -> LongLagConfig:
    """A copy with every None replaced by the task's recipe; validates the values."""
    if cfg.cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cfg.cell!r}")
    r = recipe(cfg.task)
    out = LongLagConfig(**asdict(cfg))
    if out.cell == "lstm1997":
        if out.hidden is not None:
            raise ValueError(f"--hidden {out.hidden}: the 1997 cell's size is its memory blocks; expected "
                             f"--blocks and --cells-per-block instead")
        topo = topology(out.task, out.blocks, out.cells_per_block)
        out.blocks, out.cells_per_block, out.hidden, out.init = topo.blocks, topo.cells_per_block, topo.hidden, "1997"
    elif out.blocks is not None or out.cells_per_block is not None:
        raise ValueError(f"--blocks and --cells-per-block shape the 1997 cell's memory blocks; expected them with "
                         f"--cell lstm1997, got --cell {out.cell}")
    for k in ("hidden", "batch", "lr", "max_sequences"):
        if getattr(out, k) is None:
            setattr(out, k, getattr(r, k))
    for k in ("hidden", "batch", "max_sequences", "layers"):
        if getattr(out, k) < 1:
            raise ValueError(f"{k} must be >= 1, got {getattr(out, k)}")
    if not (math.isfinite(out.lr) and out.lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {out.lr}")
    if not (math.isfinite(out.clip) and out.clip >= 0):
        raise ValueError(f"clip must be a finite number >= 0 (0: no clipping), got {out.clip}")
    if out.forget_bias is not None and not math.isfinite(out.forget_bias):
        raise ValueError(f"forget_bias must be finite, got {out.forget_bias}")
    if out.cell not in ("lstm", "lstm1997") and out.peephole:
        raise ValueError(f"--peephole is an LSTM option, got cell {out.cell!r}")
    if out.init not in ("chrono", "default") and not (out.cell == "lstm1997" and out.init == "1997"):
        raise ValueError(f"init must be 'chrono' or 'default', got {out.init!r}")
    if out.cell != "lstm":
        out.forget_bias = None
    return out


def build(cfg: LongLagConfig):
    """(resolved config, task, network) for ``cfg``, seeded."""
    cfg = resolve(cfg)
    task = make_task(cfg.task, seed=cfg.seed, T=cfg.T, p=cfg.p, N=cfg.N)
    torch.manual_seed(cfg.seed)
    options = None
    if cfg.cell == "lstm1997":
        options = topology(cfg.task, cfg.blocks, cfg.cells_per_block).options()
    net = Net(cfg.cell, task.input_size, cfg.hidden, task.output_size, cfg.layers, cfg.peephole,
              cfg.forget_bias, task.horizon if cfg.init == "chrono" else None, cfg.backend, lstm1997=options)
    return cfg, task, net


def train(cfg: LongLagConfig, log: Callable[[str], None] = print) -> dict:
    """Train one network on one task with one seed; return the report (JSON-able dict)."""
    return fit(*build(cfg), log=log)


def fit(cfg: LongLagConfig, task, net: Net, log: Callable[[str], None] = print) -> dict:
    """Train ``net`` on ``task`` (a resolved ``cfg``) until the criterion or the budget; test; report."""
    g = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    stateful = getattr(task, "stateful", False)

    def predict(b):
        with torch.no_grad():
            return net(b.x, b.lengths)[0]

    def predict_stream(x, state):
        with torch.no_grad():
            return net(x, None, state)

    crit = task.criterion(predict_stream if stateful else predict)
    seen, steps, state, solved = 0, 0, None, False
    t0 = last_log = time.perf_counter()
    size = f"{cfg.blocks}x{cfg.cells_per_block} blocks" if cfg.cell == "lstm1997" else f"{cfg.hidden} units"
    log(f"{task.describe()} | {cfg.cell.upper()} {size} ({weights(net):,} weights), {cfg.init} init | "
        f"batch {cfg.batch}, Adam lr {cfg.lr} | "
        f"seed {cfg.seed} | budget {cfg.max_sequences:,} sequences")
    while True:
        b = task.sample(cfg.batch, g)
        out, state = net(b.x, None if stateful else b.lengths, state if stateful else None)
        loss = task.loss(out, b)
        opt.zero_grad()
        loss.backward()
        if cfg.clip > 0:
            nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
        opt.step()
        state = detach_state(state) if stateful else None
        seen, steps = seen + b.sequences, steps + 1
        correct, error = task.score(out.detach(), b)
        crit.update(correct, error, seen)
        elapsed = time.perf_counter() - t0
        solved = crit.met()
        out_of_budget = seen >= cfg.max_sequences or (cfg.max_seconds is not None and elapsed >= cfg.max_seconds)
        if solved or out_of_budget or time.perf_counter() - last_log >= cfg.log_every:
            last_log = time.perf_counter()
            log(f"  {seen:>9,} sequences  loss {loss.item():.4f}  {crit.status()}  ({elapsed:.0f}s)")
        if solved or out_of_budget:
            break
    seconds = time.perf_counter() - t0
    test = task.test(predict_stream if stateful else predict, torch.Generator().manual_seed(10**6 + cfg.seed))
    fig = paper(cfg.task, T=cfg.T, p=cfg.p, N=cfg.N)
    verdict = "SOLVED" if solved else "not solved"
    if solved and hasattr(crit, "run"):
        verdict += f" (correct from sequence {seen - crit.run:,} on)"
    log(f"{verdict} after {seen:,} sequences in {seconds:.1f}s (paper, LSTM: {fig[1]}); test: "
        + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in test.items()))
    return {"task": cfg.task, "describe": task.describe(), "cell": cfg.cell, "seed": cfg.seed, "solved": solved,
            "sequences": seen, "steps": steps, "seconds": round(seconds, 2), "test": test,
            "criterion": crit.status(), "first": getattr(crit, "first", {}),
            # with a "n successive correct" criterion: sequences seen when that final run began
            "learned_at": seen - crit.run if solved and hasattr(crit, "run") else None,
            "paper": {"lstm_sequences": fig[0], "lstm": fig[1], "others": others(cfg.task)},
            "weights": weights(net),
            "config": asdict(cfg)}
